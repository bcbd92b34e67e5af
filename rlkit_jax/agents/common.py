"""Pieces every agent shares: optimisers whose learning rate is a pytree leaf, and the list of an
agent's numeric (sweepable) hyperparameters."""
from __future__ import annotations

import functools
import inspect
from typing import Any, Optional

import jax.numpy as jnp
import optax
from flax.training.train_state import TrainState
from jax.typing import ArrayLike


@functools.lru_cache(maxsize=None)
def adam(decay_steps: Optional[int] = None) -> optax.GradientTransformation:
  """Adam whose learning rate lives in the optimiser *state*, not in the transformation.

  The transformation is built once per ``decay_steps`` (cached), with a placeholder rate; the
  real rate is written into the state by :func:`train_state`. So the rate can be a traced value
  (vmapped over seeds or a sweep), nothing traced leaks into the static ``tx``, and two agents of
  the same configuration share one compiled ``update``.

  Args:
    decay_steps: if given, the step is multiplied by a cosine decay from 1 to 0 over that many
      updates (the IQL reference's actor schedule). A static Python int.

  Returns:
    An optax transformation; ``opt_state[0].hyperparams['learning_rate']`` holds the rate.
  """
  parts = [optax.inject_hyperparams(optax.adam)(learning_rate=0.0)]
  if decay_steps:
    parts.append(optax.scale_by_schedule(optax.cosine_decay_schedule(1.0, decay_steps)))
  return optax.chain(*parts)


def train_state(apply_fn: Any, params: Any, learning_rate: ArrayLike, *, decay_steps: Optional[int] = None) -> TrainState:
  """A flax ``TrainState`` with :func:`adam` and the given (possibly traced) learning rate.

  Args:
    apply_fn: the module's ``apply``.
    params: initial parameters.
    learning_rate: Adam step size, a Python float or a traced ``[]`` value.
    decay_steps: see :func:`adam`.
  """
  tx = adam(decay_steps)
  state = TrainState.create(apply_fn=apply_fn, params=params, tx=tx)
  opt_state = optax.tree_utils.tree_set(state.opt_state, learning_rate=jnp.asarray(learning_rate, jnp.float32))
  return state.replace(opt_state=opt_state)


def agent_options(agent_cls: type) -> dict[str, float | int | bool]:
  """Every scalar keyword option of ``agent_cls.create`` with its default: numeric hyperparameters
  (float defaults, traced) and static switches and counts (int and bool defaults, compiled in).

  ``hidden_dims`` and ``actor_decay_steps`` are not included (the driver sets them).
  """
  parameters = inspect.signature(agent_cls.create).parameters.values()
  return {
      p.name: p.default
      for p in parameters
      if p.kind is inspect.Parameter.KEYWORD_ONLY and isinstance(p.default, (float, int)) and p.name != "actor_decay_steps"
  }


def numeric_hyperparameters(agent_cls: type) -> dict[str, float]:
  """The hyperparameters of ``agent_cls.create`` that are traced values, with their defaults.

  The convention every agent follows: a keyword argument of ``create`` whose default is a Python
  float is stored as a ``[]`` float32 leaf (or as a learning rate in the optimiser state), so it
  can be vmapped — swept — without recompiling; ints, tuples and bools are static (network
  sizes, sample counts, switches).

  Returns:
    ``{name: default}`` in signature order, e.g. IQL's ``{"actor_lr": 3e-4, ..., "expectile": 0.7, ...}``.
  """
  return {name: value for name, value in agent_options(agent_cls).items() if isinstance(value, float)}
