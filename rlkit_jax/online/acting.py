"""The online job's acting: S seeds' actions in one jitted call, each seed's env stepping on the host
into its rows of the replay, and the training episodes that end on the way."""
from __future__ import annotations

import dataclasses
import functools
from typing import Any, Callable, Optional, Sequence

import gymnasium as gym
import jax
import jax.numpy as jnp
import numpy as np

from rlkit_jax.distributions import tanh_gaussian_sample
from rlkit_jax.envs.rollout import record_step


@functools.partial(jax.jit, static_argnames=("explore",))
def act(actor: Any, observations: jax.Array, keys: jax.Array, *, explore: bool) -> tuple[jax.Array, jax.Array]:
  """Every seed's exploration action: actors ``[S]``, observations ``[S, O]``, keys ``[S]`` →
  (actions ``[S, A]`` float32 in (-1, 1), next keys ``[S]``); uniform when ``explore``."""

  def one(actor, observation, key):
    key, sample_key = jax.random.split(key)
    means, log_stds = actor.apply_fn({"params": actor.params}, observation[None])
    if explore:
      action = jax.random.uniform(sample_key, means.shape[1:], jnp.float32, -1.0, 1.0)
    else:
      action = tanh_gaussian_sample(sample_key, means, log_stds)[0][0]
    return action, key

  return jax.vmap(one)(actor, observations, keys)


@dataclasses.dataclass
class EpisodeLog:
  """The training episodes of S seeds: each seed's running return, and the returns (and, where the
  task has a success test, the success flags, judged on an episode's last observation) of the
  episodes finished since the last :meth:`take`."""

  running: np.ndarray  # [S] float64
  success_test: Optional[Callable[[np.ndarray], Any]] = None
  finished: list[list[float]] = dataclasses.field(default_factory=list)
  successes: list[list[float]] = dataclasses.field(default_factory=list)

  @classmethod
  def empty(cls, num_seeds: int, success_test: Optional[Callable[[np.ndarray], Any]] = None) -> "EpisodeLog":
    return cls(np.zeros(num_seeds), success_test, [[] for _ in range(num_seeds)], [[] for _ in range(num_seeds)])

  def add(self, seed: int, reward: float, done: bool, last_observation: np.ndarray) -> None:
    self.running[seed] += reward
    if done:
      self.finished[seed].append(float(self.running[seed]))
      if self.success_test is not None:
        self.successes[seed].append(float(self.success_test(last_observation)))
      self.running[seed] = 0.0

  def take(self) -> tuple[list[list[float]], list[list[float]]]:
    """``(finished returns, successes)`` per seed since the last call; starts both lists afresh."""
    taken = (self.finished, self.successes)
    self.finished = [[] for _ in self.finished]
    self.successes = [[] for _ in self.successes]
    return taken


def act_chunk(
    envs: Sequence[gym.Env],
    actor: Any,
    observations: np.ndarray,
    act_keys: jax.Array,
    seed_rows: Sequence[dict[str, np.ndarray]],
    episodes: EpisodeLog,
    *,
    start: int,
    stop: int,
    explore_until: int,
    last_step: int,
) -> jax.Array:
  """Env steps ``[start, stop)`` of every seed: seed i's env acts from ``observations[i]`` (updated
  in place; ``[S, O]`` float) and writes row t of ``seed_rows[i]`` (the replay's rows of that seed).
  Actions are uniform before ``explore_until``, then drawn from the policy; the step ``last_step``
  is cut (a time-out), as the data stops there.

  Returns:
    The next act keys ``[S]``.
  """
  for t in range(start, stop):
    actions, act_keys = act(actor, jnp.asarray(observations, jnp.float32), act_keys, explore=t < explore_until)
    actions = np.asarray(actions)
    for i, env in enumerate(envs):
      observations[i], reward, done = record_step(env, seed_rows[i], t, observations[i], actions[i], cut=t == last_step)
      episodes.add(i, reward, done, seed_rows[i]["next_observations"][t])
  return act_keys
