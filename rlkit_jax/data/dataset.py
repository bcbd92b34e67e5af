"""A loaded offline dataset: transitions plus what is needed to evaluate and normalise."""
from __future__ import annotations

import dataclasses
import hashlib
from typing import Any

import jax
import numpy as np

from rlkit_jax.data.transitions import Transitions
from rlkit_jax.errors import InputError


class DatasetError(InputError):
  """A dataset file or name that cannot be used; the message names the file, the field and the fix."""


@dataclasses.dataclass(frozen=True)
class Dataset:
  """An offline dataset in ``qlearning_dataset`` form, held as NumPy arrays on the host.

  Attributes:
    transitions: :class:`Transitions` of NumPy arrays, leading axis ``N``.
    episode_ends: ``[N]`` bool; True where transition i is the last of its trajectory (a
      terminal, a time-out, or a break where s'_i ≠ s_{i+1}).
    name: the dataset's name (e.g. ``"hopper-medium-replay-v5"``) or file stem.
    env_id: the gymnasium task to evaluate policies on (e.g. ``"Hopper-v5"``); None where
      gymnasium has no equivalent (D4RL AntMaze and Ant).
    ref_min_score, ref_max_score: random and expert returns for the D4RL normalized score.
    source: the file the data came from.
    attrs: provenance read from the file (command, seed, policy returns, version, ...).
  """

  transitions: Transitions
  episode_ends: np.ndarray
  name: str
  env_id: str | None
  ref_min_score: float
  ref_max_score: float
  source: str
  attrs: dict[str, Any] = dataclasses.field(default_factory=dict)

  def __len__(self) -> int:
    return len(self.transitions)

  @classmethod
  def from_arrays(
      cls,
      observations: Any,
      actions: Any,
      rewards: Any,
      terminals: Any,
      timeouts: Any = None,
      next_observations: Any = None,
      *,
      env_id: str | None = None,
      name: str = "arrays",
  ) -> "Dataset":
    """A dataset from your own arrays, checked like a file; no environment and no reference scores.

    Args:
      observations: s_t, ``[N, O]``. actions: a_t, ``[N, A]`` in [-1, 1] (a discrete task: integer
        indices ``[N]``). rewards: r_t, ``[N]``. terminals: ``[N]`` bool or 0/1, True where s_{t+1}
        is a true termination.
      timeouts: ``[N]`` bool or 0/1, True where the episode was cut by a time limit (its last
        transition bootstraps); None: no time-outs.
      next_observations: s_{t+1}, ``[N, O]``; None: rebuilt from the next row, as d4rl's
        ``qlearning_dataset`` does (the last transition of each episode is then dropped).
      env_id: the gymnasium task, only to check widths and bounds against it; None checks only
        shapes, dtypes, finiteness and actions in [-1, 1].
      name: the name used in error messages and results.

    Returns:
      A :class:`Dataset` with ``env_id`` as given and NaN reference scores (no normalised score).

    Raises:
      DatasetError: a missing field, wrong rank or dtype, mismatched lengths, NaN/inf, flags
        other than 0/1, actions out of bounds, or no transitions left.
    """
    from rlkit_jax.data.validation import dataset_from_arrays  # validation.py builds on this module

    arrays = {"observations": observations, "actions": actions, "rewards": rewards, "terminals": terminals}
    arrays.update({k: v for k, v in (("timeouts", timeouts), ("next_observations", next_observations)) if v is not None})
    return dataset_from_arrays(
        arrays, source=name, name=name, env_id=env_id, ref_min_score=float("nan"), ref_max_score=float("nan")
    )

  def episode_returns(self) -> np.ndarray:
    """Undiscounted return of every trajectory (the last one may be partial), float64 ``[T]``."""
    return episode_returns(self.transitions.rewards, self.episode_ends)

  def digest(self) -> str:
    """SHA-256 (64 hex digits) of what training sees: ``observations``, ``actions``, ``rewards``,
    ``terminals``, ``next_observations`` and ``episode_ends``, in that order, each as its
    contiguous bytes with its dtype and shape. Runs whose datasets have the same digest trained on
    the same data, whatever the files' names, paths or attributes; a remade file can be checked
    against the digest recorded in BUILD_NOTES.md or a run's ``config.json``."""
    h = hashlib.sha256()
    t = self.transitions
    for array in (t.observations, t.actions, t.rewards, t.terminals, t.next_observations, self.episode_ends):
      array = np.ascontiguousarray(np.asarray(array))
      h.update(f"{array.dtype.str}{array.shape}".encode())
      h.update(array.tobytes())
    return h.hexdigest()


def episode_returns(rewards: np.ndarray, episode_ends: np.ndarray) -> np.ndarray:
  """Sums ``rewards [N]`` over trajectories ending where ``episode_ends [N]`` (bool) is True.

  Returns float64 ``[T]``; rows after the last end form a final, partial trajectory.
  """
  rewards = np.asarray(rewards, np.float64)
  if rewards.size == 0:
    return np.zeros(0)
  ends = np.flatnonzero(episode_ends)
  if ends.size == 0 or ends[-1] != len(rewards) - 1:
    ends = np.r_[ends, len(rewards) - 1]
  return np.add.reduceat(rewards, np.r_[0, ends[:-1] + 1])


def trajectory_bounds(episode_ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
  """Start and stop (exclusive) row of every trajectory, int64 ``[T]`` each.

  Trajectory i is rows ``[starts[i], stops[i])``; it ends where ``episode_ends [N]`` (bool) is
  True, and rows after the last end form a final, partial trajectory.
  """
  episode_ends = np.asarray(episode_ends, bool)
  n = len(episode_ends)
  if n == 0:
    return np.zeros(0, np.int64), np.zeros(0, np.int64)
  stops = np.flatnonzero(episode_ends) + 1
  if stops.size == 0 or stops[-1] != n:
    stops = np.r_[stops, n]
  return np.r_[0, stops[:-1]].astype(np.int64), stops.astype(np.int64)


def take_episodes(dataset: Dataset, count: int) -> Dataset:
  """The first ``count`` trajectories of ``dataset`` (e.g. N demonstrations from an expert dataset).

  Trajectories are split where ``dataset.episode_ends`` is True (:func:`trajectory_bounds`), in
  file order; the result keeps the task, reference scores and ``attrs`` of ``dataset``.

  Raises:
    DatasetError: ``count < 1`` or more trajectories asked for than ``dataset`` holds.
  """
  starts, stops = trajectory_bounds(dataset.episode_ends)
  if count < 1 or count > len(starts):
    raise DatasetError(
        f"{dataset.source}: asked for {count} trajectories, the file holds {len(starts)}; fix: ask for 1..{len(starts)}"
    )
  stop = int(stops[count - 1])
  return dataclasses.replace(
      dataset,
      transitions=jax.tree.map(lambda x: x[:stop], dataset.transitions),
      episode_ends=np.asarray(dataset.episode_ends[:stop], bool),
  )
