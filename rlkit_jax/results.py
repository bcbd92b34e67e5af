"""Reading finished run folders back: learning curves, a paper-style score table and its plots;
:func:`load_metrics` and :func:`plot_online` for online runs (one column against env steps) live in
:mod:`rlkit_jax.online_results` and are re-exported here.

A run folder is what :func:`rlkit_jax.offline.run_offline` (or :func:`rlkit_jax.online.run_online`) writes (``config.json``,
``metrics.csv``, ``summary.json``). Scores are D4RL-normalized (``100 · (return − random) /
(expert − random)`` with the dataset's reference returns); mean ± std are over seeds (population
std, ``ddof=0``), each seed's score being the mean over its evaluation episodes.
"""
from __future__ import annotations

import csv
import dataclasses
import json
import os
from typing import Sequence

import numpy as np

from rlkit_jax.errors import InputError
from rlkit_jax.online_results import load_metrics, metric_grid, plot_online

__all__ = [
    "Curve", "ResultsError", "find_runs", "load_curves", "load_metrics", "metric_grid", "name_rows_by_file", "ordered_algos",
    "plot_curves", "plot_online", "score_table",
]


@dataclasses.dataclass(frozen=True)
class Curve:
  """One algorithm setting on one dataset, across seeds.

  Attributes:
    algo: the ``--algo`` name, with the sweep setting appended when the run swept
      (``"iql[expectile=0.9]"``).
    setting: the swept hyperparameters of this curve (empty without a sweep).
    dataset: the dataset's name.
    steps: evaluation steps ``[T]`` int.
    scores: normalized score per step and seed ``[T, S]`` float64.
    dataset_score: the dataset's own mean normalized score (the behaviour policy's level).
    columns: every other logged metric, name → ``[T, S]`` float64 (e.g. ``q_dataset_actions``).
    workdir: the run folder it came from.
    dataset_digest: the data's :meth:`~rlkit_jax.data.Dataset.digest` (None for runs made
      before runs recorded it).
  """

  algo: str
  setting: dict[str, float]
  dataset: str
  steps: np.ndarray
  scores: np.ndarray
  dataset_score: float
  columns: dict[str, np.ndarray]
  workdir: str
  dataset_digest: str | None = None

  @property
  def final(self) -> tuple[float, float]:
    """Mean and std over seeds at the last evaluation."""
    return float(self.scores[-1].mean()), float(self.scores[-1].std())

  @property
  def best(self) -> tuple[float, float, int]:
    """Mean and std over seeds at the evaluation with the best seed-mean, and that step (an
    optimistic, oracle-selected number: report it next to ``final``, never alone)."""
    index = int(np.argmax(self.scores.mean(axis=1)))
    return float(self.scores[index].mean()), float(self.scores[index].std()), int(self.steps[index])


class ResultsError(InputError):
  """A run folder that cannot be read; the message names the file and the fix."""


def _label(algo: str, setting: dict[str, float]) -> str:
  return f"{algo}[{','.join(f'{k}={v:g}' for k, v in setting.items())}]" if setting else algo


def load_curves(workdir: str) -> list[Curve]:
  """The curves of one run folder, one per sweep setting.

  Raises:
    ResultsError: ``summary.json`` or ``metrics.csv`` missing (an unfinished run: resume it with
      ``--resume``) or malformed.
  """
  summary_path, metrics_path = os.path.join(workdir, "summary.json"), os.path.join(workdir, "metrics.csv")
  for path in (summary_path, metrics_path):
    if not os.path.isfile(path):
      raise ResultsError(f"{path}: missing; the run has not finished — finish it with --resume or remove {workdir}")
  try:
    with open(summary_path) as f:
      summary = json.load(f)
    with open(metrics_path, newline="") as f:
      rows = list(csv.DictReader(f))
    settings = [s["hyperparameters"] for s in summary["settings"]]
    num_seeds = int(summary["num_seeds"])
  except (ValueError, KeyError) as e:
    raise ResultsError(f"{summary_path}: malformed ({type(e).__name__}: {e}); re-run the job to rewrite it") from e
  curves = []
  for index, setting in enumerate(settings):
    mine = [r for r in rows if int(r.get("setting_index", 0)) == index]
    table = {}
    for name in mine[0]:
      if name in ("step", "setting_index", "seed_index") or name in setting:
        continue
      steps, table[name] = metric_grid(mine, name, seeds=range(num_seeds))
    scores = table.pop("normalized_score")
    if np.isnan(scores).any():
      raise ResultsError(f"{metrics_path}: some evaluations lack a seed's row; re-run the job with --resume")
    curves.append(
        Curve(
            algo=_label(summary["algo"], setting),
            setting=dict(setting),
            dataset=summary["dataset"],
            steps=steps,
            scores=scores,
            dataset_score=float(summary["dataset_normalized_score"]),
            columns=table,
            workdir=workdir,
            dataset_digest=summary.get("dataset_digest"),
        )
    )
  return curves


def find_runs(root: str) -> list[str]:
  """Every folder under ``root`` (included) holding a ``summary.json``, sorted."""
  return sorted(d for d, _, files in os.walk(root) if "summary.json" in files)


def name_rows_by_file(curves: Sequence[Curve]) -> list[Curve]:
  """``curves`` with ``dataset`` suffixed ``@<first 8 digits of dataset_digest>`` wherever runs of
  one dataset name trained on different files (e.g. a generated hopper-medium-replay-v5 and the
  shipped one), so each file gets its own table row and plot panel; other curves are unchanged."""
  digests: dict[str, set[str]] = {}
  for c in curves:
    if c.dataset_digest:
      digests.setdefault(c.dataset, set()).add(c.dataset_digest)
  clashing = {name for name, found in digests.items() if len(found) > 1}
  return [
      dataclasses.replace(c, dataset=f"{c.dataset}@{c.dataset_digest[:8]}") if c.dataset in clashing and c.dataset_digest else c
      for c in curves
  ]


def ordered_algos(curves: Sequence[Curve], preferred: Sequence[str]) -> list[str]:
  """Algorithm labels: by ``preferred`` base name, then by the swept values (numerically)."""
  rank = {v: i for i, v in enumerate(preferred)}
  keys = {c.algo: (rank.get(c.algo.split("[")[0], len(rank)), c.algo.split("[")[0], tuple(c.setting.items())) for c in curves}
  return sorted(keys, key=keys.get)


def score_table(curves: Sequence[Curve], *, algo_order: Sequence[str] = ()) -> str:
  """A markdown table: one row per dataset, one column per algorithm; each cell
  ``final ± std`` over seeds with the best evaluation's mean in parentheses; plus the dataset's
  own score. Cells without a run are ``–``.

  Raises:
    ResultsError: runs of one dataset name trained on different data (their ``dataset_digest``
      differ, e.g. a generated file and the shipped one of the same name), which one row would mix.
  """
  algos = ordered_algos(curves, algo_order)
  datasets = sorted({c.dataset for c in curves})
  for dataset in datasets:
    by_digest = {c.dataset_digest: c.workdir for c in curves if c.dataset == dataset and c.dataset_digest}
    if len(by_digest) > 1:
      raise ResultsError(
          f"{dataset}: its runs trained on {len(by_digest)} different files ({', '.join(sorted(by_digest.values()))} "
          "differ in dataset_digest); fix: name_rows_by_file(curves) gives each file its own row"
      )
  by_key = {(c.dataset, c.algo): c for c in curves}
  header = "| dataset | data | " + " | ".join(algos) + " |"
  lines = [header, "|" + "---|" * (len(algos) + 2)]
  for dataset in datasets:
    data_score = next(c.dataset_score for c in curves if c.dataset == dataset)
    cells = []
    for algo in algos:
      curve = by_key.get((dataset, algo))
      if curve is None:
        cells.append("–")
        continue
      (mean, std), (best, _, _) = curve.final, curve.best
      cells.append(f"{mean:.1f} ± {std:.1f} ({best:.1f})")
    lines.append(f"| {dataset} | {data_score:.1f} | " + " | ".join(cells) + " |")
  return "\n".join(lines) + "\n"


def plot_curves(curves: Sequence[Curve], path: str, *, column: str | None = None, algo_order: Sequence[str] = ()) -> str:
  """Learning curves (mean ± std over seeds) in one PNG, one panel per dataset.

  Args:
    curves: from :func:`load_curves`.
    path: the PNG to write.
    column: plot this logged metric instead of the normalized score (e.g. ``"q_policy_actions"``);
      curves without it are left out.
    algo_order: preferred legend order of algorithm names.

  Returns:
    ``path``.
  """
  import matplotlib

  matplotlib.use("Agg")
  import matplotlib.pyplot as plt

  datasets = sorted({c.dataset for c in curves})
  cols = min(3, len(datasets))
  rows = -(-len(datasets) // cols)
  fig, axes = plt.subplots(rows, cols, figsize=(4.5 * cols, 3.3 * rows), squeeze=False)
  algos = ordered_algos(curves, algo_order)
  colors = {algo: plt.get_cmap("tab10")(i % 10) for i, algo in enumerate(algos)}
  for ax, dataset in zip(axes.flat, datasets):
    for algo in algos:
      for curve in (c for c in curves if c.dataset == dataset and c.algo == algo):
        values = curve.scores if column is None else curve.columns.get(column)
        if values is None:
          continue
        mean, std = values.mean(axis=1), values.std(axis=1)
        ax.plot(curve.steps, mean, label=algo, color=colors[algo])
        ax.fill_between(curve.steps, mean - std, mean + std, alpha=0.2, color=colors[algo])
    if column is None:
      data_score = next(c.dataset_score for c in curves if c.dataset == dataset)
      ax.axhline(data_score, color="gray", linestyle="--", linewidth=1, label="data")
    ax.set_title(dataset, fontsize=10)
    ax.set_xlabel("gradient updates")
    ax.set_ylabel("normalized score" if column is None else column)
  for ax in list(axes.flat)[len(datasets):]:
    ax.axis("off")
  legend = {}  # every panel's entries (a panel may lack some algorithms), first occurrence kept
  for ax in axes.flat:
    for handle, label in zip(*ax.get_legend_handles_labels()):
      legend.setdefault(label, handle)
  fig.legend(list(legend.values()), list(legend), loc="lower center", ncol=min(len(legend), 8), fontsize=8)
  fig.tight_layout(rect=(0, 0.06, 1, 1))
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  fig.savefig(path, dpi=110)
  plt.close(fig)
  return path
