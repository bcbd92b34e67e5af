"""Does a run's critic overestimate its own policy? For every seed of a finished (or checkpointed)
offline run: roll out the greedy policy for --transitions steps and compare Q(s, π(s)) at each
visited state with the discounted return that followed it, in the units the critic was trained
in (the run's reward scaling, the agent's γ; :func:`rlkit_jax.training.evaluation.value_against_return`,
the measure of the TD3 paper's Fig. 1). Prints Markdown: per seed the episodes' D4RL-normalised
score, mean Q and mean return over the kept states, their gap, and the same at the episodes'
first states.

  python experiments/evidence/value_vs_return.py --run=~/runs/table100k/rebrac/hopper-medium-v5 --dataset_dir=~/datasets
"""
from __future__ import annotations

import json
import os
import sys

import jax
import numpy as np
from absl import flags

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # experiments/
import cli  # noqa: E402
from rlkit_jax.envs.evaluation import normalized_score
from rlkit_jax.offline.job import load_trained
from rlkit_jax.training.evaluation import value_against_return

_RUN = flags.DEFINE_string("run", None, "Folder of a finished (or checkpointed) offline run of an agent with a critic.", required=True)
_DATASET_DIR = flags.DEFINE_string("dataset_dir", None, "Extra folder to look for the run's dataset in.")
_TRANSITIONS = flags.DEFINE_integer("transitions", 3000, "Environment steps per seed.", lower_bound=1)
_SEED = flags.DEFINE_integer("seed", 0, "Seeds the first reset of seed 0's rollout (seed i's: + i).")


def main(argv):
  del argv
  config, agents, dataset = load_trained(_RUN.value, dataset_dir=_DATASET_DIR.value)
  if not (hasattr(agents, "q_values") and hasattr(agents, "discount")):
    raise SystemExit(f"--run={_RUN.value}: a {config.algo} agent has no critic (q_values, discount) to compare; give a run of one that does.")
  if dataset.env_id is None:
    raise SystemExit(f"--run={_RUN.value}: its dataset {config.dataset} names no gymnasium task to roll out in.")
  with open(os.path.join(_RUN.value, "config.json")) as f:
    recorded = json.load(f)
  scale, shift = recorded.get("reward_scale", 1.0), recorded.get("reward_shift", 0.0)
  print(f"{_RUN.value}: {config.algo} on {config.dataset} ({dataset.env_id}), rewards × {scale:g} + {shift:g}, "
        f"{_TRANSITIONS.value} steps per seed\n")
  print(f"| seed | episodes | score | kept states | mean Q(s, π(s)) | mean return that followed | Q − return "
        "| Q at first states | return from first states |")
  print("|---|---|---|---|---|---|---|---|---|")
  for i in range(jax.tree.leaves(agents)[0].shape[0]):
    agent = jax.tree.map(lambda x: x[i], agents)
    out = value_against_return(agent, dataset.env_id, discount=float(agent.discount), num_transitions=_TRANSITIONS.value,
                               seed=_SEED.value + i, reward_scale=scale, reward_shift=shift)
    q, g, kept, first = out["q"], out["returns"], out["kept"], out["episode_starts"] & out["kept"]
    episodes = out["episode_returns"]
    score = normalized_score(episodes, dataset.ref_min_score, dataset.ref_max_score)
    at = lambda x, rows: f"{x[rows].mean():.1f}" if rows.any() else "–"  # noqa: E731
    print(f"| {i} | {len(episodes)} | {at(score, np.ones(len(score), bool))} | {int(kept.sum())} | {at(q, kept)} | {at(g, kept)} | "
          f"{at(q - g, kept)} | {at(q, first)} | {at(g, first)} |")


if __name__ == "__main__":
  cli.run(main)
