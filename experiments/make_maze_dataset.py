"""Makes a goal dataset on a gymnasium-robotics PointMaze task with D4RL's maze2d recipe
(shortest-path waypoints and a PD controller, with action noise), for goal-conditioned RvS:

  python experiments/make_maze_dataset.py --env=gymnasium_robotics:PointMaze_Medium-v3 \
      --num_transitions=200000 --out=~/datasets/pointmaze-medium-v3.hdf5
  python experiments/train_offline.py --algo=rvs_g --dataset=~/datasets/pointmaze-medium-v3.hdf5

Observations are ``[achieved_goal, desired_goal, observation]`` (the file's ``goal_dim`` attribute
is the goals' width); the file records its command, seed and the random and noise-free
controller's returns as ``ref_min_score`` and ``ref_max_score`` (the normalised score's ends).
"""
from __future__ import annotations

import os
import sys

from absl import app, flags

import cli
from rlkit_jax.data import write_d4rl_hdf5
from rlkit_jax.generation.maze import make_maze_dataset

_ENV = flags.DEFINE_string("env", "gymnasium_robotics:PointMaze_UMaze-v3", "A PointMaze task, module:Task-v3 form.")
cli.task_flag("env")
_NUM_TRANSITIONS = flags.DEFINE_integer("num_transitions", 100_000, "Rows of the dataset.", lower_bound=1)
_SEED = flags.DEFINE_integer("seed", 0, "Seeds resets and action noise.")
_ACTION_NOISE = flags.DEFINE_float("action_noise", 0.5, "Standard deviation of the controller's action noise.", lower_bound=0.0)
_WANDER = flags.DEFINE_bool(
    "wander", False, "Steer to targets of the controller's own, drawn again on arrival (D4RL's maze2d data), not to the task's goal."
)
_OUT = flags.DEFINE_string("out", None, "Output .hdf5 (default runs/<task>.hdf5).")


def main(argv):
  del argv
  if "PointMaze" not in _ENV.value:
    raise app.UsageError(f"--env={_ENV.value}: the maze recipe needs a PointMaze task, e.g. gymnasium_robotics:PointMaze_UMaze-v3")
  arrays, attrs = make_maze_dataset(
      _ENV.value, num_transitions=_NUM_TRANSITIONS.value, seed=_SEED.value, action_noise=_ACTION_NOISE.value, wander=_WANDER.value,
      progress=True,
  )
  out = os.path.expanduser(_OUT.value or f"runs/{_ENV.value.rpartition(':')[2].lower()}.hdf5")
  write_d4rl_hdf5(out, arrays, {**attrs, "command": "python " + " ".join(sys.argv)})
  print(
      f"{_ENV.value}: {len(arrays['rewards'])} rows, {attrs['num_episodes']} episodes, return {attrs['episode_return_mean']:.1f} "
      f"(random {attrs['ref_min_score']:.1f}, noise-free controller {attrs['ref_max_score']:.1f}) -> {out}"
  )


if __name__ == "__main__":
  cli.run(main)
