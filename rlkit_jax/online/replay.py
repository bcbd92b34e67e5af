"""The online job's replay: host arrays ``[S, N, ...]`` (one row per env step and seed), their
device copy and the reward labels a :class:`~rlkit_jax.rewards.base.RewardSource` gives them.
Row t of seed i is seed i's t-th environment step."""
from __future__ import annotations

import functools
import os
from typing import Any, Mapping

import gymnasium as gym
import jax
import jax.numpy as jnp
import numpy as np

from rlkit_jax.checkpoint import CheckpointError, read_checkpoint
from rlkit_jax.data.transitions import Transitions
from rlkit_jax.envs.rollout import empty_arrays
from rlkit_jax.rewards.base import ReplayView, RewardSource, TrueReward

RELABEL_CHUNK = 50_000  # rows per RewardSource.rewards call when relabelling (bounds memory)


@functools.partial(jax.jit, donate_argnums=(0,))
def insert_rows(buffer: Transitions, chunk: Transitions, start: jax.Array) -> Transitions:
  """Writes ``chunk`` (leaves ``[S, k, ...]``) into rows ``[start, start + k)`` of ``buffer`` (``[S, N, ...]``)."""
  return jax.tree.map(lambda b, c: jax.lax.dynamic_update_slice_in_dim(b, c, start, 1), buffer, chunk)


def transitions(host: Mapping[str, np.ndarray], rewards: np.ndarray, start: int, stop: int) -> Transitions:
  """Host rows ``[start, stop)`` as device :class:`Transitions` ``[S, stop - start, ...]`` with the
  reward labels ``rewards`` ``[S, stop - start]`` (terminals as float32)."""
  return Transitions(
      observations=jnp.asarray(host["observations"][:, start:stop]),
      actions=jnp.asarray(host["actions"][:, start:stop]),
      rewards=jnp.asarray(rewards),
      terminals=jnp.asarray(host["terminals"][:, start:stop].astype(np.float32)),
      next_observations=jnp.asarray(host["next_observations"][:, start:stop]),
  )


def empty_host(num_seeds: int, num_steps: int, env: gym.Env) -> dict[str, np.ndarray]:
  """:func:`rlkit_jax.envs.rollout.empty_arrays`' layout with a leading seed axis ``[S, N, ...]``;
  ``rewards`` are the task's own."""
  return {k: np.zeros((num_seeds,) + v.shape, v.dtype) for k, v in empty_arrays(num_steps, env).items()}


def view(host: Mapping[str, np.ndarray], size: int) -> ReplayView:
  """A read-only :class:`ReplayView` of the first ``size`` rows of host arrays ``[S, N, ...]``
  (views, not copies; ``rewards`` become ``env_rewards``)."""
  def part(name):
    array = host[name][:, :size]
    array.flags.writeable = False
    return array

  return ReplayView(
      observations=part("observations"),
      actions=part("actions"),
      env_rewards=part("rewards"),
      terminals=part("terminals"),
      timeouts=part("timeouts"),
      next_observations=part("next_observations"),
      size=size,
  )


def label_rows(source: RewardSource, host: Mapping[str, np.ndarray], start: int, stop: int, pad_to: int) -> np.ndarray:
  """The rewards ``[S, stop - start]`` float32 of host rows ``[start, stop)`` under ``source``
  (zero-padding the call to ``pad_to`` rows)."""
  if isinstance(source, TrueReward):
    return host["rewards"][:, start:stop].copy()
  n = stop - start
  parts = []
  for name in ("observations", "actions", "next_observations", "terminals"):
    rows = host[name][:, start:stop]
    if pad_to > n:
      rows = np.concatenate([rows, np.zeros((rows.shape[0], pad_to - n) + rows.shape[2:], rows.dtype)], axis=1)
    parts.append(rows)
  out = np.asarray(source.rewards(*parts), dtype=np.float32)
  expected = (parts[0].shape[0], parts[0].shape[1])
  if out.shape != expected:
    raise ValueError(f"reward source {source.name!r}: rewards() returned shape {out.shape}, expected [S, n] = {expected}")
  out = out[:, :n]
  if not np.all(np.isfinite(out)):
    raise ValueError(f"reward source {source.name!r}: rewards() returned non-finite values at env steps {start}..{stop}")
  return out


def relabel_all(source: RewardSource, host: Mapping[str, np.ndarray], size: int, chunk: int) -> np.ndarray:
  """Rewards ``[S, N]`` float32 of every filled row (zero beyond ``size``), ``chunk`` rows per call."""
  out = np.zeros(host["rewards"].shape, np.float32)
  for start in range(0, size, chunk):
    stop = min(size, start + chunk)
    out[:, start:stop] = label_rows(source, host, start, stop, pad_to=chunk)
  return out


def per_seed(value: Any, num_seeds: int, name: str) -> np.ndarray:
  """A reward source's metric as ``[S]`` float64: a scalar repeated per seed, or an ``[S]`` array.

  Raises:
    ValueError: any other shape (the message names the metric ``name``).
  """
  array = np.asarray(jax.device_get(value), dtype=np.float64)
  if array.ndim == 0:
    return np.full(num_seeds, float(array))
  if array.shape == (num_seeds,):
    return array
  raise ValueError(f"reward source metric {name!r}: expected a float or a [S={num_seeds}] array, got shape {array.shape}")


def load_replay(workdir: str) -> ReplayView:
  """The replay a run folder's newest checkpoint holds — every state the S seeds visited up to that
  step, for inspecting what the policies did (e.g. where episodes ended).

  Returns:
    A :class:`ReplayView` of ``size`` = the checkpoint's step (the whole run once it finished);
    ``env_rewards`` are the task's own, whatever the agent trained on.

  Raises:
    CheckpointError: the folder has no readable checkpoint, or one without a replay.
  """
  step, state, _ = read_checkpoint(os.path.join(workdir, "checkpoints"))
  names = ("observations", "actions", "rewards", "terminals", "timeouts", "next_observations")
  host = state.get("host", {}) if isinstance(state, Mapping) else {}
  missing = [name for name in names if name not in host]
  if missing:
    raise CheckpointError(f"{workdir}: checkpoint {step} holds no replay ({', '.join(missing)} missing); is it an online run folder?")
  host = {name: np.asarray(host[name]) for name in names}
  host["terminals"], host["timeouts"] = host["terminals"].astype(bool), host["timeouts"].astype(bool)
  return view(host, step)
