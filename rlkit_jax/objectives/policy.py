"""Policy objectives: behaviour cloning, advantage weighting (AWR / AWAC / IQL actor), SAC, TD3+BC,
and the outcome a return-conditioned policy (RvS) is conditioned on.

Shape letters: ``B`` batch. Log-probabilities are of whole action vectors (summed over action
dimensions), in nats. Every loss returns per-element values; the caller reduces.
"""
from __future__ import annotations

import chex
import jax
import jax.numpy as jnp
from jax.typing import ArrayLike


def bc_loss(log_probs: ArrayLike) -> jax.Array:
  r"""Behaviour-cloning negative log-likelihood ``-log π(a|s)`` of dataset actions.

  Args:
    log_probs: log π(a|s) of the dataset actions, shape ``[B]``, float, nats.

  Returns:
    Shape ``[B]``; minimise its mean.

  References:
    Pomerleau, `ALVINN`, NIPS 1989; the maximum-likelihood BC baseline of Fu et al., `D4RL
    <https://arxiv.org/abs/2004.07219>`_, 2020.
  """
  chex.assert_rank(log_probs, 1)
  chex.assert_type(log_probs, float)
  return -jnp.asarray(log_probs)


def average_reward_to_go(returns_to_go: ArrayLike, timesteps: ArrayLike, *, horizon: ArrayLike) -> jax.Array:
  r"""RvS-R's outcome ``ω_t = R̂_t / (H − t)``: the return still to come per step left in the time limit.

  In the data R̂_t is the undiscounted return from s_t to the end of its trajectory; at evaluation it
  is the prompt R̂_0 minus the rewards received so far, so one prompt ("return 3000") becomes the
  reward rate the policy should keep up. Emmons et al. condition RvS-R on the average reward to go;
  dividing by the steps left in the time limit (rather than in the episode, unknown at evaluation)
  is what makes the prompt decrementable.

  Args:
    returns_to_go: R̂_t, ``[B]`` float, the task's reward units.
    timesteps: t, ``[B]`` (int or float), steps since the trajectory began.
    horizon: H, the task's time limit (1000 for MuJoCo locomotion); may be traced.

  Returns:
    ``[B]`` float, reward units per step; the divisor is floored at 1 (t ≥ H − 1).

  References:
    Emmons et al., `RvS: What is Essential for Offline RL via Supervised Learning?
    <https://arxiv.org/abs/2112.10751>`_, ICLR 2022, Sec. 3 (RvS-R, outcome = average reward to go).
  """
  chex.assert_rank([returns_to_go, timesteps], 1)
  chex.assert_equal_shape([returns_to_go, timesteps])
  chex.assert_type(returns_to_go, float)
  rtg = jnp.asarray(returns_to_go)
  remaining = jnp.maximum(horizon - jnp.asarray(timesteps, rtg.dtype), 1.0)
  return rtg / remaining


def sequence_action_error(predicted: ArrayLike, actions: ArrayLike, mask: ArrayLike) -> jax.Array:
  r"""The Decision Transformer's loss per step: ``mask · mean_A (â − a)²`` over a window of K steps.

  Args:
    predicted: â, ``[B, K, A]`` float, the model's actions.
    actions: a, the dataset's, ``[B, K, A]``.
    mask: ``[B, K]`` bool or 0/1, False at left padding.

  Returns:
    ``[B, K]``; the loss is its sum over the sum of ``mask`` (the mean over real steps).

  References:
    Chen et al., `Decision Transformer <https://arxiv.org/abs/2106.01345>`_, 2021, Algorithm 1
    (mean squared error for continuous actions).
  """
  chex.assert_rank([predicted, actions, mask], [3, 3, 2])
  chex.assert_equal_shape([predicted, actions])
  chex.assert_equal_shape_prefix([predicted, mask], 2)
  chex.assert_type([predicted, actions], float)
  squared = jnp.mean(jnp.square(jnp.asarray(predicted) - jnp.asarray(actions)), axis=-1)
  return jnp.where(jnp.asarray(mask, bool), squared, 0.0)


def normalize_advantages(advantages: ArrayLike, *, eps: ArrayLike = 1e-5) -> jax.Array:
  r"""AWR's batch normalisation of advantages ``(A − mean_B A) / (std_B A + ε)``, gradient stopped.

  Makes the temperature β of :func:`advantage_weights` act on advantages in units of their spread
  over the batch, whatever the scale of the rewards. The standard deviation is the population one
  (``ddof=0``).

  Args:
    advantages: A, shape ``[B]``, float, reward units (AWR: return to go minus V(s)).
    eps: ε > 0 added to the standard deviation, so a batch of equal advantages gives zeros (1e-5, the
      AWR reference code's); may be traced.

  Returns:
    Shape ``[B]``, unitless, mean 0 and standard deviation just under 1; no gradient.

  References:
    Peng et al., `Advantage-Weighted Regression <https://arxiv.org/abs/1910.00177>`_, 2019,
    Sec. 5 and its reference code (advantages normalised per batch before Eq. (7)'s exponent).
  """
  chex.assert_rank(advantages, 1)
  chex.assert_type(advantages, float)
  advantages = jnp.asarray(advantages)
  normalized = (advantages - jnp.mean(advantages)) / (jnp.std(advantages) + eps)
  return jax.lax.stop_gradient(normalized)


def advantage_weights(
    advantages: ArrayLike, *, temperature: ArrayLike, max_weight: ArrayLike = 100.0
) -> jax.Array:
  r"""Clipped exponentiated advantages ``min(exp(β · A), max_weight)``, gradient stopped.

  Args:
    advantages: A(s, a) = Q(s, a) - V(s), shape ``[B]``, float, in (scaled) reward units.
    temperature: β ≥ 0, the inverse temperature (larger = greedier); scalar, may be traced.
    max_weight: upper clip of the weight (IQL and AWR use 100); keeps one outlier from dominating.

  Returns:
    Non-negative weights, shape ``[B]``, with no gradient.

  References:
    Peng et al., `Advantage-Weighted Regression <https://arxiv.org/abs/1910.00177>`_, 2019,
    Eq. (7) (AWR clips at 20); Kostrikov et al., `IQL <https://arxiv.org/abs/2110.06169>`_,
    2021, Eq. (7) and its reference code (clip at 100).
  """
  chex.assert_rank(advantages, 1)
  chex.assert_type(advantages, float)
  weights = jnp.minimum(jnp.exp(temperature * jnp.asarray(advantages)), max_weight)
  return jax.lax.stop_gradient(weights)


def advantage_weighted_loss(
    log_probs: ArrayLike,
    advantages: ArrayLike,
    *,
    temperature: ArrayLike,
    max_weight: ArrayLike = 100.0,
) -> jax.Array:
  r"""Advantage-weighted regression: ``-min(exp(β A), max_weight) · log π(a|s)``.

  The policy objective of AWR, AWAC and IQL's policy extraction: behaviour cloning in which each
  dataset action is weighted by its exponentiated advantage. No gradient flows into
  ``advantages``.

  Args:
    log_probs: log π(a|s) of the dataset actions, shape ``[B]``, nats.
    advantages: A(s, a), shape ``[B]``.
    temperature: β, see :func:`advantage_weights`.
    max_weight: weight clip, see :func:`advantage_weights`.

  Returns:
    Shape ``[B]``.

  References:
    Kostrikov et al., `IQL <https://arxiv.org/abs/2110.06169>`_, 2021, Eq. (7);
    Nair et al., `AWAC <https://arxiv.org/abs/2006.09359>`_, 2020, Eq. (13).
  """
  chex.assert_equal_shape([log_probs, advantages])
  weights = advantage_weights(advantages, temperature=temperature, max_weight=max_weight)
  return -weights * jnp.asarray(log_probs)


def sac_actor_loss(log_probs: ArrayLike, q_values: ArrayLike, *, alpha: ArrayLike) -> jax.Array:
  r"""Soft actor-critic policy loss ``α log π(ã|s) - Q(s, ã)`` for reparameterised ã ~ π.

  Args:
    log_probs: log π(ã|s) of the sampled actions, shape ``[B]``, nats.
    q_values: Q(s, ã) (usually the minimum over the critic ensemble), shape ``[B]``.
    alpha: entropy temperature α > 0 (treated as a constant here), scalar.

  Returns:
    Shape ``[B]``.

  References:
    Haarnoja et al., `Soft Actor-Critic Algorithms and Applications
    <https://arxiv.org/abs/1812.05905>`_, 2018, Eq. (7)/(8).
  """
  chex.assert_equal_shape([log_probs, q_values])
  chex.assert_type([log_probs, q_values], float)
  log_probs, q_values = jnp.asarray(log_probs), jnp.asarray(q_values)
  return jax.lax.stop_gradient(jnp.asarray(alpha, log_probs.dtype)) * log_probs - q_values


def sac_temperature_loss(
    log_alpha: ArrayLike, log_probs: ArrayLike, *, target_entropy: ArrayLike
) -> jax.Array:
  r"""Automatic entropy tuning: ``α · (-log π(a|s) - H̄)`` with ``α = exp(log_alpha)``.

  Minimising it raises α when the policy's entropy is below ``target_entropy`` and lowers it
  above. No gradient flows into ``log_probs``.

  Args:
    log_alpha: log α, a scalar (the trained parameter).
    log_probs: log π(a|s) of actions sampled from the current policy, shape ``[B]``, nats.
    target_entropy: H̄, usually ``-action_dim``; scalar, nats.

  Returns:
    Shape ``[B]``.

  References:
    Haarnoja et al., `Soft Actor-Critic Algorithms and Applications
    <https://arxiv.org/abs/1812.05905>`_, 2018, Eq. (18).
  """
  chex.assert_rank([log_alpha, log_probs], [0, 1])
  chex.assert_type([log_alpha, log_probs], float)
  entropy = -jax.lax.stop_gradient(log_probs)
  return jnp.exp(log_alpha) * (entropy - target_entropy)


def td3_bc_actor_loss(
    q_values: ArrayLike, policy_actions: ArrayLike, data_actions: ArrayLike, *, alpha: ArrayLike = 2.5
) -> jax.Array:
  r"""TD3+BC policy loss ``-λ Q(s, π(s)) + mean_A (π(s) - a)²`` with ``λ = α / mean_B |Q|``.

  The TD3 actor objective plus a behaviour-cloning penalty towards the dataset action. λ rescales
  Q so that the balance between the two terms does not depend on the reward scale; no gradient
  flows through the normaliser ``mean_B |Q(s, π(s))|`` (it is a constant per batch), so the
  gradient into ``q_values`` is ``-λ / B`` per element.

  The squared error is averaged over the A action dimensions, as the authors' reference code does
  (``F.mse_loss(pi, action)``); the paper's Eq. (3) writes the squared norm (a sum over A), which is
  the same objective with α multiplied by A and the loss divided by A. α = 2.5 was tuned with the
  averaged form.

  Args:
    q_values: Q(s, π(s)) of the current policy's actions, shape ``[B]``, float, reward units
      (the reference code uses the first critic, not the minimum).
    policy_actions: π(s), shape ``[B, A]``, float (gradients flow here).
    data_actions: the dataset actions a, shape ``[B, A]``, same dtype as ``policy_actions``.
    alpha: α ≥ 0, the weight of the RL term (2.5 in the paper; larger = less behaviour cloning);
      a Python float or a traced scalar. Gradients do flow into α (it is not stopped).

  Returns:
    Shape ``[B]``; minimise its mean. If every Q is exactly 0 the normaliser is floored at the
    dtype's smallest normal number instead of dividing by zero.

  Raises:
    AssertionError (chex) at trace time on wrong ranks, mismatched shapes or non-float inputs.

  References:
    Fujimoto & Gu, `A Minimalist Approach to Offline Reinforcement Learning
    <https://arxiv.org/abs/2106.06860>`_, 2021, Eq. (3)–(4) and the reference ``TD3_BC.py``.
  """
  chex.assert_rank([q_values, policy_actions, data_actions], [1, 2, 2])
  chex.assert_equal_shape([policy_actions, data_actions])
  chex.assert_equal_shape_prefix([q_values, policy_actions], 1)
  chex.assert_type([q_values, policy_actions, data_actions], float)
  q = jnp.asarray(q_values)
  scale = jax.lax.stop_gradient(jnp.mean(jnp.abs(q)))
  scale = jnp.maximum(scale, jnp.finfo(q.dtype).tiny)
  bc = jnp.mean(jnp.square(jnp.asarray(policy_actions) - jnp.asarray(data_actions)), axis=-1)
  return -(alpha / scale) * q + bc
