"""Stepping gymnasium tasks into D4RL-layout arrays: the rows a dataset or a replay buffer holds.

``observations``, ``actions``, ``rewards``, ``terminals`` (a true termination), ``timeouts`` (the
episode was cut: time limit, or the data stops) and ``next_observations`` (the true successor,
also at an episode end), leading axis = steps. The online job, dataset generation and the
rollouts of trained policies all write rows through :func:`record_step`.
"""
from __future__ import annotations

from typing import Any, Callable

import gymnasium as gym
import jax
import numpy as np
import tqdm

from rlkit_jax.envs.make import make_env


def empty_arrays(num_transitions: int, env: gym.Env) -> dict[str, np.ndarray]:
  """Zeroed D4RL-layout arrays for ``env``'s spaces, leading axis N = ``num_transitions``.

  ``observations`` and ``next_observations`` float32 ``[N, O]``; ``actions`` float32 ``[N, A]`` for a
  ``Box`` action space, int64 indices ``[N]`` for a ``Discrete`` one; ``rewards`` float32 ``[N]``;
  ``terminals`` and ``timeouts`` bool ``[N]``.
  """
  observation_dim = env.observation_space.shape[0]
  if isinstance(env.action_space, gym.spaces.Discrete):
    actions = np.zeros((num_transitions,), np.int64)
  else:
    actions = np.zeros((num_transitions, env.action_space.shape[0]), np.float32)
  return {
      "observations": np.zeros((num_transitions, observation_dim), np.float32),
      "actions": actions,
      "rewards": np.zeros((num_transitions,), np.float32),
      "terminals": np.zeros((num_transitions,), bool),
      "timeouts": np.zeros((num_transitions,), bool),
      "next_observations": np.zeros((num_transitions, observation_dim), np.float32),
  }


def record_step(
    env: gym.Env, arrays: dict[str, np.ndarray], t: int, observation: np.ndarray, action: Any, *, cut: bool = False
) -> tuple[np.ndarray, float, bool]:
  """Takes ``action`` in ``env`` from ``observation``, writes the transition into row ``t`` of
  ``arrays`` (:func:`empty_arrays` layout) and resets ``env`` when the episode ends.

  ``timeouts[t]`` is set when the step is not terminal and either the time limit truncated the
  episode or ``cut`` (the data stops at this step).

  Returns:
    ``(observation, reward, done)``: the observation to act on next (the reset one after an
    episode end), the step's reward, and whether the episode ended (terminated or truncated).
  """
  next_observation, reward, terminated, truncated, _ = env.step(action)
  arrays["observations"][t], arrays["actions"][t] = observation, action
  arrays["rewards"][t], arrays["next_observations"][t] = reward, next_observation
  arrays["terminals"][t] = terminated
  arrays["timeouts"][t] = (truncated or cut) and not terminated
  done = terminated or truncated
  if done:
    next_observation, _ = env.reset()
  return next_observation, reward, done


def rollout(
    env_id: str, policy: Callable[[np.ndarray], Any], *, num_transitions: int, seed: int, progress: bool
) -> tuple[dict[str, np.ndarray], np.ndarray]:
  """Rolls out ``policy`` for exactly ``num_transitions`` steps in D4RL's layout (the loop behind
  :func:`collect` and :func:`rlkit_jax.generation.dqn.collect`).

  Episodes run to termination or the task's time limit; the last one is cut at
  ``num_transitions`` and marked as a time-out.

  Args:
    env_id: gymnasium id.
    policy: ``observation [1, O] float32 -> action`` (float32 ``[A]``, or an integer index for a
      ``Discrete`` task), called once per step, in order; it keeps its own random key.
    num_transitions: N.
    seed: seeds the environment's first reset.
    progress: show a tqdm bar.

  Returns:
    ``(arrays, episode_returns)``: :func:`empty_arrays`' keys with leading axis N, and the
    returns ``[E]`` of the E complete episodes.
  """
  env = make_env(env_id)
  arrays = empty_arrays(num_transitions, env)
  returns, episode_return = [], 0.0
  observation, _ = env.reset(seed=seed)
  for t in tqdm.trange(num_transitions, desc=f"collect {env_id}", disable=not progress, mininterval=5):
    action = policy(observation[None].astype(np.float32))
    observation, reward, done = record_step(env, arrays, t, observation, action, cut=t == num_transitions - 1)
    episode_return += reward
    if done:
      returns.append(episode_return)
      episode_return = 0.0
  env.close()
  return arrays, np.asarray(returns)


def collect(
    env_id: str,
    act_fn: Callable[[np.ndarray, jax.Array], np.ndarray],
    *,
    num_transitions: int,
    seed: int,
    progress: bool = False,
) -> tuple[dict[str, np.ndarray], np.ndarray]:
  """Rolls out ``act_fn`` for exactly ``num_transitions`` steps in D4RL's layout.

  Episodes run to termination or the task's time limit; the last one is cut at
  ``num_transitions`` and marked as a time-out.

  Args:
    env_id: gymnasium id.
    act_fn: ``(observation [1, O], key) -> action [1, A]``.
    num_transitions: N.
    seed: seeds the environment and the action sampling.
    progress: show a tqdm bar.

  Returns:
    ``(arrays, episode_returns)``: the D4RL keys with leading axis N, and the returns of the
    complete episodes.
  """
  key = jax.random.key(seed)

  def policy(observation: np.ndarray) -> np.ndarray:
    nonlocal key
    key, act_key = jax.random.split(key)
    return np.asarray(act_fn(observation, act_key)[0])

  return rollout(env_id, policy, num_transitions=num_transitions, seed=seed, progress=progress)
