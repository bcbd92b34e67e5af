"""Trajectory segments of a dataset, addressed as (episode, start, length), and queries over them.

A *segment reference* is three ints: the trajectory's index in the dataset (trajectories in file
order, split where :attr:`rlkit_jax.data.Dataset.episode_ends` is True), the first step inside
that trajectory, and the number of steps. A *query* is K ≥ 2 segments of one length shown
together (K = 2: a pair). :class:`Queries` holds their data, gathered from the dataset, for
labellers and reward models.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from rlkit_jax.data.dataset import Dataset, trajectory_bounds
from rlkit_jax.errors import InputError


class PreferenceDataError(InputError):
  """Segment references or labels that do not fit their dataset; the message names the file,
  the field and the fix."""


@dataclasses.dataclass(frozen=True)
class Queries:
  """Q queries of K segments of T steps each, with the dataset's data.

  Attributes:
    refs: ``[Q, K, 3]`` int64 (episode, start, length) per segment.
    observations: s_t, ``[Q, K, T, O]`` float32.
    actions: a_t, ``[Q, K, T, A]`` float32.
    rewards: the dataset's own r_t, ``[Q, K, T]`` float32 (what a scripted teacher judges; a
      person or a model labeller ignores it).
    env_id: the gymnasium task the segments come from (for rendering), or None.
  """

  refs: np.ndarray
  observations: np.ndarray
  actions: np.ndarray
  rewards: np.ndarray
  env_id: str | None = None

  def __len__(self) -> int:
    return int(self.refs.shape[0])

  @property
  def num_segments(self) -> int:
    """K."""
    return int(self.refs.shape[1])

  @property
  def segment_length(self) -> int:
    """T."""
    return int(self.rewards.shape[-1])

  def take(self, indices: np.ndarray) -> "Queries":
    """The queries at ``indices`` ``[N]`` int (a selection from a larger candidate pool)."""
    fields = {f.name: getattr(self, f.name)[indices] for f in dataclasses.fields(self) if f.name != "env_id"}
    return Queries(**fields, env_id=self.env_id)


def episode_lengths(dataset: Dataset) -> np.ndarray:
  """Steps of every trajectory of ``dataset``, int64 ``[E]`` (the last may be partial)."""
  starts, stops = trajectory_bounds(dataset.episode_ends)
  return stops - starts


def sample_refs(
    lengths: np.ndarray,
    *,
    num_queries: int,
    segment_length: int,
    rng: np.random.Generator,
    num_segments: int = 2,
    source: str = "the dataset",
) -> np.ndarray:
  """Draws ``num_queries`` queries of ``num_segments`` segments, uniformly over all segments.

  Every window of ``segment_length`` consecutive steps inside one trajectory is equally likely
  (so a trajectory is drawn in proportion to ``length − T + 1``); trajectories shorter than T
  are never drawn. Segments of one query are drawn independently.

  Args:
    lengths: steps per trajectory ``[E]`` int (:func:`episode_lengths`).
    num_queries: Q ≥ 1.
    segment_length: T ≥ 1.
    rng: the host random generator (seeded by the caller), consumed.
    num_segments: K ≥ 2.
    source: the dataset's file or name, for error messages.

  Returns:
    ``[Q, K, 3]`` int64 (episode, start, length).

  Raises:
    PreferenceDataError: no trajectory has T steps, or Q, T or K is out of range.
  """
  lengths = np.asarray(lengths, np.int64)
  if num_queries < 1 or segment_length < 1 or num_segments < 2:
    raise PreferenceDataError(
        f"sample_refs: need num_queries ≥ 1, segment_length ≥ 1 and num_segments ≥ 2, got "
        f"{num_queries}, {segment_length}, {num_segments}"
    )
  windows = np.maximum(lengths - segment_length + 1, 0)
  if windows.sum() == 0:
    raise PreferenceDataError(
        f"{source}: no trajectory has {segment_length} steps (the longest has {lengths.max(initial=0)}); "
        "use a shorter --segment_length"
    )
  flat = rng.choice(int(windows.sum()), size=(num_queries, num_segments))
  first_window = np.r_[0, np.cumsum(windows)[:-1]]
  episodes = np.searchsorted(first_window, flat, side="right") - 1
  # An episode with no windows has first_window equal to its successor's: searchsorted picks the last.
  starts = flat - first_window[episodes]
  return np.stack([episodes, starts, np.full_like(episodes, segment_length)], axis=-1).astype(np.int64)


def validate_refs(refs: np.ndarray, lengths: np.ndarray, *, source: str, dataset: str) -> None:
  """Checks that every reference lies inside its trajectory and each query's segments share a length.

  Args:
    refs: ``[Q, K, 3]`` int (episode, start, length).
    lengths: steps per trajectory of the dataset ``[E]``.
    source: the file the references came from (named in errors).
    dataset: the dataset's name or file (named in errors).

  Raises:
    PreferenceDataError: naming the query, the field and the fix.
  """
  refs = np.asarray(refs)
  if refs.ndim != 3 or refs.shape[-1] != 3 or refs.shape[1] < 2:
    raise PreferenceDataError(
        f"{source}: field 'segments' must hold ≥ 2 [episode, start, length] triples per query, got shape {refs.shape}"
    )
  for q, query in enumerate(refs):
    if len(set(query[:, 2].tolist())) != 1:
      raise PreferenceDataError(
          f"{source}: query {q}, field 'segments': segments of one query must have one length, got "
          f"{query[:, 2].tolist()}; cut them to the shortest"
      )
    for episode, start, length in query.tolist():
      if not 0 <= episode < len(lengths):
        raise PreferenceDataError(
            f"{source}: query {q}, field 'segments': episode {episode} is outside {dataset}, which has "
            f"{len(lengths)} trajectories (0..{len(lengths) - 1}); was the file labelled on another dataset?"
        )
      if length < 1 or start < 0 or start + length > lengths[episode]:
        raise PreferenceDataError(
            f"{source}: query {q}, field 'segments': steps [{start}, {start + length}) are outside "
            f"trajectory {episode} of {dataset}, which has {lengths[episode]} steps"
        )


def gather(dataset: Dataset, refs: np.ndarray, *, source: str | None = None) -> Queries:
  """The data of the segments ``refs`` ``[Q, K, 3]`` from ``dataset``, validated first.

  Raises:
    PreferenceDataError: see :func:`validate_refs`.
  """
  refs = np.asarray(refs, np.int64)
  lengths = episode_lengths(dataset)
  validate_refs(refs, lengths, source=source or "segment references", dataset=dataset.source)
  starts, _ = trajectory_bounds(dataset.episode_ends)
  length = int(refs[0, 0, 2])
  if np.any(refs[..., 2] != length):
    raise PreferenceDataError(
        f"{source or 'segment references'}: field 'segments': every query must use one segment length to "
        f"be stacked, got {sorted(set(refs[..., 2].ravel().tolist()))}"
    )
  rows = (starts[refs[..., 0]] + refs[..., 1])[..., None] + np.arange(length)  # [Q, K, T]
  t = dataset.transitions
  return Queries(
      refs=refs,
      observations=np.asarray(t.observations)[rows],
      actions=np.asarray(t.actions)[rows],
      rewards=np.asarray(t.rewards, np.float32)[rows],
      env_id=dataset.env_id,
  )
