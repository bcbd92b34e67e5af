"""Checks of a dataset against the agent an offline run trains on it, each a one-line ``UsageError``
that names the file, the setting and the fix (called by :func:`rlkit_jax.offline.prepare_dataset`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from rlkit_jax import data as data_lib
from rlkit_jax.errors import UsageError

if TYPE_CHECKING:
  from rlkit_jax.offline.config import OfflineConfig


def check_goal_layout(config: OfflineConfig, dataset: data_lib.Dataset) -> None:
  """Refuses a file for a goal-conditioned ``config.algo`` unless its ``goal_dim`` attribute (written
  by goal-dataset generation, :mod:`rlkit_jax.generation.maze`) equals the agent's ``goal_dim``."""
  wanted = int(config.hyperparameters()["goal_dim"])
  stored = dataset.attrs.get("goal_dim")
  if stored is None:
    raise UsageError(
        f"--algo={config.algo} needs a goal dataset, but {dataset.source} has no 'goal_dim' attribute (observations "
        "[achieved_goal, desired_goal, state]); fix: make one with experiments/make_maze_dataset.py, or pick another --algo"
    )
  if int(stored) != wanted:
    raise UsageError(
        f"{dataset.source}: attribute 'goal_dim' is {stored} but --algo={config.algo} has goal_dim={wanted}; "
        f"fix: --hparams=goal_dim={stored}"
    )


def check_horizon(config: OfflineConfig, dataset: data_lib.Dataset) -> None:
  """Refuses a file whose longest trajectory is longer than a return-conditioned agent's horizon H
  (every setting of a sweep), on a dataset with ``transitions.timesteps`` filled.

  H is the window RvS divides the return to go by (ω = R̂ / (H − t): a step at t ≥ H would divide
  by zero or flip ω's sign) and the size of the Decision Transformer's timestep table (a step at
  t ≥ H would be clipped to the last entry). The offline job sets H to the task's time limit
  (:func:`rlkit_jax.offline.with_task_horizon`), so this fires on data recorded without that limit.
  """
  base = int(config.hyperparameters()["horizon"])
  horizon = min(int(setting.get("horizon", base)) for setting in config.settings)
  longest = int(np.max(dataset.transitions.timesteps)) + 1
  if longest > horizon:
    raise UsageError(
        f"{dataset.source} has a trajectory of {longest} steps, longer than --algo={config.algo}'s horizon H = "
        f"{horizon}; fix: --hparams=horizon={longest} (or split the file's trajectories at the task's time limit)"
    )
