"""The sampled actions of the continuous CQL penalty: three proposals, their log densities, no gradient."""
from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rlkit_jax.distributions import tanh_gaussian_log_prob
from rlkit_jax.objectives import cql_proposals

B, A, K = 6, 3, 4


def _policy(seed):
  rng = np.random.default_rng(seed)
  normal = lambda: rng.standard_normal((B, A)).astype(np.float32)
  log_std = lambda: rng.uniform(-1.5, -0.5, (B, A)).astype(np.float32)
  return normal(), log_std(), normal(), log_std()


@pytest.mark.parametrize("transform", [lambda f: f, jax.jit], ids=["nojit", "jit"])
def test_three_proposals_in_order_with_their_log_densities(transform):
  means, log_stds, next_means, next_log_stds = _policy(0)
  propose = transform(lambda *args: cql_proposals(*args, num_sampled_actions=K))
  actions, log_densities = propose(jax.random.key(0), means, log_stds, next_means, next_log_stds)
  assert actions.shape == (B, 3 * K, A) and log_densities.shape == (B, 3 * K)
  assert np.all(np.abs(actions) <= 1.0)
  np.testing.assert_allclose(log_densities[:, :K], -A * math.log(2.0), rtol=1e-6)  # uniform on [-1, 1]^A
  repeat = lambda x: np.repeat(x[:, None], K, axis=1)
  for part, (mu, log_std) in enumerate([(means, log_stds), (next_means, next_log_stds)], start=1):
    chunk = slice(part * K, (part + 1) * K)
    expected = tanh_gaussian_log_prob(actions[:, chunk], repeat(mu), repeat(log_std))
    np.testing.assert_allclose(log_densities[:, chunk], expected, rtol=1e-3, atol=1e-3)
  # π(·|s) samples sit near tanh(μ(s)), not near tanh(μ(s')) (small σ).
  near = lambda x, mu: np.mean(np.abs(x - np.tanh(mu)[:, None]))
  assert near(actions[:, K:2 * K], means) < near(actions[:, K:2 * K], next_means)
  assert near(actions[:, 2 * K:], next_means) < near(actions[:, 2 * K:], means)


def test_same_key_same_actions_and_no_gradient_flows():
  args = _policy(1)
  first = cql_proposals(jax.random.key(1), *args, num_sampled_actions=K)
  again = cql_proposals(jax.random.key(1), *args, num_sampled_actions=K)
  other = cql_proposals(jax.random.key(2), *args, num_sampled_actions=K)
  np.testing.assert_array_equal(first[0], again[0])
  assert not np.allclose(first[0], other[0])
  total = lambda m: jnp.sum(sum(jnp.sum(x) for x in cql_proposals(jax.random.key(1), m, *args[1:], num_sampled_actions=K)))
  np.testing.assert_array_equal(jax.grad(total)(args[0]), 0.0)


def test_vmapped_over_keys_and_policies():
  args = [np.stack([a, a + 1.0]) for a in _policy(3)]
  keys = jax.random.split(jax.random.key(3), 2)
  keys_copy = jax.random.clone(keys)
  actions, log_densities = jax.vmap(lambda k, *a: cql_proposals(k, *a, num_sampled_actions=K))(keys, *args)
  assert actions.shape == (2, B, 3 * K, A) and log_densities.shape == (2, B, 3 * K)
  single = cql_proposals(keys_copy[1], *(a[1] for a in args), num_sampled_actions=K)
  np.testing.assert_allclose(actions[1], single[0], rtol=1e-6, atol=1e-6)
