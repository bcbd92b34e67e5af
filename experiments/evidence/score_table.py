"""Builds a score table (markdown) and learning-curve PNGs from finished run folders.

  python experiments/evidence/score_table.py --runs=runs/table --out=docs/score_table [--intervals]

Writes ``<out>.md`` (normalized score, mean ± std over seeds at the final evaluation, best
evaluation in parentheses, one row per dataset), ``<out>_curves.png`` (score curves per dataset)
and ``<out>_q.png`` (mean Q on policy actions, the offline model-selection signal).

With ``--intervals`` (the ``[reference]`` extra: rliable) it also writes ``<out>_iqm.md``: each
cell's IQM over seeds with its 95% bootstrap interval, and each algorithm's IQM and mean over
seeds × datasets (stratified bootstrap over every dataset; an algorithm missing a cell is left out
of it and named), with rliable's interval plot ``<out>_aggregate.png`` and performance profiles
``<out>_profiles.png``.

With ``--notes=<file.md>`` the file is appended to ``<out>.md`` below the table, its line
``<!-- intervals -->`` replaced by the ``--intervals`` markdown: notes kept in their own file
survive every rebuild of the table.
"""
import os
import sys

import numpy as np
from absl import app, flags

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # experiments/
import cli  # noqa: E402
from rlkit_jax import results
from rlkit_jax.offline import ALGOS

NOTES_MARKER = "<!-- intervals -->"
_RUNS = flags.DEFINE_multi_string("runs", ["runs/table"], "Folders searched (recursively) for finished runs.")
_OUT = flags.DEFINE_string("out", "docs/score_table", "Output path prefix.")
_INTERVALS = flags.DEFINE_bool("intervals", False, "Add rliable's interval estimates (needs the [reference] extra).")
_NOTES = flags.DEFINE_string("notes", None, f"Markdown appended below the table; its line {NOTES_MARKER} becomes the --intervals tables.")
_REPS = flags.DEFINE_integer("reps", 20_000, "Bootstrap resamples of --intervals.")

ALGO_ORDER = ("bc", "filtered_bc", "awr", "awac", "td3_bc", "cql", "iql", "rebrac", "sac_n", "edac", "rvs", "rvs_g", "dt", "dqn")


def interval_report(curves: list, order: list[str], out: str, reps: int) -> str:
  """The ``--intervals`` outputs (module docstring); returns the markdown written to ``<out>_iqm.md``."""
  from reference import intervals  # noqa: PLC0415 (rliable, the [reference] extra)

  algos = results.ordered_algos(curves, order)
  datasets = sorted({c.dataset for c in curves})
  finals = {(c.dataset, c.algo): c.scores[-1] for c in curves}
  points, bands = intervals.iqm_intervals({f"{d}|{a}": v for (d, a), v in finals.items()}, reps)
  lines = ["| dataset | " + " | ".join(algos) + " |", "|---|" + "---|" * len(algos)]
  for dataset in datasets:
    cells = []
    for algo in algos:
      key = f"{dataset}|{algo}"
      cells.append(f"{points[key][0]:.1f} [{bands[key][0, 0]:.1f}, {bands[key][1, 0]:.1f}]" if key in points else "–")
    lines.append(f"| {dataset} | " + " | ".join(cells) + " |")
  # The aggregate covers every dataset; an algorithm with a missing cell is left out of it (named).
  complete = [a for a in algos if all((d, a) in finals for d in datasets)]
  seeds = {len(finals[(d, a)]) for a in complete for d in datasets}  # a left-out column's seeds do not count
  if complete and len(seeds) == 1:
    scores = {a: np.stack([finals[(d, a)] for d in datasets], axis=1) for a in complete}  # [seeds, datasets]
    agg_points, agg_bands = intervals.aggregate_intervals(scores, reps)
    lines += ["", f"Over {len(datasets)} datasets × {seeds.pop()} seeds ({', '.join(datasets)}):", "",
              "| algorithm | IQM [95% CI] | mean [95% CI] |", "|---|---|---|"]
    for a in complete:
      (iqm, mean), band = agg_points[a], agg_bands[a]
      lines.append(f"| {a} | {iqm:.1f} [{band[0, 0]:.1f}, {band[1, 0]:.1f}] | {mean:.1f} [{band[0, 1]:.1f}, {band[1, 1]:.1f}] |")
    intervals.plot_aggregates(agg_points, agg_bands, out + "_aggregate.png")
    intervals.plot_performance_profiles(scores, out + "_profiles.png", reps=min(reps, 2000))
    if len(complete) < len(algos):
      lines += ["", "Not in the aggregate (a dataset has no cell): " + ", ".join(a for a in algos if a not in complete) + "."]
  else:
    lines += ["", "No aggregate: no algorithm has a cell on every dataset, or those algorithms' runs differ in their number of seeds."]
  table = "\n".join(lines) + "\n"
  with open(out + "_iqm.md", "w") as f:
    f.write(table)
  return table


def read_notes(path: str | None, with_intervals: bool) -> str:
  """The ``--notes`` file's text ('' without one); raises app.UsageError before anything is written."""
  if path is None:
    return ""
  if not os.path.isfile(path):
    raise app.UsageError(f"--notes={path}: no such file (give the markdown to append below the table)")
  with open(path) as f:
    notes = f.read()
  if NOTES_MARKER in notes and not with_intervals:
    raise app.UsageError(f"--notes={path}: has the line {NOTES_MARKER} but --intervals is off; add --intervals or remove the line")
  return notes


def main(argv):
  del argv
  notes = read_notes(_NOTES.value, _INTERVALS.value)
  folders = [d for root in _RUNS.value for d in results.find_runs(os.path.expanduser(root))]
  if not folders:
    raise app.UsageError(f"--runs: no finished run (a folder with summary.json) under {_RUNS.value}")
  curves = results.name_rows_by_file([c for d in folders for c in results.load_curves(d)])
  order = [a for a in ALGO_ORDER if a in ALGOS]
  table = results.score_table(curves, algo_order=order)
  os.makedirs(os.path.dirname(os.path.abspath(_OUT.value)), exist_ok=True)
  results.plot_curves(curves, _OUT.value + "_curves.png", algo_order=order)
  with_q = [c for c in curves if "q_policy_actions" in c.columns]
  if with_q:
    results.plot_curves(with_q, _OUT.value + "_q.png", column="q_policy_actions", algo_order=order)
  print(table)
  if _INTERVALS.value:
    report = interval_report(curves, order, _OUT.value, _REPS.value)
    print(report)
    notes = notes.replace(NOTES_MARKER, report.rstrip("\n"))
  with open(_OUT.value + ".md", "w") as f:
    f.write(table + ("\n" + notes if notes else ""))
  print(f"{len(folders)} runs, {len(curves)} curves; wrote {_OUT.value}.md, {_OUT.value}_curves.png" + (f", {_OUT.value}_q.png" if with_q else ""))


if __name__ == "__main__":
  cli.run(main)
