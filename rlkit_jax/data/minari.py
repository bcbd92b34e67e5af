"""Minari datasets already on this machine, converted to the toolkit's :class:`Dataset`.

``minari`` is an optional extra (``pip install 'rlkit_jax[minari]'``); nothing is downloaded here.
"""
from __future__ import annotations

import numpy as np

from rlkit_jax.data.registry import reference_scores
from rlkit_jax.data.validation import dataset_from_arrays
from rlkit_jax.data.dataset import Dataset, DatasetError


def _env_id(dataset) -> str | None:
  """The recorded task's id; ``gymnasium_robotics:<id>`` for a gymnasium-robotics task, so that
  making it imports the package that registers it."""
  for owner in (dataset, getattr(dataset, "spec", None)):
    env_spec = getattr(owner, "env_spec", None)
    if env_spec is not None and getattr(env_spec, "id", None):
      entry_point = getattr(env_spec, "entry_point", None)
      if isinstance(entry_point, str) and entry_point.startswith("gymnasium_robotics") and ":" not in env_spec.id:
        return f"gymnasium_robotics:{env_spec.id}"
      return env_spec.id
  return None


def _action_bounds(dataset) -> tuple[np.ndarray, np.ndarray] | None:
  """The recorded ``Box`` action bounds ``(low, high)`` ``[A]`` float64 where they are finite and
  not [-1, 1] (where :func:`rlkit_jax.envs.make.make_env` rescales the task's actions), else None."""
  import gymnasium as gym

  space = getattr(dataset, "action_space", None)
  if not isinstance(space, gym.spaces.Box):
    return None
  low, high = np.asarray(space.low, np.float64), np.asarray(space.high, np.float64)
  if not (np.all(np.isfinite(low)) and np.all(np.isfinite(high))) or (np.all(low == -1.0) and np.all(high == 1.0)):
    return None
  return low, high


def load_minari(dataset_id: str, *, env_id: str | None = None) -> Dataset:
  """Loads a locally stored Minari dataset (``minari.load_dataset(id, download=False)``).

  Each episode of ``T`` steps (``T + 1`` observations) gives ``T`` transitions: s = obs[:-1],
  s' = obs[1:], ``terminals`` = terminations; the episode's last step ends its trajectory.
  Minari records actions in the task's own ``Box``; where its bounds are not [-1, 1] they are
  mapped linearly onto [-1, 1], the actions agents emit (``make_env`` rescales the task the
  same way), and the recorded bounds are kept in ``attrs['minari_action_bounds']``.

  Args:
    dataset_id: e.g. ``"mujoco/hopper/medium-v0"``.
    env_id: gymnasium task overriding the dataset's recorded environment.

  Returns:
    A :class:`Dataset` (``source`` = ``"minari:<id>"``) with the dataset's recorded task and its
    ``ref_min_score``/``ref_max_score`` metadata, else the task family's D4RL scores, else NaN.

  Goal tasks' dict observations (``achieved_goal``, ``desired_goal``, ``observation``; Minari's
  PointMaze and AntMaze datasets) are flattened as :func:`rlkit_jax.envs.make.make_env` flattens
  the task's, ``[achieved_goal, desired_goal, observation]``, and ``attrs['goal_dim']`` records G
  (for RvS-G).

  Raises:
    DatasetError: ``minari`` is not installed, the dataset is not stored locally, its
      observations are dicts other than a goal task's, or it fails validation.
  """
  from rlkit_jax.envs.make import GOAL_KEYS, flatten_goal_observations  # imported where used: gymnasium is heavy

  source = f"minari:{dataset_id}"
  try:
    import minari
  except ImportError as e:
    raise DatasetError(
        f"{source}: the optional 'minari' package is not installed; fix: pip install 'rlkit_jax[minari]'"
    ) from e
  try:
    dataset = minari.load_dataset(dataset_id, download=False)
  except Exception as e:
    raise DatasetError(
        f"{source}: not found among the local Minari datasets ({e}); fix: run `minari download {dataset_id}` "
        "where there is network access and copy it into $MINARI_DATASETS_PATH (default ~/.minari/datasets)"
    ) from e
  bounds = _action_bounds(dataset)
  keys = ("observations", "next_observations", "actions", "rewards", "terminals", "timeouts")
  parts: dict[str, list[np.ndarray]] = {k: [] for k in keys}
  goal_dim = None
  for episode in dataset.iterate_episodes():
    observations = episode.observations
    if isinstance(observations, dict):
      if tuple(sorted(observations)) != GOAL_KEYS:
        raise DatasetError(
            f"{source}: field 'observations' is a dict ({sorted(observations)}) but not a goal task's {list(GOAL_KEYS)}; "
            "fix: use a dataset with flat Box observations or goal observations"
        )
      goal_dim = int(np.shape(observations["desired_goal"])[-1])
      observations = flatten_goal_observations(observations)
    observations = np.asarray(observations)
    terminations = np.asarray(episode.terminations, bool)
    truncations = np.asarray(episode.truncations, bool).copy()
    truncations[-1] |= not terminations[-1]  # The episode's last step ends it, whatever the flags say.
    parts["observations"].append(observations[:-1])
    parts["next_observations"].append(observations[1:])
    actions = np.asarray(episode.actions)
    if bounds is not None:  # RescaleAction's inverse: [low, high] → [-1, 1]
      actions = 2.0 * (actions - bounds[0]) / (bounds[1] - bounds[0]) - 1.0
    parts["actions"].append(actions)
    parts["rewards"].append(np.asarray(episode.rewards))
    parts["terminals"].append(terminations)
    parts["timeouts"].append(truncations)
  if not parts["rewards"]:
    raise DatasetError(f"{source}: field 'episodes' is empty; fix: load a dataset with at least one episode")
  arrays = {k: np.concatenate(v) for k, v in parts.items()}
  env_id = env_id or _env_id(dataset)
  metadata = getattr(getattr(dataset, "storage", None), "metadata", None) or {}
  if "ref_min_score" in metadata and "ref_max_score" in metadata:
    ref_min, ref_max = float(metadata["ref_min_score"]), float(metadata["ref_max_score"])
  else:
    try:
      ref_min, ref_max = reference_scores(env_id or "")
    except DatasetError:
      ref_min, ref_max = float("nan"), float("nan")
  return dataset_from_arrays(
      arrays, source=source, name=dataset_id, env_id=env_id, ref_min_score=ref_min, ref_max_score=ref_max,
      attrs={
          "minari_id": dataset_id, **({"minari_action_bounds": [b.tolist() for b in bounds]} if bounds is not None else {}),
          **({"goal_dim": goal_dim} if goal_dim is not None else {}),
      },
  )
