"""Log-densities and the squashed-Gaussian sampler against NumPy formulas (float64)."""
from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rlkit_jax.distributions import diag_gaussian_log_prob, tanh_gaussian_log_prob, tanh_gaussian_sample, tanh_log_det_jacobian

TRANSFORMS = [pytest.param(lambda f: f, id="nojit"), pytest.param(jax.jit, id="jit")]


def np_diag_gaussian_log_prob(a, mu, log_std):
  a, mu, log_std = (np.asarray(x, np.float64) for x in (a, mu, log_std))
  var = np.exp(2.0 * log_std)
  return np.sum(-0.5 * (a - mu) ** 2 / var - 0.5 * np.log(2.0 * np.pi * var), axis=-1)


def _normal(rng, *shape, scale=1.0):
  return (scale * rng.standard_normal(shape)).astype(np.float32)


@pytest.mark.parametrize("transform", TRANSFORMS)
@pytest.mark.parametrize("shape", [(2,), (7, 2), (3, 4, 5)], ids=str)
def test_diag_gaussian_log_prob_matches_numpy(shape, transform):
  rng = np.random.default_rng(0)
  a, mu = _normal(rng, *shape, scale=2.0), _normal(rng, *shape)
  log_std = rng.uniform(-2.0, 1.0, shape).astype(np.float32)
  out = transform(diag_gaussian_log_prob)(a, mu, log_std)
  assert out.shape == shape[:-1]
  np.testing.assert_allclose(out, np_diag_gaussian_log_prob(a, mu, log_std), rtol=1e-5, atol=1e-5)


def test_diag_gaussian_log_prob_gradients():
  rng = np.random.default_rng(1)
  a, mu = _normal(rng, 6, 3), _normal(rng, 6, 3)
  log_std = rng.uniform(-1.0, 0.5, (6, 3)).astype(np.float32)
  g_a, g_mu, g_ls = jax.grad(lambda *x: jnp.sum(diag_gaussian_log_prob(*x)), argnums=(0, 1, 2))(a, mu, log_std)
  z = (a.astype(np.float64) - mu) / np.exp(log_std.astype(np.float64))
  np.testing.assert_allclose(g_a, -z / np.exp(log_std), rtol=1e-4, atol=1e-5)
  np.testing.assert_allclose(g_mu, z / np.exp(log_std), rtol=1e-4, atol=1e-5)
  np.testing.assert_allclose(g_ls, z**2 - 1.0, rtol=1e-4, atol=1e-5)


def test_diag_gaussian_density_integrates_to_one():
  grid = np.linspace(-12.0, 12.0, 4001, dtype=np.float32)[:, None]
  log_p = diag_gaussian_log_prob(grid, jnp.full_like(grid, 0.7), jnp.full_like(grid, 0.3))
  np.testing.assert_allclose(np.trapezoid(np.exp(np.asarray(log_p, np.float64)), grid[:, 0]), 1.0, rtol=1e-4)


def test_diag_gaussian_log_prob_rejects_broadcasting():
  with pytest.raises(AssertionError):
    diag_gaussian_log_prob(jnp.zeros((4, 2)), jnp.zeros((4, 2)), jnp.zeros(2))


@pytest.mark.parametrize("transform", TRANSFORMS)
def test_tanh_log_det_jacobian_matches_naive_formula(transform):
  u = np.linspace(-4.0, 4.0, 33, dtype=np.float32).reshape(11, 3)
  expected = np.sum(np.log(1.0 - np.tanh(u.astype(np.float64)) ** 2), axis=-1)
  np.testing.assert_allclose(transform(tanh_log_det_jacobian)(u), expected, rtol=1e-5, atol=1e-5)


def test_tanh_log_det_jacobian_is_stable_for_large_inputs():
  u = jnp.array([[20.0], [-20.0], [100.0], [-100.0]])
  out = tanh_log_det_jacobian(u)
  assert np.all(np.isfinite(out))
  # log(1 - tanh(u)²) = log sech²(u) → 2 (log 2 - |u|) as |u| → ∞; the naive float32 formula is -inf.
  np.testing.assert_allclose(out, 2.0 * (math.log(2.0) - np.abs(np.asarray(u)[:, 0])), rtol=1e-6)
  with np.errstate(divide="ignore"):
    assert np.isneginf(np.log(1.0 - np.tanh(np.float32(20.0)) ** 2))
  grads = jax.grad(lambda x: jnp.sum(tanh_log_det_jacobian(x)))(u)
  np.testing.assert_allclose(grads, -2.0 * np.tanh(np.asarray(u)), rtol=1e-6)  # d/du = -2 tanh(u)


def _sample_inputs(seed, shape=(6, 2)):
  rng = np.random.default_rng(seed)
  return _normal(rng, *shape), rng.uniform(-1.5, 0.5, shape).astype(np.float32)


def np_tanh_gaussian_log_prob(noise, mu, log_std):
  noise, mu, log_std = (np.asarray(x, np.float64) for x in (noise, mu, log_std))
  pre_tanh = mu + np.exp(log_std) * noise
  gaussian = np.sum(-0.5 * noise**2 - log_std - 0.5 * np.log(2.0 * np.pi), axis=-1)
  return np.tanh(pre_tanh), gaussian - np.sum(np.log(1.0 - np.tanh(pre_tanh) ** 2), axis=-1)


@pytest.mark.parametrize("transform", TRANSFORMS)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_tanh_gaussian_sample_matches_change_of_variables(seed, transform):
  key = jax.random.key(seed)
  noise_key = jax.random.clone(key)  # a copy to reproduce the sampler's noise
  mu, log_std = _sample_inputs(seed)
  actions, log_probs = transform(tanh_gaussian_sample)(key, mu, log_std)
  assert actions.shape == mu.shape and log_probs.shape == mu.shape[:-1]
  assert np.all(np.abs(actions) < 1.0)
  noise = jax.random.normal(noise_key, mu.shape)
  expected_actions, expected_log_probs = np_tanh_gaussian_log_prob(noise, mu, log_std)
  np.testing.assert_allclose(actions, expected_actions, rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(log_probs, expected_log_probs, rtol=1e-4, atol=1e-4)


def test_tanh_gaussian_sample_same_key_same_sample_different_key_different():
  mu, log_std = _sample_inputs(3)
  key = jax.random.key(3)
  key_copy = jax.random.clone(key)
  first = tanh_gaussian_sample(key, mu, log_std)
  again = tanh_gaussian_sample(key_copy, mu, log_std)
  other = tanh_gaussian_sample(jax.random.key(4), mu, log_std)
  np.testing.assert_array_equal(first[0], again[0])
  np.testing.assert_array_equal(first[1], again[1])
  assert not np.allclose(first[0], other[0])


def test_tanh_gaussian_sample_under_vmap_and_leading_shapes():
  mu, log_std = _sample_inputs(5, shape=(4, 3, 2))
  keys = jax.random.split(jax.random.key(5), 4)
  noise_keys = jax.random.clone(keys)
  actions, log_probs = jax.vmap(tanh_gaussian_sample)(keys, mu, log_std)
  assert actions.shape == (4, 3, 2) and log_probs.shape == (4, 3)
  noise = jax.vmap(lambda k: jax.random.normal(k, (3, 2)))(noise_keys)
  expected_actions, expected_log_probs = np_tanh_gaussian_log_prob(noise, mu, log_std)
  np.testing.assert_allclose(actions, expected_actions, rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(log_probs, expected_log_probs, rtol=1e-4, atol=1e-4)


def test_squashed_density_integrates_to_one():
  """The density of a = tanh(u), log N(u) - log|da/du|, integrates to 1 over (-1, 1) (A = 1)."""
  a = np.linspace(-1.0, 1.0, 20001)[1:-1]
  u = np.arctanh(a).astype(np.float32)[:, None]
  mu, log_std = jnp.full_like(u, 0.4), jnp.full_like(u, -0.3)
  log_density = diag_gaussian_log_prob(u, mu, log_std) - tanh_log_det_jacobian(u)
  np.testing.assert_allclose(np.trapezoid(np.exp(np.asarray(log_density, np.float64)), a), 1.0, rtol=1e-3)


def test_tanh_gaussian_sample_is_reparameterised():
  """d a / d μ = 1 - tanh(u)², so gradients reach the policy's mean through the sample."""
  mu, log_std = _sample_inputs(6)
  key = jax.random.key(6)
  noise_key = jax.random.clone(key)
  grad_mu = jax.grad(lambda m: jnp.sum(tanh_gaussian_sample(key, m, log_std)[0]))(mu)
  pre_tanh = mu.astype(np.float64) + np.exp(log_std) * np.asarray(jax.random.normal(noise_key, mu.shape))
  np.testing.assert_allclose(grad_mu, 1.0 - np.tanh(pre_tanh) ** 2, rtol=1e-4, atol=1e-6)


def np_tanh_gaussian_log_prob_of_actions(a, mu, log_std, eps=1e-6):
  u = np.arctanh(np.clip(np.asarray(a, np.float64), -1.0 + eps, 1.0 - eps))
  return np_diag_gaussian_log_prob(u, mu, log_std) - np.sum(np.log(1.0 - np.tanh(u) ** 2), axis=-1)


@pytest.mark.parametrize("transform", TRANSFORMS)
@pytest.mark.parametrize("shape", [(2,), (7, 3), (3, 4, 2)], ids=str)
def test_tanh_gaussian_log_prob_of_given_actions_matches_numpy(shape, transform):
  rng = np.random.default_rng(7)
  a = rng.uniform(-0.99, 0.99, shape).astype(np.float32)
  mu, log_std = _normal(rng, *shape), rng.uniform(-1.5, 0.5, shape).astype(np.float32)
  out = transform(tanh_gaussian_log_prob)(a, mu, log_std)
  assert out.shape == shape[:-1]
  np.testing.assert_allclose(out, np_tanh_gaussian_log_prob_of_actions(a, mu, log_std), rtol=1e-4, atol=1e-4)
  batched = jax.vmap(tanh_gaussian_log_prob)(a[None], mu[None], log_std[None])[0]
  np.testing.assert_allclose(batched, out, rtol=1e-6, atol=1e-6)


def test_tanh_gaussian_log_prob_agrees_with_the_sampler_and_stays_finite_on_the_bounds():
  mu, log_std = _sample_inputs(8)
  actions, log_probs = tanh_gaussian_sample(jax.random.key(8), mu, log_std)
  np.testing.assert_allclose(tanh_gaussian_log_prob(actions, mu, log_std), log_probs, rtol=1e-3, atol=1e-3)
  on_bounds = np.array([[1.0, -1.0]], np.float32)
  value = tanh_gaussian_log_prob(on_bounds, np.zeros((1, 2), np.float32), np.zeros((1, 2), np.float32))
  assert np.isfinite(value).all()
  # float32 holds 1 − 1e-6 only to ~6e-8, so atanh there is ~1% off the float64 value.
  np.testing.assert_allclose(value, np_tanh_gaussian_log_prob_of_actions(on_bounds, 0.0, 0.0), rtol=1e-2)


def test_tanh_gaussian_log_prob_gradients():
  """d/dμ = (u − μ)/σ², d/dlog σ = ((u − μ)/σ)² − 1, per action dimension."""
  rng = np.random.default_rng(9)
  a = rng.uniform(-0.9, 0.9, (5, 3)).astype(np.float32)
  mu, log_std = _normal(rng, 5, 3), rng.uniform(-1.0, 0.5, (5, 3)).astype(np.float32)
  grad_mu, grad_log_std = jax.grad(lambda m, s: jnp.sum(tanh_gaussian_log_prob(a, m, s)), argnums=(0, 1))(mu, log_std)
  u, sigma = np.arctanh(a.astype(np.float64)), np.exp(log_std.astype(np.float64))
  np.testing.assert_allclose(grad_mu, (u - mu) / sigma**2, rtol=1e-4, atol=1e-4)
  np.testing.assert_allclose(grad_log_std, ((u - mu) / sigma) ** 2 - 1.0, rtol=1e-4, atol=1e-4)
