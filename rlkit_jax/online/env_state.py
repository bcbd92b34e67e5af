"""The online job's envs mid-episode, saved beside each checkpoint, so that a resumed run continues
its training episodes where the checkpoint left them and goes on exactly as an uninterrupted run.

The state of one of gymnasium's own MuJoCo tasks (``gymnasium.envs.mujoco``: Hopper, Walker2d,
HalfCheetah, Ant, Reacher, Swimmer, …) is its ``mujoco.MjData`` (positions, velocities, the
solver's warm start and every quantity derived from them; Reacher's target is in its positions),
which ``mujoco`` pickles; with the env's random generator (what ``reset`` draws from) and the time
limit's step count, it is all that the next ``step`` or ``reset`` reads. Other tasks have no
snapshot here, as they may keep episode state outside the simulator (gymnasium-robotics' mazes
keep their goal in the env object): a resumed run restarts their episodes
(:func:`rlkit_jax.online.resume.end_interrupted_episodes`).

Files: ``<workdir>/env_states/<step>.pkl``, one per kept checkpoint step, written after the
checkpoint; they hold the S envs' snapshots, the observations the seeds act on next ``[S, O]`` and
the training-episode log (:class:`rlkit_jax.online.acting.EpisodeLog`). They are pickles of this
library's own making: load only run folders you made.
"""
from __future__ import annotations

import os
import pickle
import warnings
from typing import Any, Iterable, Optional, Sequence

import gymnasium as gym
import numpy as np

from rlkit_jax.online.acting import EpisodeLog

FOLDER = "env_states"


def snapshot(env: gym.Env) -> Optional[dict[str, Any]]:
  """Everything ``env`` reads at its next ``step``/``reset``, or None for a task that is not one of
  gymnasium's MuJoCo tasks."""
  if not type(env.unwrapped).__module__.startswith("gymnasium.envs.mujoco"):
    return None
  try:
    elapsed_steps = env.get_wrapper_attr("_elapsed_steps")  # gymnasium's TimeLimit
  except AttributeError:  # no time limit
    elapsed_steps = None
  return {
      "data": pickle.dumps(env.unwrapped.data),
      "np_random": env.unwrapped.np_random.bit_generator.state,
      "elapsed_steps": elapsed_steps,
  }


def restore(env: gym.Env, saved: dict[str, Any], data: Any) -> None:
  """Puts ``env`` (made and reset once, so its wrappers allow ``step``) in the state ``saved``,
  whose unpickled ``MjData`` is ``data``."""
  import mujoco

  unwrapped = env.unwrapped
  mujoco.mj_copyData(unwrapped.data, unwrapped.model, data)
  unwrapped.np_random.bit_generator.state = saved["np_random"]
  if saved["elapsed_steps"] is not None:
    env.set_wrapper_attr("_elapsed_steps", saved["elapsed_steps"])


def _path(workdir: str, step: int) -> str:
  return os.path.join(workdir, FOLDER, f"{step}.pkl")


def save(
    workdir: str, step: int, envs: Sequence[gym.Env], observations: np.ndarray, episodes: EpisodeLog, keep: Iterable[int]
) -> None:
  """Writes the envs at ``step`` (nothing when one of them has no snapshot) and removes the files
  of steps not in ``keep`` (the checkpoint steps still kept)."""
  snapshots = [snapshot(env) for env in envs]
  if any(s is None for s in snapshots):
    return
  os.makedirs(os.path.join(workdir, FOLDER), exist_ok=True)
  state = {
      "envs": snapshots, "observations": np.array(observations),
      "running": episodes.running.copy(), "finished": episodes.finished, "successes": episodes.successes,
  }
  path = _path(workdir, step)
  with open(path + ".tmp", "wb") as f:
    pickle.dump(state, f)
  os.replace(path + ".tmp", path)  # a kill mid-write leaves the older file whole
  keep = {int(s) for s in keep} | {step}
  for name in os.listdir(os.path.join(workdir, FOLDER)):
    stem = name.split(".")[0]
    if stem.isdigit() and int(stem) not in keep:
      os.remove(os.path.join(workdir, FOLDER, name))


def load(workdir: str, step: int, envs: Sequence[gym.Env], observations: np.ndarray, episodes: EpisodeLog) -> bool:
  """Puts the envs, ``observations`` (``[S, O]``, in place) and ``episodes`` back as they were at
  ``step``. Returns False, changing nothing, when no file for ``step`` exists (a run made before
  env states were saved, a task without snapshots, or a kill between checkpoint and file), or it
  does not fit these envs (another number of them, another model) or cannot be read (a warning
  says why): the caller then restarts the episodes."""
  path = _path(workdir, step)
  if not os.path.exists(path):
    return False
  try:
    with open(path, "rb") as f:
      state = pickle.load(f)
    datas = [pickle.loads(saved["data"]) for saved in state["envs"]]
  except Exception as e:  # a file from another mujoco version, or damaged: resume without it
    warnings.warn(f"{path}: unreadable ({type(e).__name__}: {e}); the envs restart their episodes")
    return False
  fits = len(datas) == len(envs) and all(
      d.qpos.shape == env.unwrapped.data.qpos.shape and d.qvel.shape == env.unwrapped.data.qvel.shape
      for d, env in zip(datas, envs)
  )
  if not fits:
    warnings.warn(f"{path}: saved for other envs; the envs restart their episodes")
    return False
  for env, saved, data in zip(envs, state["envs"], datas):
    restore(env, saved, data)
  observations[:] = state["observations"]
  episodes.running[:] = state["running"]
  episodes.finished, episodes.successes = state["finished"], state["successes"]
  return True
