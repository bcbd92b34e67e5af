"""Creating gymnasium tasks with the action convention the agents use (continuous in [-1, 1], discrete 0..n-1)."""
from __future__ import annotations

import gymnasium as gym
import numpy as np


def make_env(env_id: str, **kwargs) -> gym.Env:
  """``gym.make(env_id)`` with a continuous action space rescaled to [-1, 1] where it is not.

  Agents emit actions in [-1, 1]^A; tasks whose bounds differ get gymnasium's ``RescaleAction``
  wrapper, so datasets and evaluation see the same actions. The MuJoCo locomotion tasks
  (Hopper, HalfCheetah, Walker2d, Ant) are already in [-1, 1] and are returned unwrapped.
  Tasks with a ``Discrete(n)`` action space starting at 0 (CartPole-v1, Acrobot-v1) are returned
  unwrapped: discrete agents emit integer indices in ``[0, n)``.

  Raises:
    ValueError: the task's action space is neither a bounded ``Box`` nor a ``Discrete`` space
      starting at 0.
  """
  env = gym.make(env_id, **kwargs)
  space = env.action_space
  if isinstance(space, gym.spaces.Discrete):
    if int(space.start) != 0:
      env.close()
      raise ValueError(f"{env_id}: discrete agents need actions 0..n-1, got {space} (start {space.start})")
    return env
  if not isinstance(space, gym.spaces.Box) or not (np.all(np.isfinite(space.low)) and np.all(np.isfinite(space.high))):
    env.close()
    raise ValueError(f"{env_id}: agents need a bounded Box or a Discrete action space, got {space}")
  if np.any(space.low != -1.0) or np.any(space.high != 1.0):
    env = gym.wrappers.RescaleAction(env, -1.0, 1.0)
  return env


def is_discrete_env(env_id: str) -> bool:
  """True if ``env_id``'s action space is ``Discrete`` (e.g. CartPole-v1), False for a ``Box``.

  Raises:
    ValueError / gymnasium errors: the task cannot be made (see :func:`make_env`).
  """
  env = make_env(env_id)
  try:
    return isinstance(env.action_space, gym.spaces.Discrete)
  finally:
    env.close()
