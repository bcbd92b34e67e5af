"""Goal-classifier results (``train_online.py --reward=classifier``, frozen or in the loop, against
SAC on the task's reward): the success rate of training episodes over the last evaluations, and
where those episodes ended on the task's success measure (read from each run's replay); prints a
Markdown table and writes the success-rate PNG.

  python experiments/evidence/goal_classifier_table.py --png=docs/goal_classifier_Reacher-v5.png \
      --runs=runs/vice/Reacher-v5/frozen,runs/vice/Reacher-v5/loop,runs/vice/Reacher-v5/true
"""
from __future__ import annotations

import json
import os
import sys

import numpy as np
from absl import app, flags, logging

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # experiments/
import cli  # noqa: E402
from rlkit_jax.online import load_replay
from rlkit_jax.results import load_metrics, plot_online
from rlkit_jax.rewards.success_tests import SUCCESS_MEASURES

_RUNS = flags.DEFINE_list("runs", [], "Online run folders of one task (train_online.py --workdir).")
_LAST = flags.DEFINE_integer("last", 4, "Evaluations averaged: the training episodes that ended in the last that many.")
_PNG = flags.DEFINE_string("png", None, "Success rate against env steps, every run in one PNG.")


def condition(config: dict) -> str:
  """The comparison's name for a run: (a) frozen classifier, (b) the loop, (c) SAC on another reward."""
  if config["reward"] == "classifier":
    kwargs = config.get("reward_kwargs", {})
    name = "(a) classifier, frozen" if kwargs.get("frozen") else "(b) classifier + visited negatives"
    return name + (f" (features {kwargs['features']})" if "features" in kwargs else "")
  return f"(c) task reward ({config['reward']})"


def main(argv):
  del argv
  if not flags.FLAGS["verbosity"].present:
    logging.set_verbosity(logging.WARNING)  # orbax logs every checkpoint read at INFO; -v 0 brings it back
  if not _RUNS.value or _LAST.value < 1:
    raise app.UsageError("give --runs=DIR[,DIR...] and --last ≥ 1")
  configs = []
  for workdir in _RUNS.value:
    try:
      with open(os.path.join(workdir, "config.json")) as f:
        configs.append(json.load(f))
    except FileNotFoundError:
      raise app.UsageError(f"{workdir}: no config.json; is it a train_online.py --workdir?") from None
  env_ids = sorted({c["env_id"] for c in configs})
  if len(env_ids) != 1 or env_ids[0] not in SUCCESS_MEASURES:
    raise app.UsageError(f"--runs must all be of one task with a success test ({', '.join(SUCCESS_MEASURES)}); got {env_ids}")
  measure_name, measure = SUCCESS_MEASURES[env_ids[0]]
  print(f"| condition | env steps | train success (mean ± std over seeds) | per seed | {measure_name} at episode end: median [25%, 75%] |")
  print("|---|---|---|---|---|")
  for workdir, config in zip(_RUNS.value, configs):
    steps, success = load_metrics(workdir, "train_success")
    last = min(_LAST.value, len(steps))
    since = int(steps[-last - 1]) if len(steps) > last else 0
    per_seed = np.nanmean(success[-last:], axis=0)
    replay = load_replay(workdir)
    ends = replay.episode_ends
    ends[:, :since] = False
    values = measure(replay.next_observations[ends])
    quartiles = np.percentile(values, [50, 25, 75]) if len(values) else np.full(3, np.nan)
    print(
        f"| {condition(config)} | {since}–{int(steps[-1])} | {per_seed.mean():.3f} ± {per_seed.std():.3f} | "
        f"{', '.join(f'{x:.2f}' for x in per_seed)} | {quartiles[0]:.3g} [{quartiles[1]:.3g}, {quartiles[2]:.3g}] "
        f"({len(values)} episodes) |"
    )
  if _PNG.value:
    print("wrote", plot_online(_RUNS.value, _PNG.value, column="train_success", labels=[condition(c) for c in configs]))


if __name__ == "__main__":
  cli.run(main)
