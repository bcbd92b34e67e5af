"""How a GAIL setting shapes the reward before any learner reacts to it: one fit of the
``--reward=gail`` discriminator per setting (3 seeds, its first fit's Adam steps) on the same
demonstrations (D+) and the same visited pairs (D−: the first ``--rows`` rows of a dataset, e.g. a
learning SAC's replay), then the reward it gives each side. Prints a Markdown table: accuracy, the
mean reward on D+ and on D− with D−'s 5th–95th percentiles (the range the learner can tell apart),
the absorbing state's reward and the correlation of D−'s reward with the task's own.

  python experiments/evidence/discriminator_range.py --demos=runs/gail_sweep/hopper-expert-v5-10demos.hdf5 \
      --visited=datasets/hopper-medium-replay-v5.hdf5 --rows=50000 \
      --setting=gradient_penalty_form=zero_centred --setting=gradient_penalty_form=zero_centred,gradient_penalty=1 \
      --setting=gradient_penalty=0 --setting=gradient_penalty_form=one_centred
"""
from __future__ import annotations

import os
import sys

import jax
import numpy as np
from absl import flags

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # experiments/
import cli  # noqa: E402
from flag_parsing import parse_scalars  # noqa: E402
from rlkit_jax.data import load
from rlkit_jax.online import OnlineConfig
from rlkit_jax.rewards.base import ReplayView
from rlkit_jax.rewards.gail import make_gail_reward

_DEMOS = flags.DEFINE_string("demos", None, "Demonstrations (D+), as --reward_kwargs=demos= takes them.", required=True)
_VISITED = flags.DEFINE_string("visited", None, "Dataset whose first --rows rows stand for the visited pairs (D−).", required=True)
_ROWS = flags.DEFINE_integer("rows", 50_000, "Rows of --visited used as D−.")
_SETTINGS = flags.DEFINE_multi_string("setting", [""], "A --reward_kwargs setting (name=value,...; empty: the defaults); repeat.")
_NUM_SEEDS = flags.DEFINE_integer("num_seeds", 3, "Discriminators fitted per setting (seeds).")
_SEED = flags.DEFINE_integer("seed", 0, "Seed of the discriminators' keys.")


def main(argv):
  del argv
  visited = load(_VISITED.value)
  t, n, S = visited.transitions, min(_ROWS.value, len(visited)), _NUM_SEEDS.value
  observation_dim, action_dim = t.observations.shape[-1], t.actions.shape[-1]
  every_seed = lambda x: np.broadcast_to(np.asarray(x[:n]), (S, n) + np.shape(x)[1:])  # noqa: E731
  observations, actions, env_rewards = every_seed(t.observations), every_seed(t.actions), np.asarray(t.rewards[:n])
  view = ReplayView(
      observations, actions, every_seed(t.rewards), every_seed(np.asarray(t.terminals) > 0), np.zeros((S, n), bool),
      every_seed(t.next_observations), n,
  )
  print(f"D+: {_DEMOS.value}; D−: the first {n} rows of {visited.source}; {S} discriminators per setting\n")
  print("| setting | accuracy (train batches) | D+ called expert | reward on D+ | reward on D− [p5, p95] | r(absorbing) | corr(D− reward, task reward) |")
  print("|---|---|---|---|---|---|---|")
  for setting in _SETTINGS.value:
    kwargs = parse_scalars([item for item in setting.split(",") if item], flag="--setting", example="gradient_penalty=1")
    config = OnlineConfig(env_id=visited.env_id, reward="gail", reward_kwargs={"demos": _DEMOS.value, **kwargs}, num_seeds=S, num_steps=n)
    fit_key, source_key = jax.random.split(jax.random.key(_SEED.value))
    source = make_gail_reward(config=config, observation_dim=observation_dim, action_dim=action_dim, key=source_key)
    _, metrics = source.update(n, view, fit_key)
    rewards = np.asarray(source.rewards(observations, actions, observations))  # [S, n], without the absorbing bonus
    correlation = np.mean([np.corrcoef(r, env_rewards)[0, 1] for r in rewards])
    p5, p95 = np.percentile(rewards, [5, 95])
    print(
        f"| {setting or 'defaults'} | {metrics['classifier_accuracy'].mean():.3f} | {metrics['positive_accuracy'].mean():.3f} "
        f"| {metrics['positive_reward'].mean():.3f} | {rewards.mean():.3f} [{p5:.3f}, {p95:.3f}] | {source.absorbing_reward().mean():.3f} "
        f"| {correlation:.2f} |",
        flush=True,
    )


if __name__ == "__main__":
  cli.run(main)
