"""Creating gymnasium tasks with the action convention the agents use."""
from __future__ import annotations

import gymnasium as gym
import numpy as np


def make_env(env_id: str, **kwargs) -> gym.Env:
  """``gym.make(env_id)`` with a continuous action space rescaled to [-1, 1] where it is not.

  Agents emit actions in [-1, 1]^A; tasks whose bounds differ get gymnasium's ``RescaleAction``
  wrapper, so datasets and evaluation see the same actions. The MuJoCo locomotion tasks
  (Hopper, HalfCheetah, Walker2d, Ant) are already in [-1, 1] and are returned unwrapped.

  Raises:
    ValueError: the task's action space is not a bounded ``Box``.
  """
  env = gym.make(env_id, **kwargs)
  space = env.action_space
  if not isinstance(space, gym.spaces.Box) or not (np.all(np.isfinite(space.low)) and np.all(np.isfinite(space.high))):
    env.close()
    raise ValueError(f"{env_id}: continuous agents need a bounded Box action space, got {space}")
  if np.any(space.low != -1.0) or np.any(space.high != 1.0):
    env = gym.wrappers.RescaleAction(env, -1.0, 1.0)
  return env
