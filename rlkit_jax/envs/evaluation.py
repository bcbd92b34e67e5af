"""Policy evaluation on real gymnasium tasks, vectorised over seeds × episodes."""
from __future__ import annotations

from typing import Callable

import gymnasium as gym
import numpy as np

from rlkit_jax.envs.make import make_env


def evaluate(
    act_fn: Callable[[np.ndarray], np.ndarray],
    env_id: str,
    *,
    num_envs: int,
    seed: int,
    max_episode_steps: int | None = None,
) -> np.ndarray:
  """Runs one episode in each of ``num_envs`` copies of ``env_id`` and returns their returns.

  The copies step together in a ``gymnasium.vector.SyncVectorEnv``; an episode's return stops
  accumulating at its first termination or truncation. Copy ``i`` is reset with seed
  ``seed + i``, so the same seed gives the same episodes.

  Args:
    act_fn: maps observations ``[num_envs, O]`` (float32) to actions ``[num_envs, A]``; e.g. a
      jitted, vmapped ``agent.eval_actions`` reshaped over ``[S, K]``. For a ``Discrete(n)`` task
      the actions are integer indices ``[num_envs]`` (``[num_envs, 1]`` is accepted too). If it
      has an ``observe(rewards [num_envs])`` method, that is called after every step with the
      rewards just received (a return-conditioned policy decrements its prompt with them).
    env_id: a registered gymnasium id, e.g. ``"Hopper-v5"``.
    num_envs: episodes to run (seeds × episodes per seed).
    seed: base seed of the environments.
    max_episode_steps: override the task's time limit (None keeps it).

  Returns:
    Undiscounted returns, shape ``[num_envs]``, float64, in the task's reward units.
  """
  kwargs = {} if max_episode_steps is None else {"max_episode_steps": max_episode_steps}
  envs = gym.vector.SyncVectorEnv([lambda: make_env(env_id, **kwargs) for _ in range(num_envs)])
  discrete = isinstance(envs.single_action_space, gym.spaces.Discrete)
  try:
    observations, _ = envs.reset(seed=seed)
    observe = getattr(act_fn, "observe", None)  # a policy conditioned on the rewards it has received
    returns = np.zeros(num_envs)
    done = np.zeros(num_envs, dtype=bool)
    while not done.all():
      actions = np.asarray(act_fn(observations.astype(np.float32)))
      if discrete:
        if not np.issubdtype(actions.dtype, np.integer):
          raise ValueError(f"{env_id}: a Discrete task needs integer actions, act_fn returned {actions.dtype}")
        actions = actions.reshape(num_envs).astype(np.int64)
      observations, rewards, terminated, truncated, _ = envs.step(actions)
      if observe is not None:
        observe(np.asarray(rewards, np.float64))
      returns += np.where(done, 0.0, rewards)
      done |= terminated | truncated
    return returns
  finally:
    envs.close()


def normalized_score(returns: np.ndarray, ref_min_score: float, ref_max_score: float) -> np.ndarray:
  """D4RL normalized score ``100 · (R - R_random) / (R_expert - R_random)``.

  Args:
    returns: undiscounted episode returns, any shape.
    ref_min_score, ref_max_score: the random and expert reference returns of the task.

  Returns:
    Same shape as ``returns``; 0 = random policy, 100 = expert.

  References:
    Fu et al., `D4RL <https://arxiv.org/abs/2004.07219>`_, 2020, Sec. 5.
  """
  return 100.0 * (np.asarray(returns) - ref_min_score) / (ref_max_score - ref_min_score)
