"""Policy evaluation on real gymnasium tasks, vectorised over seeds × episodes."""
from __future__ import annotations

from typing import Callable

import gymnasium as gym
import numpy as np

from rlkit_jax.envs.make import make_env


SUCCESS_KEYS = ("success", "is_success")  # step-info keys of goal tasks (gymnasium-robotics)


def evaluate(
    act_fn: Callable[[np.ndarray], np.ndarray],
    env_id: str,
    *,
    num_envs: int,
    seed: int,
    max_episode_steps: int | None = None,
    with_success: bool = False,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
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
    with_success: also report whether each episode succeeded.

  Returns:
    Undiscounted returns, shape ``[num_envs]``, float64, in the task's reward units; with
    ``with_success``, ``(returns, successes)``: successes ``[num_envs]`` float64, 1.0 where the
    task's step info reported success (``info["success"]`` as PointMaze and AntMaze do, or
    ``info["is_success"]`` as the Fetch tasks do) at any step of the episode, else 0.0; all NaN
    for a task that never reports it (the locomotion tasks).
  """
  kwargs = {} if max_episode_steps is None else {"max_episode_steps": max_episode_steps}
  envs = gym.vector.SyncVectorEnv([lambda: make_env(env_id, **kwargs) for _ in range(num_envs)])
  discrete = isinstance(envs.single_action_space, gym.spaces.Discrete)
  try:
    observations, _ = envs.reset(seed=seed)
    observe = getattr(act_fn, "observe", None)  # a policy conditioned on the rewards it has received
    returns = np.zeros(num_envs)
    done = np.zeros(num_envs, dtype=bool)
    succeeded, reports_success = np.zeros(num_envs, dtype=bool), False
    while not done.all():
      actions = np.asarray(act_fn(observations.astype(np.float32)))
      if discrete:
        if not np.issubdtype(actions.dtype, np.integer):
          raise ValueError(f"{env_id}: a Discrete task needs integer actions, act_fn returned {actions.dtype}")
        actions = actions.reshape(num_envs).astype(np.int64)
      observations, rewards, terminated, truncated, infos = envs.step(actions)
      if observe is not None:
        observe(np.asarray(rewards, np.float64))
      returns += np.where(done, 0.0, rewards)
      for key in SUCCESS_KEYS:  # vector infos: the values, and under "_<key>" which copies set them
        if key in infos:
          reports_success = True
          succeeded |= ~done & np.asarray(infos[key], bool) & np.asarray(infos.get(f"_{key}", True), bool)
      done |= terminated | truncated
    if not with_success:
      return returns
    return returns, (succeeded.astype(np.float64) if reports_success else np.full(num_envs, np.nan))
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
