"""Creating gymnasium tasks with the action convention the agents use (continuous in [-1, 1], discrete 0..n-1),
and checking task ids before anything is made."""
from __future__ import annotations

import difflib
import importlib

import gymnasium as gym
import numpy as np

from rlkit_jax.errors import UsageError


class UnknownTaskError(UsageError):
  """A task id gymnasium does not know; the message says where the id came from and its close matches."""


def known_env_id(env_id: str) -> bool:
  """True if gymnasium knows ``env_id`` (``module:Task-v0`` imports ``module`` first, as ``gym.make`` does).

  Only the registry is consulted: a known task may still fail to be made (e.g. a missing simulator).
  """
  module, _, name = env_id.rpartition(":")
  if module:
    try:
      importlib.import_module(module)
    except ImportError:
      return False
  if name in gym.registry:
    return True
  try:
    namespace, base, version = gym.envs.registration.parse_env_id(name)
  except gym.error.Error:
    return False
  # A versionless id (``Hopper``) makes the newest registered version.
  return version is None and gym.envs.registration.find_highest_version(namespace, base) is not None


def env_id_suggestions(env_id: str) -> str:
  """``"did you mean 'Hopper-v5', 'Hopper-v4' or 'Hopper-v3'?"``: close matches among gymnasium's ids."""
  close = [repr(c) for c in difflib.get_close_matches(env_id.rpartition(":")[2], list(gym.registry), n=3, cutoff=0.6)]
  if not close:
    return "no registered id is close; gymnasium.pprint_registry() lists them"
  return "did you mean " + (", ".join(close[:-1]) + " or " if len(close) > 1 else "") + close[-1] + "?"


def check_env_id(env_id: str, *, where: str = "env_id") -> None:
  """Refuses a task id gymnasium does not know, before anything is loaded or made.

  Args:
    env_id: e.g. ``"Hopper-v5"``.
    where: what the id is, for the message (``"--env"``, ``"env_id"``, a file's attribute).

  Raises:
    UnknownTaskError: the message reads ``<where>='Hoper-v5': ...`` with close matches and the fix.
  """
  if not known_env_id(env_id):
    raise UnknownTaskError(
        f"{where}={env_id!r}: gymnasium knows no such task ({env_id_suggestions(env_id)}); fix: pass a registered "
        "task id, e.g. 'Hopper-v5' or 'Pendulum-v1'"
    )


def time_limit(env_id: str) -> int | None:
  """The task's registered time limit in steps (``max_episode_steps``: 1000 for Hopper-v5, 600 for
  PointMaze_Medium-v3), or None if it has none or gymnasium does not know ``env_id``."""
  if not known_env_id(env_id):  # also imports ``module`` of ``module:Task-v0``
    return None
  name = env_id.rpartition(":")[2]
  if name not in gym.registry:  # a versionless id: the newest version, as ``gym.make`` picks it
    namespace, base, _ = gym.envs.registration.parse_env_id(name)
    name = gym.envs.registration.get_env_id(namespace, base, gym.envs.registration.find_highest_version(namespace, base))
  return gym.spec(name).max_episode_steps


def make_env(env_id: str, **kwargs) -> gym.Env:
  """``gym.make(env_id)`` with a continuous action space rescaled to [-1, 1] where it is not.

  Agents emit actions in [-1, 1]^A; tasks whose bounds differ get gymnasium's ``RescaleAction``
  wrapper, so datasets and evaluation see the same actions. The MuJoCo locomotion tasks
  (Hopper, HalfCheetah, Walker2d, Ant) are already in [-1, 1] and are returned unwrapped.
  Tasks with a ``Discrete(n)`` action space starting at 0 (CartPole-v1, Acrobot-v1) are returned
  unwrapped: discrete agents emit integer indices in ``[0, n)``.

  Goal tasks (a ``Dict`` observation with ``achieved_goal``, ``desired_goal`` and ``observation``,
  e.g. gymnasium-robotics' ``gymnasium_robotics:PointMaze_UMaze-v3``) get gymnasium's
  ``FlattenObservation``: one float vector ``[achieved_goal (G), desired_goal (G), observation]``
  (the Dict's sorted key order), the layout goal datasets store and
  :class:`rlkit_jax.agents.RvSG` reads.

  Raises:
    ValueError: the task's action space is neither a bounded ``Box`` nor a ``Discrete`` space
      starting at 0.
  """
  env = gym.make(env_id, **kwargs)
  if is_goal_space(env.observation_space):
    env = gym.wrappers.FlattenObservation(env)
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


GOAL_KEYS = ("achieved_goal", "desired_goal", "observation")


def is_goal_space(space: gym.Space) -> bool:
  """True for a goal task's observation space: a ``Dict`` of exactly :data:`GOAL_KEYS`, goals of one width."""
  if not isinstance(space, gym.spaces.Dict) or tuple(sorted(space.spaces)) != GOAL_KEYS:
    return False
  return space["achieved_goal"].shape == space["desired_goal"].shape


def flatten_goal_observations(observations: dict[str, np.ndarray]) -> np.ndarray:
  """Goal-task observations ``{achieved_goal [..., G], desired_goal [..., G], observation [..., S]}``
  as the one array ``[..., 2G + S]`` that :func:`make_env`'s ``FlattenObservation`` gives a step."""
  return np.concatenate([np.asarray(observations[key]) for key in GOAL_KEYS], axis=-1)


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
