"""The preference file: labelled pairs or rankings of segments that point into a trajectory dataset.

Format (JSON, one object; ``FORMAT`` names the version)::

    {
      "format": "rlkit_jax.preferences/1",
      "dataset": "hopper-medium-replay-v5",        # name or file the segments point into
      "labeller": "oracle",                         # who labelled (a teacher, "human:<name>", "model:<name>")
      "queries": [
        {"segments": [[12, 40, 50], [301, 0, 50]], "label": 1.0},   # a pair
        {"segments": [[7, 3, 50], [88, 120, 50]], "label": 0.5},    # a tie
        {"segments": [[5, 0, 50], [9, 10, 50]], "label": null},     # asked, skipped
        ...
      ]
    }

Each segment is ``[episode, start, length]`` (:mod:`rlkit_jax.rewards.segments`). A pair's
``label`` is the probability that the FIRST segment is preferred: 1 (first), 0 (second), 0.5
(equally good) or null (skipped: kept so a labelling session can resume, dropped on load). A
ranking query has K ≥ 2 segments and ``"ranking"``: the segment positions best first, e.g.
``[2, 0, 1]``. One file holds pairs or rankings, not both, and one segment length.
"""
from __future__ import annotations

import dataclasses
import json
import os
from typing import Any

import numpy as np

from rlkit_jax.data.dataset import Dataset
from rlkit_jax.rewards.segments import PreferenceDataError, episode_lengths, validate_refs

FORMAT = "rlkit_jax.preferences/1"
LABEL_VALUES = (0.0, 0.5, 1.0)


@dataclasses.dataclass(frozen=True)
class Preferences:
  """Labelled queries (skipped ones already dropped).

  Attributes:
    dataset: the name or file of the dataset the segments point into.
    refs: ``[Q, K, 3]`` int64 (episode, start, length).
    labels: for pairs (K = 2), P(first segment preferred) ``[Q]`` float32 in {0, 0.5, 1}; None for
      rankings.
    rankings: for rankings, segment positions best first ``[Q, K]`` int64; None for pairs.
    labeller: who labelled.
  """

  dataset: str
  refs: np.ndarray
  labels: np.ndarray | None = None
  rankings: np.ndarray | None = None
  labeller: str = "unknown"

  def __len__(self) -> int:
    return int(self.refs.shape[0])

  def take(self, indices: np.ndarray) -> "Preferences":
    """The labelled queries at ``indices`` (a train/held-out split, a bootstrap resample)."""
    pick = lambda x: None if x is None else x[indices]
    return dataclasses.replace(self, refs=self.refs[indices], labels=pick(self.labels), rankings=pick(self.rankings))


def pairs(dataset: str, refs: np.ndarray, labels: np.ndarray, *, labeller: str) -> Preferences:
  """Labelled pairs from a labeller's output, dropping skipped (NaN) labels.

  Args:
    dataset: the dataset's name or file.
    refs: ``[Q, 2, 3]`` int.
    labels: ``[Q]`` float in {0, 0.5, 1} or NaN (skipped).
    labeller: who labelled.
  """
  labels = np.asarray(labels, np.float32)
  keep = ~np.isnan(labels)
  return Preferences(dataset, np.asarray(refs, np.int64)[keep], labels=labels[keep], labeller=labeller)


def _query_json(refs: np.ndarray, label: Any = None, ranking: Any = None) -> dict[str, Any]:
  out: dict[str, Any] = {"segments": np.asarray(refs).tolist()}
  if ranking is not None:
    out["ranking"] = np.asarray(ranking).tolist()
  else:
    out["label"] = None if label is None or np.isnan(label) else float(label)
  return out


def save_preferences(path: str, prefs: Preferences, *, skipped_refs: np.ndarray | None = None) -> None:
  """Writes ``prefs`` (and, optionally, skipped pairs ``[S, 2, 3]`` as null labels) atomically.

  The file is written beside ``path`` and renamed over it, so an interrupted save leaves the
  previous file whole.
  """
  queries = [
      _query_json(r, ranking=prefs.rankings[i] if prefs.rankings is not None else None,
                  label=prefs.labels[i] if prefs.labels is not None else None)
      for i, r in enumerate(prefs.refs)
  ]
  if skipped_refs is not None:
    queries += [_query_json(r) for r in np.asarray(skipped_refs)]
  payload = {"format": FORMAT, "dataset": prefs.dataset, "labeller": prefs.labeller, "queries": queries}
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  tmp = f"{path}.tmp"
  with open(tmp, "w") as f:
    json.dump(payload, f, indent=None, separators=(",", ":"))
  os.replace(tmp, path)


def _fail(path: str, where: str, message: str) -> PreferenceDataError:
  return PreferenceDataError(f"{path}: {where}: {message}")


def _is_segment(segment: Any) -> bool:
  """An ``[episode, start, length]`` triple of int64 integers, episode and start ≥ 0, length ≥ 1."""
  return (
      isinstance(segment, list) and len(segment) == 3
      and all(isinstance(v, int) and not isinstance(v, bool) and v < 2**63 for v in segment)
      and segment[0] >= 0 and segment[1] >= 0 and segment[2] >= 1
  )


def _parse_query(path: str, q: int, query: Any) -> tuple[list, Any, Any]:
  where = f"query {q}"
  if not isinstance(query, dict) or "segments" not in query:
    raise _fail(path, where, "each query must be an object with a 'segments' field")
  segments = query["segments"]
  if not isinstance(segments, list) or len(segments) < 2 or not all(_is_segment(s) for s in segments):
    raise _fail(
        path, f"{where}, field 'segments'",
        f"must be ≥ 2 [episode, start, length] integer triples (episode, start ≥ 0, length ≥ 1), got {segments!r}",
    )
  if ("label" in query) == ("ranking" in query):
    raise _fail(path, where, "give exactly one of 'label' (a pair) and 'ranking' (best first)")
  if "label" in query:
    label = query["label"]
    if len(segments) != 2:
      raise _fail(path, f"{where}, field 'label'", f"a label needs exactly 2 segments, got {len(segments)}; use 'ranking'")
    if label is not None and (isinstance(label, bool) or not isinstance(label, (int, float)) or label not in LABEL_VALUES):
      raise _fail(
          path, f"{where}, field 'label'",
          f"{label!r} is not one of 1 (first preferred), 0 (second), 0.5 (equal) or null (skipped)",
      )
    return segments, (None if label is None else float(label)), None
  ranking = query["ranking"]
  integers = isinstance(ranking, list) and all(isinstance(v, int) and not isinstance(v, bool) for v in ranking)
  if not integers or sorted(ranking) != list(range(len(segments))):
    raise _fail(path, f"{where}, field 'ranking'", f"must list the segment positions 0..{len(segments) - 1} best first, got {ranking!r}")
  return segments, None, ranking


def load_preferences(path: str, *, dataset: Dataset | None = None, include_skipped: bool = False) -> Preferences:
  """Reads and validates a preference file; skipped queries are dropped unless ``include_skipped``.

  Args:
    path: the JSON file.
    dataset: if given, every segment is checked to lie inside one of its trajectories.
    include_skipped: keep skipped pairs, with label NaN (a labelling session resuming its file).

  Returns:
    :class:`Preferences`.

  Raises:
    PreferenceDataError: a missing or unreadable file (not UTF-8 JSON, or nested too deeply),
      another format, no labelled query, a segment that is not three integers (episode and start
      ≥ 0, length ≥ 1), a label outside {0, 0.5, 1, null}, a ranking that is not a permutation
      of integers, segments of different lengths, pairs mixed with rankings, or segments outside
      ``dataset`` — naming the file, the query and the field.
  """
  if not os.path.isfile(path):
    raise PreferenceDataError(f"{path}: no such preference file; label one with experiments/learn_reward.py or experiments/label_preferences.py")
  try:
    with open(path, encoding="utf-8") as f:
      payload = json.load(f)
  except (json.JSONDecodeError, UnicodeDecodeError) as e:
    raise PreferenceDataError(f"{path}: not a JSON preference file ({e}); see rlkit_jax.rewards.preference_data for the format")
  except RecursionError:
    raise PreferenceDataError(
        f"{path}: not a preference file: its JSON is nested too deeply to read; see rlkit_jax.rewards.preference_data "
        "for the format"
    ) from None
  if not isinstance(payload, dict) or payload.get("format") != FORMAT:
    found = payload.get("format") if isinstance(payload, dict) else type(payload).__name__
    raise PreferenceDataError(f"{path}: field 'format' is {found!r}, expected {FORMAT!r}")
  queries = payload.get("queries")
  if not isinstance(queries, list):
    raise PreferenceDataError(f"{path}: field 'queries' must be a list of queries")
  parsed = [_parse_query(path, q, query) for q, query in enumerate(queries)]
  kept = [(i, p) for i, p in enumerate(parsed) if include_skipped or not (p[2] is None and p[1] is None)]
  if not kept:
    raise PreferenceDataError(
        f"{path}: field 'queries' holds no labelled query ({len(queries)} in the file, all skipped or none); label some first"
    )
  if len({p[2] is None for _, p in kept}) > 1:
    raise PreferenceDataError(f"{path}: field 'queries' mixes pairs ('label') and rankings ('ranking'); keep one kind per file")
  sizes = {len(p[0]) for _, p in kept}
  if len(sizes) > 1:
    raise PreferenceDataError(f"{path}: field 'queries': rankings of different sizes {sorted(sizes)}; keep one K per file")
  refs = np.asarray([p[0] for _, p in kept], np.int64)
  lengths = set(refs[..., 2].ravel().tolist())
  if len(lengths) > 1:
    uneven = [i for i, p in kept if len({segment[2] for segment in p[0]}) > 1]
    where = f"query {uneven[0]}, field 'segments'" if uneven else "field 'segments'"
    raise PreferenceDataError(
        f"{path}: {where}: segments have different lengths {sorted(lengths)}; every segment of a file must have one length"
    )
  pairs_file = kept[0][1][2] is None
  prefs = Preferences(
      dataset=str(payload.get("dataset", "")),
      refs=refs,
      labels=np.asarray([np.nan if p[1] is None else p[1] for _, p in kept], np.float32) if pairs_file else None,
      rankings=None if pairs_file else np.asarray([p[2] for _, p in kept], np.int64),
      labeller=str(payload.get("labeller", "unknown")),
  )
  if dataset is not None:
    validate_refs(prefs.refs, episode_lengths(dataset), source=path, dataset=dataset.source)
  return prefs
