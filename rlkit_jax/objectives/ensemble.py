"""Objectives of critic ensembles and their behaviour-regularised relatives: EDAC's gradient
diversity term (An et al. 2021) and ReBRAC's separate actor and critic penalties (Tarasov et al. 2023).

Shape letters: ``E`` ensemble members, ``B`` batch, ``A`` action dimensions. Every function
returns per-element values; the caller reduces.
"""
from __future__ import annotations

import chex
import jax
import jax.numpy as jnp
from jax.typing import ArrayLike


def edac_diversity_loss(action_gradients: ArrayLike, *, eps: float = 1e-10) -> jax.Array:
  r"""EDAC's ensemble similarity: ``1/(E−1) Σ_{i≠j} ⟨g_i, g_j⟩ / (‖g_i‖ ‖g_j‖)`` per sample.

  ``g_e = ∇_a Q_e(s, a)`` at the dataset action. Minimising the summed pairwise cosine similarity
  of the members' action gradients diversifies the ensemble, so that fewer members suffice to
  penalise out-of-distribution actions than with SAC-N's plain minimum.

  Args:
    action_gradients: ``[E, B, A]`` float, ∇_a Q_e(s_b, a_b) (gradients flow back through them,
      into the critic parameters: take them with ``create_graph`` semantics, i.e. inside the
      critic loss).
    eps: added to the norms (the authors' code uses 1e-10), so a zero gradient gives 0, not NaN.

  Returns:
    ``[B]``, in [−E, E]; minimise its mean times η. Needs E ≥ 2.

  Raises:
    AssertionError (chex) at trace time on a rank other than 3 or E < 2.

  References:
    An et al., `Uncertainty-Based Offline Reinforcement Learning with Diversified Q-Ensemble
    <https://arxiv.org/abs/2110.01548>`_, NeurIPS 2021, Sec. 4.2 (the ensemble-diversifying
    objective), with the normalised gradients and the ``1/(E−1)`` factor of the authors' code.
  """
  chex.assert_rank(action_gradients, 3)
  chex.assert_type(action_gradients, float)
  g = jnp.asarray(action_gradients)
  num_members = g.shape[0]
  if num_members < 2:
    raise AssertionError(f"edac_diversity_loss needs E >= 2 ensemble members, got {num_members}")
  squared = jnp.sum(jnp.square(g), axis=-1, keepdims=True)
  positive = squared > 0  # the norm's gradient at 0 is NaN: take it only where it exists
  norms = jnp.where(positive, jnp.sqrt(jnp.where(positive, squared, 1.0)), 0.0)
  unit = g / (norms + eps)
  cosines = jnp.einsum("iba,jba->bij", unit, unit)  # [B, E, E]
  off_diagonal = jnp.sum(cosines, axis=(1, 2)) - jnp.trace(cosines, axis1=1, axis2=2)
  return off_diagonal / (num_members - 1)


def rebrac_actor_loss(
    q_values: ArrayLike, policy_actions: ArrayLike, data_actions: ArrayLike, *, actor_bc_coef: ArrayLike
) -> jax.Array:
  r"""ReBRAC's actor loss ``β₁ ‖π(s) − a‖² − Q(s, π(s)) / mean_B |Q(s, π(s))|``.

  Unlike TD3+BC (:func:`rlkit_jax.objectives.td3_bc_actor_loss`) the penalty is the squared norm
  (a sum over A) weighted by β₁, and Q is divided by its batch mean magnitude with no α; the
  normaliser carries no gradient.

  Args:
    q_values: min_e Q_e(s, π(s)), ``[B]`` float, reward units (gradients flow into π through it).
    policy_actions: π(s), ``[B, A]`` float.
    data_actions: the dataset actions, ``[B, A]``.
    actor_bc_coef: β₁ ≥ 0 (per dataset in the paper, e.g. 0.05 on hopper-medium-replay).

  Returns:
    ``[B]``; minimise its mean. An all-zero Q batch has its normaliser floored at the dtype's
    smallest normal number.

  References:
    Tarasov et al., `Revisiting the Minimalist Approach to Offline Reinforcement Learning
    <https://arxiv.org/abs/2305.09836>`_, NeurIPS 2023, Eq. (2) (actor) and App. B.
  """
  chex.assert_rank([q_values, policy_actions, data_actions], [1, 2, 2])
  chex.assert_equal_shape([policy_actions, data_actions])
  chex.assert_equal_shape_prefix([q_values, policy_actions], 1)
  chex.assert_type([q_values, policy_actions, data_actions], float)
  q = jnp.asarray(q_values)
  scale = jnp.maximum(jax.lax.stop_gradient(jnp.mean(jnp.abs(q))), jnp.finfo(q.dtype).tiny)
  penalty = jnp.sum(jnp.square(jnp.asarray(policy_actions) - jnp.asarray(data_actions)), axis=-1)
  return actor_bc_coef * penalty - q / scale


def rebrac_next_values(
    next_q_values: ArrayLike, next_policy_actions: ArrayLike, next_data_actions: ArrayLike, *, critic_bc_coef: ArrayLike
) -> jax.Array:
  r"""ReBRAC's bootstrap value ``min_e Q'_e(s', ã') − β₂ ‖ã' − a'‖²``, where ã' is the (smoothed)
  target policy's action at s' and a' the dataset's next action; feed it to
  :func:`rlkit_jax.objectives.td_target`.

  Args:
    next_q_values: min_e Q'_e(s', ã'), ``[B]`` float.
    next_policy_actions: ã', ``[B, A]`` float.
    next_data_actions: a', the action the dataset took at s', ``[B, A]``.
    critic_bc_coef: β₂ ≥ 0 (per dataset in the paper, e.g. 0.5 on hopper-medium-replay).

  Returns:
    ``[B]``, reward units.

  References:
    Tarasov et al. 2023 (above), Eq. (3) (critic) and App. B.
  """
  chex.assert_rank([next_q_values, next_policy_actions, next_data_actions], [1, 2, 2])
  chex.assert_equal_shape([next_policy_actions, next_data_actions])
  chex.assert_equal_shape_prefix([next_q_values, next_policy_actions], 1)
  chex.assert_type([next_q_values, next_policy_actions, next_data_actions], float)
  penalty = jnp.sum(jnp.square(jnp.asarray(next_policy_actions) - jnp.asarray(next_data_actions)), axis=-1)
  return jnp.asarray(next_q_values) - critic_bc_coef * penalty
