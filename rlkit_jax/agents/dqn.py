"""(Double) DQN with an optional discrete CQL(H) penalty, as an immutable pytree.

One agent covers three algorithms:

* online DQN / Double DQN (``cql_alpha=0``; :meth:`DQN.sample_actions` gives ε-greedy actions),
  used by :mod:`rlkit_jax.generation.dqn` to make the discrete datasets;
* offline Double DQN (``cql_alpha=0`` on a fixed dataset);
* offline DDQN + CQL (``cql_alpha > 0``): the TD loss plus ``cql_alpha · (logsumexp_a Q(s, a) − Q(s, a_data))``.

Shape letters: ``B`` batch, ``O`` observation width, ``A`` number of actions. Batch actions are
``[B]`` int32 indices in ``[0, A)``.
"""
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
from rlkit_jax.agents.common import train_state_and_target
from rlkit_jax.data.transitions import Transitions
from rlkit_jax.networks import DiscreteQFunction
from rlkit_jax.agents.hyperparameters import NON_NEGATIVE, checked_create


@functools.lru_cache(maxsize=None)
def _networks(num_actions: int, hidden_dims: tuple[int, ...]) -> DiscreteQFunction:
  """Module definition, cached so agents of one configuration share static fields (one compile)."""
  return DiscreteQFunction(num_actions, hidden_dims)


def _take(q: jax.Array, actions: jax.Array) -> jax.Array:
  """``q [B, A]``, ``actions [B]`` int → ``q[b, actions[b]]``, ``[B]``."""
  return jnp.take_along_axis(q, actions[:, None].astype(jnp.int32), axis=-1)[:, 0]


def epsilon_greedy(q_values: jax.Array, key: jax.Array, epsilon: ArrayLike) -> jax.Array:
  """ε-greedy over ``q_values [B, A]``: a uniform action with probability ε, else argmax (ties: lowest).

  Args:
    q_values: Q(s, ·), ``[B, A]`` float.
    key: a PRNG key, consumed.
    epsilon: ε in [0, 1], Python float or traced scalar.

  Returns:
    ``[B]`` int32 action indices.

  References:
    Mnih et al., `Human-level control through deep reinforcement learning`, Nature 2015 (Algorithm 1).
  """
  explore_key, action_key = jax.random.split(key)
  batch, num_actions = q_values.shape
  explore = jax.random.uniform(explore_key, (batch,)) < epsilon
  random_actions = jax.random.randint(action_key, (batch,), 0, num_actions, dtype=jnp.int32)
  return jnp.where(explore, random_actions, jnp.argmax(q_values, axis=-1).astype(jnp.int32))


class DQN(flax.struct.PyTreeNode):
  """Double DQN (``double=True``) or DQN, Polyak target network, optional discrete CQL(H) penalty.

  Loss per update (mean over the batch B):
  ``huber(Q(s, a) − y) + cql_alpha · (logsumexp_a' Q(s, a') − Q(s, a))`` with y from
  :func:`rlkit_jax.objectives.dqn_target`. The TD part is the Huber loss (δ = 1), i.e. DQN's
  clipping of the error term to [-1, 1] (Mnih et al. 2015, Methods, "error clipping"): it keeps
  gradients bounded while the target network is far off, which matters with unscaled rewards
  such as CartPole's +1 per step (returns up to ~100 in Q units at γ = 0.99). ``huber=False``
  gives ``0.5 · (Q − y)²``.

  Numeric hyperparameters (``discount``, ``tau``, ``cql_alpha``) are ``[]`` float32 leaves and the
  learning rate lives in the optimiser state, so ``jax.vmap(DQN.create)`` over any of them works.

  References:
    Mnih et al., `Human-level control through deep reinforcement learning`, Nature 2015.
    van Hasselt, Guez & Silver, `Deep Reinforcement Learning with Double Q-learning
    <https://arxiv.org/abs/1509.06461>`_, AAAI 2016, Eq. (4).
    Kumar et al., `Conservative Q-Learning for Offline Reinforcement Learning
    <https://arxiv.org/abs/2006.04779>`_, 2020, Eq. (4) (CQL(H)) and Appendix F (discrete actions).
  """

  action_space = "discrete"
  hyperparameter_ranges = {"cql_alpha": NON_NEGATIVE}

  critic: TrainState
  target_critic_params: Any
  key: jax.Array
  discount: jax.Array  # γ, [] float32
  tau: jax.Array  # Polyak step, [] float32
  cql_alpha: jax.Array  # weight of the CQL(H) penalty, [] float32 (0 = plain (Double) DQN)
  double: bool = flax.struct.field(pytree_node=False, default=True)
  huber: bool = flax.struct.field(pytree_node=False, default=True)

  @classmethod
  @checked_create
  def create(
      cls,
      key: jax.Array,
      observation_dim: int,
      action_dim: int,
      *,
      hidden_dims: Sequence[int] = (256, 256),
      critic_lr: ArrayLike = 3e-4,
      discount: ArrayLike = 0.99,
      tau: ArrayLike = 0.005,
      cql_alpha: ArrayLike = 0.0,
      double: bool = True,
      huber: bool = True,
      actor_decay_steps: Optional[int] = None,
  ) -> "DQN":
    """Initialises the Q-network, its target copy and Adam.

    Args:
      key: a typed PRNG key (``jax.random.key``); split, the rest kept for later updates.
      observation_dim: O.
      action_dim: A, the number of discrete actions.
      hidden_dims: hidden widths of the Q-network.
      critic_lr: Adam step size (3e-4, as the toolkit's SAC/IQL critics; traced/vmappable).
      discount: γ (0.99, Mnih et al. 2015).
      tau: Polyak step of the target network per update (0.005, as SAC/IQL here; a soft version
        of DQN's periodic hard copy, kept because it is a traced, vmappable leaf).
      cql_alpha: weight of the CQL(H) penalty; 0 disables it (offline DDQN), > 0 is DDQN+CQL
        (Kumar et al. 2020, Appendix F, use 0.5–5 on Atari; the driver sweeps it, e.g. 0 vs 1).
      double: Double DQN target (True) or DQN's max (False); static.
      huber: Huber (δ = 1) TD loss (True) or half squared error (False); static.
      actor_decay_steps: accepted for the driver's uniform interface and ignored: DQN has no
        actor, and Mnih et al. / van Hasselt et al. use a constant step size.
    """
    del actor_decay_steps
    key, critic_key = jax.random.split(key)
    critic_def = _networks(int(action_dim), tuple(hidden_dims))
    critic, target_critic_params = train_state_and_target(
        critic_def, critic_key, critic_lr, jnp.zeros((1, observation_dim), jnp.float32)
    )
    return cls(
        critic=critic,
        target_critic_params=target_critic_params,
        key=key,
        discount=jnp.asarray(discount, jnp.float32),
        tau=jnp.asarray(tau, jnp.float32),
        cql_alpha=jnp.asarray(cql_alpha, jnp.float32),
        double=bool(double),
        huber=bool(huber),
    )

  def all_q_values(self, observations: jax.Array) -> jax.Array:
    """Q(s, ·) of the online network: observations ``[B, O]`` → ``[B, A]`` float32."""
    return self.critic.apply_fn({"params": self.critic.params}, observations)

  def q_values(self, observations: jax.Array, actions: jax.Array) -> jax.Array:
    """Q(s, a) of the online network: ``[B, O]`` and action indices ``[B]`` int → ``[B]`` float32."""
    return _take(self.all_q_values(observations), actions)

  def eval_actions(self, observations: jax.Array) -> jax.Array:
    """Greedy actions argmax_a Q(s, a): observations ``[B, O]`` → ``[B]`` int32 (ties: lowest index)."""
    return jnp.argmax(self.all_q_values(observations), axis=-1).astype(jnp.int32)

  def sample_actions(self, observations: jax.Array, key: jax.Array, *, epsilon: ArrayLike) -> jax.Array:
    """ε-greedy actions: uniform over the A actions with probability ``epsilon``, else greedy.

    Args:
      observations: ``[B, O]``.
      key: a PRNG key, consumed.
      epsilon: ε in [0, 1], Python float or traced scalar.

    Returns:
      ``[B]`` int32 action indices.
    """
    return epsilon_greedy(self.all_q_values(observations), key, epsilon)

  @jax.jit
  def update(self, batch: Transitions) -> tuple["DQN", dict[str, jax.Array]]:
    """One gradient step on the TD (+ CQL) loss, then the Polyak target update.

    Args:
      batch: :class:`Transitions` with leading axis B; ``actions`` ``[B]`` integer indices.

    Returns:
      ``(new_agent, metrics)``; scalar metrics ``critic_loss`` (TD + α·CQL), ``td_loss``,
      ``cql_penalty`` (unweighted, mean over B), ``q_data`` (mean Q(s, a_data)), ``q_max``
      (mean max_a Q(s, a)), ``target`` (mean y).
    """
    key = jax.random.split(self.key)[0]  # nothing random in the update; keep the key moving
    actions = batch.actions.astype(jnp.int32)
    next_q_target = self.critic.apply_fn({"params": self.target_critic_params}, batch.next_observations)
    next_q_online = self.critic.apply_fn({"params": self.critic.params}, batch.next_observations) if self.double else None
    targets = objectives.dqn_target(
        batch.rewards, batch.terminals, next_q_target, discount=self.discount, next_q_online=next_q_online
    )

    def loss_fn(params):
      q = self.critic.apply_fn({"params": params}, batch.observations)
      q_data = _take(q, actions)
      if self.huber:
        td = optax.huber_loss(q_data, targets, delta=1.0)
      else:
        td = 0.5 * jnp.square(q_data - targets)
      td_loss = jnp.mean(td)
      penalty = jnp.mean(objectives.cql_discrete_penalty(q, actions))
      loss = td_loss + self.cql_alpha * penalty
      return loss, {
          "critic_loss": loss,
          "td_loss": td_loss,
          "cql_penalty": penalty,
          "q_data": jnp.mean(q_data),
          "q_max": jnp.mean(jnp.max(q, axis=-1)),
      }

    grads, info = jax.grad(loss_fn, has_aux=True)(self.critic.params)
    critic = self.critic.apply_gradients(grads=grads)
    target = optax.incremental_update(critic.params, self.target_critic_params, self.tau)
    agent = self.replace(critic=critic, target_critic_params=target, key=key)
    return agent, {**info, "target": jnp.mean(targets)}
