"""TD3's pieces (Fujimoto et al. 2018) that TD3+BC and ReBRAC share: actor, critics and their
targets at creation, the smoothed target action, and the delayed actor step with both Polyak updates."""
from __future__ import annotations

from typing import Any, Callable

import jax
import jax.numpy as jnp
import optax
from flax.training.train_state import TrainState
from jax.typing import ArrayLike

from rlkit_jax.agents.common import any_over_vmap, select_tree, train_state_and_target


def actor_and_critics(
    name: str, key: jax.Array, actor_def: Any, critic_def: Any, observation_dim: int, action_dim: int, *,
    actor_lr: ArrayLike, critic_lr: ArrayLike, policy_delay: int,
) -> tuple[TrainState, Any, TrainState, Any, jax.Array]:
  """A deterministic actor and an E-critic ensemble with their targets (copies of the initial
  parameters), for ``<name>.create``.

  Args:
    name: the agent's class name, for the error. key: a typed PRNG key, split here.
    actor_def: ``observations [B, O] → actions [B, A]``. critic_def: ``(observations, actions) → [E, B]``.
    observation_dim, action_dim: O and A. actor_lr, critic_lr: Adam step sizes.
    policy_delay: d, checked here.

  Returns:
    ``(actor, target_actor_params, critic, target_critic_params, key)``, ``key`` the agent's own.

  Raises:
    ValueError: ``policy_delay`` < 1.
  """
  if int(policy_delay) < 1:
    raise ValueError(f"{name}.create: policy_delay must be an int >= 1, got {policy_delay!r}")
  actor_key, critic_key, key = jax.random.split(key, 3)
  observations = jnp.zeros((1, observation_dim), jnp.float32)
  actions = jnp.zeros((1, action_dim), jnp.float32)
  actor, target_actor_params = train_state_and_target(actor_def, actor_key, actor_lr, observations)
  critic, target_critic_params = train_state_and_target(critic_def, critic_key, critic_lr, observations, actions)
  return actor, target_actor_params, critic, target_critic_params, key


def smoothed_target_actions(
    actor: TrainState, target_actor_params: Any, next_observations: jax.Array, key: jax.Array, *,
    policy_noise: jax.Array, noise_clip: jax.Array,
) -> jax.Array:
  """Target policy smoothing, ``ã' = clip(π'(s') + clip(ε, −c, c), −1, 1)``, ε ~ N(0, σ²).

  Args:
    actor: the actor's train state (its ``apply_fn``). target_actor_params: π''s parameters.
    next_observations: ``[B, O]`` float32.
    key: a typed PRNG key, used once for ε.
    policy_noise: σ ``[]``, action units. noise_clip: c ``[]``, action units.

  Returns:
    ``[B, A]`` float32 actions in [-1, 1].

  Reference: Fujimoto et al., `Addressing Function Approximation Error in Actor-Critic Methods
  <https://arxiv.org/abs/1802.09477>`_, ICML 2018, Eq. (14).
  """
  next_actions = actor.apply_fn({"params": target_actor_params}, next_observations)
  noise = jax.random.normal(key, next_actions.shape, next_actions.dtype) * policy_noise
  return jnp.clip(next_actions + jnp.clip(noise, -noise_clip, noise_clip), -1.0, 1.0)


def delayed_actor_step(
    update_actor: jax.Array, actor: TrainState, actor_loss_fn: Callable[[Any], tuple[jax.Array, dict]],
    critic: TrainState, target_actor_params: Any, target_critic_params: Any, tau: jax.Array,
) -> tuple[TrainState, Any, Any, dict[str, jax.Array]]:
  """Where ``update_actor``: one actor step on ``actor_loss_fn`` and Polyak steps (τ) of both targets
  towards the new actor and ``critic``; elsewhere all three stay and the loss is only evaluated
  (for its metrics, at the same parameters as a step would take its gradient).

  A ``lax.cond`` on :func:`~rlkit_jax.agents.common.any_over_vmap` skips the gradient on the
  updates where no agent takes a step, under the training core's seed vmap too (its seeds share the
  update count); inside the branch each agent still selects with its own ``update_actor``.

  Args:
    update_actor: ``[]`` bool, ``step % policy_delay == 0``.
    actor: the actor's train state. actor_loss_fn: ``params → (loss, metrics)``.
    critic: the critics after this update's step. target_actor_params, target_critic_params: the
      targets. tau: the Polyak step ``[]``.

  Returns:
    ``(actor, target_actor_params, target_critic_params, actor_metrics)``.
  """
  stay = (actor, target_actor_params, target_critic_params)

  def step(_):
    grads, info = jax.grad(actor_loss_fn, has_aux=True)(actor.params)
    new_actor = actor.apply_gradients(grads=grads)
    stepped = (
        new_actor,
        optax.incremental_update(new_actor.params, target_actor_params, tau),
        optax.incremental_update(critic.params, target_critic_params, tau),
    )
    return select_tree(update_actor, stepped, stay), info

  def evaluate(_):
    return stay, actor_loss_fn(actor.params)[1]

  (actor, target_actor, target_critic), info = jax.lax.cond(any_over_vmap(update_actor), step, evaluate, None)
  return actor, target_actor, target_critic, info
