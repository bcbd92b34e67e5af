"""Pieces every agent shares: optimisers whose learning rate is a pytree leaf, the critics' TD
step, the advantage-weighted Gaussian actor step (AWR, AWAC), and the list of an agent's numeric (sweepable)
hyperparameters."""
from __future__ import annotations

import functools
import inspect
from typing import Any, Optional

import jax
import jax.numpy as jnp
import optax
from flax.training.train_state import TrainState
from jax.typing import ArrayLike

from rlkit_jax import objectives
from rlkit_jax.distributions import diag_gaussian_log_prob


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


def select_tree(flag: jax.Array, new: Any, old: Any) -> Any:
  """Leafwise ``new if flag else old`` for a ``[]`` bool flag (stays vmappable: no Python branch);
  TD3's delayed actor and target updates."""
  return jax.tree.map(lambda n, o: jnp.where(flag, n, o), new, old)


@jax.custom_batching.custom_vmap
def any_over_vmap(flag: jax.Array) -> jax.Array:
  """``flag`` (a ``[]`` bool) itself; under ``jax.vmap``, whether any mapped element's flag is set,
  as one unbatched ``[]`` bool.

  A ``jax.lax.cond`` on a batched predicate runs both branches (vmap turns it into a select); on
  this one it stays a branch, skipped when no element needs it. The taken branch must still
  select per element with ``flag``, unless the elements move in step (the training core's seeds
  do: they share the update count). Under nested vmaps every mapped axis is reduced (the rule
  calls itself on the next one out), so the branch stays one ``cond`` however the runs are nested.
  """
  return flag


@any_over_vmap.def_vmap
def _any_over_vmap_rule(axis_size: int, in_batched: list[bool], flag: jax.Array) -> tuple[jax.Array, bool]:
  del axis_size
  return (any_over_vmap(jnp.any(flag)) if in_batched[0] else flag), False


def critic_td_loss(critic: TrainState, params: Any, batch: Any, targets: jax.Array) -> tuple[jax.Array, dict[str, jax.Array]]:
  """``mean_B Σ_e (Q_e(s, a) − y)²`` of E critics with parameters ``params``.

  Args:
    critic: an ensemble's train state; ``apply_fn(params, observations, actions)`` → ``[E, B]``.
    params: the critics' parameters (differentiated). batch: a :class:`Transitions` minibatch
      (``observations`` ``[B, O]``, ``actions`` ``[B, A]``). targets: y ``[B]``, held fixed.

  Returns:
    ``(loss, {"critic_loss", "q_data"})``, ``q_data`` the mean Q at the data's actions.
  """
  return ensemble_td_loss(critic.apply_fn({"params": params}, batch.observations, batch.actions), targets)


def ensemble_td_loss(q: jax.Array, targets: jax.Array) -> tuple[jax.Array, dict[str, jax.Array]]:
  """``mean_B Σ_e (Q_e − y)²`` of the E critics' values ``q`` ``[E, B]`` against targets y ``[B]``;
  returns ``(loss, {"critic_loss", "q_data"})``, ``q_data`` the mean of ``q``."""
  loss = jnp.mean(jnp.sum(objectives.squared_td_error(q, targets), axis=0))
  return loss, {"critic_loss": loss, "q_data": jnp.mean(q)}


def critic_step(critic: TrainState, batch: Any, targets: jax.Array) -> tuple[TrainState, dict[str, jax.Array]]:
  """One optimiser step of E critics on :func:`critic_td_loss`; returns ``(critic, metrics)``."""
  grads, info = jax.grad(functools.partial(critic_td_loss, critic), has_aux=True)(critic.params, batch, targets)
  return critic.apply_gradients(grads=grads), info


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


@functools.lru_cache(maxsize=None)
def _log_scalar_apply(name: str):
  """The ``apply_fn`` reading ``params[name]``; one function per name, so states made apart compare equal under jit."""
  return lambda variables: variables["params"][name]


def log_scalar_state(init: ArrayLike, learning_rate: ArrayLike, *, name: str = "log_value") -> TrainState:
  """A ``TrainState`` of one learned positive scalar kept on log scale (a temperature, a Lagrange
  multiplier): ``params = {name: log(init)}``, Adam at ``learning_rate``; its ``apply_fn``
  returns the log value ``[]``. ``name`` is the parameter's key in checkpoints (SAC's is
  ``"log_alpha"``)."""
  return train_state(_log_scalar_apply(name), {name: jnp.log(jnp.asarray(init, jnp.float32))}, learning_rate)


def advantage_weighted_actor_step(
    actor: TrainState,
    observations: jax.Array,
    actions: jax.Array,
    advantages: jax.Array,
    *,
    temperature: ArrayLike,
    max_weight: ArrayLike,
) -> tuple[TrainState, dict[str, jax.Array]]:
  r"""One gradient step on the advantage-weighted log-likelihood of a Gaussian actor.

  Minimises ``mean_B[-min(exp(β A), max_weight) · log π(a|s)]``
  (:func:`rlkit_jax.objectives.advantage_weighted_loss`), with ``log π(a|s)`` the diagonal
  Gaussian log density (:func:`rlkit_jax.distributions.diag_gaussian_log_prob`) of the dataset
  actions. The weights are constants: no gradient flows into ``advantages``.

  Args:
    actor: a ``TrainState`` whose ``apply_fn({"params": p}, observations)`` returns
      ``(means [B, A], log_stds [B, A])``, e.g. :class:`rlkit_jax.networks.GaussianPolicy`.
    observations: s, ``[B, O]`` float32.
    actions: dataset actions a, ``[B, A]`` float32.
    advantages: A (or a normalised Â), ``[B]`` float32.
    temperature: β, ``[]``: the inverse temperature, weight = exp(β·A).
    max_weight: clip of the weights, ``[]``.

  Returns:
    ``(new_actor, {"actor_loss": [] float32})``, the loss evaluated before the step.

  References:
    The policy step of Peng et al., `AWR <https://arxiv.org/abs/1910.00177>`_, 2019, Algorithm 1,
    and of Nair et al., `AWAC <https://arxiv.org/abs/2006.09359>`_, 2020, Eq. (13).
  """

  def loss_fn(params):
    means, log_stds = actor.apply_fn({"params": params}, observations)
    log_probs = diag_gaussian_log_prob(actions, means, log_stds)
    loss = jnp.mean(
        objectives.advantage_weighted_loss(log_probs, advantages, temperature=temperature, max_weight=max_weight)
    )
    return loss, {"actor_loss": loss}

  grads, info = jax.grad(loss_fn, has_aux=True)(actor.params)
  return actor.apply_gradients(grads=grads), info


def train_state_and_target(module_def: Any, key: Any, learning_rate: ArrayLike, *inputs: Any) -> tuple[TrainState, Any]:
  """A network's :func:`train_state` and a separate copy of its initial parameters as its target.

  Args:
    module_def: the module (e.g. an ``Ensemble`` of ``QFunction``, or TD3+BC's actor).
    key: PRNG key for ``module_def.init``, consumed.
    learning_rate: Adam step size (may be traced).
    *inputs: example inputs for ``init``, e.g. observations ``[1, O]`` and actions ``[1, A]``.

  Returns:
    ``(critic_state, target_params)``; the target owns its buffers, so donating the agent is safe.
  """
  params = module_def.init(key, *inputs)["params"]
  return train_state(module_def.apply, params, learning_rate), jax.tree.map(jnp.copy, params)


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
