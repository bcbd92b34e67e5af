"""Reward preprocessing as the offline-RL papers do it, recorded so runs can report it."""
from __future__ import annotations

import dataclasses

import numpy as np

from rlkit_jax.data.dataset import Dataset, DatasetError

REWARD_SCALINGS = ("none", "iql_locomotion", "iql_antmaze")


def scale_rewards(dataset: Dataset, scaling: str) -> tuple[Dataset, dict[str, float]]:
  """Rescales rewards for training (evaluation always uses the task's own rewards).

  ``"iql_locomotion"``: ``r · 1000 / (max_return - min_return)`` over the dataset's trajectories
  (IQL reference, D4RL locomotion). ``"iql_antmaze"``: ``r - 1``. ``"none"``: unchanged.

  Args:
    dataset: the loaded dataset.
    scaling: one of :data:`REWARD_SCALINGS`.

  Returns:
    ``(dataset with new rewards, {"reward_scale": a, "reward_shift": b})`` with r' = a·r + b.

  Raises:
    DatasetError: unknown scaling, or all trajectories have the same return (range 0).

  References:
    Kostrikov et al., `IQL <https://arxiv.org/abs/2110.06169>`_, 2021, App. B and the reference
    code's ``normalize`` in ``train_offline.py``.
  """
  if scaling == "none":
    scale, shift = 1.0, 0.0
  elif scaling == "iql_locomotion":
    returns = dataset.episode_returns()
    spread = float(returns.max() - returns.min())
    if not spread > 0:
      raise DatasetError(
          f"{dataset.source}: field 'rewards': every trajectory has the same return, so "
          "'iql_locomotion' scaling is undefined; use --reward_scaling=none"
      )
    scale, shift = 1000.0 / spread, 0.0
  elif scaling == "iql_antmaze":
    scale, shift = 1.0, -1.0
  else:
    raise DatasetError(f"unknown reward scaling {scaling!r}; choose from {REWARD_SCALINGS}")
  rewards = (np.asarray(dataset.transitions.rewards, np.float32) * scale + shift).astype(np.float32)
  transitions = dataset.transitions.replace(rewards=rewards)
  return dataclasses.replace(dataset, transitions=transitions), {"reward_scale": scale, "reward_shift": shift}
