"""TD3+BC (Fujimoto & Gu, 2021) as an immutable pytree."""
from __future__ import annotations

import functools
from typing import Any, Optional, Sequence

import flax.struct
import jax
import jax.numpy as jnp
from flax.training.train_state import TrainState
from jax.typing import ArrayLike

from rlkit_jax import objectives
from rlkit_jax.agents.base import MinCriticEnsemble
from rlkit_jax.agents import td3
from rlkit_jax.agents.common import critic_step
from rlkit_jax.data.transitions import Transitions
from rlkit_jax.networks import DeterministicPolicy, Ensemble, QFunction
from rlkit_jax.agents.hyperparameters import AT_LEAST_ONE, NON_NEGATIVE, checked_create


@functools.lru_cache(maxsize=None)
def _networks(action_dim: int, hidden_dims: tuple[int, ...], num_critics: int):
  """Module definitions, cached so agents of one configuration share static fields (one compile)."""
  actor = DeterministicPolicy(action_dim, hidden_dims)
  critic = Ensemble(functools.partial(QFunction, hidden_dims), num_members=num_critics)
  return actor, critic


class TD3BC(MinCriticEnsemble, flax.struct.PyTreeNode):
  r"""TD3+BC: TD3 with a behaviour-cloning term in the actor loss.

  Each update (the reference ``TD3_BC.py``), with ``k`` the 1-based update count:

  1. Critic: ``Σ_e (Q_e(s, a) - y)²``, ``y = r + γ (1 - d) min_e Q'_e(s', ã')`` with target
     policy smoothing ``ã' = clip(π'(s') + clip(σ ε, -c, c), -1, 1)``, ε ~ N(0, I),
     σ = ``policy_noise``, c = ``noise_clip``.
  2. Every ``policy_delay``-th update (``k % policy_delay == 0``): one actor step on
     :func:`rlkit_jax.objectives.td3_bc_actor_loss` with Q = the first critic (as the reference
     code's ``Q1``) of the updated critics, then Polyak updates of the target actor and target
     critics. On other updates the actor, its optimiser state and both targets are left unchanged
     (selected with ``jnp.where``, so ``update`` stays pure and vmappable; the actor loss is still
     computed and logged).

  Not done here: the paper normalises observations by the dataset's mean and standard deviation;
  this agent does not (the driver may add it). Exploration noise is irrelevant offline.
  ``actor_decay_steps`` is accepted and ignored (the paper uses constant step sizes).

  References:
    Fujimoto & Gu, `A Minimalist Approach to Offline Reinforcement Learning
    <https://arxiv.org/abs/2106.06860>`_, 2021, Eq. (3)–(4), App. C (hyperparameters) and the
    reference code (github.com/sfujim/TD3_BC); Fujimoto et al., `TD3
    <https://arxiv.org/abs/1802.09477>`_, 2018, Algorithm 1.
  """

  action_space = "continuous"
  hyperparameter_ranges = {
      "alpha": NON_NEGATIVE, "policy_noise": NON_NEGATIVE, "noise_clip": NON_NEGATIVE, "policy_delay": AT_LEAST_ONE,
  }
  needs_returns_to_go = False

  actor: TrainState
  critic: TrainState
  target_actor_params: Any
  target_critic_params: Any
  key: jax.Array
  step: jax.Array  # number of updates done so far, [] int32
  alpha: jax.Array  # α of the RL term, [] float32
  discount: jax.Array  # γ, [] float32
  tau: jax.Array  # Polyak step, [] float32
  policy_noise: jax.Array  # σ of the target smoothing noise, [] float32, action units
  noise_clip: jax.Array  # c, [] float32, action units
  policy_delay: int = flax.struct.field(pytree_node=False, default=2)

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
      alpha: ArrayLike = 2.5,
      discount: ArrayLike = 0.99,
      tau: ArrayLike = 0.005,
      policy_noise: ArrayLike = 0.2,
      noise_clip: ArrayLike = 0.5,
      policy_delay: int = 2,
      actor_decay_steps: Optional[int] = None,
  ) -> "TD3BC":
    """Initialises networks, targets and optimisers (defaults: the paper's, all D4RL tasks).

    Args:
      key: a typed PRNG key; split internally, kept for the smoothing noise.
      observation_dim, action_dim: O and A (actions in [-1, 1]^A, max_action = 1).
      hidden_dims: hidden widths of actor and critics (256, 256).
      num_critics: E (2, clipped double Q).
      actor_lr, critic_lr: Adam step sizes (3e-4).
      alpha: α (2.5). discount: γ (0.99). tau: Polyak step (0.005).
      policy_noise: σ (0.2). noise_clip: c (0.5). policy_delay: d (2), a static int ≥ 1.
      actor_decay_steps: ignored (constant step sizes).

    Raises:
      ValueError: ``policy_delay`` < 1.
    """
    del actor_decay_steps
    actor_def, critic_def = _networks(action_dim, tuple(hidden_dims), num_critics)
    actor, target_actor_params, critic, target_critic_params, key = td3.actor_and_critics(
        "TD3BC", key, actor_def, critic_def, observation_dim, action_dim, actor_lr=actor_lr, critic_lr=critic_lr,
        policy_delay=policy_delay,
    )
    return cls(
        actor=actor,
        critic=critic,
        target_actor_params=target_actor_params,
        target_critic_params=target_critic_params,
        key=key,
        step=jnp.zeros((), jnp.int32),
        alpha=jnp.asarray(alpha, jnp.float32),
        discount=jnp.asarray(discount, jnp.float32),
        tau=jnp.asarray(tau, jnp.float32),
        policy_noise=jnp.asarray(policy_noise, jnp.float32),
        noise_clip=jnp.asarray(noise_clip, jnp.float32),
        policy_delay=int(policy_delay),
    )

  def eval_actions(self, observations: jax.Array) -> jax.Array:
    """Deterministic actions π(s): observations ``[B, O]`` → ``[B, A]`` in (-1, 1)."""
    return self.actor.apply_fn({"params": self.actor.params}, observations)

  @jax.jit
  def update(self, batch: Transitions) -> tuple["TD3BC", dict[str, jax.Array]]:
    """One critic step and, every ``policy_delay``-th call, an actor step and the target updates.

    Returns ``(new_agent, metrics)``; ``actor_updated`` is 1.0 on updates that changed the actor.
    """
    key, noise_key = jax.random.split(self.key)
    step = self.step + 1
    next_actions = td3.smoothed_target_actions(
        self.actor, self.target_actor_params, batch.next_observations, noise_key,
        policy_noise=self.policy_noise, noise_clip=self.noise_clip,
    )
    next_q = self.critic.apply_fn({"params": self.target_critic_params}, batch.next_observations, next_actions)
    targets = objectives.td_target(batch.rewards, batch.terminals, jnp.min(next_q, axis=0), discount=self.discount)
    critic, critic_info = critic_step(self.critic, batch, targets)

    def actor_loss_fn(params):
      policy_actions = self.actor.apply_fn({"params": params}, batch.observations)
      q = critic.apply_fn({"params": critic.params}, batch.observations, policy_actions)[0]
      loss = jnp.mean(objectives.td3_bc_actor_loss(q, policy_actions, batch.actions, alpha=self.alpha))
      bc = jnp.mean(jnp.square(policy_actions - batch.actions))
      return loss, {"actor_loss": loss, "q_policy": jnp.mean(q), "bc_mse": bc}

    update_actor = step % self.policy_delay == 0
    actor, target_actor, target_critic, actor_info = td3.delayed_actor_step(
        update_actor, self.actor, actor_loss_fn, critic, self.target_actor_params, self.target_critic_params, self.tau
    )
    agent = self.replace(
        actor=actor, critic=critic, target_actor_params=target_actor, target_critic_params=target_critic, key=key, step=step
    )
    return agent, {**critic_info, **actor_info, "actor_updated": update_actor.astype(jnp.float32)}
