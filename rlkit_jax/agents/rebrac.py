"""ReBRAC (Tarasov et al. 2023): TD3+BC revisited — LayerNorm critics, separate behaviour-cloning
penalties in the actor loss and in the critic's target, larger batches and step sizes."""
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
from rlkit_jax.agents.hyperparameters import AT_LEAST_ONE, NON_NEGATIVE, checked_create
from rlkit_jax.data.transitions import Transitions
from rlkit_jax.networks import DeterministicPolicy, Ensemble, QFunction

# (actor_bc_coef β₁, critic_bc_coef β₂) the ReBRAC paper tuned per D4RL v2 Hopper dataset (App. B).
PAPER_COEFFICIENTS = {
    "hopper-medium": (0.01, 0.001), "hopper-medium-replay": (0.05, 0.5), "hopper-medium-expert": (0.1, 0.01),
    "hopper-expert": (0.1, 0.001), "hopper-random": (0.001, 0.01),
}


@functools.lru_cache(maxsize=None)
def _networks(action_dim: int, hidden_dims: tuple[int, ...], num_critics: int, critic_layer_norm: bool, init: str):
  """Module definitions, cached so agents of one configuration share static fields (one compile)."""
  actor = DeterministicPolicy(action_dim, hidden_dims, init_scheme=init)
  critic = Ensemble(functools.partial(QFunction, hidden_dims, layer_norm=critic_layer_norm, init_scheme=init), num_members=num_critics)
  return actor, critic


class ReBRAC(MinCriticEnsemble, flax.struct.PyTreeNode):
  r"""ReBRAC: a deterministic actor and E LayerNorm critics, as TD3+BC but with

  1. Critic: ``Σ_e (Q_e(s, a) − y)²``, ``y = r + γ (1 − d) [min_e Q'_e(s', ã') − β₂ ‖ã' − a'‖²]``
     (:func:`~rlkit_jax.objectives.rebrac_next_values`), ã' the target policy's smoothed action
     (σ = ``policy_noise``, clipped at ``noise_clip``) and a' the dataset's next action
     (``batch.next_actions``, :func:`rlkit_jax.data.preprocessing.with_next_actions`).
  2. Every ``policy_delay``-th update: one actor step on
     :func:`~rlkit_jax.objectives.rebrac_actor_loss` (β₁ ‖π(s) − a‖² − min_e Q_e(s, π(s)) /
     mean|Q|), then Polyak updates of both targets (selected with ``jnp.where``: pure and vmappable).

  The paper's locomotion settings are the defaults: Adam 1e-3 for both networks, γ 0.99, τ 5e-3,
  LayerNorm in the critics only; it also uses three hidden layers of 256 (``--hidden_dims=256,256,256``)
  and batch 1024 (``--batch_size=1024``), which the job sets, not the agent. β₁ and β₂ were tuned per
  dataset (:data:`PAPER_COEFFICIENTS`); the defaults are hopper-medium-replay's. Rewards are used
  as they are in the paper (``--reward_scaling=none``). ``actor_decay_steps`` is accepted and ignored.

  References:
    Tarasov et al., `Revisiting the Minimalist Approach to Offline Reinforcement Learning
    <https://arxiv.org/abs/2305.09836>`_, NeurIPS 2023, Eq. (2)–(3), App. B; Fujimoto & Gu 2021 (TD3+BC).
  """

  action_space = "continuous"
  hyperparameter_ranges = {
      "actor_bc_coef": NON_NEGATIVE, "critic_bc_coef": NON_NEGATIVE, "policy_noise": NON_NEGATIVE,
      "noise_clip": NON_NEGATIVE, "policy_delay": AT_LEAST_ONE,
  }
  needs_returns_to_go = False
  needs_next_actions = True

  actor: TrainState
  critic: TrainState
  target_actor_params: Any
  target_critic_params: Any
  key: jax.Array
  step: jax.Array  # updates done so far, [] int32
  actor_bc_coef: jax.Array  # β₁, [] float32
  critic_bc_coef: jax.Array  # β₂, [] float32
  discount: jax.Array  # γ
  tau: jax.Array  # Polyak step
  policy_noise: jax.Array  # σ, action units
  noise_clip: jax.Array  # c, action units
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
      critic_layer_norm: bool = True,
      actor_lr: ArrayLike = 1e-3,
      critic_lr: ArrayLike = 1e-3,
      actor_bc_coef: ArrayLike = 0.05,
      critic_bc_coef: ArrayLike = 0.5,
      discount: ArrayLike = 0.99,
      tau: ArrayLike = 0.005,
      policy_noise: ArrayLike = 0.2,
      noise_clip: ArrayLike = 0.5,
      policy_delay: int = 2,
      torch_init: bool = False,
      actor_decay_steps: Optional[int] = None,
  ) -> "ReBRAC":
    """Initialises networks, targets and optimisers.

    Args:
      key: a typed PRNG key; split internally, kept for the smoothing noise.
      observation_dim, action_dim: O and A (actions in [-1, 1]^A).
      hidden_dims: hidden widths of actor and critics.
      num_critics: E (2). critic_layer_norm: LayerNorm in the critics (True), static.
      actor_lr, critic_lr: Adam step sizes (1e-3).
      actor_bc_coef: β₁ ≥ 0. critic_bc_coef: β₂ ≥ 0.
      discount: γ. tau: Polyak step. policy_noise: σ. noise_clip: c. policy_delay: d ≥ 1, static.
      torch_init: every layer from PyTorch's ``nn.Linear`` default, kernels and biases
        U(±1/√fan_in) (d3rlpy's), instead of the toolkit's orthogonal statistics (static;
        :func:`~rlkit_jax.networks.mlp.layer_init`).
      actor_decay_steps: ignored (constant step sizes).

    Raises:
      ValueError: ``policy_delay`` < 1.
    """
    del actor_decay_steps
    actor_def, critic_def = _networks(
        action_dim, tuple(hidden_dims), int(num_critics), bool(critic_layer_norm), "torch" if torch_init else "orthogonal"
    )
    actor, target_actor_params, critic, target_critic_params, key = td3.actor_and_critics(
        "ReBRAC", key, actor_def, critic_def, observation_dim, action_dim, actor_lr=actor_lr, critic_lr=critic_lr,
        policy_delay=policy_delay,
    )
    scalar = lambda x: jnp.asarray(x, jnp.float32)
    return cls(
        actor=actor, critic=critic, target_actor_params=target_actor_params, target_critic_params=target_critic_params,
        key=key, step=jnp.zeros((), jnp.int32), actor_bc_coef=scalar(actor_bc_coef), critic_bc_coef=scalar(critic_bc_coef),
        discount=scalar(discount), tau=scalar(tau), policy_noise=scalar(policy_noise), noise_clip=scalar(noise_clip),
        policy_delay=int(policy_delay),
    )

  def eval_actions(self, observations: jax.Array) -> jax.Array:
    """Deterministic actions π(s): observations ``[B, O]`` → ``[B, A]`` in (-1, 1)."""
    return self.actor.apply_fn({"params": self.actor.params}, observations)

  @jax.jit
  def update(self, batch: Transitions) -> tuple["ReBRAC", dict[str, jax.Array]]:
    """One critic step and, every ``policy_delay``-th call, an actor step and the target updates.

    Args:
      batch: :class:`Transitions` with ``next_actions`` (``[B, A]``).

    Returns:
      ``(new_agent, metrics)``; ``actor_updated`` is 1.0 on updates that changed the actor.
    """
    if batch.next_actions is None:
      raise ValueError(
          "ReBRAC.update needs batch.next_actions (the dataset's action at s'); fill them with "
          "rlkit_jax.data.preprocessing.with_next_actions"
      )
    key, noise_key = jax.random.split(self.key)
    step = self.step + 1
    next_actions = td3.smoothed_target_actions(
        self.actor, self.target_actor_params, batch.next_observations, noise_key,
        policy_noise=self.policy_noise, noise_clip=self.noise_clip,
    )
    next_q = jnp.min(self.critic.apply_fn({"params": self.target_critic_params}, batch.next_observations, next_actions), axis=0)
    next_values = objectives.rebrac_next_values(next_q, next_actions, batch.next_actions, critic_bc_coef=self.critic_bc_coef)
    targets = objectives.td_target(batch.rewards, batch.terminals, next_values, discount=self.discount)
    critic, critic_info = critic_step(self.critic, batch, targets)

    def actor_loss_fn(params):
      policy_actions = self.actor.apply_fn({"params": params}, batch.observations)
      q = jnp.min(critic.apply_fn({"params": critic.params}, batch.observations, policy_actions), axis=0)
      loss = jnp.mean(objectives.rebrac_actor_loss(q, policy_actions, batch.actions, actor_bc_coef=self.actor_bc_coef))
      bc = jnp.mean(jnp.sum(jnp.square(policy_actions - batch.actions), axis=-1))
      return loss, {"actor_loss": loss, "q_policy": jnp.mean(q), "bc_squared_error": bc}

    update_actor = step % self.policy_delay == 0
    actor, target_actor, target_critic, actor_info = td3.delayed_actor_step(
        update_actor, self.actor, actor_loss_fn, critic, self.target_actor_params, self.target_critic_params, self.tau
    )
    agent = self.replace(
        actor=actor, critic=critic, target_actor_params=target_actor, target_critic_params=target_critic, key=key, step=step
    )
    return agent, {**critic_info, **actor_info, "actor_updated": update_actor.astype(jnp.float32)}
