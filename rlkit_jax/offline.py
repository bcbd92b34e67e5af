"""The offline-training job: load a dataset, train S seeds in one program, evaluate, log, resume.

``run_offline(OfflineConfig(...), workdir)`` is what ``experiments/train_offline.py`` calls; it
never reads flags. A run folder holds ``config.json``, ``metrics.csv`` (one row per evaluation and
seed), ``summary.json`` and orbax checkpoints (one per evaluation) under ``checkpoints/``.
"""
from __future__ import annotations

import csv
import dataclasses
import functools
import json
import os
import time
from typing import Any, Optional, Sequence

import jax
import numpy as np
import tqdm

from rlkit_jax import data as data_lib
from rlkit_jax import runner
from rlkit_jax.agents import BC, IQL
from rlkit_jax.checkpoint import CheckpointError, Checkpointer
from rlkit_jax.data.preprocessing import scale_rewards
from rlkit_jax.envs.evaluation import normalized_score

ALGOS = {"iql": IQL, "bc": BC}
DEFAULT_DATASET = "hopper-medium-replay-v5"


@dataclasses.dataclass(frozen=True)
class OfflineConfig:
  """Everything that defines an offline run (defaults: IQL's D4RL locomotion settings).

  Attributes:
    algo: ``"iql"`` or ``"bc"``.
    dataset: a dataset name (D4RL or generated) or an HDF5 path; see :func:`rlkit_jax.data.load`.
    seed: run seed; seed i of the run is ``split(key(seed), num_seeds)[i]``.
    num_seeds: S, trained together in one program.
    num_updates: gradient updates per seed.
    batch_size: minibatch size per seed.
    eval_every: updates between evaluations (each also writes a checkpoint).
    eval_episodes: episodes per seed and evaluation.
    log_every: updates per host round-trip (progress bar refresh); divides ``eval_every``.
    hidden_dims: hidden widths of every network.
    reward_scaling: see :func:`rlkit_jax.data.preprocessing.scale_rewards`.
    agent_kwargs: hyperparameters forwarded to ``Agent.create`` (expectile, temperature,
      discount, tau, learning rates); the actor's cosine decay runs over ``num_updates``.
  """

  algo: str = "iql"
  dataset: str = DEFAULT_DATASET
  seed: int = 0
  num_seeds: int = 3
  num_updates: int = 1_000_000
  batch_size: int = 256
  eval_every: int = 10_000
  eval_episodes: int = 10
  log_every: int = 1_000
  hidden_dims: Sequence[int] = (256, 256)
  reward_scaling: str = "iql_locomotion"
  agent_kwargs: dict[str, float] = dataclasses.field(default_factory=dict)

  def validate(self) -> None:
    """Raises ValueError naming the field, before anything is loaded or compiled."""
    if self.algo not in ALGOS:
      raise ValueError(f"--algo={self.algo!r} is not one of {sorted(ALGOS)}")
    for name in ("num_seeds", "num_updates", "batch_size", "eval_every", "eval_episodes", "log_every"):
      if getattr(self, name) <= 0:
        raise ValueError(f"--{name} must be positive, got {getattr(self, name)}")
    if self.eval_every % self.log_every:
      raise ValueError(f"--eval_every={self.eval_every} must be a multiple of --log_every={self.log_every}")
    if self.num_updates % self.log_every:
      raise ValueError(f"--num_updates={self.num_updates} must be a multiple of --log_every={self.log_every}")

  def to_json(self) -> dict[str, Any]:
    """JSON form (the checkpoint fingerprint and ``config.json``)."""
    out = dataclasses.asdict(self)
    out["hidden_dims"] = list(self.hidden_dims)
    return out


def _create_fn(config: OfflineConfig, observation_dim: int, action_dim: int):
  return functools.partial(
      ALGOS[config.algo].create,
      observation_dim=observation_dim,
      action_dim=action_dim,
      hidden_dims=tuple(config.hidden_dims),
      actor_decay_steps=config.num_updates,
      **config.agent_kwargs,
  )


def _append_rows(path: str, rows: list[dict[str, Any]]) -> None:
  new = not os.path.exists(path)
  with open(path, "a", newline="") as f:
    writer = csv.DictWriter(f, fieldnames=list(rows[0]))
    if new:
      writer.writeheader()
    writer.writerows(rows)


def _truncate_rows(path: str, max_step: int) -> None:
  """Drops rows logged after ``max_step`` (a run killed between logging and checkpointing)."""
  if not os.path.exists(path):
    return
  with open(path, newline="") as f:
    rows = list(csv.DictReader(f))
  kept = [r for r in rows if int(r["step"]) <= max_step]
  if len(kept) != len(rows):
    tmp = path + ".tmp"
    with open(tmp, "w", newline="") as f:
      writer = csv.DictWriter(f, fieldnames=list(rows[0]))
      writer.writeheader()
      writer.writerows(kept)
    os.replace(tmp, path)


def _write_json(path: str, payload: dict[str, Any]) -> None:
  tmp = path + ".tmp"
  with open(tmp, "w") as f:
    json.dump(payload, f, indent=1)
  os.replace(tmp, path)


def run_offline(
    config: OfflineConfig, workdir: str, *, resume: bool = False, progress: bool = True, dataset_dir: Optional[str] = None
) -> dict[str, Any]:
  """Trains ``config.num_seeds`` agents on one dataset as one compiled program.

  Args:
    config: the run's settings.
    workdir: output folder.
    resume: continue from the newest checkpoint in ``workdir`` (settings must match).
    progress: show a tqdm bar (updates, elapsed time, latest normalized score).
    dataset_dir: extra folder to look for dataset files in.

  Returns:
    The summary also written to ``workdir/summary.json``: per-seed and mean/std normalized
    score of the final evaluation, the dataset's own average return and score, wall time and
    updates per second.

  Raises:
    ValueError: a bad setting. DatasetError: an unusable dataset.
    CheckpointError: ``workdir`` holds checkpoints and ``resume`` is False, or the checkpoint is
      foreign or corrupt.
  """
  config.validate()
  dataset = data_lib.load(config.dataset, dataset_dir=dataset_dir)
  if dataset.env_id is None:
    raise data_lib.DatasetError(
        f"{dataset.source}: no gymnasium task is known for this dataset, so policies cannot be evaluated"
    )
  data_returns = dataset.episode_returns()
  dataset, scaling = scale_rewards(dataset, config.reward_scaling)
  observation_dim = dataset.transitions.observations.shape[1]
  action_dim = dataset.transitions.actions.shape[1]

  os.makedirs(workdir, exist_ok=True)
  checkpointer = Checkpointer(os.path.join(workdir, "checkpoints"), config.to_json())
  state = runner.init_run_state(_create_fn(config, observation_dim, action_dim), seed=config.seed, num_seeds=config.num_seeds)
  metrics_path = os.path.join(workdir, "metrics.csv")
  elapsed_before = 0.0
  if checkpointer.latest_step() is not None:
    if not resume:
      raise CheckpointError(
          f"{workdir}: already holds checkpoints (step {checkpointer.latest_step()}); pass --resume to continue "
          "that run or choose another --workdir"
      )
    _, state, extra = checkpointer.restore(state)
    elapsed_before = float(extra.get("elapsed_s", 0.0))
    _truncate_rows(metrics_path, int(state.step))
  elif os.path.exists(metrics_path):
    os.remove(metrics_path)  # logs of a run that never reached its first checkpoint
  _write_json(os.path.join(workdir, "config.json"), {**config.to_json(), **scaling, "dataset_source": dataset.source})

  state, device_data = runner.place(state, dataset.transitions)
  train_chunk = runner.make_train_chunk(batch_size=config.batch_size, num_updates=config.log_every)
  start_step = int(state.step)
  score = functools.partial(normalized_score, ref_min_score=dataset.ref_min_score, ref_max_score=dataset.ref_max_score)
  bar = tqdm.tqdm(total=config.num_updates, initial=start_step, desc=f"{config.algo} {dataset.name}", disable=not progress)
  last_scores = None
  started = time.time()
  train_seconds = 0.0
  while int(state.step) < config.num_updates:
    chunk_start = time.time()
    state, train_metrics = train_chunk(state, device_data)
    jax.block_until_ready(state)
    train_seconds += time.time() - chunk_start
    step = int(state.step)
    bar.update(config.log_every)
    if step % config.eval_every == 0 or step == config.num_updates:
      returns = runner.evaluate_agents(
          state.agents, dataset.env_id, episodes_per_seed=config.eval_episodes, seed=config.seed * 1_000_003 + step
      )
      last_scores = score(returns).mean(axis=1)
      train_metrics = jax.device_get(train_metrics)
      rows = [
          {
              "step": step,
              "seed_index": i,
              "normalized_score": float(last_scores[i]),
              "return_mean": float(returns[i].mean()),
              "return_std": float(returns[i].std()),
              **{k: float(v[i]) for k, v in sorted(train_metrics.items())},
          }
          for i in range(config.num_seeds)
      ]
      _append_rows(metrics_path, rows)
      checkpointer.save(step, state, {"elapsed_s": elapsed_before + time.time() - started})
      bar.set_postfix(score=f"{last_scores.mean():.1f}±{last_scores.std():.1f}")
  bar.close()
  checkpointer.close()
  wall = elapsed_before + time.time() - started
  if last_scores is None:  # resumed a finished run: report its last logged evaluation
    with open(metrics_path, newline="") as f:
      rows = [r for r in csv.DictReader(f) if int(r["step"]) == config.num_updates]
    last_scores = np.asarray([float(r["normalized_score"]) for r in rows])
  updates_done = int(state.step) - start_step
  summary = {
      "algo": config.algo,
      "dataset": dataset.name,
      "dataset_source": dataset.source,
      "env_id": dataset.env_id,
      "num_seeds": config.num_seeds,
      "num_updates": config.num_updates,
      "normalized_score_per_seed": [float(s) for s in last_scores],
      "normalized_score_mean": float(np.mean(last_scores)),
      "normalized_score_std": float(np.std(last_scores)),
      "dataset_return_mean": float(data_returns.mean()),
      "dataset_normalized_score": float(score(data_returns).mean()),
      "ref_min_score": dataset.ref_min_score,
      "ref_max_score": dataset.ref_max_score,
      "wall_time_s": wall,
      "updates_per_s": updates_done / train_seconds if train_seconds else None,
      "seed_updates_per_s": updates_done * config.num_seeds / train_seconds if train_seconds else None,
      **scaling,
  }
  _write_json(os.path.join(workdir, "summary.json"), summary)
  return summary
