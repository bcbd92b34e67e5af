"""Builds a score table (markdown) and learning-curve PNGs from finished run folders.

  python experiments/evidence/score_table.py --runs=runs/table --out=docs/score_table

Writes ``<out>.md`` (normalized score, mean ± std over seeds at the final evaluation, best
evaluation in parentheses, one row per dataset), ``<out>_curves.png`` (score curves per dataset)
and ``<out>_q.png`` (mean Q on policy actions, the offline model-selection signal).
"""
import os
import sys

from absl import app, flags

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # experiments/
import cli  # noqa: E402
from rlkit_jax import results
from rlkit_jax.offline import ALGOS

_RUNS = flags.DEFINE_multi_string("runs", ["runs/table"], "Folders searched (recursively) for finished runs.")
_OUT = flags.DEFINE_string("out", "docs/score_table", "Output path prefix.")

ALGO_ORDER = ("bc", "filtered_bc", "awr", "awac", "td3_bc", "cql", "iql", "dqn")


def main(argv):
  del argv
  folders = [d for root in _RUNS.value for d in results.find_runs(root)]
  if not folders:
    raise app.UsageError(f"--runs: no finished run (a folder with summary.json) under {_RUNS.value}")
  curves = [c for d in folders for c in results.load_curves(d)]
  order = [a for a in ALGO_ORDER if a in ALGOS]
  table = results.score_table(curves, algo_order=order)
  os.makedirs(os.path.dirname(os.path.abspath(_OUT.value)), exist_ok=True)
  with open(_OUT.value + ".md", "w") as f:
    f.write(table)
  results.plot_curves(curves, _OUT.value + "_curves.png", algo_order=order)
  with_q = [c for c in curves if "q_policy_actions" in c.columns]
  if with_q:
    results.plot_curves(with_q, _OUT.value + "_q.png", column="q_policy_actions", algo_order=order)
  print(table)
  print(f"{len(folders)} runs, {len(curves)} curves; wrote {_OUT.value}.md, {_OUT.value}_curves.png" + (f", {_OUT.value}_q.png" if with_q else ""))


if __name__ == "__main__":
  cli.run(main)
