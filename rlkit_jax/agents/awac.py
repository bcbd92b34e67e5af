"""Advantage-Weighted Actor-Critic (Nair et al., 2020), offline, as an immutable pytree."""
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
from rlkit_jax.agents.base import GaussianPolicyMean, MinCriticEnsemble
from rlkit_jax.agents.common import advantage_weighted_actor_step, critic_step, train_state_and_target, train_state
from rlkit_jax.data.transitions import Transitions
from rlkit_jax.networks import Ensemble, GaussianPolicy, QFunction
from rlkit_jax.agents.hyperparameters import NON_NEGATIVE, POSITIVE, checked_create


@functools.lru_cache(maxsize=None)
def _networks(action_dim: int, hidden_dims: tuple[int, ...], num_critics: int):
  """Module definitions, cached so agents of one configuration share static fields (one compile)."""
  actor = GaussianPolicy(action_dim, hidden_dims)
  critic = Ensemble(functools.partial(QFunction, hidden_dims), num_members=num_critics)
  return actor, critic


def _sample_actions(key: jax.Array, means: jax.Array, log_stds: jax.Array) -> jax.Array:
  """a = clip(μ + σ ε, -1, 1), ε ~ N(0, I): ``[B, A]`` → ``[B, A]`` (CORL's ``rsample().clamp_``)."""
  noise = jax.random.normal(key, means.shape, means.dtype)
  return jnp.clip(means + jnp.exp(log_stds) * noise, -1.0, 1.0)


class AWAC(GaussianPolicyMean, MinCriticEnsemble, flax.struct.PyTreeNode):
  r"""AWAC: a TD critic of the current policy and an advantage-weighted Gaussian actor.

  Each update, in the order of CORL's implementation:

  1. Critic: ``Σ_e (Q_e(s, a) - y)²`` with ``y = r + γ (1 - d) min_e Q'_e(s', a')``,
     ``a' ~ π(·|s')`` (one sample, clipped to [-1, 1]) and Polyak-averaged target critics Q'.
  2. Actor: ``-min(exp(β A), max_weight) · log π(a|s)`` on dataset actions, with
     ``A = min_e Q_e(s, a) - V(s)`` from the *updated* critics and ``V(s) ≈ min_e Q_e(s, a_π)``
     for ONE sample ``a_π ~ π(·|s)`` (clipped to [-1, 1]) — a single-sample estimate of
     ``E_{a~π} Q(s, a)`` (AWAC Eq. (13); CORL ``awac.py`` ``_actor_loss`` does the same).
  3. Target critics: ``θ' ← τ θ + (1 - τ) θ'``.

  Temperature. AWAC writes the weight as ``exp(A / λ)``; ``temperature`` is ``β = 1 / λ``
  (weight = exp(β·A), this library's convention). Default ``λ = 1`` (``temperature = 1``),
  CORL's ``awac_lambda`` for D4RL locomotion, with CORL's weight clip ``exp_adv_max = 100``.
  CORL trains on unscaled rewards; with the driver's reward scaling Q and A are larger, so the
  weights are greedier: sweep ``temperature`` (e.g. 0.1, 0.3, 1).

  The Gaussian policy (IQL's: tanh-squashed mean, state-independent learned σ, an unsquashed
  distribution) keeps log π(a|s) finite for dataset actions at ±1. The paper's step sizes are
  constant, so ``actor_decay_steps`` is accepted and ignored.

  References:
    Nair et al., `AWAC: Accelerating Online Reinforcement Learning with Offline Datasets
    <https://arxiv.org/abs/2006.09359>`_, 2020, Algorithm 1, Eq. (13); Tarasov et al., `CORL
    <https://arxiv.org/abs/2210.07105>`_, 2022, ``algorithms/offline/awac.py`` (defaults).
  """

  action_space = "continuous"
  hyperparameter_ranges = {"temperature": NON_NEGATIVE, "max_weight": POSITIVE}
  needs_returns_to_go = False

  actor: TrainState
  critic: TrainState
  target_critic_params: Any
  key: jax.Array
  temperature: jax.Array  # β = 1/λ, [] float32
  max_weight: jax.Array  # clip of exp(βA), [] float32
  discount: jax.Array  # γ, [] float32
  tau: jax.Array  # Polyak step, [] float32

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
      temperature: ArrayLike = 1.0,
      max_weight: ArrayLike = 100.0,
      discount: ArrayLike = 0.99,
      tau: ArrayLike = 0.005,
      actor_decay_steps: Optional[int] = None,
  ) -> "AWAC":
    """Initialises networks and optimisers (defaults: CORL's AWAC for D4RL).

    Args:
      key: a typed PRNG key; split internally, kept for sampling.
      observation_dim, action_dim: O and A (actions in [-1, 1]^A).
      hidden_dims: hidden widths of actor and critics (CORL: three layers of 256).
      num_critics: E (2; the minimum is used everywhere).
      actor_lr, critic_lr: Adam step sizes (3e-4).
      temperature: β = 1/λ (1). max_weight: clip of exp(βA) (100).
      discount: γ (0.99). tau: Polyak step (0.005).
      actor_decay_steps: ignored (constant step sizes, as the paper and CORL).
    """
    del actor_decay_steps
    actor_key, critic_key, key = jax.random.split(key, 3)
    observations = jnp.zeros((1, observation_dim), jnp.float32)
    actions = jnp.zeros((1, action_dim), jnp.float32)
    actor_def, critic_def = _networks(action_dim, tuple(hidden_dims), num_critics)
    critic, target_critic_params = train_state_and_target(critic_def, critic_key, critic_lr, observations, actions)
    return cls(
        actor=train_state(actor_def.apply, actor_def.init(actor_key, observations)["params"], actor_lr),
        critic=critic,
        target_critic_params=target_critic_params,
        key=key,
        temperature=jnp.asarray(temperature, jnp.float32),
        max_weight=jnp.asarray(max_weight, jnp.float32),
        discount=jnp.asarray(discount, jnp.float32),
        tau=jnp.asarray(tau, jnp.float32),
    )

  @jax.jit
  def advantages(
      self, critic_params: Any, observations: jax.Array, actions: jax.Array, key: jax.Array
  ) -> tuple[jax.Array, jax.Array]:
    """The actor step's advantages ``A = min_e Q_e(s, a) − V(s)``, ``V(s) = min_e Q_e(s, a_π)`` for ONE
    ``a_π ~ π(·|s)`` drawn with ``key`` (clipped to [-1, 1]), under ``critic_params``.

    Args:
      critic_params: the critics' parameters (the update passes the ones just stepped).
      observations: s, ``[B, O]``. actions: a, ``[B, A]`` (the dataset's).
      key: the sample's key.

    Returns:
      ``(A, V)``, each ``[B]`` float32, in (scaled) reward units.
    """
    means, log_stds = self.actor.apply_fn({"params": self.actor.params}, observations)
    policy_actions = _sample_actions(key, means, log_stds)
    q_data = jnp.min(self.critic.apply_fn({"params": critic_params}, observations, actions), axis=0)
    v = jnp.min(self.critic.apply_fn({"params": critic_params}, observations, policy_actions), axis=0)
    return q_data - v, v

  def update(self, batch: Transitions) -> tuple["AWAC", dict[str, jax.Array]]:
    """One critic step, one actor step and the Polyak update. Returns ``(new_agent, metrics)``."""
    key, next_key, pi_key = jax.random.split(self.key, 3)

    next_means, next_log_stds = self.actor.apply_fn({"params": self.actor.params}, batch.next_observations)
    next_actions = _sample_actions(next_key, next_means, next_log_stds)
    next_q = self.critic.apply_fn({"params": self.target_critic_params}, batch.next_observations, next_actions)
    targets = objectives.td_target(batch.rewards, batch.terminals, jnp.min(next_q, axis=0), discount=self.discount)

    critic, critic_info = critic_step(self.critic, batch, targets)

    advantages, v = self.advantages(critic.params, batch.observations, batch.actions, pi_key)
    weights = objectives.advantage_weights(advantages, temperature=self.temperature, max_weight=self.max_weight)

    actor, actor_info = advantage_weighted_actor_step(
        self.actor, batch.observations, batch.actions, advantages, temperature=self.temperature,
        max_weight=self.max_weight,
    )
    target = optax.incremental_update(critic.params, self.target_critic_params, self.tau)
    agent = self.replace(actor=actor, critic=critic, target_critic_params=target, key=key)
    info = {
        **critic_info,
        **actor_info,
        "v": jnp.mean(v),
        "adv": jnp.mean(advantages),
        "weight_mean": jnp.mean(weights),
        "weight_max": jnp.max(weights),
    }
    return agent, info
