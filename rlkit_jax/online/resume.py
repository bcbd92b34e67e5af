"""What an online run's checkpoint holds, and putting a run back from it.

A checkpoint holds the S agents, their PRNG keys, the first ``step`` rows of the host replay and of
the device buffer's reward labels, and the reward source's state (:func:`checkpoint_state`); its
extra JSON holds the run's bookkeeping (:class:`Progress`). :func:`restore` reads the newest one
back into a fresh run. The envs mid-episode are saved beside it (:mod:`rlkit_jax.online.env_state`);
where they cannot be put back, :func:`end_interrupted_episodes` ends the interrupted episodes at the
last stored row and the envs restart with a fresh reset.
"""
from __future__ import annotations

import dataclasses
import functools
import os
from typing import Any

import jax
import numpy as np

from rlkit_jax.checkpoint import CheckpointError, Checkpointer
from rlkit_jax.rewards.base import RewardSource
from rlkit_jax.training import run_folder
from rlkit_jax.training.divergence import DivergenceLog


@dataclasses.dataclass
class Progress:
  """The run's bookkeeping beside its arrays: training seconds so far (evaluation included), how
  often every stored reward was relabelled, the reward source's latest metrics (each ``[S]``) and
  which seeds diverged (the :class:`DivergenceLog`)."""

  elapsed_s: float
  relabels: int
  reward_metrics: dict[str, np.ndarray]
  divergence: DivergenceLog

  def to_json(self) -> dict[str, Any]:
    return {
        "elapsed_s": self.elapsed_s,
        "relabels": self.relabels,
        "reward_metrics": {k: [float(x) for x in v] for k, v in self.reward_metrics.items()},
        "diverged": self.divergence.to_json(),
    }


def checkpoint_state(agents, act_keys, update_keys, reward_key, reward_source: RewardSource, host, rewards, step: int) -> dict[str, Any]:
  """The pytree a checkpoint holds: agents, keys, the first ``step`` rows of the host replay and of
  the device buffer's rewards, and the reward source's state (left out when it has no leaves)."""
  state = {
      "agents": agents,
      "act_keys": act_keys,
      "update_keys": update_keys,
      "reward_key": reward_key,
      "host": {name: np.ascontiguousarray(array[:, :step]) for name, array in host.items()},
      "rewards": np.asarray(rewards[:, :step]),
  }
  source_state = reward_source.state()
  if jax.tree.leaves(source_state):
    state["reward_source"] = source_state
  return state


def restore(
    checkpointer: Checkpointer, agents, act_keys, update_keys, reward_key, reward_source: RewardSource,
    host: dict[str, np.ndarray], labels: np.ndarray,
) -> tuple[int, dict[str, Any], Progress]:
  """Reads the newest checkpoint into a fresh run (the arguments give its structure).

  ``host`` and ``labels`` (``[S, num_steps]``) are filled in place up to the checkpoint's step, and
  the reward source takes its state back.

  Returns:
    ``(step, {"agents", "act_keys", "update_keys", "reward_key"}, progress)``.

  Raises:
    CheckpointError: as :meth:`Checkpointer.restore` (other settings, a corrupt checkpoint).
  """
  num_seeds = labels.shape[0]
  like = functools.partial(checkpoint_state, agents, act_keys, update_keys, reward_key, reward_source, host, labels)
  step, saved, extra = checkpointer.restore(like)
  if "reward_source" in saved:
    reward_source.restore(saved["reward_source"])
  for name, array in saved["host"].items():
    host[name][:, :step] = array
  labels[:, :step] = saved["rewards"]
  progress = Progress(
      elapsed_s=float(extra.get("elapsed_s", 0.0)),
      relabels=int(extra.get("relabels", 0)),
      reward_metrics={k: np.asarray(v, np.float64) for k, v in extra.get("reward_metrics", {}).items()},
      divergence=DivergenceLog(num_seeds, extra.get("diverged", [])),
  )
  return step, {name: saved[name] for name in ("agents", "act_keys", "update_keys", "reward_key")}, progress


def end_interrupted_episodes(host: dict[str, np.ndarray], step: int) -> None:
  """For a resume whose envs restart: each seed's last stored row (``step - 1``) becomes a time-out
  unless it terminated, so the interrupted episodes end there in the replay."""
  host["timeouts"][:, step - 1] |= ~host["terminals"][:, step - 1]


def restore_or_start(
    checkpointer: Checkpointer, workdir: str, metrics_path: str, *, resume: bool, agents, act_keys, update_keys, reward_key,
    reward_source: RewardSource, host: dict[str, np.ndarray], labels: np.ndarray,
) -> tuple[int, dict[str, Any], Progress]:
  """Where a run starts: from the newest checkpoint in ``workdir`` (:func:`restore`; rows of
  ``metrics_path`` logged after it are dropped) or, when there is none, from the given state at
  step 0 (an old ``metrics_path`` of a run that never reached its first checkpoint is removed).

  Returns:
    As :func:`restore`.

  Raises:
    CheckpointError: ``workdir`` holds checkpoints and ``resume`` is False; as :func:`restore`.
  """
  saved_step = checkpointer.latest_step()
  if saved_step is None:
    if os.path.exists(metrics_path):
      os.remove(metrics_path)
    state = {"agents": agents, "act_keys": act_keys, "update_keys": update_keys, "reward_key": reward_key}
    return 0, state, Progress(0.0, 0, {}, DivergenceLog(labels.shape[0]))
  if not resume:
    raise CheckpointError(
        f"{workdir}: already holds checkpoints (step {saved_step}); pass --resume to continue that run or choose "
        "another --workdir"
    )
  step, state, progress = restore(checkpointer, agents, act_keys, update_keys, reward_key, reward_source, host, labels)
  run_folder.truncate_rows(metrics_path, step)
  return step, state, progress
