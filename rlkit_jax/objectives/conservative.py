"""Conservative Q-learning penalties (CQL): push Q down on actions the data does not support.

Shape letters: ``B`` batch, ``E`` critic-ensemble members, ``A`` discrete actions, ``K`` sampled
(continuous) actions per state. Every penalty returns per-element values; the caller multiplies by α
(``cql_alpha``) and reduces.
"""
from __future__ import annotations

import math

import chex
import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from rlkit_jax.distributions import tanh_gaussian_sample


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


def cql_penalty(
    q_sampled: ArrayLike,
    log_densities: ArrayLike,
    q_data: ArrayLike,
    *,
    cql_temperature: ArrayLike = 1.0,
) -> jax.Array:
  r"""The continuous CQL(H) regulariser, with the log-sum-exp over actions importance-sampled.

  ``T · log Σ_k exp((Q(s, a_k) − log μ(a_k|s)) / T) − Q(s, a_data)``, where each ``a_k`` was drawn
  from a proposal μ (uniform on [−1, 1]^A, π(·|s), π(·|s′), …) with log density ``log μ(a_k|s)``.
  With T = 1, ``exp(Q − log μ)`` is an importance-weighted Monte-Carlo term of
  ``∫ exp Q(s, a) da``, so the first part estimates the soft maximum ``log ∫ exp Q(s, a) da`` of
  CQL(H); minimising the penalty lowers Q off the data while raising Q on dataset actions.

  Convention (as the reference code, Kumar et al.'s ``CQL`` repository, and CORL): the samples
  of all proposals are pooled in one log-sum-exp *without* the Monte-Carlo normaliser
  ``−log K`` (K = number of samples; Appendix F writes the estimate with a ``1/(2N)`` average).
  The omitted term is a constant shift of the penalty, so it changes no gradient; it only offsets
  the penalty's value (and so the meaning of a Lagrange ``target_action_gap``) by ``T · log K``.
  Unlike the discrete penalty this estimate can be negative.

  Args:
    q_sampled: Q(s, a_k) of the K sampled actions, ``[B, K]`` (or ``[E, B, K]`` for a critic
      ensemble), float, Q units.
    log_densities: log μ(a_k|s) of each sample under the proposal it was drawn from, ``[B, K]``
      (shared by every ensemble member), nats; the importance weights. No gradient flows into
      them (stopped here).
    q_data: Q(s, a_data) of the dataset actions, ``[B]`` (``[E, B]``), float.
    cql_temperature: T > 0, the log-sum-exp temperature (1 in the paper and the reference); a
      Python float or a traced scalar.

  Returns:
    Shape ``[B]`` (``[E, B]``), in Q units. Multiply by α (``cql_alpha``: 5 in the reference's
    gym-MuJoCo runs, 10 in CORL's) and add to the TD loss.

  Raises:
    AssertionError (chex) at trace time on a rank, shape or dtype mismatch.

  References:
    Kumar et al., `Conservative Q-Learning for Offline Reinforcement Learning
    <https://arxiv.org/abs/2006.04779>`_, 2020, Eq. (4) (CQL(H)) and Appendix F (the
    importance-sampled estimate of the log-sum-exp for continuous actions).
  """
  q_sampled = jnp.asarray(q_sampled)
  log_densities = jnp.asarray(log_densities)
  q_data = jnp.asarray(q_data)
  chex.assert_rank(log_densities, 2)
  chex.assert_rank(q_sampled, {2, 3})
  chex.assert_type([q_sampled, log_densities, q_data], float)
  chex.assert_shape(q_sampled, (*q_sampled.shape[:-2], *log_densities.shape))
  chex.assert_shape(q_data, q_sampled.shape[:-1])
  weights = jnp.broadcast_to(jax.lax.stop_gradient(log_densities), q_sampled.shape)
  soft_max = cql_temperature * jax.nn.logsumexp((q_sampled - weights) / cql_temperature, axis=-1)
  return soft_max - q_data


def cql_proposals(
    key: jax.Array, means: ArrayLike, log_stds: ArrayLike, next_means: ArrayLike, next_log_stds: ArrayLike,
    *, num_sampled_actions: int,
) -> tuple[jax.Array, jax.Array]:
  r"""The sampled actions of the continuous CQL(H) penalty and their proposal log densities.

  Per state, K = ``num_sampled_actions`` actions from each of three proposals, in this order: uniform
  on [−1, 1]^A (log density −A·log 2), π(·|s) and π(·|s′) (tanh-Gaussians given by the policy's
  pre-tanh means and log-stds at s and at s′). Feed them to :func:`cql_penalty` as ``q_sampled``'s
  actions and ``log_densities``.

  Args:
    key: a PRNG key, consumed.
    means, log_stds: π(·|s)'s pre-tanh μ and log σ, ``[B, A]`` float.
    next_means, next_log_stds: π(·|s′)'s, ``[B, A]`` float.
    num_sampled_actions: K, a static Python int ≥ 1.

  Returns:
    ``(actions [B, 3K, A] in [−1, 1], log_densities [B, 3K] nats)``, both with stopped gradients.

  Raises:
    AssertionError (chex) at trace time when the four policy arrays differ in shape.

  References:
    Kumar et al., `Conservative Q-Learning for Offline Reinforcement Learning
    <https://arxiv.org/abs/2006.04779>`_, 2020, Appendix F (the proposals of the importance-sampled
    log-sum-exp), and its reference code (``rlkit/torch/sac/cql.py``).
  """
  chex.assert_equal_shape([means, log_stds, next_means, next_log_stds])
  chex.assert_rank(means, 2)
  k = int(num_sampled_actions)
  batch_size, action_dim = jnp.shape(means)
  repeat = lambda x: jnp.broadcast_to(jnp.asarray(x)[:, None, :], (batch_size, k, action_dim))
  uniform_key, current_key, next_key = jax.random.split(key, 3)
  dtype = jnp.result_type(means)
  uniform = jax.random.uniform(uniform_key, (batch_size, k, action_dim), dtype, -1.0, 1.0)
  uniform_log_density = jnp.full((batch_size, k), -action_dim * math.log(2.0), dtype)
  current, current_log_probs = tanh_gaussian_sample(current_key, repeat(means), repeat(log_stds))
  following, following_log_probs = tanh_gaussian_sample(next_key, repeat(next_means), repeat(next_log_stds))
  actions = jnp.concatenate([uniform, current, following], axis=1)
  log_densities = jnp.concatenate([uniform_log_density, current_log_probs, following_log_probs], axis=1)
  return jax.lax.stop_gradient(actions), jax.lax.stop_gradient(log_densities)
