"""Table and learning curves of offline preference-based RL (experiments/evidence/preference_offline_runs.sh).

  python experiments/evidence/preference_table.py --runs=runs/pref --out=docs/preference_offline

For each ``<task>-mr`` folder under --runs: BC and IQL on the true reward, IQL on rewards learned
from 100 / 500 / 2000 oracle pairs (``iql_q<N>``, with the reward model in ``reward_q<N>``). Writes
``<out>.md`` (normalized score, final mean ± std over seeds, best in parentheses; learned-reward
IQL as a share of true-reward IQL; the reward models' held-out accuracy and correlations) and
``<out>_curves.png``.
"""
import dataclasses
import json
import os
import sys
import re

from absl import app, flags

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # experiments/
import cli  # noqa: E402
from rlkit_jax import results

_RUNS = flags.DEFINE_string("runs", "runs/pref", "Folder with one <task>-mr subfolder per dataset.")
_OUT = flags.DEFINE_string("out", "docs/preference_offline", "Output path prefix.")


def _label(name: str) -> str | None:
  if name == "bc_true":
    return "bc"
  if name == "iql_true":
    return "iql (true reward)"
  match = re.fullmatch(r"iql_q(\d+)", name)
  return f"iql (learned, {match.group(1)} pairs)" if match else None


def main(argv):
  del argv
  if not os.path.isdir(_RUNS.value):
    raise app.UsageError(f"--runs={_RUNS.value}: no such folder; give the folder experiments/evidence/preference_offline_runs.sh wrote")
  curves, reward_rows, share_rows = [], [], []
  for task in sorted(os.listdir(_RUNS.value)):
    folder = os.path.join(_RUNS.value, task)
    if not os.path.isdir(folder):
      continue
    runs = {}
    for name in sorted(os.listdir(folder)):
      label = _label(name)
      if label and os.path.isfile(os.path.join(folder, name, "summary.json")):
        (curve,) = results.load_curves(os.path.join(folder, name))
        runs[name] = dataclasses.replace(curve, algo=label)
    curves += runs.values()
    true_mean = runs["iql_true"].final[0] if "iql_true" in runs else None
    for name in sorted(runs, key=lambda n: int(n[5:]) if n.startswith("iql_q") else -1):
      if not name.startswith("iql_q"):
        continue
      queries = name[5:]
      with open(os.path.join(folder, f"reward_q{queries}", "metrics.json")) as f:
        m = json.load(f)
      reward_rows.append(
          f"| {runs[name].dataset} | {queries} | {m['heldout_accuracy']:.3f} | {m['pearson_step']:.3f} | "
          f"{m['spearman_step']:.3f} | {m['pearson_episode']:.3f} |"
      )
      if true_mean:
        share_rows.append(f"| {runs[name].dataset} | {queries} | {runs[name].final[0]:.1f} | {true_mean:.1f} | {100 * runs[name].final[0] / true_mean:.0f}% |")
  if not curves:
    raise app.UsageError(f"--runs={_RUNS.value}: no finished run in its <task>-mr subfolders")
  order = ["bc", "iql (true reward)"] + sorted({c.algo for c in curves if "learned" in c.algo}, key=lambda a: int(re.findall(r"\d+", a)[0]))
  text = "\n".join([
      results.score_table(curves, algo_order=order), "",
      "| dataset | oracle pairs | learned-reward IQL | true-reward IQL | share |", "|---|---|---|---|---|", *share_rows, "",
      "| dataset | oracle pairs | held-out accuracy | Pearson (step) | Spearman (step) | Pearson (episode return) |",
      "|---|---|---|---|---|---|", *reward_rows, "",
  ])
  os.makedirs(os.path.dirname(os.path.abspath(_OUT.value)), exist_ok=True)
  with open(_OUT.value + ".md", "w") as f:
    f.write(text)
  results.plot_curves(curves, _OUT.value + "_curves.png", algo_order=order)
  print(text)
  print(f"wrote {_OUT.value}.md and {_OUT.value}_curves.png")


if __name__ == "__main__":
  cli.run(main)
