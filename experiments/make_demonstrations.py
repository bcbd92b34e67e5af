"""Cuts N demonstrations (the first N trajectories) from a dataset into their own D4RL-layout file,
for imitation: ``train_online.py --reward=gail`` and behaviour cloning on the same demonstrations.

  python experiments/make_demonstrations.py --dataset=hopper-expert-v5 --num_demos=10 \
      --out=runs/gail/hopper-expert-10demos.hdf5
  python experiments/train_online.py --env=Hopper-v5 --reward=gail \
      --reward_kwargs=demos=runs/gail/hopper-expert-10demos.hdf5
  python experiments/train_offline.py --algo=bc --dataset=runs/gail/hopper-expert-10demos.hdf5

The file keeps the source's task and records where it came from (``source``, ``source_command``)
and the demonstrator's returns (``episode_returns``, ``episode_return_mean``).
"""
from __future__ import annotations

import sys

import numpy as np
from absl import app, flags

import cli
from rlkit_jax.data import DatasetError, load, take_episodes, write_d4rl_hdf5

_DATASET = flags.DEFINE_string("dataset", "hopper-expert-v5", "Source dataset: a generated/D4RL name or an HDF5 path.")
_DATASET_DIR = flags.DEFINE_string("dataset_dir", None, "Extra folder holding generated datasets.")
_ENV_ID = cli.define_env_id()
_NUM_DEMOS = flags.DEFINE_integer("num_demos", 10, "Trajectories to keep (the source's first N).")
_OUT = flags.DEFINE_string("out", None, "Output .hdf5 (default runs/gail/<dataset>-<N>demos.hdf5).")


def main(argv):
  del argv
  source = load(_DATASET.value, dataset_dir=_DATASET_DIR.value, env_id=_ENV_ID.value)
  try:
    demos = take_episodes(source, _NUM_DEMOS.value)
  except DatasetError as e:
    raise app.UsageError(f"--num_demos={_NUM_DEMOS.value}: {e}") from None
  t = demos.transitions
  terminals = np.asarray(t.terminals) > 0
  returns = demos.episode_returns()
  out = _OUT.value or f"runs/gail/{source.name}-{_NUM_DEMOS.value}demos.hdf5"
  arrays = {
      "observations": np.asarray(t.observations), "actions": np.asarray(t.actions), "rewards": np.asarray(t.rewards),
      "terminals": terminals, "timeouts": np.asarray(demos.episode_ends) & ~terminals,
      "next_observations": np.asarray(t.next_observations),
  }
  attrs = {
      "env_id": demos.env_id, "source": source.source, "source_command": str(source.attrs.get("command", "")),
      "command": "python " + " ".join(sys.argv), "num_episodes": len(returns), "episode_returns": [float(r) for r in returns],
      "episode_return_mean": float(np.mean(returns)), "episode_return_std": float(np.std(returns)),
  }
  write_d4rl_hdf5(out, arrays, attrs)
  print(
      f"{demos.env_id}: {len(returns)} demonstrations, {len(t)} transitions, {int(terminals.sum())} terminations, return "
      f"{np.mean(returns):.1f} ± {np.std(returns):.1f} -> {out}"
  )


if __name__ == "__main__":
  cli.run(main)
