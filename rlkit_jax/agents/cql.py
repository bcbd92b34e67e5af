"""Conservative Q-Learning for continuous actions (Kumar et al., 2020): SAC plus the CQL(H) penalty."""
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
from rlkit_jax.agents.base import MinCriticEnsemble, TanhGaussianPolicyMean
from rlkit_jax.agents.common import log_scalar_state, train_state, train_state_and_target
from rlkit_jax.data.transitions import Transitions
from rlkit_jax.distributions import tanh_gaussian_log_prob, tanh_gaussian_sample
from rlkit_jax.networks import Ensemble, QFunction, TanhGaussianPolicy
from rlkit_jax.agents.hyperparameters import AT_LEAST_ONE, NON_NEGATIVE, POSITIVE, REAL, checked_create

# exp(log α′) is clipped into [0, 1e6] before use, as in the reference code and CORL.
_MAX_CQL_ALPHA_MULTIPLIER = 1e6


@functools.lru_cache(maxsize=None)
def _networks(action_dim: int, hidden_dims: tuple[int, ...], num_critics: int):
  """Module definitions, cached so agents of one configuration share static fields (one compile)."""
  actor = TanhGaussianPolicy(action_dim, hidden_dims)
  critic = Ensemble(functools.partial(QFunction, hidden_dims), num_members=num_critics)
  return actor, critic


class CQL(TanhGaussianPolicyMean, MinCriticEnsemble, flax.struct.PyTreeNode):
  """CQL(H) on top of SAC: a double-Q critic ensemble, a tanh-Gaussian actor, automatic entropy tuning.

  Each critic minimises its squared TD error plus ``α′ ·`` :func:`rlkit_jax.objectives.cql_penalty`:
  for every state s of the batch, K uniform actions on [−1, 1]^A (log density −A·log 2), K actions
  from π(·|s) and K from π(·|s′) (with their log-probabilities, gradient stopped) are scored by the
  *online* critics at Q(s, ·), and the importance-sampled log-sum-exp of Q over them is pushed down
  while Q(s, a_data) is pushed up. All 3K sampled actions and the dataset action go through one
  critic call on ``[B·(3K+1), ·]`` inputs.

  The actor minimises the SAC loss ``α log π(ã|s) − min_e Q_e(s, ã)`` (during the first
  ``bc_steps`` updates instead ``α log π(ã|s) − log π(a_data|s)``, the reference's BC warm start).
  As in the reference code and CORL, the actor, entropy-temperature and critic losses of one update
  are all computed from the networks as they were before the update (then every optimiser steps),
  followed by the Polyak update of the target critics.

  Penalty weight: fixed ``cql_alpha``, or with ``lagrange=True`` the CQL-Lagrange form of CORL
  (the same as the reference up to where ``cql_alpha`` enters): the critics add
  ``α′ · cql_alpha · (penalty − target_action_gap)`` and a learned ``α′ = clip(exp(log α′), 0, 1e6)``
  (log α′ starts at 0, Adam at ``critic_lr``) minimises the negative of the same quantity, so α′
  grows while the batch-mean penalty (averaged over critics) exceeds ``target_action_gap`` and
  shrinks below it.

  Fields: networks as ``TrainState`` s; numeric hyperparameters as ``[]`` float32 leaves (vmappable);
  ``num_sampled_actions``, ``lagrange``, ``backup_entropy``, ``bc_steps`` and ``mean_backup`` static.

  References:
    Kumar et al., `Conservative Q-Learning for Offline Reinforcement Learning
    <https://arxiv.org/abs/2006.04779>`_, 2020, Eq. (4) (CQL(H)) and Appendix F (continuous
    actions: the importance-sampled log-sum-exp, and the Lagrange variant with threshold τ), and its
    reference code (github.com/aviralkumar2907/CQL, ``rlkit/torch/sac/cql.py``); Tarasov et al.,
    `CORL <https://arxiv.org/abs/2210.07105>`_, 2022 (``algorithms/offline/cql.py`` and its
    D4RL gym-MuJoCo configs, source of the defaults).
  """

  actor: TrainState
  critic: TrainState
  target_critic_params: Any
  log_alpha: TrainState  # entropy temperature α, log scale
  log_cql_alpha: TrainState  # Lagrange multiplier α′, log scale (trained only if `lagrange`)
  key: jax.Array
  discount: jax.Array  # γ, [] float32
  tau: jax.Array  # Polyak step, [] float32
  target_entropy: jax.Array  # H̄, [] float32, nats
  cql_alpha: jax.Array  # α of the CQL penalty, [] float32
  cql_temperature: jax.Array  # T of the log-sum-exp, [] float32
  target_action_gap: jax.Array  # τ of the Lagrange variant, [] float32, Q units
  num_sampled_actions: int = flax.struct.field(pytree_node=False, default=10)
  lagrange: bool = flax.struct.field(pytree_node=False, default=False)
  backup_entropy: bool = flax.struct.field(pytree_node=False, default=False)
  bc_steps: int = flax.struct.field(pytree_node=False, default=0)
  mean_backup: bool = flax.struct.field(pytree_node=False, default=False)

  action_space = "continuous"
  hyperparameter_ranges = {
      "init_temperature": POSITIVE, "cql_alpha": NON_NEGATIVE, "cql_temperature": POSITIVE,
      "target_action_gap": REAL, "num_sampled_actions": AT_LEAST_ONE, "bc_steps": NON_NEGATIVE,
  }

  @classmethod
  @checked_create
  def create(
      cls,
      key: jax.Array,
      observation_dim: int,
      action_dim: int,
      *,
      hidden_dims: Sequence[int] = (256, 256),
      actor_decay_steps: Optional[int] = None,
      num_critics: int = 2,
      actor_lr: ArrayLike = 3e-5,
      critic_lr: ArrayLike = 3e-4,
      temperature_lr: ArrayLike = 3e-5,
      discount: ArrayLike = 0.99,
      tau: ArrayLike = 5e-3,
      init_temperature: ArrayLike = 1.0,
      target_entropy: Optional[ArrayLike] = None,
      cql_alpha: ArrayLike = 10.0,
      cql_temperature: ArrayLike = 1.0,
      target_action_gap: ArrayLike = 5.0,
      num_sampled_actions: int = 10,
      lagrange: bool = False,
      backup_entropy: bool = False,
      bc_steps: int = 0,
      mean_backup: bool = False,
  ) -> "CQL":
    """Initialises networks and optimisers. Defaults: CORL's CQL configs for D4RL gym-MuJoCo.

    Args:
      key: a typed PRNG key (``jax.random.key``); split internally, kept for sampling.
      observation_dim, action_dim: O and A (actions in [−1, 1]^A).
      hidden_dims: hidden widths of actor and critics. (256, 256) here to keep runs cheap; the
        reference code and CORL use three layers of 256 (pass ``(256, 256, 256)``).
      actor_decay_steps: accepted for the driver and ignored: CQL trains with constant rates.
      num_critics: E (2, clipped double Q).
      actor_lr: Adam step of the actor (3e-5, CORL gym-MuJoCo; the reference code uses 1e-4).
      critic_lr: Adam step of the critics and, with ``lagrange``, of log α′ (3e-4; both sources).
      temperature_lr: Adam step of log α (3e-5: CORL and the reference step α at the actor's rate).
        Tuned for 10⁶ updates: in a 10⁴-update run α is still ~0.76 at the end and the entropy bonus
        swamps scaled rewards; use SAC's 3e-4 there (BUILD_NOTES.md, score table).
      discount: γ (0.99). tau: Polyak step of the target critics (5e-3).
      init_temperature: α at the start (1.0). target_entropy: H̄, default ``-action_dim``.
      cql_alpha: α of the penalty (10.0, CORL gym-MuJoCo; the reference's README uses 5.0). Under
        ``lagrange`` it multiplies the learned α′.
      cql_temperature: T of the log-sum-exp (1.0).
      target_action_gap: the penalty level α′ aims for under ``lagrange``, in the units of
        :func:`~rlkit_jax.objectives.cql_penalty` (no −log K; unused without ``lagrange``); any finite
        value: a negative one asks data actions to out-score the log-sum-exp (CORL's default is −1). 5.0
        (the reference's ``lagrange_thresh`` for AntMaze; CORL's AntMaze configs use 0.8 with
        ``cql_alpha`` 5).
      num_sampled_actions: K, actions per proposal per state (10; 3K are scored in all). Static.
      lagrange: learn α′ to hold the penalty near ``target_action_gap`` (False). Static.
      backup_entropy: subtract α log π(a′|s′) in the TD target (False: the "deterministic
        backup" of the reference code and CORL's ``backup_entropy=False``). Static.
      bc_steps: updates of BC warm start for the actor (0, CORL gym-MuJoCo; the reference code
        uses 40 000). Static int.
      mean_backup: bootstrap at the policy mean a′ = tanh(μ(s′)) instead of a sample a′ ~ π(·|s′)
        (False; True is d3rlpy's CQL with ``soft_q_backup=False``). Static.

    Raises:
      ValueError: ``mean_backup`` with ``backup_entropy`` (the mean action has no entropy term).

    Returns:
      A new agent; ``jax.vmap`` over ``key`` or any float-valued argument gives a batch of agents.
    """
    del actor_decay_steps  # the CQL paper and reference use constant learning rates
    if mean_backup and backup_entropy:
      raise ValueError("CQL.create: mean_backup bootstraps at tanh(μ(s′)), which has no entropy term; drop backup_entropy")
    key, actor_key, critic_key = jax.random.split(key, 3)
    observations = jnp.zeros((1, observation_dim), jnp.float32)
    actions = jnp.zeros((1, action_dim), jnp.float32)
    actor_def, critic_def = _networks(action_dim, tuple(hidden_dims), num_critics)
    critic, target_critic_params = train_state_and_target(critic_def, critic_key, critic_lr, observations, actions)
    return cls(
        actor=train_state(actor_def.apply, actor_def.init(actor_key, observations)["params"], actor_lr),
        critic=critic,
        target_critic_params=target_critic_params,
        log_alpha=log_scalar_state(init_temperature, temperature_lr),
        log_cql_alpha=log_scalar_state(1.0, critic_lr),  # α′ = 1 at the start, as the reference
        key=key,
        discount=jnp.asarray(discount, jnp.float32),
        tau=jnp.asarray(tau, jnp.float32),
        target_entropy=jnp.asarray(-action_dim if target_entropy is None else target_entropy, jnp.float32),
        cql_alpha=jnp.asarray(cql_alpha, jnp.float32),
        cql_temperature=jnp.asarray(cql_temperature, jnp.float32),
        target_action_gap=jnp.asarray(target_action_gap, jnp.float32),
        num_sampled_actions=int(num_sampled_actions),
        lagrange=bool(lagrange),
        backup_entropy=bool(backup_entropy),
        bc_steps=int(bc_steps),
        mean_backup=bool(mean_backup),
    )

  def penalty_weight(self) -> jax.Array:
    """The weight the critics put on the penalty now: ``cql_alpha`` (× α′ under ``lagrange``), ``[]``."""
    if not self.lagrange:
      return self.cql_alpha
    log_multiplier = self.log_cql_alpha.apply_fn({"params": self.log_cql_alpha.params})
    return self.cql_alpha * jnp.clip(jnp.exp(log_multiplier), 0.0, _MAX_CQL_ALPHA_MULTIPLIER)

  @jax.jit
  def update(self, batch: Transitions) -> tuple["CQL", dict[str, jax.Array]]:
    """One CQL step: critics (TD + penalty), actor, entropy temperature, α′ (if ``lagrange``), target.

    Args:
      batch: :class:`Transitions` with leading axis B; actions in [−1, 1]^A.

    Returns:
      ``(new_agent, metrics)`` with scalar metrics ``critic_loss`` (TD + weighted penalty, summed
      over critics), ``td_loss``, ``actor_loss``, ``cql_penalty`` (mean over critics and batch),
      ``q_data`` (mean Q(s, a_data)), ``q_sampled`` (mean Q over the 3K sampled actions),
      ``alpha`` (entropy temperature), ``cql_alpha`` (the penalty weight in use), ``entropy``.
    """
    key, actor_key, next_key, cql_key = jax.random.split(self.key, 4)
    alpha = jnp.exp(self.log_alpha.apply_fn({"params": self.log_alpha.params}))
    penalty_weight = self.penalty_weight()
    critic_grads, critic_info = self._critic_gradients(batch, alpha, penalty_weight, next_key, cql_key)
    actor_grads, log_probs, actor_info = self._actor_gradients(batch, alpha, actor_key)
    log_alpha = self._temperature_step(log_probs)
    log_cql_alpha = self._lagrange_step(critic_info["cql_penalty"]) if self.lagrange else self.log_cql_alpha  # static
    critic = self.critic.apply_gradients(grads=critic_grads)
    actor = self.actor.apply_gradients(grads=actor_grads)
    target = optax.incremental_update(critic.params, self.target_critic_params, self.tau)
    agent = self.replace(
        actor=actor,
        critic=critic,
        target_critic_params=target,
        log_alpha=log_alpha,
        log_cql_alpha=log_cql_alpha,
        key=key,
    )
    return agent, {**critic_info, **actor_info, "alpha": alpha, "cql_alpha": penalty_weight}

  def _critic_gradients(self, batch: Transitions, alpha, penalty_weight, next_key, cql_key):
    """Gradients of ``Σ_e (TD_e + α′ · penalty_e)`` for the critics, and their metrics."""
    actor_params = jax.lax.stop_gradient(self.actor.params)
    means, log_stds = self.actor.apply_fn({"params": actor_params}, batch.observations)
    next_means, next_log_stds = self.actor.apply_fn({"params": actor_params}, batch.next_observations)

    # TD target from the target critics at a' ~ π(·|s') (or at its mean, tanh μ(s')).
    next_actions, next_log_probs = tanh_gaussian_sample(next_key, next_means, next_log_stds)
    if self.mean_backup:
      next_actions = jnp.tanh(next_means)
    next_q = self.critic.apply_fn({"params": self.target_critic_params}, batch.next_observations, next_actions)
    next_values = jnp.min(next_q, axis=0)
    if self.backup_entropy:
      next_values = next_values - alpha * next_log_probs
    targets = objectives.td_target(batch.rewards, batch.terminals, next_values, discount=self.discount)

    # Q(s, ·) on [a_data, K uniform, K from π(·|s), K from π(·|s')], one critic call.
    sampled_actions, log_densities = objectives.cql_proposals(
        cql_key, means, log_stds, next_means, next_log_stds, num_sampled_actions=self.num_sampled_actions
    )
    all_actions = jnp.concatenate([batch.actions[:, None, :], sampled_actions], axis=1)  # [B, 1+3K, A]
    batch_size, num_actions, action_dim = all_actions.shape
    flat_observations = jnp.repeat(batch.observations, num_actions, axis=0)  # [B·(1+3K), O], row b n times
    flat_actions = all_actions.reshape(batch_size * num_actions, action_dim)

    def critic_loss_fn(params):
      q_all = self.critic.apply_fn({"params": params}, flat_observations, flat_actions)
      q_all = q_all.reshape(q_all.shape[0], batch_size, num_actions)  # [E, B, 1+3K]
      q_data, q_sampled = q_all[..., 0], q_all[..., 1:]
      td = jnp.mean(jnp.sum(objectives.squared_td_error(q_data, targets), axis=0))
      penalty = objectives.cql_penalty(q_sampled, log_densities, q_data, cql_temperature=self.cql_temperature)
      mean_penalty = jnp.mean(penalty)  # over critics and batch
      num_critics = q_all.shape[0]
      loss = td + num_critics * penalty_weight * mean_penalty  # Σ_e (TD_e + α′ · penalty_e)
      info = {
          "critic_loss": loss,
          "td_loss": td,
          "cql_penalty": mean_penalty,
          "q_data": jnp.mean(q_data),
          "q_sampled": jnp.mean(q_sampled),
      }
      return loss, info

    return jax.grad(critic_loss_fn, has_aux=True)(self.critic.params)

  def _actor_gradients(self, batch: Transitions, alpha, actor_key):
    """Gradients of SAC's actor loss against the current critics (BC warm start for ``bc_steps``),
    the sampled actions' log π, and the actor's metrics."""

    def actor_loss_fn(params):
      means, log_stds = self.actor.apply_fn({"params": params}, batch.observations)
      actions, log_probs = tanh_gaussian_sample(actor_key, means, log_stds)
      q = jnp.min(self.critic.apply_fn({"params": self.critic.params}, batch.observations, actions), axis=0)
      loss = jnp.mean(objectives.sac_actor_loss(log_probs, q, alpha=alpha))
      if self.bc_steps > 0:  # static: the warm start replaces Q by log π(a_data|s) early on
        data_log_probs = tanh_gaussian_log_prob(batch.actions, means, log_stds)
        bc_loss = jnp.mean(objectives.sac_actor_loss(log_probs, data_log_probs, alpha=alpha))
        loss = jnp.where(self.actor.step < self.bc_steps, bc_loss, loss)
      return loss, (log_probs, {"actor_loss": loss, "entropy": -jnp.mean(log_probs)})

    grads, (log_probs, info) = jax.grad(actor_loss_fn, has_aux=True)(self.actor.params)
    return grads, log_probs, info

  def _temperature_step(self, log_probs):
    """One step of SAC's entropy temperature towards ``target_entropy``."""

    def alpha_loss_fn(params):
      return jnp.mean(objectives.sac_temperature_loss(params["log_value"], log_probs, target_entropy=self.target_entropy))

    return self.log_alpha.apply_gradients(grads=jax.grad(alpha_loss_fn)(self.log_alpha.params))

  def _lagrange_step(self, cql_penalty):
    """One step of the Lagrange multiplier of α′: it grows while the penalty exceeds ``target_action_gap``."""
    gap = jax.lax.stop_gradient(cql_penalty) - self.target_action_gap

    def cql_alpha_loss_fn(params):
      multiplier = jnp.clip(jnp.exp(params["log_value"]), 0.0, _MAX_CQL_ALPHA_MULTIPLIER)
      return -multiplier * self.cql_alpha * gap

    return self.log_cql_alpha.apply_gradients(grads=jax.grad(cql_alpha_loss_fn)(self.log_cql_alpha.params))
