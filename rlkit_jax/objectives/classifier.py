"""Rewards from examples: goal classifiers (VICE) and GAIL discriminators, with their regularisers.

A classifier outputs a logit ``l(x)``, ``D(x) = sigmoid(l)`` being the probability that ``x`` is
a positive (a success state, or an expert state-action pair). Shape letters: ``B`` examples per
class in a balanced batch, ``D`` input features.
"""
from __future__ import annotations

from typing import Callable

import chex
import jax
import jax.numpy as jnp
import optax
from jax.typing import ArrayLike

REWARD_TRANSFORMS = ("logit", "log_d", "log_d_minus_log_1_minus_d", "gail")


def sigmoid_cross_entropy(logits: ArrayLike, labels: ArrayLike) -> jax.Array:
  r"""Binary cross-entropy of logits against (soft) labels: ``−y log σ(l) − (1 − y) log σ(−l)``.

  Args:
    logits: ``[...]`` float.
    labels: P(positive) ``[...]`` float in [0, 1], same shape (mixup gives soft labels).

  Returns:
    ``[...]`` float, nats.
  """
  logits, labels = jnp.asarray(logits), jnp.asarray(labels)
  chex.assert_equal_shape([logits, labels])
  chex.assert_type([logits, labels], float)
  return -labels * jax.nn.log_sigmoid(logits) - (1.0 - labels) * jax.nn.log_sigmoid(-logits)


def goal_classifier_loss(positive_logits: ArrayLike, negative_logits: ArrayLike) -> jax.Array:
  r"""Balanced binary cross-entropy: positives and negatives in equal parts.

  ``loss_i = ½ [−log D(x⁺_i) − log(1 − D(x⁻_i))]`` for B positives (success examples D+) and B
  negatives (unsuccessful or policy-visited states D−), so the mean over i weighs both classes
  equally whatever the sizes of D+ and D−. This is the classifier step of the lecture's loop and
  of VICE (Fu et al. 2018, Eq. 3 with the policy's states as negatives; Singh et al. 2019, Sec. 4).

  Args:
    positive_logits: ``l(x⁺)``, ``[B]`` float.
    negative_logits: ``l(x⁻)``, ``[B]`` float (same B: balanced batches).

  Returns:
    ``[B]`` float, nats.

  References:
    Fu et al., `Variational Inverse Control with Events (VICE)
    <https://arxiv.org/abs/1805.11686>`_, 2018; Singh et al., `End-to-End Robotic RL without Reward
    Engineering <https://arxiv.org/abs/1904.07854>`_, 2019.
  """
  positive_logits, negative_logits = jnp.asarray(positive_logits), jnp.asarray(negative_logits)
  chex.assert_equal_shape([positive_logits, negative_logits])
  chex.assert_type([positive_logits, negative_logits], float)
  return -0.5 * (jax.nn.log_sigmoid(positive_logits) + jax.nn.log_sigmoid(-negative_logits))


def gail_discriminator_loss(expert_logits: ArrayLike, policy_logits: ArrayLike) -> jax.Array:
  r"""GAIL's discriminator loss on state-action pairs, expert pairs as positives.

  ``loss_i = ½ [−log D(s_E, a_E) − log(1 − D(s_π, a_π))]``: the balanced cross-entropy of
  :func:`goal_classifier_loss` with expert pairs as positives and the policy's as negatives. Ho &
  Ermon write D for the *policy* class (their Eq. 17); this follows the convention of Kostrikov
  et al. 2019 (DAC), where D(s, a) → 1 on expert data and the reward is ``−log(1 − D)``
  (:func:`classifier_reward` with ``transform="gail"``).

  Args:
    expert_logits: ``[B]`` float.
    policy_logits: ``[B]`` float.

  Returns:
    ``[B]`` float, nats.

  References:
    Ho & Ermon, `Generative Adversarial Imitation Learning <https://arxiv.org/abs/1606.03476>`_,
    2016, Eq. (17) and Alg. 1; Kostrikov et al., `Discriminator-Actor-Critic
    <https://arxiv.org/abs/1809.02925>`_, 2019, Sec. 4.
  """
  return goal_classifier_loss(expert_logits, policy_logits)


def classifier_reward(logits: ArrayLike, *, transform: str = "logit") -> jax.Array:
  r"""A reward from a classifier's logit ``l`` (``D = σ(l)``).

  - ``"logit"``: ``l``; unbounded both ways.
  - ``"log_d"``: ``log D = −softplus(−l)`` ≤ 0: the log-probability of success (VICE's reward,
    Fu et al. 2018, Sec. 4); every step costs, which pushes agents to end episodes early when
    they can.
  - ``"log_d_minus_log_1_minus_d"``: ``log D − log(1 − D)``, the AIRL form (Fu et al. 2018,
    AIRL, Eq. 6). It equals the logit ``l`` exactly; it is listed under its usual name and computed
    from the logit, the stable form.
  - ``"gail"``: ``−log(1 − D) = softplus(l)`` ≥ 0 (GAIL with expert pairs as positives, DAC
    Sec. 4.2); a positive reward, a survival bonus on tasks that end early.

  Args:
    logits: ``[...]`` float.
    transform: one of :data:`REWARD_TRANSFORMS` (static).

  Returns:
    ``[...]`` float, the reward per step. No gradient flows (a reward is data for the RL learner).

  Raises:
    ValueError: an unknown ``transform``.
  """
  if transform not in REWARD_TRANSFORMS:
    raise ValueError(f"transform={transform!r}: choose one of {REWARD_TRANSFORMS}")
  logits = jax.lax.stop_gradient(jnp.asarray(logits))
  chex.assert_type(logits, float)
  if transform == "log_d":
    return jax.nn.log_sigmoid(logits)
  if transform == "gail":
    return jax.nn.softplus(logits)
  return logits


def mixup(key: jax.Array, positives: ArrayLike, negatives: ArrayLike, *, alpha: ArrayLike = 1.0) -> tuple[jax.Array, jax.Array]:
  r"""Mixup of a balanced batch: ``x̃ = λ x⁺ + (1 − λ) x⁻`` with soft label ``λ ~ Beta(α, α)``.

  Train the classifier with :func:`sigmoid_cross_entropy` on ``(l(x̃), λ)``; it smooths the
  classifier between the classes, so the reward it gives does not jump where the policy explores
  (the regulariser of Singh et al. 2019, Sec. 5, after Zhang et al. 2018).

  Args:
    key: consumed (one λ per row).
    positives: ``[B, D]`` float.
    negatives: ``[B, D]`` float.
    alpha: α > 0, ``[]`` (may be traced); α = 1 draws λ uniformly.

  Returns:
    ``(inputs [B, D], labels [B])``, float.

  References:
    Zhang et al., `mixup <https://arxiv.org/abs/1710.09412>`_, 2018, Eq. (1).
  """
  positives, negatives = jnp.asarray(positives), jnp.asarray(negatives)
  chex.assert_equal_shape([positives, negatives])
  chex.assert_rank(positives, 2)
  lam = jax.random.beta(key, alpha, alpha, (positives.shape[0],), dtype=positives.dtype)
  return lam[:, None] * positives + (1.0 - lam[:, None]) * negatives, lam


def gradient_penalty(logit_fn: Callable[[jax.Array], jax.Array], inputs: ArrayLike, *, target: ArrayLike = 0.0) -> jax.Array:
  r"""Input-gradient penalty ``(‖∇_x l(x)‖ − target)²`` per example.

  ``target = 0`` is the zero-centred form ``‖∇_x l(x)‖²`` (R1, Mescheder et al. 2018): it keeps a
  discriminator smooth, so the reward it defines gives the policy a useful slope; evaluate it on
  real (or :func:`mixup`-mixed) examples. ``target = 1`` is WGAN-GP's one-centred form (Gulrajani
  et al. 2017), which DAC applies to GAIL's discriminator on random interpolates of expert and
  policy inputs; it allows unit slopes. Add ``λ_GP · mean`` to the classifier loss.

  Args:
    logit_fn: ``[B, D] → [B]``, row i's logit depending on row i only (a classifier's apply with
      its parameters bound); differentiated twice when the result is trained on.
    inputs: ``x``, ``[B, D]`` float.
    target: the gradient norm the penalty centres on, ≥ 0 (may be traced). The norm's own
      gradient is taken as 0 at a zero input gradient (:func:`optax.safe_norm`), so both forms are
      finite everywhere.

  Returns:
    ``[B]`` float.

  References:
    Mescheder et al., `Which Training Methods for GANs do actually Converge?
    <https://arxiv.org/abs/1801.04406>`_, 2018, Eq. (9); Gulrajani et al., `Improved Training of
    Wasserstein GANs <https://arxiv.org/abs/1704.00028>`_, 2017, Eq. (3); Kostrikov et al. 2019
    (DAC), Sec. 4.
  """
  inputs = jnp.asarray(inputs)
  chex.assert_rank(inputs, 2)
  grads = jax.grad(lambda x: jnp.sum(logit_fn(x)))(inputs)  # row i only depends on x_i
  squared_norm = jnp.sum(grads**2, axis=-1)
  # (‖g‖ − t)² expanded, so that t = 0 is exactly ‖g‖² (values and gradients) with no norm's kink.
  target = jnp.asarray(target, squared_norm.dtype)
  return squared_norm - 2.0 * target * optax.safe_norm(grads, 0.0, axis=-1) + target**2
