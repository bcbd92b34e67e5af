"""Labelled queries as the reward models' training set: device arrays padded to a fixed capacity, so
that a label set that grows during online learning (:mod:`rlkit_jax.rewards.pebble`) does not
recompile :meth:`rlkit_jax.rewards.RewardEnsemble.update`."""
from __future__ import annotations

from typing import Optional

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np

from rlkit_jax.rewards.preference_data import Preferences
from rlkit_jax.rewards.segments import Queries


@flax.struct.dataclass
class PreferenceArrays:
  """Labelled queries as device arrays, padded to a fixed capacity N so that a growing label set
  (online learning) does not recompile.

  Attributes:
    observations: ``[N, K, T, O]`` float32.
    actions: ``[N, K, T, A]`` float32.
    labels: P(first preferred) ``[N]`` float32 (pairs), or None.
    rankings: segment positions best first ``[N, K]`` int32 (rankings), or None.
    count: ``[]`` int32, rows ``[0, count)`` are labelled; the rest is padding.
  """

  observations: jax.Array
  actions: jax.Array
  labels: Optional[jax.Array]
  rankings: Optional[jax.Array]
  count: jax.Array


def preference_arrays(queries: Queries, prefs: Preferences, *, capacity: int | None = None) -> PreferenceArrays:
  """Stacks gathered ``queries`` with the labels of ``prefs`` (same order), padded to ``capacity``.

  Raises:
    ValueError: ``queries`` and ``prefs`` differ in length, or ``capacity`` is smaller than them.
  """
  n = len(prefs)
  if len(queries) != n:
    raise ValueError(f"preference_arrays: {len(queries)} gathered queries for {n} labelled ones")
  capacity = n if capacity is None else capacity
  if capacity < n:
    raise ValueError(f"preference_arrays: capacity {capacity} < {n} labelled queries")

  def pad(x, dtype):
    if x is None:
      return None
    x = np.asarray(x, dtype)
    return jnp.asarray(np.concatenate([x, np.zeros((capacity - n,) + x.shape[1:], dtype)]))

  return PreferenceArrays(
      observations=pad(queries.observations, np.float32),
      actions=pad(queries.actions, np.float32),
      labels=pad(prefs.labels, np.float32),
      rankings=pad(prefs.rankings, np.int32),
      count=jnp.asarray(n, jnp.int32),
  )
