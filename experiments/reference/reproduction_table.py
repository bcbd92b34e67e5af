r"""The reproduction report: every cell of ``reproduce.py`` runs, ours next to each reference.

    python experiments/reference/reproduction_table.py --runs=~/runs/reproduce --out=docs/reproduction

For each cell (a ``reproduce.py`` workdir) and side: per-seed final scores, mean, IQM with a 95%
stratified-bootstrap interval (rliable), training wall time, and a verdict per reference: *agree*
when the two intervals overlap, *differ* otherwise, judged at the last step both sides have logged
(a cell still running says at which step). Writes ``<out>.md`` (the table, meant to be
pasted into ``docs/reproduction.md``), ``<out>_curves.png`` (learning curves, seed mean and range)
and ``<out>_iqm.png`` (rliable's interval-estimate plot of every cell and side). Needs the
``[reference]`` extra (rliable, matplotlib).
"""
from __future__ import annotations

import csv
import glob
import json
import os
import sys

import numpy as np
from absl import flags

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # experiments/
import cli  # noqa: E402
from reference.intervals import iqm_intervals  # noqa: E402
from rlkit_jax.errors import UsageError
from rlkit_jax.results import metric_grid

_RUNS = flags.DEFINE_string("runs", "runs/reproduce", "Folder holding reproduce.py workdirs.")
_OUT = flags.DEFINE_string("out", "docs/reproduction", "Output path prefix (.md, _curves.png, _iqm.png).")
_REPS = flags.DEFINE_integer("reps", 50_000, "Bootstrap resamples.")
_STEP_NAME = flags.DEFINE_string("step_name", "updates", "What a step is (the column and x-axis name): updates, env steps.")

SIDES = ("ours", "ours_lecun", "d3rlpy", "jax_corl", "sbx", "sbx_chunked", "sbx_ours_init")
OUR_JOBS = ("ours", "ours_lecun")  # one program for every seed, timed by its summary.json


def read_side(cell: str, side: str) -> dict | None:
  """Steps ``[T]``, scores ``[T, S]`` and training seconds of one side of one cell, or None if absent."""
  paths = sorted(glob.glob(os.path.join(cell, side, "metrics.csv")) + glob.glob(os.path.join(cell, side, "seed*", "metrics.csv")))
  rows, seconds = [], 0.0
  for path in paths:  # one file per program: seeds in one program share its time, programs add up
    with open(path, newline="") as f:
      file_rows = list(csv.DictReader(f))
    rows += file_rows
    if side not in OUR_JOBS and file_rows:
      seconds += max(float(r["train_s"]) for r in file_rows)
  if not rows:
    return None
  steps, scores = metric_grid(rows, "normalized_score")
  complete = ~np.isnan(scores).any(axis=1)  # a reference seed still running leaves later steps open
  summary = os.path.join(cell, side, "summary.json")
  if side in OUR_JOBS:  # no summary yet: the run is still going, its time is not known
    seconds = float("nan")
    if os.path.exists(summary):
      with open(summary) as f:
        seconds = json.load(f)["wall_time_s"]
  return {"steps": steps[complete], "scores": scores[complete], "seconds": seconds, "seeds": scores.shape[1]}


def main(argv):
  del argv
  root = os.path.expanduser(_RUNS.value)
  cells = sorted(d for d in glob.glob(os.path.join(root, "*")) if os.path.isdir(os.path.join(d, "ours")))
  if not cells:
    raise UsageError(f"--runs={root}: no reproduce.py workdir (a folder with ours/) there; fix: point --runs at reproduce.py's --workdir parent")
  lines = [
      f"| cell | side | {_STEP_NAME.value} | per-seed final | mean ± std | IQM [95% CI] | train time | verdict |",
      "|---|---|---|---|---|---|---|---|",
  ]
  all_points, all_intervals, curves = {}, {}, []
  for cell in cells:
    name = os.path.basename(cell)
    sides = {side: data for side in SIDES if (data := read_side(cell, side)) is not None}
    finals = {side: d["scores"][-1] for side, d in sides.items() if len(d["steps"])}
    points, intervals = iqm_intervals(finals, _REPS.value)
    for side, d in sides.items():
      if side not in finals:
        continue
      low, high = intervals[side][:, 0]
      verdict = "" if side == "ours" or "ours" not in finals else _verdict(sides["ours"], d)
      train_time = f"{d['seconds'] / 60:.0f} min" if np.isfinite(d["seconds"]) else "running"
      lines.append(
          f"| {name} | {side} | {d['steps'][-1]:,} | {', '.join(f'{x:.1f}' for x in finals[side])} | "
          f"{finals[side].mean():.1f} ± {finals[side].std():.1f} | {points[side][0]:.1f} [{low:.1f}, {high:.1f}] | "
          f"{train_time} | {verdict} |"
      )
      all_points[f"{name} · {side}"], all_intervals[f"{name} · {side}"] = points[side], intervals[side]
    curves.append((name, sides))
  os.makedirs(os.path.dirname(_OUT.value) or ".", exist_ok=True)
  with open(_OUT.value + ".md", "w") as f:
    f.write("\n".join(lines) + "\n")
  _plot(curves, all_points, all_intervals)
  print("\n".join(lines))
  print(f"wrote {_OUT.value}.md, {_OUT.value}_curves.png, {_OUT.value}_iqm.png")


def _verdict(ours: dict, reference: dict) -> str:
  """*agree* when the IQM intervals of the two sides overlap, *differ* otherwise, judged at the last
  step both have logged for every seed; while a side is still short of the other's last step (or
  of its seed count) the verdict names that step and says the cell is running."""
  common = np.intersect1d(ours["steps"], reference["steps"])
  if not len(common):
    return "pending (no common step yet)"
  at = {name: d["scores"][list(d["steps"]).index(common[-1])] for name, d in (("ours", ours), ("ref", reference))}
  _, intervals = iqm_intervals(at, _REPS.value)
  (ours_low, ours_high), (low, high) = intervals["ours"][:, 0], intervals["ref"][:, 0]
  verdict = "agree" if low <= ours_high and ours_low <= high else "**differ**"
  final = max(ours["steps"][-1], reference["steps"][-1])
  if common[-1] < final or reference["seeds"] < ours["seeds"]:
    verdict += f" at {common[-1]:,} (running: {reference['seeds']} of {ours['seeds']} seeds)"
  return verdict


def _plot(curves, points, intervals) -> None:
  import matplotlib  # noqa: PLC0415

  matplotlib.use("Agg")
  import matplotlib.pyplot as plt  # noqa: PLC0415
  from rliable import plot_utils  # noqa: PLC0415

  fig, axes = plt.subplots(1, len(curves), figsize=(4.2 * len(curves), 3.2), squeeze=False)
  for ax, (name, sides) in zip(axes[0], curves):
    for side, d in sides.items():
      if len(d["steps"]):
        ax.plot(d["steps"], d["scores"].mean(axis=1), label=side)
        ax.fill_between(d["steps"], d["scores"].min(axis=1), d["scores"].max(axis=1), alpha=0.2)
    ax.set(title=name, xlabel=_STEP_NAME.value, ylabel="normalized score")
    ax.legend(fontsize=8)
  fig.tight_layout()
  fig.savefig(_OUT.value + "_curves.png", dpi=110)
  plt.close(fig)
  names = list(points)
  fig, _ = plot_utils.plot_interval_estimates(
      {n: points[n] for n in names}, {n: intervals[n] for n in names}, metric_names=["IQM"], algorithms=names,
      xlabel="normalized score", subfigure_width=5.0, row_height=0.45, xlabel_y_coordinate=-0.3,
  )
  fig.savefig(_OUT.value + "_iqm.png", dpi=110, bbox_inches="tight")
  plt.close(fig)


if __name__ == "__main__":
  cli.run(main)
