"""Conservative Q-learning penalties (CQL): push Q down on actions the data does not support.

Shape letters: ``B`` batch, ``E`` critic-ensemble members, ``A`` discrete actions. Every penalty
returns per-element values; the caller multiplies by α (``cql_alpha``) and reduces.
"""
from __future__ import annotations

import chex
import jax
import jax.numpy as jnp
from jax.typing import ArrayLike


def cql_discrete_penalty(q_values: ArrayLike, actions: ArrayLike) -> jax.Array:
  r"""The discrete CQL(H) regulariser ``logsumexp_a Q(s, a) − Q(s, a_data)``.

  Minimising it lowers a soft maximum of Q over *all* actions while raising Q of the dataset's
  action, so Q stays a lower bound off the data's support. It is non-negative (a logsumexp is at
  least each of its terms) and is zero only in the limit where ``a_data`` dominates every other
  action.

  Args:
    q_values: Q(s, ·) for every action, ``[B, A]`` (or ``[E, B, A]`` for an ensemble), float.
    actions: dataset action indices ``[B]``, integer in ``[0, A)``; an out-of-range index is
      clipped by ``jnp.take_along_axis`` (validate datasets on load, as the loaders do).

  Returns:
    Shape ``[B]`` (``[E, B]``), in Q units. Multiply by α (``cql_alpha``; 0.5–5 in the paper's
    Atari runs) and add to the TD loss.

  References:
    Kumar et al., `Conservative Q-Learning for Offline Reinforcement Learning
    <https://arxiv.org/abs/2006.04779>`_, 2020, Eq. (4) with the CQL(H) regulariser and
    Appendix F (discrete actions: the penalty in closed form).
  """
  q_values = jnp.asarray(q_values)
  actions = jnp.asarray(actions)
  chex.assert_type(q_values, float)
  chex.assert_type(actions, int)
  chex.assert_rank(actions, 1)
  chex.assert_axis_dimension(q_values, -2, actions.shape[0])
  index = jnp.broadcast_to(actions[:, None], q_values.shape[:-1] + (1,))
  q_data = jnp.take_along_axis(q_values, index, axis=-1)[..., 0]
  return jax.nn.logsumexp(q_values, axis=-1) - q_data
