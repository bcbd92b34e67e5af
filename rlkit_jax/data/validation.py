"""Validation of D4RL-layout arrays, and the :class:`Dataset` of their ``qlearning_dataset`` form
(:mod:`rlkit_jax.data.qlearning`).

Shapes: ``N`` transitions, ``O`` observation width, ``A`` action width. Discrete-action datasets
store ``actions`` as integer indices ``[N]`` in ``[0, n)`` for a ``Discrete(n)`` task and load as
``Transitions.actions`` int32 ``[N]``; a file's ``action_space`` attribute ("discrete"/"continuous")
and its actions must agree with the task's.

References:
  Fu et al., `D4RL <https://arxiv.org/abs/2004.07219>`_, 2020; ``d4rl/__init__.py``
  (``qlearning_dataset``).
"""
from __future__ import annotations

import dataclasses
import functools
from typing import Any, Mapping

import numpy as np

from rlkit_jax.data.dataset import Dataset, DatasetError
from rlkit_jax.data.qlearning import qlearning_arrays

ACTION_TOLERANCE = 1e-4  # D4RL actions sit exactly at ±1; float32 rounding may overshoot slightly.
REQUIRED_KEYS = ("observations", "actions", "rewards", "terminals")


@dataclasses.dataclass(frozen=True)
class TaskSpaces:
  """What validation needs of a task's spaces.

  Attributes:
    observation_width: O for a rank-1 ``Box`` observation space, else None.
    num_actions: n for a ``Discrete(n)`` action space; None for a ``Box``.
    low, high: the ``Box`` action bounds ``[A]`` float64 (after ``make_env``'s rescaling); None
      for a discrete task.
  """

  observation_width: int | None
  num_actions: int | None
  low: np.ndarray | None = None
  high: np.ndarray | None = None

  @property
  def discrete(self) -> bool:
    return self.num_actions is not None


@functools.lru_cache(maxsize=None)
def task_spaces(env_id: str) -> TaskSpaces | None:
  """The spaces of ``make_env(env_id)``, or None if it can't be made (unregistered, no simulator)."""
  try:
    import gymnasium as gym

    from rlkit_jax.envs.make import make_env

    env = make_env(env_id)
  except Exception:  # Unregistered id, missing simulator, unsupported action space: checks fall back.
    return None
  try:
    shape = getattr(env.observation_space, "shape", None)
    width = int(shape[0]) if shape is not None and len(shape) == 1 else None
    space = env.action_space
    if isinstance(space, gym.spaces.Discrete):
      return TaskSpaces(width, int(space.n))
    return TaskSpaces(width, None, np.asarray(space.low, np.float64), np.asarray(space.high, np.float64))
  finally:
    env.close()


def _action_kind(arrays: Mapping[str, Any], source: str, env_id: str | None, attrs: Mapping[str, Any]) -> int | None:
  """Decides whether the file is a discrete dataset: its ``Discrete(n)`` n, or None if continuous.

  The task decides when it can be made; the file's ``action_space`` attribute and its actions must
  then agree with it. Without a task, the attribute decides, else integer rank-1 actions mean discrete
  (n from the ``num_actions`` attribute, else the largest index + 1).
  """
  spaces = task_spaces(env_id) if env_id else None
  actions = np.asarray(arrays["actions"])
  declared = attrs.get("action_space")
  integer_indices = np.issubdtype(actions.dtype, np.integer) and actions.ndim == 1
  if spaces is None:
    if declared == "discrete" or (declared is None and integer_indices):
      n = attrs.get("num_actions")
      return int(n) if n is not None else int(actions.max(initial=-1)) + 1
    return None
  if spaces.discrete:
    task = f"{env_id} has a Discrete({spaces.num_actions}) action space"
    if declared == "continuous" or (actions.ndim == 2 and actions.shape[1] != 1):
      raise DatasetError(
          f"{source}: field 'actions' holds continuous actions (shape {actions.shape}, action_space attribute "
          f"{declared!r}) but {task}; fix: evaluate it on the continuous task it was collected on (env_id=...), "
          "or load a discrete dataset of this task (e.g. cartpole-medium-v1)"
      )
    return spaces.num_actions
  task = f"{env_id} has a continuous Box action space ({spaces.low.shape[0]} wide)"
  if declared == "discrete" or integer_indices:
    raise DatasetError(
        f"{source}: field 'actions' holds discrete action indices (shape {actions.shape}, dtype {actions.dtype}, "
        f"action_space attribute {declared!r}) but {task}; fix: evaluate it on the discrete task it was "
        "collected on (env_id=..., e.g. 'CartPole-v1'), or load a continuous dataset of this task"
    )
  return None


def _discrete_actions(actions: Any, source: str, num_actions: int, env_id: str | None) -> np.ndarray:
  """Integer indices ``[N]`` (or ``[N, 1]``) in ``[0, num_actions)`` → int32 ``[N]``."""
  actions = np.asarray(actions)
  if actions.ndim == 2 and actions.shape[1] == 1:
    actions = actions[:, 0]
  task = f"{env_id}'s Discrete({num_actions})" if env_id else f"Discrete({num_actions})"
  if actions.ndim != 1:
    raise DatasetError(
        f"{source}: field 'actions' has shape {actions.shape}; a discrete dataset needs action indices [N]; "
        "fix: store one integer index per transition"
    )
  if not np.issubdtype(actions.dtype, np.integer):
    raise DatasetError(
        f"{source}: field 'actions' has dtype {actions.dtype}, but a discrete dataset ({task} action space) needs "
        "integer action indices; fix: store actions as int64 indices in [0, n) (as rlkit_jax.generation.dqn does)"
    )
  bad = (actions < 0) | (actions >= num_actions)
  if bad.any():
    rows = np.flatnonzero(bad)
    raise DatasetError(
        f"{source}: field 'actions' has {rows.size} indices outside [0, {num_actions}) of {task} action space "
        f"(first row {rows[0]}, min {actions.min()}, max {actions.max()}); fix: load it with the env_id it was "
        "collected on, or regenerate it"
    )
  return actions.astype(np.int32)


def _validate(
    arrays: Mapping[str, Any], source: str, env_id: str | None, attrs: Mapping[str, Any] | None = None
) -> dict[str, np.ndarray]:
  """Checks keys, ranks, lengths, dtypes, finiteness, 0/1 flags, widths and action bounds.

  Returns the arrays as float32 (observations, actions, rewards, next_observations) and bool
  (terminals, timeouts), flags of shape ``[N, 1]`` flattened to ``[N]``; discrete actions as
  int32 ``[N]``.
  """
  missing = [k for k in REQUIRED_KEYS if k not in arrays]
  if missing:
    raise DatasetError(f"{source}: missing field(s) {missing}; fix: provide {list(REQUIRED_KEYS)} (D4RL layout)")
  num_actions = _action_kind(arrays, source, env_id, attrs or {})
  ranks = {"observations": 2, "actions": 2, "next_observations": 2, "rewards": 1, "terminals": 1, "timeouts": 1}
  out: dict[str, np.ndarray] = {}
  for key, rank in ranks.items():
    if key not in arrays:
      continue
    if key == "actions" and num_actions is not None:
      out[key] = _discrete_actions(arrays[key], source, num_actions, env_id)
      continue
    value = np.asarray(arrays[key])
    if rank == 1 and value.ndim == 2 and value.shape[1] == 1:
      value = value[:, 0]
    if value.ndim != rank:
      raise DatasetError(
          f"{source}: field '{key}' has shape {value.shape} (rank {value.ndim}); expected rank {rank} "
          f"({'[N, width]' if rank == 2 else '[N]'}); fix: reshape '{key}' when writing the file"
      )
    flag = key in ("terminals", "timeouts")
    if not (np.issubdtype(value.dtype, np.integer) or np.issubdtype(value.dtype, np.floating) or (flag and value.dtype == bool)):
      raise DatasetError(
          f"{source}: field '{key}' has dtype {value.dtype}, not real numbers; "
          f"fix: store {'booleans or 0/1' if flag else 'floats'}"
      )
    out[key] = value
  lengths = {key: len(value) for key, value in out.items()}
  odd = [key for key, n in lengths.items() if n != lengths["observations"]]
  if odd:
    raise DatasetError(
        f"{source}: field '{odd[0]}' has {lengths[odd[0]]} rows but 'observations' has {lengths['observations']} "
        f"(all lengths: {lengths}); fix: every field needs the same N rows"
    )
  if lengths["rewards"] == 0:
    raise DatasetError(f"{source}: field 'rewards' is empty (0 transitions); fix: write at least one transition")
  if "next_observations" in out and out["next_observations"].shape[1] != out["observations"].shape[1]:
    raise DatasetError(
        f"{source}: field 'next_observations' is {out['next_observations'].shape[1]} wide but 'observations' "
        f"{out['observations'].shape[1]}; fix: both must be the same observation width"
    )
  for key in ("observations", "actions", "rewards", "next_observations"):
    if key in out and not (key == "actions" and num_actions is not None):
      with np.errstate(over="ignore"):  # beyond float32's range becomes inf, refused below
        value = out[key].astype(np.float32)
      bad = ~np.isfinite(value)
      if bad.any():
        rows = np.flatnonzero(bad.reshape(len(bad), -1).any(axis=1))
        raise DatasetError(
            f"{source}: field '{key}' has {bad.sum()} NaN/inf values (or beyond float32's ±3.4e38) in {rows.size} "
            f"rows (first row {rows[0]}); fix: regenerate the dataset or drop those transitions"
        )
      out[key] = value
  for key in ("terminals", "timeouts"):
    if key in out:
      flags = out[key]
      if flags.dtype != bool:
        if not np.all((flags == 0) | (flags == 1)):
          raise DatasetError(f"{source}: field '{key}' must hold only 0/1 (or bools); fix: store booleans")
        flags = flags != 0
      out[key] = flags
  _check_task(out, source, env_id)
  return out


def _check_task(out: dict[str, np.ndarray], source: str, env_id: str | None) -> None:
  """Observation/action width against the task, continuous actions inside its bounds (else [-1, 1]).

  Discrete actions were range-checked by :func:`_discrete_actions`; only the width is checked here.
  """
  spaces = task_spaces(env_id) if env_id else None
  actions = out["actions"]
  if spaces is not None and spaces.observation_width is not None:
    width = spaces.observation_width
    if out["observations"].shape[1] != width:
      raise DatasetError(
          f"{source}: field 'observations' is {out['observations'].shape[1]} wide but {env_id} observes {width}; "
          "fix: load it with the env_id it was collected on (env_id=...), or regenerate it on this task"
      )
  if actions.ndim == 1:  # discrete indices
    return
  if spaces is None:
    low, high, bounds_from = -1.0, 1.0, "[-1, 1] (task unknown or not makeable)"
  else:
    low, high = spaces.low, spaces.high
    bounds_from = f"{env_id}'s action space [{low.min():g}, {high.max():g}]"
    if actions.shape[1] != low.shape[0]:
      raise DatasetError(
          f"{source}: field 'actions' is {actions.shape[1]} wide but {env_id} takes {low.shape[0]}; "
          "fix: load it with the env_id it was collected on (env_id=...)"
      )
  below, above = actions < low - ACTION_TOLERANCE, actions > high + ACTION_TOLERANCE
  if below.any() or above.any():
    rows = np.flatnonzero((below | above).any(axis=1))
    raise DatasetError(
        f"{source}: field 'actions' has values outside {bounds_from} in {rows.size} rows (first row {rows[0]}, "
        f"min {actions.min():g}, max {actions.max():g}); fix: rescale actions to the task's action space "
        "(agents act in [-1, 1]) or pass the env_id the data was collected on"
    )


def dataset_from_arrays(
    arrays: Mapping[str, Any],
    *,
    source: str,
    name: str,
    env_id: str | None,
    ref_min_score: float,
    ref_max_score: float,
    attrs: Mapping[str, Any] | None = None,
    max_episode_steps: int = 1000,
) -> Dataset:
  """Validates D4RL-layout arrays and returns the :class:`Dataset` in ``qlearning_dataset`` form.

  Args:
    arrays: ``observations [N, O]``, ``actions [N, A]`` (a discrete task: integer indices ``[N]``
      in ``[0, n)``), ``rewards [N]``, ``terminals [N]`` (bool or 0/1), optional ``timeouts [N]``
      and ``next_observations [N, O]``; integer or float dtypes (booleans only in the flags).
    source: the file (or ``d4rl:<name>`` / ``minari:<id>``) named in error messages.
    name, env_id, ref_min_score, ref_max_score, attrs: stored in the :class:`Dataset`; ``env_id``
      (None where there is no gymnasium task) also fixes the expected widths, action bounds and
      whether actions are discrete; ``attrs['action_space']`` ("discrete"/"continuous") and
      ``attrs['num_actions']`` are used where the task cannot be made.
    max_episode_steps: see :func:`qlearning_arrays`.

  Raises:
    DatasetError: a missing field, wrong rank, a dtype that is not integer or float (strings,
      complex, booleans outside the flags), mismatched lengths, NaN/inf (also from values beyond
      float32's range), flags other than 0/1, a width different from the task's, actions outside the task's
      bounds (±1e-4; [-1, 1] when the task is unknown), discrete indices outside ``[0, n)`` or
      not integers, a discrete file on a continuous task or vice versa, no transitions left, or a
      reference score that is not a number.
  """
  scores = []
  for key, value in (("ref_min_score", ref_min_score), ("ref_max_score", ref_max_score)):
    try:
      scores.append(float(value))
    except (TypeError, ValueError, OverflowError):
      raise DatasetError(
          f"{source}: field '{key}' (file attribute) is {value!r}, not a number; fix: store a number, or drop "
          "both ref_min_score and ref_max_score to use the task family's D4RL scores"
      ) from None
  checked = _validate(arrays, source, env_id, attrs)
  transitions, episode_ends = qlearning_arrays(checked, max_episode_steps=max_episode_steps)
  if len(transitions) == 0:
    raise DatasetError(f"{source}: field 'rewards' leaves 0 transitions after dropping time-outs; fix: add transitions")
  return Dataset(transitions, episode_ends, name, env_id, *scores, source, dict(attrs or {}))
