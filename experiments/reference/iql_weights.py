"""IQL's advantage weights over a trained run's whole dataset, per seed: how far they spread, how
many are clipped, their effective sample size, and the share of weight on the last rows.

    python experiments/reference/iql_weights.py --run=~/runs/reproduce/iql_walker2d-medium-replay-v5/ours \
        --dataset_dir=~/datasets --tail_rows=30000

For seed i: A = min over critics of the target Q(s, a) − V(s), w = min(exp(β·A), max_weight) on
every row; ESS = (Σw)² / Σw² as a share of the rows.
"""
import os
import sys

import jax
import jax.numpy as jnp
import numpy as np
from absl import flags

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # experiments/
import cli  # noqa: E402
from rlkit_jax.offline import load_trained  # noqa: E402

_RUN = flags.DEFINE_string("run", None, "An IQL run folder (train_offline.py or reproduce.py's ours/).", required=True)
_DATASET_DIR = flags.DEFINE_string("dataset_dir", None, "Extra folder holding the run's dataset.")
_TAIL_ROWS = flags.DEFINE_integer("tail_rows", 30_000, "How many of the last rows to report the weight share of.")


def main(argv):
  del argv
  dataset_dir = os.path.expanduser(_DATASET_DIR.value) if _DATASET_DIR.value else None
  _, agents, dataset = load_trained(os.path.expanduser(_RUN.value), dataset_dir=dataset_dir)
  t = dataset.transitions
  observations, actions = jnp.asarray(t.observations), jnp.asarray(t.actions)
  n = observations.shape[0]
  for i in range(np.asarray(agents.temperature).shape[0]):
    agent = jax.tree.map(lambda x: x[i], agents)
    q = jnp.min(agent.critic.apply_fn({"params": agent.target_critic_params}, observations, actions), axis=0)
    v = agent.value.apply_fn({"params": agent.value.params}, observations)
    advantages = np.asarray(q - v)
    weights = np.minimum(np.exp(float(agent.temperature) * advantages), float(agent.max_weight))
    ess = weights.sum() ** 2 / (weights ** 2).sum() / n
    tail = weights[-_TAIL_ROWS.value:].sum() / weights.sum()
    print(f"seed {i}: A mean {advantages.mean():.3f} std {advantages.std():.3f}; clipped {np.mean(weights >= float(agent.max_weight)):.1%}; "
          f"ESS {ess:.3f} of the rows; weight on the last {_TAIL_ROWS.value} rows {tail:.2f} (their share {_TAIL_ROWS.value / n:.2f})")


if __name__ == "__main__":
  cli.run(main)
