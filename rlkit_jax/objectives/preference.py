"""Preference objectives: a reward model's segment returns against labelled comparisons.

Shape letters: ``B`` comparisons (queries), ``T`` steps per segment, ``K`` segments in a ranking,
``P = K(K−1)/2`` ordered pairs of a ranking. A *segment return* is the reward model's score of a
segment (:func:`segment_return`); every loss here takes returns, so any reward model (Markovian
``r(s, a)``, ``r(s)``, an ensemble under ``vmap``) plugs in.

Label convention (pairs): ``labels[b]`` is the probability that the FIRST segment of pair ``b`` is
preferred — 1 (first preferred), 0 (second preferred), 0.5 (equally preferable, a tie), or any
soft label in [0, 1]. Rankings list segment positions best first.
"""
from __future__ import annotations

import chex
import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

SEGMENT_REDUCTIONS = ("sum", "mean")


def segment_return(rewards: ArrayLike, *, discount: ArrayLike = 1.0, reduction: str = "sum") -> jax.Array:
  r"""A segment's return under a reward model: ``Σ_t γ^t r_t`` (or its γ-weighted mean).

  ``"sum"`` with ``discount = 1`` is the lecture's ``r_θ(τ) = Σ_{(s,a)∈τ} r_θ(s, a)`` (Christiano
  et al. 2017, Eq. 1). ``"mean"`` divides by ``Σ_t γ^t`` (the mean per-step reward when γ = 1),
  which keeps the Bradley-Terry logits on one scale across segment lengths. ``discount < 1``
  weights early steps more; ``discount > 1`` weights late ones more (a myopic teacher's view, B-Pref).

  Args:
    rewards: per-step rewards ``[..., T]`` float (e.g. ``[B, T]``, or ``[E, B, T]`` for an ensemble).
    discount: γ > 0, ``[]`` float; may be traced.
    reduction: ``"sum"`` or ``"mean"`` (static).

  Returns:
    ``[...]`` float (the input without its last axis), in reward units × steps for ``"sum"``,
    reward units for ``"mean"``.

  Raises:
    ValueError: ``reduction`` is not one of :data:`SEGMENT_REDUCTIONS`.
  """
  if reduction not in SEGMENT_REDUCTIONS:
    raise ValueError(f"reduction={reduction!r}: choose one of {SEGMENT_REDUCTIONS}")
  rewards = jnp.asarray(rewards)
  chex.assert_type(rewards, float)
  steps = jnp.arange(rewards.shape[-1], dtype=rewards.dtype)
  weights = jnp.power(jnp.asarray(discount, rewards.dtype), steps)
  total = jnp.sum(rewards * jnp.broadcast_to(weights, rewards.shape), axis=-1)
  if reduction == "mean":
    total = total / jnp.sum(weights)
  return total


def bradley_terry_loss(
    returns_1: ArrayLike, returns_2: ArrayLike, labels: ArrayLike, *, margin: ArrayLike = 0.0
) -> jax.Array:
  r"""Negative log-likelihood of preference labels under the Bradley-Terry model.

  ``P(σ¹ ≻ σ²) = sigmoid(R¹ − R²)``, so with a label y = P(first preferred)::

      loss = −y · log σ(R¹ − R² − m) − (1 − y) · log σ(R² − R¹ − m)

  computed with ``log_sigmoid`` (stable for large return gaps). A tie (y = 0.5) pulls the two
  returns together. The margin m ≥ 0 asks the preferred return to exceed the other by m before
  the loss saturates (Touvron et al. 2023, Llama 2, Eq. 2); m = 0 is the plain model.

  Args:
    returns_1: segment returns of the first segments ``[B]`` float (:func:`segment_return`).
    returns_2: of the second segments, same shape.
    labels: P(first segment preferred) ``[B]`` float in [0, 1]: 1, 0 or 0.5 (tie) from a teacher,
      or soft labels. Values outside [0, 1] are not checked here (they cannot be under jit);
      :mod:`rlkit_jax.rewards.preference_data` validates files on load.
    margin: m, ``[]`` float in return units; may be traced.

  Returns:
    Per-comparison loss ``[B]`` float, in nats; ≥ 0 (for labels in [0, 1] and m ≥ 0).

  References:
    Christiano et al., `Deep RL from Human Preferences <https://arxiv.org/abs/1706.03741>`_, 2017,
    Eq. (1) and Sec. 2.2.3 (ties as a uniform label); Bradley & Terry 1952.
  """
  returns_1, returns_2, labels = (jnp.asarray(x) for x in (returns_1, returns_2, labels))
  chex.assert_equal_shape([returns_1, returns_2, labels])
  chex.assert_type([returns_1, returns_2, labels], float)
  delta = returns_1 - returns_2
  return -labels * jax.nn.log_sigmoid(delta - margin) - (1.0 - labels) * jax.nn.log_sigmoid(-delta - margin)


def ranking_to_pairs(ranking: ArrayLike) -> tuple[jax.Array, jax.Array]:
  """Every ordered pair of a ranking of K segments: ``K(K−1)/2`` (winner, loser) pairs.

  For positions i < j in the ranking, ``ranking[..., i]`` beats ``ranking[..., j]`` (the lecture's
  "for all (k choose 2) pairs per batch"). Pairs come in row-major order of (i, j).

  Args:
    ranking: segment indices best first ``[..., K]`` int, a permutation of ``0..K−1`` per row.

  Returns:
    ``(winners, losers)``, each ``[..., P]`` int with ``P = K(K−1)/2``, indices into the K segments.
  """
  ranking = jnp.asarray(ranking)
  chex.assert_type(ranking, int)
  first, second = np.triu_indices(ranking.shape[-1], k=1)
  return ranking[..., first], ranking[..., second]


def bradley_terry_ranking_loss(returns: ArrayLike, ranking: ArrayLike, *, margin: ArrayLike = 0.0) -> jax.Array:
  r"""Bradley-Terry loss averaged over the ``K(K−1)/2`` ordered pairs of each ranking.

  ``loss_b = (1/P) Σ_{i<j} −log σ(R_{ranking[i]} − R_{ranking[j]} − m)``: the lecture's reward
  learning step 3 (rank k segments, train on all pairs), with pairs from :func:`ranking_to_pairs`.
  The mean over pairs, as in Ouyang et al. 2022 (InstructGPT, Eq. 1), keeps the scale of a pair loss.

  Args:
    returns: segment returns ``[B, K]`` float.
    ranking: segment indices best first ``[B, K]`` int.
    margin: m, ``[]`` float; may be traced.

  Returns:
    ``[B]`` float, nats.

  References:
    Ouyang et al., `InstructGPT <https://arxiv.org/abs/2203.02155>`_, 2022, Eq. (1); Christiano
    et al. 2017, Eq. (1).
  """
  returns, ranking = jnp.asarray(returns), jnp.asarray(ranking)
  chex.assert_rank([returns, ranking], 2)
  chex.assert_equal_shape([returns, ranking])
  chex.assert_type(returns, float)
  winners, losers = ranking_to_pairs(ranking)
  delta = jnp.take_along_axis(returns, winners, axis=-1) - jnp.take_along_axis(returns, losers, axis=-1)
  return -jnp.mean(jax.nn.log_sigmoid(delta - margin), axis=-1)


def plackett_luce_loss(returns: ArrayLike, ranking: ArrayLike) -> jax.Array:
  r"""Negative log-likelihood of a whole ranking under the Plackett-Luce model.

  ``P(ranking) = Π_{i=1}^{K} exp(R_{(i)}) / Σ_{j≥i} exp(R_{(j)})`` with ``R_{(i)}`` the return of
  the segment ranked i-th, so ``loss = Σ_i [logsumexp_{j≥i} R_{(j)} − R_{(i)}]`` (the last term is
  0). With K = 2 it equals :func:`bradley_terry_loss` with label 1. Ties are not modelled.

  Args:
    returns: segment returns ``[B, K]`` float.
    ranking: segment indices best first ``[B, K]`` int, a permutation per row (not checked here).

  Returns:
    ``[B]`` float, nats, ≥ 0.

  References:
    Plackett 1975; Luce 1959; used for reward learning from rankings in Zhu et al.,
    `Principled RLHF from Pairwise or K-wise Comparisons <https://arxiv.org/abs/2301.11270>`_,
    2023, Sec. 4.
  """
  returns, ranking = jnp.asarray(returns), jnp.asarray(ranking)
  chex.assert_rank([returns, ranking], 2)
  chex.assert_equal_shape([returns, ranking])
  chex.assert_type(returns, float)
  chex.assert_type(ranking, int)
  ordered = jnp.take_along_axis(returns, ranking, axis=-1)
  suffix_logsumexp = jax.lax.cumlogsumexp(ordered, axis=ordered.ndim - 1, reverse=True)
  return jnp.sum(suffix_logsumexp - ordered, axis=-1)


def preference_accuracy(returns_1: ArrayLike, returns_2: ArrayLike, labels: ArrayLike) -> jax.Array:
  r"""Agreement of the model's preferred segment with the label: ``y·H(R¹−R²) + (1−y)·H(R²−R¹)``.

  ``H`` is the step function with ``H(0) = 1/2``. For a strict label this is 1 when the model
  prefers the labelled segment, 0 when it prefers the other, 1/2 when it scores them equal; a tie
  label scores 1/2 whatever the model says, so the mean over a set is the usual accuracy on its
  strict labels, shrunk towards 1/2 by its ties (filter ties out to report the strict accuracy).
  No gradient flows.

  Args:
    returns_1, returns_2: segment returns ``[B]`` float.
    labels: P(first preferred) ``[B]`` float in [0, 1].

  Returns:
    ``[B]`` float32 in [0, 1].
  """
  returns_1, returns_2, labels = (jnp.asarray(x) for x in (returns_1, returns_2, labels))
  chex.assert_equal_shape([returns_1, returns_2, labels])
  chex.assert_type([returns_1, returns_2, labels], float)
  delta = jax.lax.stop_gradient(returns_1 - returns_2)
  labels = jax.lax.stop_gradient(labels)
  return labels * jnp.heaviside(delta, 0.5) + (1.0 - labels) * jnp.heaviside(-delta, 0.5)
