"""Log-densities and samplers of the policies' action distributions.

Shape letters: ``B`` batch (any leading shape works), ``A`` action dimensions. Log-densities
are of whole action vectors (summed over ``A``), in nats.
"""
from __future__ import annotations

import math

import chex
import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

_LOG_2PI = math.log(2.0 * math.pi)


def diag_gaussian_log_prob(actions: ArrayLike, means: ArrayLike, log_stds: ArrayLike) -> jax.Array:
  r"""log N(a; μ, diag(σ²)) summed over the action dimensions.

  Args:
    actions: shape ``[..., A]``.
    means: μ, shape ``[..., A]``.
    log_stds: log σ, shape ``[..., A]`` (broadcast a state-independent σ before calling).

  Returns:
    Shape ``[...]``, nats.
  """
  chex.assert_equal_shape([actions, means, log_stds])
  z = (actions - means) * jnp.exp(-log_stds)
  return jnp.sum(-0.5 * jnp.square(z) - log_stds - 0.5 * _LOG_2PI, axis=-1)


def tanh_log_det_jacobian(pre_tanh: ArrayLike) -> jax.Array:
  r"""``Σ_i log(1 - tanh(u_i)²)`` computed stably as ``Σ 2(log 2 - u - softplus(-2u))``.

  Args:
    pre_tanh: u, shape ``[..., A]``.

  Returns:
    Shape ``[...]``.
  """
  u = jnp.asarray(pre_tanh)
  return jnp.sum(2.0 * (math.log(2.0) - u - jax.nn.softplus(-2.0 * u)), axis=-1)


def tanh_gaussian_log_prob(actions: ArrayLike, means: ArrayLike, log_stds: ArrayLike, *, eps: float = 1e-6) -> jax.Array:
  r"""log π(a) of given actions under the tanh-squashed Gaussian: ``log N(u; μ, σ²) − Σ log(1 − tanh(u)²)``
  with ``u = atanh(a)``.

  Actions are clipped into ``[−1 + eps, 1 − eps]`` before atanh, so dataset actions that sit on the
  bounds (D4RL's do) get a finite, very low log-density instead of −inf.

  Args:
    actions: a, shape ``[..., A]``, in [−1, 1].
    means: μ of the pre-tanh Gaussian, shape ``[..., A]``.
    log_stds: log σ, shape ``[..., A]``.
    eps: the clipping margin (static float).

  Returns:
    Shape ``[...]``, nats.

  References:
    Haarnoja et al., `Soft Actor-Critic <https://arxiv.org/abs/1801.01290>`_, 2018, App. C, Eq. (21).
  """
  pre_tanh = jnp.arctanh(jnp.clip(actions, -1.0 + eps, 1.0 - eps))
  return diag_gaussian_log_prob(pre_tanh, means, log_stds) - tanh_log_det_jacobian(pre_tanh)


def tanh_gaussian_sample(key: jax.Array, means: ArrayLike, log_stds: ArrayLike) -> tuple[jax.Array, jax.Array]:
  r"""Reparameterised sample a = tanh(μ + σ ε) and its log-density under the squashed Gaussian.

  Args:
    key: a PRNG key, consumed.
    means: μ of the pre-tanh Gaussian, shape ``[..., A]``.
    log_stds: log σ, shape ``[..., A]``.

  Returns:
    ``(actions, log_probs)`` with shapes ``[..., A]`` (in (-1, 1)) and ``[...]``.

  References:
    Haarnoja et al., `Soft Actor-Critic <https://arxiv.org/abs/1801.01290>`_, 2018, App. C, Eq. (21).
  """
  chex.assert_equal_shape([means, log_stds])
  noise = jax.random.normal(key, jnp.shape(means), jnp.result_type(means))
  pre_tanh = means + jnp.exp(log_stds) * noise
  log_probs = diag_gaussian_log_prob(pre_tanh, means, log_stds) - tanh_log_det_jacobian(pre_tanh)
  return jnp.tanh(pre_tanh), log_probs
