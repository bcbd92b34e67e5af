"""Does a return-conditioned policy follow its prompt? Evaluates trained RvS / Decision Transformer
runs under several target returns and writes the achieved returns (per seed, IQM with a 95%
stratified-bootstrap interval from rliable) as a markdown table and a PNG curve.

  python experiments/evidence/prompt_curve.py --runs=~/runs/cond/rvs_hme,~/runs/cond/dt_hme \\
      --targets=0,500,1000,1500,2000,2500,3000,3600 --dataset_dir=~/datasets --out=docs/prompt_curve
"""
import json
import os
import sys

import jax.numpy as jnp
import numpy as np
from absl import flags

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # experiments/
import cli  # noqa: E402
from reference.intervals import iqm_interval  # noqa: E402
from rlkit_jax.offline import load_trained
from rlkit_jax.training.evaluation import evaluate_agents

_RUNS = flags.DEFINE_list("runs", None, "Offline run folders of return-conditioned agents (rvs, dt).", required=True)
_TARGETS = flags.DEFINE_list("targets", ["0", "1000", "2000", "3000"], "Target returns R̂_0 (task units).")
_EPISODES = flags.DEFINE_integer("episodes", 5, "Episodes per seed and target.")
_DATASET_DIR = flags.DEFINE_string("dataset_dir", None, "Extra folder holding the runs' datasets.")
_OUT = flags.DEFINE_string("out", "docs/prompt_curve", "Output prefix: <out>.md, <out>.png, <out>.json.")


def main(argv):
  del argv
  targets = [float(t) for t in _TARGETS.value]
  results = {}
  for workdir in _RUNS.value:
    workdir = os.path.expanduser(workdir)
    dataset_dir = os.path.expanduser(_DATASET_DIR.value) if _DATASET_DIR.value else None
    config, agents, dataset = load_trained(workdir, dataset_dir=dataset_dir)
    num_runs = len(np.asarray(agents.target_return))
    data_returns = dataset.episode_returns()
    rows = []
    for target in targets:
      prompted = agents.replace(target_return=jnp.full(num_runs, target, jnp.float32))
      returns = evaluate_agents(prompted, dataset.env_id, episodes_per_seed=_EPISODES.value, seed=10_000)
      per_seed = returns.mean(axis=1)
      iqm, low, high = iqm_interval(per_seed)
      rows.append({"target": target, "per_seed": per_seed.tolist(), "iqm": iqm, "ci": [low, high]})
      print(f"{config.algo} {config.dataset} target {target:.0f}: {np.round(per_seed)} IQM {iqm:.0f} [{low:.0f}, {high:.0f}]")
    results[workdir] = {
        "algo": config.algo, "dataset": config.dataset, "num_updates": config.num_updates,
        "dataset_return_min": float(data_returns.min()), "dataset_return_max": float(data_returns.max()), "rows": rows,
    }
  os.makedirs(os.path.dirname(_OUT.value) or ".", exist_ok=True)
  with open(_OUT.value + ".json", "w") as f:
    json.dump(results, f, indent=1)
  lines = ["| run | target return | achieved (per seed) | IQM [95% CI] |", "|---|---|---|---|"]
  for run in results.values():
    label = f"{run['algo']} on {run['dataset']} ({run['num_updates']:,} updates)"
    for row in run["rows"]:
      seeds = ", ".join(f"{r:.0f}" for r in row["per_seed"])
      lines.append(f"| {label} | {row['target']:.0f} | {seeds} | {row['iqm']:.0f} [{row['ci'][0]:.0f}, {row['ci'][1]:.0f}] |")
  with open(_OUT.value + ".md", "w") as f:
    f.write("\n".join(lines) + "\n")
  import matplotlib

  matplotlib.use("Agg")
  import matplotlib.pyplot as plt

  fig, ax = plt.subplots(figsize=(6, 4))
  for run in results.values():
    t = [r["target"] for r in run["rows"]]
    ax.plot(t, [r["iqm"] for r in run["rows"]], marker="o", label=f"{run['algo']} ({run['dataset']})")
    ax.fill_between(t, [r["ci"][0] for r in run["rows"]], [r["ci"][1] for r in run["rows"]], alpha=0.2)
  lim = max(targets)
  ax.plot([0, lim], [0, lim], "k--", lw=0.8, label="achieved = target")
  first = next(iter(results.values()))
  ax.axhspan(first["dataset_return_min"], first["dataset_return_max"], color="grey", alpha=0.1, label="dataset returns")
  ax.set_xlabel("target return (prompt)")
  ax.set_ylabel("achieved return (IQM over seeds)")
  ax.legend(fontsize=7)
  fig.tight_layout()
  fig.savefig(_OUT.value + ".png", dpi=120)
  print(f"wrote {_OUT.value}.md, .png, .json")


if __name__ == "__main__":
  cli.run(main)
