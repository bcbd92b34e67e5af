"""Does a goal-conditioned policy go to the goal it is given, or only pass it by? Evaluates trained
offline runs on a goal task under several time limits and reports the share of episodes that
reach the goal within each (per seed, IQM with rliable's 95% stratified-bootstrap interval),
beside the scripted policies of the maze recipe: the noise-free controller (steers to the goal),
the wandering controller that made a ``--wander`` file (steers to targets of its own), and
uniform random actions.

  python experiments/evidence/goal_reaching.py --runs=~/runs/goal/rvs_g_X,~/runs/goal/bc_X \\
      --dataset_dir=~/datasets --horizons=100,200,300,600 --out=docs/goal_reaching
"""
import json
import os
import sys

import numpy as np
from absl import flags

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # experiments/
import cli  # noqa: E402
from reference.intervals import iqm_interval  # noqa: E402
from rlkit_jax.envs.evaluation import evaluate
from rlkit_jax.generation.maze import waypoint_controller
from rlkit_jax.offline import load_trained
from rlkit_jax.training.evaluation import evaluate_agents

_RUNS = flags.DEFINE_list("runs", None, "Offline run folders trained on one goal task.", required=True)
_HORIZONS = flags.DEFINE_list("horizons", ["100", "200", "300", "600"], "Time limits (env steps) to reach the goal within.")
_EPISODES = flags.DEFINE_integer("episodes", 20, "Episodes per seed (and per scripted policy: 3 × this).")
_DATASET_DIR = flags.DEFINE_string("dataset_dir", None, "Extra folder holding the runs' datasets.")
_OUT = flags.DEFINE_string("out", "docs/goal_reaching", "Output prefix: <out>.md, <out>.json.")
SEED = 20_000  # evaluation episodes none of the runs saw during training


def _scripted(env_id: str, num_envs: int, kind: str):
  """One scripted policy per vector-env copy, stepped together: observations [n, O] -> actions [n, 2]."""
  if kind == "random":
    rng = np.random.default_rng(0)
    return lambda observations: rng.uniform(-1.0, 1.0, (len(observations), 2)).astype(np.float32)
  policies = [waypoint_controller(env_id, action_noise=0.5 if kind == "wandering controller" else 0.0, seed=i,
                                  wander=kind == "wandering controller") for i in range(num_envs)]
  return lambda observations: np.stack([p(o[None]) for p, o in zip(policies, observations)])


def main(argv):
  del argv
  horizons = [int(h) for h in _HORIZONS.value]
  rows, env_id = [], None
  for workdir in _RUNS.value:
    config, agents, dataset = load_trained(os.path.expanduser(workdir), dataset_dir=_DATASET_DIR.value and os.path.expanduser(_DATASET_DIR.value))
    env_id = dataset.env_id
    for horizon in horizons:
      _, successes = evaluate_agents(agents, env_id, episodes_per_seed=_EPISODES.value, seed=SEED, with_success=True,
                                     max_episode_steps=horizon)
      rows.append({"policy": f"{config.algo} ({os.path.basename(config.dataset).removesuffix('.hdf5')}, {config.num_updates} updates)",
                   "horizon": horizon, "per_seed": successes.mean(axis=1).tolist()})
  for kind in ("noise-free controller", "wandering controller", "random"):
    for horizon in horizons:
      n = 3 * _EPISODES.value
      _, successes = evaluate(_scripted(env_id, n, kind), env_id, num_envs=n, seed=SEED, with_success=True, max_episode_steps=horizon)
      rows.append({"policy": kind, "horizon": horizon, "per_seed": successes.reshape(3, -1).mean(axis=1).tolist()})
  lines = [f"Goal reached within the time limit ({env_id}; {_EPISODES.value} episodes per seed, 3 seeds; IQM [95% CI])", "",
           "| policy | " + " | ".join(f"{h} steps" for h in horizons) + " |", "|---|" + "---|" * len(horizons)]
  for policy in dict.fromkeys(r["policy"] for r in rows):
    cells = []
    for row in (r for r in rows if r["policy"] == policy):
      iqm, low, high = iqm_interval(np.asarray(row["per_seed"]))
      row["iqm"], row["ci"] = iqm, [low, high]
      cells.append(f"{row['iqm']:.2f} [{row['ci'][0]:.2f}, {row['ci'][1]:.2f}]")
    lines.append(f"| {policy} | " + " | ".join(cells) + " |")
  table = "\n".join(lines) + "\n"
  os.makedirs(os.path.dirname(_OUT.value) or ".", exist_ok=True)
  with open(_OUT.value + ".md", "w") as f:
    f.write(table)
  with open(_OUT.value + ".json", "w") as f:
    json.dump(rows, f, indent=1)
  print(table)


if __name__ == "__main__":
  cli.run(main)
