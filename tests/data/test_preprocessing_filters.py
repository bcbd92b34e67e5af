"""Monte Carlo returns-to-go, the Transitions field that carries them, and the top-trajectory filter
of filtered BC, each against a plain NumPy loop."""
from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rlkit_jax.data.dataset import Dataset
from rlkit_jax.data.preprocessing import discounted_returns_to_go, filter_top_trajectories, with_returns_to_go
from rlkit_jax.data.transitions import Transitions, sample_batch


def _random_episode_ends(rng: np.random.Generator, n: int, *, partial_last: bool) -> np.ndarray:
  ends = rng.random(n) < 0.15
  ends[-1] = not partial_last
  return ends


def _loop_returns_to_go(rewards, ends, discount) -> np.ndarray:
  """The definition, one step at a time from the back: R_t = r_t + γ R_{t+1}, R = 0 after an end."""
  out = np.zeros(len(rewards))
  following = 0.0
  for t in reversed(range(len(rewards))):
    if ends[t]:
      following = 0.0
    following = rewards[t] + discount * following
    out[t] = following
  return out


def _loop_trajectories(ends) -> list[list[int]]:
  trajectories, current = [], []
  for t, end in enumerate(ends):
    current.append(t)
    if end:
      trajectories.append(current)
      current = []
  if current:
    trajectories.append(current)
  return trajectories


def _dataset(rng: np.random.Generator, n: int = 200, *, partial_last: bool = True, with_rtg: bool = False) -> Dataset:
  rewards = rng.standard_normal(n).astype(np.float32)
  transitions = Transitions(
      rng.standard_normal((n, 3)).astype(np.float32),
      rng.uniform(-1, 1, (n, 2)).astype(np.float32),
      rewards,
      (rng.random(n) < 0.05).astype(np.float32),
      rng.standard_normal((n, 3)).astype(np.float32),
  )
  dataset = Dataset(
      transitions=transitions,
      episode_ends=_random_episode_ends(rng, n, partial_last=partial_last),
      name="synthetic",
      env_id=None,
      ref_min_score=0.0,
      ref_max_score=1.0,
      source="<memory>",
  )
  return with_returns_to_go(dataset, 0.9) if with_rtg else dataset


# ----------------------------------------------------------------------------------------------
# discounted_returns_to_go
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("discount", [0.0, 0.5, 0.99, 1.0])
@pytest.mark.parametrize("partial_last", [True, False])
def test_returns_to_go_match_numpy_loop(discount, partial_last):
  rng = np.random.default_rng(int(discount * 100) + partial_last)
  rewards = rng.standard_normal(300).astype(np.float32)
  ends = _random_episode_ends(rng, 300, partial_last=partial_last)
  out = discounted_returns_to_go(rewards, ends, discount=discount)
  assert out.dtype == np.float32 and out.shape == (300,)
  np.testing.assert_allclose(out, _loop_returns_to_go(rewards.astype(np.float64), ends, discount), rtol=1e-5, atol=1e-5)


def test_returns_to_go_table():
  """Two trajectories [1, 1, 1 | 2, 2]: the second is a time-limit end (or partial) — truncated, no bootstrap."""
  rewards = np.array([1.0, 1.0, 1.0, 2.0, 2.0], np.float32)
  ends = np.array([False, False, True, False, True])
  np.testing.assert_allclose(discounted_returns_to_go(rewards, ends, discount=0.5), [1.75, 1.5, 1.0, 3.0, 2.0])
  np.testing.assert_allclose(discounted_returns_to_go(rewards, ends, discount=1.0), [3.0, 2.0, 1.0, 4.0, 2.0])
  assert discounted_returns_to_go(np.zeros(0), np.zeros(0, bool), discount=0.9).shape == (0,)


def test_returns_to_go_long_trajectory_is_exact():
  """A 10⁵-step trajectory (no underflow from γ^t factors): constant reward r → r (1 - γ^{T-t}) / (1 - γ)."""
  n, discount = 100_000, 0.99
  out = discounted_returns_to_go(np.ones(n, np.float32), np.zeros(n, bool), discount=discount)
  steps_left = n - np.arange(n)
  np.testing.assert_allclose(out, (1.0 - discount**steps_left) / (1.0 - discount), rtol=1e-5)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(rewards=np.zeros((3, 1)), episode_ends=np.zeros(3, bool), discount=0.9), "'rewards'"),
        (dict(rewards=np.zeros(3), episode_ends=np.zeros(4, bool), discount=0.9), "'episode_ends'"),
        (dict(rewards=np.zeros(3), episode_ends=np.zeros(3, bool), discount=1.5), "'discount'"),
        (dict(rewards=np.zeros(3), episode_ends=np.zeros(3, bool), discount=-0.1), "'discount'"),
    ],
)
def test_returns_to_go_bad_input_raises(kwargs, match):
  with pytest.raises(ValueError, match=match):
    discounted_returns_to_go(kwargs["rewards"], kwargs["episode_ends"], discount=kwargs["discount"])


# ----------------------------------------------------------------------------------------------
# The optional Transitions field
# ----------------------------------------------------------------------------------------------


def test_with_returns_to_go_fills_only_that_field():
  dataset = _dataset(np.random.default_rng(0))
  assert dataset.transitions.returns_to_go is None  # positional construction: the field defaults to None
  filled = with_returns_to_go(dataset, 0.9)
  expected = _loop_returns_to_go(dataset.transitions.rewards.astype(np.float64), dataset.episode_ends, 0.9)
  np.testing.assert_allclose(filled.transitions.returns_to_go, expected, rtol=1e-5, atol=1e-5)
  assert filled.transitions.returns_to_go.dtype == np.float32
  for field in ("observations", "actions", "rewards", "terminals", "next_observations"):
    assert getattr(filled.transitions, field) is getattr(dataset.transitions, field)
  np.testing.assert_array_equal(filled.episode_ends, dataset.episode_ends)
  assert dataset.transitions.returns_to_go is None  # the input is not modified


@pytest.mark.parametrize("with_rtg", [False, True])
def test_sample_batch_with_and_without_returns_to_go(with_rtg):
  dataset = _dataset(np.random.default_rng(1), with_rtg=with_rtg)
  on_device = jax.device_put(dataset.transitions)
  batch = jax.jit(sample_batch, static_argnums=2)(on_device, jax.random.key(0), 8)
  assert batch.observations.shape == (8, 3) and batch.rewards.shape == (8,)
  if with_rtg:
    assert batch.returns_to_go.shape == (8,) and batch.returns_to_go.dtype == jnp.float32
    # Rows stay aligned: find each sampled reward's row and compare its return-to-go.
    rewards = np.asarray(dataset.transitions.rewards)
    for r, g in zip(np.asarray(batch.rewards), np.asarray(batch.returns_to_go)):
      rows = np.flatnonzero(rewards == r)
      assert np.any(np.isclose(dataset.transitions.returns_to_go[rows], g))
  else:
    assert batch.returns_to_go is None
  assert len(jax.tree.leaves(batch)) == 5 + with_rtg


# ----------------------------------------------------------------------------------------------
# filter_top_trajectories
# ----------------------------------------------------------------------------------------------


def _loop_filter(dataset: Dataset, fraction: float) -> np.ndarray:
  """Rows kept by filtered BC, by hand: rank trajectories by return, keep ⌈fraction · T⌉ (≥ 1)."""
  trajectories = _loop_trajectories(dataset.episode_ends)
  returns = [sum(float(dataset.transitions.rewards[t]) for t in rows) for rows in trajectories]
  keep = max(1, math.ceil(round(fraction * len(trajectories), 9)))
  order = sorted(range(len(trajectories)), key=lambda i: (-returns[i], i))
  chosen = sorted(order[:keep])
  return np.array([t for i in chosen for t in trajectories[i]], int)


@pytest.mark.parametrize("fraction", [0.001, 0.1, 0.25, 0.5, 0.9, 1.0])
@pytest.mark.parametrize("partial_last", [True, False])
def test_filter_matches_numpy_loop(fraction, partial_last):
  dataset = _dataset(np.random.default_rng(2), partial_last=partial_last, with_rtg=True)
  rows = _loop_filter(dataset, fraction)
  out = filter_top_trajectories(dataset, fraction)
  assert len(out) == len(rows) > 0
  for field in ("observations", "actions", "rewards", "terminals", "next_observations", "returns_to_go"):
    np.testing.assert_array_equal(getattr(out.transitions, field), getattr(dataset.transitions, field)[rows], err_msg=field)
  np.testing.assert_array_equal(out.episode_ends, dataset.episode_ends[rows])
  # Whole trajectories: the kept returns are the top ones, and returns-to-go are still valid.
  kept_returns = np.sort(out.episode_returns())[::-1]
  np.testing.assert_allclose(kept_returns, np.sort(dataset.episode_returns())[::-1][: len(kept_returns)], rtol=1e-6)
  np.testing.assert_allclose(
      out.transitions.returns_to_go,
      _loop_returns_to_go(out.transitions.rewards.astype(np.float64), out.episode_ends, 0.9),
      rtol=1e-5,
      atol=1e-5,
  )
  assert out.name == dataset.name and out.source == dataset.source


def test_filter_counts_and_ties():
  """Three trajectories with returns [1, 3, 3]: the top third is the first 3 (ties: earlier first)."""
  rewards = np.array([1.0, 2.0, 1.0, 3.0, 0.0], np.float32)  # [1 | 2, 1 | 3, 0]
  ends = np.array([True, False, True, False, True])
  n = len(rewards)
  transitions = Transitions(np.arange(n, dtype=np.float32)[:, None], np.zeros((n, 1), np.float32), rewards,
                            np.zeros(n, np.float32), np.zeros((n, 1), np.float32))
  dataset = Dataset(transitions, ends, "tiny", None, 0.0, 1.0, "<memory>")
  np.testing.assert_array_equal(filter_top_trajectories(dataset, 0.3).transitions.observations[:, 0], [1, 2])
  np.testing.assert_array_equal(filter_top_trajectories(dataset, 0.5).transitions.observations[:, 0], [1, 2, 3, 4])
  np.testing.assert_array_equal(filter_top_trajectories(dataset, 1.0).transitions.observations[:, 0], [0, 1, 2, 3, 4])
  assert len(filter_top_trajectories(dataset, 1e-6)) == 2  # at least one trajectory


@pytest.mark.parametrize("fraction", [0.0, -0.1, 1.5, float("nan"), "0.1", None])
def test_filter_bad_fraction_raises(fraction):
  dataset = _dataset(np.random.default_rng(3))
  with pytest.raises(ValueError, match="'fraction'"):
    filter_top_trajectories(dataset, fraction)
