"""Reward models on disk: a folder with the members' parameters and normalisation (orbax) and a
JSON description (``reward_model.json``: format, sizes, provenance), checked on load."""
from __future__ import annotations

import json
import os
from typing import Any, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import orbax.checkpoint as ocp

from rlkit_jax.errors import InputError
from rlkit_jax.rewards.reward_model import RewardEnsemble


class RewardModelError(InputError):
  """A reward model file that cannot be used here; the message names the file, the field and the fix."""


def _metadata_path(path: str) -> str:
  return os.path.join(path, "reward_model.json")


def save_reward_model(path: str, model: RewardEnsemble, *, observation_dim: int, action_dim: int, hidden_dims: Sequence[int], extra: dict[str, Any] | None = None) -> None:
  """Writes the members' parameters and the normalisation (orbax) and a JSON description to folder ``path``.

  Args:
    path: a folder (created; an existing model there is replaced).
    model: the trained (and normalised) ensemble.
    observation_dim, action_dim, hidden_dims: the architecture, checked on load.
    extra: JSON-serialisable provenance (dataset, queries, teacher, metrics).
  """
  path = os.path.abspath(path)
  os.makedirs(path, exist_ok=True)
  params_dir = os.path.join(path, "params")
  tree = {"params": model.state.params, "offset": model.offset, "scale": model.scale}
  checkpointer = ocp.StandardCheckpointer()
  checkpointer.save(params_dir, jax.device_get(tree), force=True)
  checkpointer.wait_until_finished()
  meta = {
      "format": "rlkit_jax.reward_model/1",
      "observation_dim": int(observation_dim),
      "action_dim": int(action_dim),
      "ensemble_size": model.ensemble_size,
      "hidden_dims": [int(h) for h in hidden_dims],
      "use_actions": model.use_actions,
      "ranking_loss": model.ranking_loss,
      **(extra or {}),
  }
  with open(_metadata_path(path) + ".tmp", "w") as f:
    json.dump(meta, f, indent=1)
  os.replace(_metadata_path(path) + ".tmp", _metadata_path(path))


def reward_model_metadata(path: str) -> dict[str, Any]:
  """The JSON description of the reward model in folder ``path``.

  Raises:
    RewardModelError: no such folder or description, or not a reward model.
  """
  meta_path = _metadata_path(path)
  if not os.path.isfile(meta_path):
    raise RewardModelError(f"{path}: no reward model here (missing reward_model.json); train one with experiments/learn_reward.py")
  try:
    with open(meta_path) as f:
      meta = json.load(f)
  except json.JSONDecodeError as e:
    raise RewardModelError(f"{meta_path}: corrupt reward model description ({e}); retrain with experiments/learn_reward.py")
  if meta.get("format") != "rlkit_jax.reward_model/1":
    raise RewardModelError(f"{meta_path}: field 'format' is {meta.get('format')!r}, expected 'rlkit_jax.reward_model/1'")
  return meta


def load_reward_model(path: str, *, observation_dim: int | None = None, action_dim: int | None = None) -> RewardEnsemble:
  """Restores a reward model saved by :func:`save_reward_model`, checking it fits the task.

  Args:
    path: the model's folder.
    observation_dim, action_dim: the task's sizes, if known; a model for other sizes is refused.

  Raises:
    RewardModelError: a missing or corrupt model, or one for another observation or action size —
      naming the file, the field and both values.
  """
  meta = reward_model_metadata(path)
  for field, want in (("observation_dim", observation_dim), ("action_dim", action_dim)):
    if want is not None and meta[field] != want:
      raise RewardModelError(
          f"{_metadata_path(path)}: field '{field}' is {meta[field]} but the dataset/task has {want}; "
          "this reward model was trained on another task — train one on this dataset with experiments/learn_reward.py"
      )
  like = RewardEnsemble.create(
      jax.random.key(0), meta["observation_dim"], meta["action_dim"], ensemble_size=meta["ensemble_size"],
      hidden_dims=tuple(meta["hidden_dims"]), use_actions=meta["use_actions"], ranking_loss=meta.get("ranking_loss", "bradley_terry"),
  )
  target = {"params": like.state.params, "offset": like.offset, "scale": like.scale}
  try:
    tree = ocp.StandardCheckpointer().restore(os.path.join(os.path.abspath(path), "params"), jax.device_get(target))
  except Exception as e:  # orbax raises several types for missing or damaged files
    raise RewardModelError(f"{os.path.join(path, 'params')}: cannot restore the reward model's parameters ({type(e).__name__}: {e}); retrain it")
  shapes = lambda t: [tuple(np.shape(x)) for x in jax.tree.leaves(t)]
  if shapes(tree) != shapes(target):
    raise RewardModelError(
        f"{os.path.join(path, 'params')}: the saved parameters do not have the shapes reward_model.json describes "
        f"(ensemble_size={meta['ensemble_size']}, hidden_dims={meta['hidden_dims']}); the folder mixes two models — retrain it"
    )
  return like.replace(state=like.state.replace(params=tree["params"]), offset=jnp.asarray(tree["offset"]), scale=jnp.asarray(tree["scale"]))
