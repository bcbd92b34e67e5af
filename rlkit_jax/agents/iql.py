"""Implicit Q-Learning (Kostrikov et al., 2021) as an immutable pytree."""
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
from rlkit_jax.agents.common import train_state_and_target, train_state
from rlkit_jax.data.transitions import Transitions
from rlkit_jax.distributions import diag_gaussian_log_prob
from rlkit_jax.networks import Ensemble, GaussianPolicy, QFunction, ValueFunction
from rlkit_jax.agents.hyperparameters import NON_NEGATIVE, OPEN_UNIT, POSITIVE, checked_create


@functools.lru_cache(maxsize=None)
def _networks(action_dim: int, hidden_dims: tuple[int, ...], num_critics: int):
  """Module definitions, cached so agents of one configuration share static fields (one compile)."""
  actor = GaussianPolicy(action_dim, hidden_dims)
  critic = Ensemble(functools.partial(QFunction, hidden_dims), num_members=num_critics)
  return actor, critic, ValueFunction(hidden_dims)


class IQL(GaussianPolicyMean, MinCriticEnsemble, flax.struct.PyTreeNode):
  """IQL agent: expectile value, double-Q critic, advantage-weighted Gaussian actor.

  The update follows the reference implementation's order: V (against the target critics),
  the actor (weights from the target critics and the new V), Q (bootstrapping from the new V),
  then the Polyak target. Hyperparameters are ``[]`` float32 leaves, so sweeps can vmap them.

  References:
    Kostrikov et al., `Offline Reinforcement Learning with Implicit Q-Learning
    <https://arxiv.org/abs/2110.06169>`_, 2021, Algorithm 1.
  """

  action_space = "continuous"  # class attribute, not a field
  hyperparameter_ranges = {"expectile": OPEN_UNIT, "temperature": NON_NEGATIVE, "max_weight": POSITIVE}

  actor: TrainState
  critic: TrainState
  value: TrainState
  target_critic_params: Any
  key: jax.Array
  expectile: jax.Array  # τ, [] float32
  temperature: jax.Array  # β, [] float32
  discount: jax.Array  # γ, [] float32
  tau: jax.Array  # Polyak step, [] float32
  max_weight: jax.Array  # clip of exp(βA), [] float32

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
      value_lr: ArrayLike = 3e-4,
      expectile: ArrayLike = 0.7,
      temperature: ArrayLike = 3.0,
      discount: ArrayLike = 0.99,
      tau: ArrayLike = 0.005,
      max_weight: ArrayLike = 100.0,
      actor_decay_steps: Optional[int] = None,
  ) -> "IQL":
    """Initialises networks and optimisers (defaults: the paper's locomotion settings).

    Args:
      key: a typed PRNG key; split internally.
      observation_dim, action_dim: O and A.
      hidden_dims: hidden widths of actor, critics and value (256, 256 in the paper).
      num_critics: E (2).
      actor_lr, critic_lr, value_lr: Adam step sizes (3e-4).
      expectile: τ (0.7 locomotion, 0.9 AntMaze). temperature: β (3 locomotion, 10 AntMaze).
      discount: γ (0.99). tau: Polyak step (0.005). max_weight: clip of exp(βA) (100).
      actor_decay_steps: cosine-decay the actor step size to 0 over this many updates (the
        reference uses the run's total number of updates); None for a constant rate.
    """
    actor_key, critic_key, value_key, key = jax.random.split(key, 4)
    observations = jnp.zeros((1, observation_dim), jnp.float32)
    actions = jnp.zeros((1, action_dim), jnp.float32)
    actor_def, critic_def, value_def = _networks(action_dim, tuple(hidden_dims), num_critics)
    critic, target_critic_params = train_state_and_target(critic_def, critic_key, critic_lr, observations, actions)
    return cls(
        actor=train_state(
            actor_def.apply, actor_def.init(actor_key, observations)["params"], actor_lr, decay_steps=actor_decay_steps
        ),
        critic=critic,
        value=train_state(value_def.apply, value_def.init(value_key, observations)["params"], value_lr),
        target_critic_params=target_critic_params,
        key=key,
        expectile=jnp.asarray(expectile, jnp.float32),
        temperature=jnp.asarray(temperature, jnp.float32),
        discount=jnp.asarray(discount, jnp.float32),
        tau=jnp.asarray(tau, jnp.float32),
        max_weight=jnp.asarray(max_weight, jnp.float32),
    )

  @jax.jit
  def update(self, batch: Transitions) -> tuple["IQL", dict[str, jax.Array]]:
    """One IQL step on ``batch`` (leading axis B). Returns ``(new_agent, scalar metrics)``."""
    target_q = self.critic.apply_fn({"params": self.target_critic_params}, batch.observations, batch.actions)

    def value_loss_fn(params):
      v = self.value.apply_fn({"params": params}, batch.observations)
      loss = jnp.mean(objectives.iql_value_loss(v, target_q, expectile=self.expectile))
      return loss, {"value_loss": loss, "v": jnp.mean(v)}

    value_grads, value_info = jax.grad(value_loss_fn, has_aux=True)(self.value.params)
    value = self.value.apply_gradients(grads=value_grads)
    v = value.apply_fn({"params": value.params}, batch.observations)

    def actor_loss_fn(params):
      means, log_stds = self.actor.apply_fn({"params": params}, batch.observations)
      log_probs = diag_gaussian_log_prob(batch.actions, means, log_stds)
      loss = jnp.mean(
          objectives.iql_actor_loss(
              log_probs, target_q, v, temperature=self.temperature, max_weight=self.max_weight
          )
      )
      return loss, {"actor_loss": loss, "adv": jnp.mean(jnp.min(target_q, axis=0) - v)}

    actor_grads, actor_info = jax.grad(actor_loss_fn, has_aux=True)(self.actor.params)
    actor = self.actor.apply_gradients(grads=actor_grads)

    next_v = value.apply_fn({"params": value.params}, batch.next_observations)

    def critic_loss_fn(params):
      q = self.critic.apply_fn({"params": params}, batch.observations, batch.actions)
      per_member = objectives.iql_critic_loss(q, batch.rewards, batch.terminals, next_v, discount=self.discount)
      loss = jnp.mean(jnp.sum(per_member, axis=0))
      return loss, {"critic_loss": loss, "q_data": jnp.mean(q)}

    critic_grads, critic_info = jax.grad(critic_loss_fn, has_aux=True)(self.critic.params)
    critic = self.critic.apply_gradients(grads=critic_grads)
    target = optax.incremental_update(critic.params, self.target_critic_params, self.tau)
    agent = self.replace(actor=actor, critic=critic, value=value, target_critic_params=target)
    return agent, {**value_info, **actor_info, **critic_info}
