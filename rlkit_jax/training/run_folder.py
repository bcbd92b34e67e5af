"""The run folder every job writes: ``config.json``, ``metrics.csv``, ``summary.json`` (and, beside
them, orbax checkpoints under ``checkpoints/``, :mod:`rlkit_jax.checkpoint`).

Files are replaced atomically (a temporary file in the same folder renamed into place), so a
killed job never leaves half a file; ``metrics.csv`` rows logged after the last checkpoint are
dropped on resume (:func:`truncate_rows`), so a resumed run's log matches an uninterrupted one.
"""
from __future__ import annotations

import csv
import json
import os
from typing import Any, Mapping, Sequence

import numpy as np

from rlkit_jax.errors import UsageError


def write_json(path: str, payload: Mapping[str, Any]) -> None:
  """Writes ``payload`` as indented JSON to ``path``, atomically."""
  tmp = path + ".tmp"
  with open(tmp, "w") as f:
    json.dump(dict(payload), f, indent=1)
  os.replace(tmp, path)


def check_recorded(path: str, key: str, value: Mapping[str, Any]) -> None:
  """Refuses to go on with a run whose ``config.json`` (``path``) recorded other resolved settings
  under ``key``: a default changed since the run began would otherwise switch them mid-run. A
  folder without the file or the key passes (it recorded nothing to compare).

  Raises:
    UsageError: naming the settings that differ, their recorded and current values, and the fix.
  """
  if not os.path.exists(path):
    return
  with open(path) as f:
    before = json.load(f).get(key)
  now = json.loads(json.dumps(dict(value)))
  if before is None or before == now:
    return
  changed = ", ".join(f"{k}: {before.get(k)!r} then, {now.get(k)!r} now" for k in sorted(set(before) | set(now)) if before.get(k) != now.get(k))
  raise UsageError(
      f"{path}: this run began with other {key} ({changed}); fix: set them as recorded (e.g. in --reward_kwargs) "
      "to continue it, or start a new --workdir"
  )


def append_rows(path: str, rows: Sequence[Mapping[str, Any]]) -> None:
  """Appends rows to the CSV at ``path`` (created with a header when missing).

  When the rows bring columns the file lacks, the file is rewritten (atomically) with the union of
  the columns, earlier rows holding "nan" in the new ones, so a metric may start being reported
  late (a reward source's, for instance).
  """
  fields = list(dict.fromkeys(k for r in rows for k in r))
  header: list[str] = []
  old_rows: list[dict[str, Any]] = []
  if os.path.exists(path):
    with open(path, newline="") as f:
      reader = csv.DictReader(f)
      header = list(reader.fieldnames or [])
      if not set(fields) <= set(header):
        old_rows = list(reader)
  if header and set(fields) <= set(header):
    with open(path, "a", newline="") as f:
      csv.DictWriter(f, fieldnames=header, restval="nan").writerows(rows)
    return
  header = list(dict.fromkeys(header + fields))
  tmp = path + ".tmp"
  with open(tmp, "w", newline="") as f:
    writer = csv.DictWriter(f, fieldnames=header, restval="nan")
    writer.writeheader()
    writer.writerows(old_rows + list(rows))
  os.replace(tmp, path)


def truncate_rows(path: str, max_step: int) -> None:
  """Drops the rows of the CSV at ``path`` whose ``step`` exceeds ``max_step`` (a run killed
  between logging and checkpointing); no file, nothing to do."""
  if not os.path.exists(path):
    return
  with open(path, newline="") as f:
    rows = list(csv.DictReader(f))
  kept = [r for r in rows if int(r["step"]) <= max_step]
  if len(kept) != len(rows):
    tmp = path + ".tmp"
    with open(tmp, "w", newline="") as f:
      writer = csv.DictWriter(f, fieldnames=list(rows[0]))
      writer.writeheader()
      writer.writerows(kept)
    os.replace(tmp, path)


def summarise(values: np.ndarray, name: str, kept: np.ndarray | None = None) -> dict[str, Any]:
  """``{name}_per_seed`` (None for a run not kept), and ``{name}_mean`` / ``{name}_std`` over the kept
  runs (None when none is left).

  Args:
    values: ``[S]`` per-run values.
    name: the key prefix, e.g. ``"normalized_score"``.
    kept: ``[S]`` bool, the runs to count (e.g. those the non-finite guard did not stop); default
      the runs whose value is finite.
  """
  values = np.asarray(values, np.float64)
  kept = np.isfinite(values) if kept is None else np.asarray(kept, bool)
  chosen = values[kept]
  return {
      f"{name}_per_seed": [float(x) if ok else None for x, ok in zip(values, kept)],
      f"{name}_mean": float(np.mean(chosen)) if chosen.size else None,
      f"{name}_std": float(np.std(chosen)) if chosen.size else None,
  }
