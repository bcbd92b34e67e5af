"""Success examples for goal-classifier rewards (VICE): states of the tasks of
:mod:`rlkit_jax.rewards.success_tests` judged successful outside the agent, unsuccessful
random-policy states, and the ``.npz`` file that holds them.

File format (:func:`save_examples` / :func:`load_examples`), an ``.npz`` with:

- ``positives``: D+, ``[P, O]`` float32, P ≥ 1 (required);
- ``negatives``: D−, ``[N, O]`` float32 (optional; N may be 0);
- ``env_id``: the gymnasium id the states belong to (0-d string, required);
- ``format``: ``"rlkit_jax.success_examples/1"``;
- ``metadata``: JSON text (recipe, seed, thresholds; informational).
"""
from __future__ import annotations

import json
import os
from typing import Any, Optional

import gymnasium as gym
import numpy as np

from rlkit_jax.envs.make import make_env
from rlkit_jax.rewards.success_tests import (
    PUSHER_SUCCESS_DISTANCE,
    REACHER_SUCCESS_DISTANCE,
    SUCCESS_TASKS,
    SUCCESS_TESTS,
    SWIMMER_SUCCESS_ANGLE,
    ExamplesError,
)

FORMAT = "rlkit_jax.success_examples/1"
STATES_PER_EPISODE = 10  # random-policy states kept per episode (spreads them over many goals/starts)


# --------------------------------------------------------------------------------------------------
# Making examples.


def _random_policy_states(env: gym.Env, count: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
  """``count`` states visited by the uniformly random policy (actions U[-1, 1]^A, as the online
  driver's ``start_steps``), ``STATES_PER_EPISODE`` drawn uniformly from the s_1..s_T of each episode.

  Returns:
    ``(observations [count, O] float32, qpos [count, nq], qvel [count, nv])``.
  """
  sim = env.unwrapped
  observations, qpos, qvel = [], [], []
  while len(observations) < count:
    env.reset(seed=int(rng.integers(2**31)))
    episode = []
    done = False
    while not done:
      action = rng.uniform(-1.0, 1.0, env.action_space.shape).astype(np.float32)
      observation, _, terminated, truncated, _ = env.step(action)
      episode.append((np.asarray(observation, np.float32), sim.data.qpos.copy(), sim.data.qvel.copy()))
      done = terminated or truncated
    for t in rng.choice(len(episode), min(len(episode), STATES_PER_EPISODE), replace=False):
      if len(observations) < count:
        o, p, v = episode[t]
        observations.append(o)
        qpos.append(p)
        qvel.append(v)
  dim = env.observation_space.shape[0]
  if not observations:
    return np.zeros((0, dim), np.float32), np.zeros((0, sim.model.nq)), np.zeros((0, sim.model.nv))
  return np.stack(observations), np.stack(qpos), np.stack(qvel)


def _disc(rng: np.random.Generator, radius: float) -> np.ndarray:
  """A point uniform in the disc of ``radius`` around 0, ``[2]``."""
  r, phi = radius * np.sqrt(rng.uniform()), rng.uniform(0.0, 2 * np.pi)
  return np.asarray([r * np.cos(phi), r * np.sin(phi)])


def _reacher_positives(env: gym.Env, count: int, rng: np.random.Generator) -> np.ndarray:
  """Reacher-v5 success states: target from the task's goal distribution (uniform in the disc of
  radius 0.2, ``ReacherEnv.reset_model``), fingertip placed uniformly within half the success
  distance of it by the two-link arm's inverse kinematics (either elbow), arm at rest (joint
  velocities U[−0.005, 0.005], the task's reset noise)."""
  sim = env.unwrapped
  env.reset(seed=int(rng.integers(2**31)))
  model = sim.model
  upper = float(model.body("body1").pos[0])  # 0.1: shoulder → elbow
  fore = float(model.body("fingertip").pos[0])  # 0.11: elbow → fingertip
  elbow_limit = float(np.min(np.abs(model.jnt_range[model.joint("joint1").id])))  # 3.0 rad
  out = np.zeros((count, env.observation_space.shape[0]), np.float32)
  for n in range(count):
    while True:
      goal = rng.uniform(-0.2, 0.2, 2)
      if np.linalg.norm(goal) >= 0.2:
        continue
      tip = goal + _disc(rng, 0.5 * REACHER_SUCCESS_DISTANCE)
      cos_elbow = (tip @ tip - upper**2 - fore**2) / (2 * upper * fore)
      if abs(cos_elbow) > 1:
        continue
      elbow = rng.choice([-1.0, 1.0]) * np.arccos(cos_elbow)
      if abs(elbow) <= elbow_limit:
        break
    shoulder = np.arctan2(tip[1], tip[0]) - np.arctan2(fore * np.sin(elbow), upper + fore * np.cos(elbow))
    shoulder = (shoulder + np.pi) % (2 * np.pi) - np.pi
    qpos = np.asarray([shoulder, elbow, goal[0], goal[1]])
    qvel = np.concatenate([rng.uniform(-0.005, 0.005, 2), np.zeros(2)])
    sim.set_state(qpos, qvel)
    out[n] = sim._get_obs()
  return out


def _pusher_positives(env: gym.Env, count: int, rng: np.random.Generator) -> np.ndarray:
  """Pusher-v5 success states: random-policy states (arm configuration and velocities as the
  random policy leaves them; the arm does not enter the success test) with the object moved to
  rest uniformly within half the success distance of the goal's centre."""
  sim = env.unwrapped
  _, qpos, qvel = _random_policy_states(env, count, rng)
  out = np.zeros((count, env.observation_space.shape[0]), np.float32)
  for n in range(count):
    p, v = qpos[n].copy(), qvel[n].copy()
    # The object's (slide-y, slide-x) joints and the goal's share the same rest position in the
    # plane (pusher.xml), so equal joint values put the centres together.
    p[-4:-2] = p[-2:] + _disc(rng, 0.5 * PUSHER_SUCCESS_DISTANCE)
    v[-4:-2] = 0.0
    sim.set_state(p, v)
    out[n] = sim._get_obs()
  return out


def _swimmer_positives(env: gym.Env, count: int, rng: np.random.Generator) -> np.ndarray:
  """Swimmer-v5 success states: random-policy states (joint angles and velocities as the random
  policy leaves them) turned, as a rigid body, to a heading uniform within half the success angle
  of reversed, ±π with either sign (the heading is not wrapped, so both ways round count); the
  planar velocity (ẋ, ẏ) turns with the body."""
  sim = env.unwrapped
  _, qpos, qvel = _random_policy_states(env, count, rng)
  out = np.zeros((count, env.observation_space.shape[0]), np.float32)
  for n in range(count):
    p, v = qpos[n].copy(), qvel[n].copy()
    heading = rng.choice([-np.pi, np.pi]) + rng.uniform(-0.5, 0.5) * SWIMMER_SUCCESS_ANGLE
    turn = heading - p[2]  # qpos = [x, y, heading, θ1, θ2], qvel = [ẋ, ẏ, θ̇0, θ̇1, θ̇2] (swimmer.xml)
    p[2] = heading
    v[:2] = np.asarray([[np.cos(turn), -np.sin(turn)], [np.sin(turn), np.cos(turn)]]) @ v[:2]
    sim.set_state(p, v)
    out[n] = sim._get_obs()
  return out


_POSITIVES = {"Reacher-v5": _reacher_positives, "Pusher-v5": _pusher_positives, "Swimmer-v5": _swimmer_positives}


def make_success_examples(env_id: str, *, num_positives: int, num_negatives: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
  """Success examples D+ and random-policy states D− for ``env_id``.

  Positives are built by setting the simulator's state (recipes in ``_reacher_positives``,
  ``_pusher_positives``, ``_swimmer_positives``) and reading the task's own observation; every one is checked with the
  task's success test. Negatives are states the uniformly random policy visits (most are failures,
  not all: see the success test on them).

  Args:
    env_id: one of :data:`SUCCESS_TASKS`.
    num_positives: P ≥ 1.
    num_negatives: N ≥ 0.
    seed: seeds every reset and action (same seed → same arrays).

  Returns:
    ``(positives [P, O], negatives [N, O])`` float32.

  Raises:
    ValueError: an unsupported task or a non-positive P.
  """
  if env_id not in _POSITIVES:
    raise ValueError(f"make_success_examples: no recipe for {env_id!r}; tasks with one: {', '.join(SUCCESS_TASKS)}")
  if num_positives < 1 or num_negatives < 0:
    raise ValueError(f"make_success_examples: need num_positives ≥ 1 and num_negatives ≥ 0, got {num_positives}, {num_negatives}")
  positive_rng, negative_rng = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(2))
  env = make_env(env_id)
  try:
    positives = _POSITIVES[env_id](env, num_positives, positive_rng)
    negatives = _random_policy_states(env, num_negatives, negative_rng)[0]
  finally:
    env.close()
  succeeded = SUCCESS_TESTS[env_id](positives)
  if not succeeded.all():  # the recipe and the success test disagree: a bug, not bad luck
    raise RuntimeError(f"make_success_examples({env_id}): {int((~succeeded).sum())} of {num_positives} positives fail the success test")
  return positives, negatives


# --------------------------------------------------------------------------------------------------
# The file.


def save_examples(
    path: str, positives: np.ndarray, negatives: Optional[np.ndarray] = None, *, env_id: str,
    metadata: Optional[dict[str, Any]] = None,
) -> str:
  """Writes success examples to ``path`` (an ``.npz``, format in the module docstring); atomic.

  Args:
    path: the file (parent folders created); written exactly there, whatever its suffix.
    positives: D+ ``[P, O]``, P ≥ 1.
    negatives: D− ``[N, O]`` or None (stored as ``[0, O]``).
    env_id: the task the states belong to.
    metadata: JSON-serialisable provenance.

  Returns:
    ``path``.

  Raises:
    ExamplesError: empty or malformed positives, or negatives of another width.
  """
  positives = np.asarray(positives, np.float32)
  negatives = np.zeros((0,) + positives.shape[1:], np.float32) if negatives is None else np.asarray(negatives, np.float32)
  if positives.ndim != 2 or len(positives) == 0:
    raise ExamplesError(f"{path}: field 'positives' must be a non-empty [P, O] array, got shape {list(positives.shape)}")
  if negatives.ndim != 2 or negatives.shape[1] != positives.shape[1]:
    raise ExamplesError(f"{path}: field 'negatives' has shape {list(negatives.shape)}; expected [N, {positives.shape[1]}] like 'positives'")
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  tmp = path + ".tmp"
  with open(tmp, "wb") as f:
    np.savez(
        f, positives=positives, negatives=negatives, env_id=np.asarray(env_id), format=np.asarray(FORMAT),
        metadata=np.asarray(json.dumps(metadata or {})),
    )
  os.replace(tmp, path)
  return path


def check_examples(name: str, array: Optional[np.ndarray], observation_dim: int, *, allow_empty: bool) -> np.ndarray:
  """Success (or failure) examples as float32 ``[N, O]`` (``[0, O]`` for None).

  Raises:
    ValueError: another shape, no rows where ``allow_empty`` is False, or non-finite values (the
      message names the examples ``name``).
  """
  if array is None:
    return np.zeros((0, observation_dim), np.float32)
  array = np.asarray(array, np.float32)
  if array.ndim != 2 or array.shape[1] != observation_dim:
    raise ValueError(
        f"ClassifierReward: {name} has shape {list(array.shape)}, expected [N, {observation_dim}] states of this task's "
        "observation space; make examples for this task with experiments/make_success_examples.py"
    )
  if not allow_empty and len(array) == 0:
    raise ValueError(f"ClassifierReward: {name} is empty; the classifier needs at least one success example (D+)")
  if not np.all(np.isfinite(array)):
    raise ValueError(f"ClassifierReward: {name} holds non-finite values")
  return array


def load_examples(path: str, *, env_id: Optional[str] = None, observation_dim: Optional[int] = None) -> tuple[np.ndarray, np.ndarray]:
  """Reads a success-examples file, checking it fits the task.

  Args:
    path: the ``.npz`` written by :func:`save_examples`.
    env_id: the task being trained; a file made for another task is refused.
    observation_dim: the task's observation size O; examples of another width are refused.

  Returns:
    ``(positives [P, O], negatives [N, O])`` float32 (N = 0 when the file has none).

  Raises:
    ExamplesError: a missing or unreadable file, no or empty ``positives``, a missing or different
      ``env_id``, examples that are not real numbers (strings, complex, booleans) or whose width
      is not ``observation_dim``, or non-finite values — naming the file, the field and the fix.
  """
  remake = f"make them with: python experiments/make_success_examples.py --env={env_id or 'ENV'} --out={path}"
  if not os.path.isfile(path):
    raise ExamplesError(f"{path}: no such success-examples file; {remake}")
  try:
    with np.load(path, allow_pickle=False) as data:
      fields = {name: data[name] for name in data.files}
  except Exception as e:  # zipfile/ValueError/OSError: not an npz
    raise ExamplesError(f"{path}: not a readable .npz of success examples ({type(e).__name__}: {e}); {remake}") from e
  if "positives" not in fields:
    raise ExamplesError(f"{path}: no field 'positives' (the success examples D+); fields: {sorted(fields)}; {remake}")
  if "env_id" not in fields:
    raise ExamplesError(f"{path}: no field 'env_id' (the task the examples were made for); {remake}")
  file_env = str(fields["env_id"])
  if env_id is not None and file_env != env_id:
    raise ExamplesError(
        f"{path}: field 'env_id' is {file_env!r} but the task is {env_id!r}; these examples were made for another task — {remake}"
    )
  for name in ("positives", "negatives"):
    kind = fields[name].dtype if name in fields else np.dtype(np.float32)
    if not (np.issubdtype(kind, np.integer) or np.issubdtype(kind, np.floating)):
      raise ExamplesError(f"{path}: field '{name}' has dtype {kind}, not real numbers (float32 observations); {remake}")
  with np.errstate(over="ignore"):  # beyond float32's range becomes inf, refused below
    positives = np.asarray(fields["positives"], np.float32)
    negatives = np.asarray(fields.get("negatives", np.zeros((0,) + positives.shape[1:])), np.float32)
  if positives.ndim != 2 or len(positives) == 0:
    raise ExamplesError(f"{path}: field 'positives' has shape {list(positives.shape)}; D+ needs at least one success example [P ≥ 1, O]; {remake}")
  for name, array in (("positives", positives), ("negatives", negatives)):
    width = observation_dim if observation_dim is not None else positives.shape[1]
    if array.ndim != 2 or (len(array) and array.shape[1] != width):
      raise ExamplesError(
          f"{path}: field '{name}' has shape {list(array.shape)} but the task's observations have {width} features "
          f"[N, {width}]; {remake}"
      )
    if not np.all(np.isfinite(array)):
      raise ExamplesError(f"{path}: field '{name}' holds non-finite values (NaN/inf, or beyond float32's ±3.4e38); {remake}")
  if len(negatives) == 0:
    negatives = np.zeros((0, positives.shape[1]), np.float32)
  return positives, negatives


__all__ = ["FORMAT", "STATES_PER_EPISODE", "load_examples", "make_success_examples", "save_examples"]
