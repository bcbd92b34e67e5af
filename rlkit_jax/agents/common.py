"""Pieces every agent shares: optimisers whose learning rate is a pytree leaf."""
from __future__ import annotations

import functools
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
