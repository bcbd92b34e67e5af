"""Online run folders read back: one logged column against env steps (:func:`load_metrics`) and
several runs' curves in one PNG (:func:`plot_online`); :func:`metric_grid` turns ``metrics.csv``
rows into a steps × seeds grid for every reader of run folders. A run folder is what
:func:`rlkit_jax.online.run_online` writes (``config.json``, ``metrics.csv``, ``summary.json``);
mean ± std are over seeds (population std, ``ddof=0``)."""
from __future__ import annotations

import csv
import json
import os
from typing import Mapping, Optional, Sequence

import numpy as np


def metric_grid(
    rows: Sequence[Mapping[str, str]], column: str, seeds: Optional[Sequence[int]] = None
) -> tuple[np.ndarray, np.ndarray]:
  """One column of ``metrics.csv`` rows (one row per evaluation step and seed) as
  ``(steps [T] int, values [T, S] float64)``, NaN where a (step, seed) has no row.

  Args:
    rows: the rows as :class:`csv.DictReader` gives them (``step``, ``seed_index``, the column).
    column: the logged column to read.
    seeds: the seed indices that make the ``S`` columns, in order; default every ``seed_index``
      present, sorted.

  Raises:
    KeyError: a row's ``seed_index`` is not in ``seeds``.
  """
  steps = sorted({int(r["step"]) for r in rows})
  if seeds is None:
    seeds = sorted({int(r["seed_index"]) for r in rows})
  step_at, seed_at = {s: i for i, s in enumerate(steps)}, {s: i for i, s in enumerate(seeds)}
  values = np.full((len(steps), len(seeds)), np.nan)
  for r in rows:
    values[step_at[int(r["step"])], seed_at[int(r["seed_index"])]] = float(r[column])
  return np.asarray(steps), values


def load_metrics(workdir: str, column: str = "return") -> tuple[np.ndarray, np.ndarray]:
  """One logged column of a run folder's ``metrics.csv`` as ``(steps [T] int, values [T, S] float64)``.

  Raises:
    FileNotFoundError: no ``metrics.csv`` (the run never reached an evaluation).
    KeyError: the file has no such column (the message lists the columns).
  """
  path = os.path.join(workdir, "metrics.csv")
  with open(path, newline="") as f:
    rows = list(csv.DictReader(f))
  if rows and column not in rows[0]:
    raise KeyError(f"{path}: no column {column!r}; columns: {', '.join(rows[0])}")
  return metric_grid(rows, column)


def plot_online(
    workdirs: Sequence[str],
    path: str,
    *,
    column: str = "return",
    labels: Optional[Sequence[str]] = None,
    title: Optional[str] = None,
    levels: Optional[Mapping[str, float]] = None,
) -> str:
  """Learning curves of several online run folders in one PNG: ``column`` (default the evaluation
  return on the task's own reward) against env steps, mean ± std over seeds (population std).

  Args:
    workdirs: run folders written by :func:`rlkit_jax.online.run_online` (e.g. SAC on a learned reward and SAC on
      the true reward).
    path: the PNG to write.
    column: a ``metrics.csv`` column (``return``, ``normalized_score``, ``train_return``, ...).
    labels: legend entries, one per folder; default ``"SAC, <reward> reward"`` from its
      ``config.json`` (with the folder name appended when two would be equal).
    title: default the env ids.
    levels: label → value of reference levels drawn as dashed horizontal lines (e.g. the
      demonstrator's return and behaviour cloning's, for imitation runs).

  Returns:
    ``path``.
  """
  import matplotlib

  matplotlib.use("Agg")
  import matplotlib.pyplot as plt

  configs = []
  for workdir in workdirs:
    with open(os.path.join(workdir, "config.json")) as f:
      configs.append(json.load(f))
  if labels is None:
    labels = [f"SAC, {c.get('reward_source', c.get('reward'))} reward" for c in configs]
    if len(set(labels)) < len(labels):
      labels = [f"{label} ({os.path.basename(os.path.normpath(w))})" for label, w in zip(labels, workdirs)]
  fig, ax = plt.subplots(figsize=(5.5, 3.8))
  for workdir, label, c in zip(workdirs, labels, configs):
    steps, values = load_metrics(workdir, column)
    mean, std = np.nanmean(values, axis=1), np.nanstd(values, axis=1)
    line = ax.plot(steps, mean, label=f"{label} (n={values.shape[1]})")[0]
    ax.fill_between(steps, mean - std, mean + std, alpha=0.2, color=line.get_color())
  for i, (label, value) in enumerate((levels or {}).items()):
    ax.axhline(value, linestyle=("--", ":", "-.")[i % 3], color="0.3", linewidth=1, label=label)
  ax.set_xlabel("environment steps (per seed)")
  ax.set_ylabel({"return": "evaluation return (task reward)"}.get(column, column))
  ax.set_title(title or ", ".join(sorted({c["env_id"] for c in configs})), fontsize=10)
  ax.legend(fontsize=8)
  fig.tight_layout()
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  fig.savefig(path, dpi=110)
  plt.close(fig)
  return path
