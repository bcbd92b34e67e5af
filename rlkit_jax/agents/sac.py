"""Soft actor-critic (Haarnoja et al., 2018) as an immutable pytree; used to generate datasets."""
from __future__ import annotations

import functools
from typing import Any, Optional, Sequence

import flax.struct
import jax
import jax.numpy as jnp
import optax
from flax.training.train_state import TrainState
from jax.typing import ArrayLike

from rlkit_jax import objectives
from rlkit_jax.agents.base import TanhGaussianPolicyMean
from rlkit_jax.agents.common import critic_td_loss, log_scalar_state, train_state, train_state_and_target
from rlkit_jax.data.transitions import Transitions
from rlkit_jax.distributions import tanh_gaussian_sample
from rlkit_jax.networks import Ensemble, QFunction, TanhGaussianPolicy
from rlkit_jax.agents.hyperparameters import POSITIVE, checked_create


@functools.lru_cache(maxsize=None)
def _networks(action_dim: int, hidden_dims: tuple[int, ...], num_critics: int, lecun_init: bool = False):
  """Module definitions, cached so agents of one configuration share static fields (one compile)."""
  init = "lecun" if lecun_init else "orthogonal"
  actor = TanhGaussianPolicy(action_dim, hidden_dims, init_scheme=init)
  critic = Ensemble(functools.partial(QFunction, hidden_dims, init_scheme=init), num_members=num_critics)
  return actor, critic


class SAC(TanhGaussianPolicyMean, flax.struct.PyTreeNode):
  """SAC with a double-Q critic ensemble and automatic entropy tuning.

  Build with :meth:`SAC.create`; step with the pure :meth:`update`. Numeric hyperparameters are
  leaves (shape ``[]`` float32), so ``jax.vmap(SAC.create)`` over keys or values gives a batch of
  agents.

  References:
    Haarnoja et al., `Soft Actor-Critic Algorithms and Applications
    <https://arxiv.org/abs/1812.05905>`_, 2018.
  """

  action_space = "continuous"  # class attribute, not a field
  hyperparameter_ranges = {"init_temperature": POSITIVE}

  actor: TrainState
  critic: TrainState
  target_critic_params: Any
  log_alpha: TrainState
  key: jax.Array
  discount: jax.Array  # [] float32
  tau: jax.Array  # [] float32, Polyak step
  target_entropy: jax.Array  # [] float32, nats

  @classmethod
  @checked_create
  def create(
      cls,
      key: jax.Array,
      observation_dim: int,
      action_dim: int,
      *,
      hidden_dims: Sequence[int] = (256, 256),
      num_critics: int = 2,
      actor_lr: ArrayLike = 3e-4,
      critic_lr: ArrayLike = 3e-4,
      temperature_lr: ArrayLike = 3e-4,
      discount: ArrayLike = 0.99,
      tau: ArrayLike = 0.005,
      init_temperature: float = 1.0,
      target_entropy: Optional[ArrayLike] = None,
      lecun_init: bool = False,
  ) -> "SAC":
    """Initialises networks and optimisers.

    Args:
      key: a typed PRNG key (``jax.random.key``); split internally, kept for sampling.
      observation_dim, action_dim: O and A (actions in [-1, 1]^A).
      hidden_dims: widths of every network's hidden layers.
      num_critics: E, the critic ensemble size (2 = clipped double Q).
      actor_lr, critic_lr, temperature_lr: Adam step sizes.
      discount: γ. tau: Polyak step of the target critics.
      init_temperature: α at the start (may be traced). target_entropy: H̄, default ``-action_dim``.
      lecun_init: draw every kernel LeCun-normal (variance 1 / fan_in, flax's default and SBX's
        SAC's) instead of the toolkit's :func:`~rlkit_jax.networks.default_init` (static).
    """
    key, actor_key, critic_key = jax.random.split(key, 3)
    observations = jnp.zeros((1, observation_dim), jnp.float32)
    actions = jnp.zeros((1, action_dim), jnp.float32)
    actor_def, critic_def = _networks(action_dim, tuple(hidden_dims), num_critics, bool(lecun_init))
    critic, target_critic_params = train_state_and_target(critic_def, critic_key, critic_lr, observations, actions)
    return cls(
        actor=train_state(actor_def.apply, actor_def.init(actor_key, observations)["params"], actor_lr),
        critic=critic,
        target_critic_params=target_critic_params,
        log_alpha=log_scalar_state(init_temperature, temperature_lr, name="log_alpha"),
        key=key,
        discount=jnp.asarray(discount, jnp.float32),
        tau=jnp.asarray(tau, jnp.float32),
        target_entropy=jnp.asarray(-action_dim if target_entropy is None else target_entropy, jnp.float32),
    )

  def sample_actions(self, observations: jax.Array, key: jax.Array) -> jax.Array:
    """Exploration actions a ~ π(·|s): observations ``[B, O]`` → actions ``[B, A]`` in (-1, 1)."""
    means, log_stds = self.actor.apply_fn({"params": self.actor.params}, observations)
    return tanh_gaussian_sample(key, means, log_stds)[0]

  def critic_loss(self, params: Any, batch: Transitions, targets: jax.Array) -> tuple[jax.Array, dict[str, jax.Array]]:
    """``mean_B Σ_E (Q_e(s, a) − y)²`` of critic parameters ``params`` against targets ``y`` ``[B]``;
    returns ``(loss, {"critic_loss", "q_data"})``. Subclasses add terms (EDAC)."""
    return critic_td_loss(self.critic, params, batch, targets)

  @jax.jit
  def update(self, batch: Transitions) -> tuple["SAC", dict[str, jax.Array]]:
    """One gradient step of critic, actor and temperature, then the Polyak target update.

    Args:
      batch: :class:`Transitions` with leading axis B.

    Returns:
      ``(new_agent, metrics)``; metrics are scalars.
    """
    key, next_key, actor_key = jax.random.split(self.key, 3)
    alpha = jnp.exp(self.log_alpha.apply_fn({"params": self.log_alpha.params}))

    next_means, next_log_stds = self.actor.apply_fn({"params": self.actor.params}, batch.next_observations)
    next_actions, next_log_probs = tanh_gaussian_sample(next_key, next_means, next_log_stds)
    next_q = self.critic.apply_fn({"params": self.target_critic_params}, batch.next_observations, next_actions)
    soft_next_values = jnp.min(next_q, axis=0) - alpha * next_log_probs
    targets = objectives.td_target(batch.rewards, batch.terminals, soft_next_values, discount=self.discount)

    critic_grads, critic_info = jax.grad(self.critic_loss, has_aux=True)(self.critic.params, batch, targets)
    critic = self.critic.apply_gradients(grads=critic_grads)

    def actor_loss_fn(params):
      means, log_stds = self.actor.apply_fn({"params": params}, batch.observations)
      actions, log_probs = tanh_gaussian_sample(actor_key, means, log_stds)
      q = jnp.min(critic.apply_fn({"params": critic.params}, batch.observations, actions), axis=0)
      loss = jnp.mean(objectives.sac_actor_loss(log_probs, q, alpha=alpha))
      return loss, (log_probs, {"actor_loss": loss, "entropy": -jnp.mean(log_probs)})

    actor_grads, (log_probs, actor_info) = jax.grad(actor_loss_fn, has_aux=True)(self.actor.params)
    actor = self.actor.apply_gradients(grads=actor_grads)

    def alpha_loss_fn(params):
      loss = objectives.sac_temperature_loss(params["log_alpha"], log_probs, target_entropy=self.target_entropy)
      return jnp.mean(loss)

    log_alpha = self.log_alpha.apply_gradients(grads=jax.grad(alpha_loss_fn)(self.log_alpha.params))
    target = optax.incremental_update(critic.params, self.target_critic_params, self.tau)
    agent = self.replace(actor=actor, critic=critic, target_critic_params=target, log_alpha=log_alpha, key=key)
    return agent, {**critic_info, **actor_info, "alpha": alpha}
