"""The three objectives of Implicit Q-Learning (Kostrikov et al., 2021).

Shape letters: ``B`` batch, ``E`` critic-ensemble members (2 in the paper). Per-element returns;
the caller reduces. The update order of the reference implementation is V, actor, Q, target.
"""
from __future__ import annotations

import chex
import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from rlkit_jax.objectives.policy import advantage_weighted_loss
from rlkit_jax.objectives.value import expectile_loss, squared_td_error, td_target


def iql_value_loss(values: ArrayLike, target_q_values: ArrayLike, *, expectile: ArrayLike) -> jax.Array:
  r"""IQL value loss ``L₂^τ(min_e Q̂_e(s, a) - V(s))`` on dataset (s, a).

  Args:
    values: V(s), shape ``[B]``.
    target_q_values: target critics Q̂_e(s, a), shape ``[E, B]``; the minimum over E is the
      regression target, gradient stopped.
    expectile: τ in (0, 1); 0.7 for locomotion, 0.9 for AntMaze in the paper.

  Returns:
    Shape ``[B]``.

  References:
    Kostrikov et al., `IQL <https://arxiv.org/abs/2110.06169>`_, 2021, Eq. (5).
  """
  chex.assert_rank([values, target_q_values], [1, 2])
  target = jax.lax.stop_gradient(jnp.min(target_q_values, axis=0))
  return expectile_loss(values, target, expectile=expectile)


def iql_critic_loss(
    q_values: ArrayLike,
    rewards: ArrayLike,
    terminals: ArrayLike,
    next_values: ArrayLike,
    *,
    discount: ArrayLike,
) -> jax.Array:
  r"""IQL critic loss ``(r + γ (1 - d) V(s') - Q_e(s, a))²`` for every ensemble member.

  Bootstrapping from V(s') rather than max_a' Q(s', a') means no action outside the dataset is
  ever queried.

  Args:
    q_values: Q_e(s, a), shape ``[E, B]``.
    rewards: shape ``[B]`` (after any dataset reward scaling).
    terminals: 1.0 at true terminations (not time-outs), shape ``[B]``.
    next_values: V(s'), shape ``[B]``; gradient stopped.
    discount: γ.

  Returns:
    Shape ``[E, B]``; the reference sums over E and averages over B.

  References:
    Kostrikov et al., `IQL <https://arxiv.org/abs/2110.06169>`_, 2021, Eq. (6).
  """
  target = td_target(rewards, terminals, next_values, discount=discount)
  return squared_td_error(q_values, target)


def iql_actor_loss(
    log_probs: ArrayLike,
    target_q_values: ArrayLike,
    values: ArrayLike,
    *,
    temperature: ArrayLike,
    max_weight: ArrayLike = 100.0,
) -> jax.Array:
  r"""IQL policy extraction ``-min(exp(β (min_e Q̂_e(s, a) - V(s))), 100) · log π(a|s)``.

  Args:
    log_probs: log π(a|s) of dataset actions, shape ``[B]``.
    target_q_values: Q̂_e(s, a), shape ``[E, B]``; min over E.
    values: V(s), shape ``[B]``.
    temperature: β (3 for locomotion, 10 for AntMaze in the paper).
    max_weight: the weight clip (100 in the reference code).

  Returns:
    Shape ``[B]``.

  References:
    Kostrikov et al., `IQL <https://arxiv.org/abs/2110.06169>`_, 2021, Eq. (7).
  """
  chex.assert_rank([target_q_values, values], [2, 1])
  advantages = jnp.min(target_q_values, axis=0) - values
  return advantage_weighted_loss(log_probs, advantages, temperature=temperature, max_weight=max_weight)
