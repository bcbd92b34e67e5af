"""The offline-training job: load a dataset, train every seed × sweep setting in one program,
evaluate, log, resume.

``run_offline(OfflineConfig(...), workdir)`` is what ``experiments/train_offline.py`` calls; it
never reads flags. A run folder holds ``config.json``, ``metrics.csv`` (one row per evaluation,
setting and seed), ``summary.json`` and orbax checkpoints (one per evaluation, and one every
``checkpoint_every`` updates where set) under ``checkpoints/``.
"""
from __future__ import annotations

import csv
import dataclasses
import functools
import json
import os
import time
from typing import Any, Mapping, Optional, Sequence

import jax
import numpy as np
import tqdm

from rlkit_jax import data as data_lib
from rlkit_jax.checkpoint import CheckpointError, Checkpointer
from rlkit_jax.envs.evaluation import normalized_score
from rlkit_jax.envs.make import time_limit
from rlkit_jax.offline.config import ALGOS, OfflineConfig, create_fn, prepare_dataset, with_data_prompt, with_task_horizon
from rlkit_jax.training import core, evaluation, run_folder
from rlkit_jax.training.divergence import DivergenceLog

Q_PROBE_SIZE = 4096  # dataset transitions on which the Q diagnostics are averaged


def run_label(run: int, settings: Sequence[Mapping[str, float]], num_seeds: int) -> str:
  """``"seed 2"``, or with a sweep ``"seed 2 of expectile=0.9"``: how messages name run ``run``."""
  setting = ", ".join(f"{k}={v:g}" for k, v in settings[core.setting_and_seed(run, num_seeds)[0]].items())
  return f"seed {core.setting_and_seed(run, num_seeds)[1]}" + (f" of {setting}" if setting else "")


def with_dataset_defaults(config: OfflineConfig, dataset: data_lib.Dataset) -> OfflineConfig:
  """``config`` with the settings the job takes from the data and its task where the run leaves them:
  a return-conditioned agent's prompt (:func:`~rlkit_jax.offline.with_data_prompt`) and its horizon
  (:func:`~rlkit_jax.offline.with_task_horizon`). Applied by :func:`run_offline`, and by anything that
  must train on the same settings (``experiments/reproduce.py``'s reference side)."""
  return with_task_horizon(with_data_prompt(config, dataset.episode_returns()), time_limit(dataset.env_id))


def run_offline(
    config: OfflineConfig, workdir: str, *, resume: bool = False, progress: bool = True, dataset_dir: Optional[str] = None
) -> dict[str, Any]:
  """Trains ``H × S`` agents (sweep settings × seeds) on one dataset as one compiled program.

  Args:
    config: the run's settings.
    workdir: output folder.
    resume: continue from the newest checkpoint in ``workdir`` (settings must match).
    progress: show a tqdm bar (updates, elapsed time, latest normalized score).
    dataset_dir: extra folder to look for dataset files in.

  Returns:
    The summary also written to ``workdir/summary.json``: per setting (``settings``, H entries) the
    hyperparameters and the per-seed and mean/std normalized score of the final evaluation; without
    a sweep the same score keys also at the top level; the dataset's own average return and score,
    its :meth:`~rlkit_jax.data.Dataset.digest` (``dataset_digest``, also in ``config.json``),
    wall time and updates per second. ``diverged`` lists the runs stopped by the non-finite guard
    (:mod:`rlkit_jax.training.divergence`): setting and seed index, the update of the first
    non-finite chunk, the non-finite metrics and a one-line ``message``. A diverged seed's score
    is None and is left out of the mean and std (None if every seed of a setting diverged);
    ``metrics.csv`` has no rows for it after it diverged, and its checkpointed agent is its last
    finite one. A finite runaway is only reported: a seed whose mean Q on dataset actions is more
    than a range's width outside :func:`rlkit_jax.training.evaluation.return_range` gets a warning
    line at that evaluation and keeps training. On a goal task (one whose step info reports
    success, e.g. PointMaze) every ``metrics.csv`` row also has ``success_rate``, the share of its
    evaluation episodes that reached the goal.

  Raises:
    ValueError: a bad setting, or a dataset whose action space does not fit ``config.algo``
      (raised before anything is compiled). DatasetError: an unusable dataset.
    CheckpointError: ``workdir`` holds checkpoints and ``resume`` is False, or the checkpoint is
      foreign or corrupt.
  """
  config.validate()
  dataset = data_lib.load(config.dataset, dataset_dir=dataset_dir, env_id=config.env_id)
  if dataset.env_id is None:
    raise data_lib.DatasetError(
        f"{dataset.source}: no gymnasium task is known for this dataset, so policies cannot be evaluated; fix: "
        "pass --env_id=<the gymnasium task it was collected on> if gymnasium has one"
    )
  data_returns = dataset.episode_returns()
  data_digest = dataset.digest()  # of the file's data, before reward scaling or normalisation
  config = with_dataset_defaults(config, dataset)
  dataset, scaling = prepare_dataset(config, dataset)
  observations, actions = dataset.transitions.observations, dataset.transitions.actions
  observation_dim = observations.shape[1]
  action_dim = data_lib.action_dim(dataset)
  settings = config.settings
  num_seeds = config.num_seeds

  os.makedirs(workdir, exist_ok=True)
  checkpointer = Checkpointer(os.path.join(workdir, "checkpoints"), config.fingerprint())
  if checkpointer.latest_step() is not None and not resume:  # before anything compiles
    raise CheckpointError(
        f"{workdir}: already holds checkpoints (step {checkpointer.latest_step()}); pass --resume to continue "
        "that run or choose another --workdir"
    )
  state = core.init_run_state(
      create_fn(config, observation_dim, action_dim), seed=config.seed, num_seeds=num_seeds, settings=settings
  )
  metrics_path = os.path.join(workdir, "metrics.csv")
  elapsed_before = 0.0
  divergence = DivergenceLog(len(settings) * num_seeds)
  if checkpointer.latest_step() is not None:
    _, state, extra = checkpointer.restore(state)
    elapsed_before = float(extra.get("elapsed_s", 0.0))
    divergence = DivergenceLog(len(settings) * num_seeds, extra.get("diverged", []))
    run_folder.truncate_rows(metrics_path, int(state.step))
  elif os.path.exists(metrics_path):
    os.remove(metrics_path)  # logs of a run that never reached its first checkpoint
  run_folder.write_json(
      os.path.join(workdir, "config.json"),
      {**config.to_json(), **scaling, "dataset_source": dataset.source, "dataset_digest": data_digest,
       "hyperparameters": config.hyperparameters()},
  )

  state, device_data = core.place(state, dataset.transitions)
  train_chunk = core.make_train_chunk(batch_size=config.batch_size, num_updates=config.updates_per_call)
  has_q = hasattr(ALGOS[config.algo].agent_class, "q_values")
  if has_q:  # a fixed probe set for the offline model-selection signals
    probe = np.random.default_rng(config.seed).permutation(len(dataset))[:Q_PROBE_SIZE]
    probe_observations, probe_actions = jax.device_put((observations[probe], actions[probe]))
    discounts = [{**config.hyperparameters(), **setting}.get("discount") for setting in settings]
    q_ranges = [evaluation.return_range(dataset.transitions.rewards, d) if d is not None else (-np.inf, np.inf) for d in discounts]
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
    bar.update(config.updates_per_call)
    for event in divergence.update(step, jax.device_get(state.active), train_metrics):  # metrics read only on divergence
      bar.write(f"warning: {event.describe(run_label(event.run, settings, num_seeds))}; it keeps its last finite state")
    evaluated = step % config.eval_every == 0 or step == config.num_updates
    if evaluated:
      returns, successes = evaluation.evaluate_agents(
          state.agents, dataset.env_id, episodes_per_seed=config.eval_episodes, seed=evaluation.evaluation_seed(config.seed, step),
          with_success=True,
      )
      last_scores = np.where(divergence.active, score(returns).mean(axis=1), np.nan)  # [R], NaN: diverged
      reports_success = bool(np.isfinite(successes).all())  # a goal task
      logged = dict(jax.device_get(train_metrics))
      if has_q:
        logged.update(jax.device_get(evaluation.q_diagnostics(state.agents, probe_observations, probe_actions)))
        for r in range(len(last_scores)):
          low, high = q_ranges[core.setting_and_seed(r, num_seeds)[0]]
          q, width = float(logged["q_dataset_actions"][r]), high - low  # a range's width of slack: early noise is no alarm
          if divergence.active[r] and not low - width <= q <= high + width:
            bar.write(
                f"warning: {run_label(r, settings, num_seeds)}: mean Q on dataset actions {q:.4g} at step {step} is far outside "
                f"[{low:.4g}, {high:.4g}], where every discounted return of the (scaled) rewards lies: its critic is diverging"
            )
      rows = [
          {
              "step": step,
              **dict(zip(("setting_index", "seed_index"), core.setting_and_seed(r, num_seeds))),
              **settings[core.setting_and_seed(r, num_seeds)[0]],
              "normalized_score": float(last_scores[r]),
              "return_mean": float(returns[r].mean()),
              "return_std": float(returns[r].std()),
              **({"success_rate": float(successes[r].mean())} if reports_success else {}),
              **{k: float(v[r]) for k, v in sorted(logged.items())},
          }
          for r in range(len(last_scores))
          if divergence.active[r]
      ]
      if rows:
        run_folder.append_rows(metrics_path, rows)
      by_setting = last_scores.reshape(len(settings), num_seeds)
      bar.set_postfix(score=" ".join(f"{np.nanmean(x):.1f}" if np.isfinite(x).any() else "diverged" for x in by_setting))
    if evaluated or (config.checkpoint_every and step % config.checkpoint_every == 0):
      checkpointer.save(step, state, {"elapsed_s": elapsed_before + time.time() - started, "diverged": divergence.to_json()})
  bar.close()
  checkpointer.close()
  wall = elapsed_before + time.time() - started
  if last_scores is None:  # resumed a finished run: report its last logged evaluation
    last_scores = np.full(len(settings) * num_seeds, np.nan)
    with open(metrics_path, newline="") as f:
      for r in csv.DictReader(f):
        if int(r["step"]) == config.num_updates:
          last_scores[int(r["setting_index"]) * num_seeds + int(r["seed_index"])] = float(r["normalized_score"])
  last_scores = last_scores.reshape(len(settings), num_seeds)
  updates_done = int(state.step) - start_step
  summary = {
      "algo": config.algo,
      "dataset": dataset.name,
      "dataset_source": dataset.source,
      "dataset_digest": data_digest,
      "env_id": dataset.env_id,
      "num_seeds": num_seeds,
      "num_updates": config.num_updates,
      "hyperparameters": config.hyperparameters(),
      **(run_folder.summarise(last_scores[0], "normalized_score") if len(settings) == 1 else {}),
      "settings": [{"hyperparameters": setting, **run_folder.summarise(scores, "normalized_score")} for setting, scores in zip(settings, last_scores)],
      "diverged": [
          {**event.to_json(), **dict(zip(("setting_index", "seed_index"), core.setting_and_seed(event.run, num_seeds))),
           "message": event.describe(run_label(event.run, settings, num_seeds))}
          for event in (divergence.get(r) for r in sorted(divergence.records))
      ],
      "dataset_return_mean": float(data_returns.mean()),
      "dataset_normalized_score": float(score(data_returns).mean()),
      "ref_min_score": dataset.ref_min_score,
      "ref_max_score": dataset.ref_max_score,
      "wall_time_s": wall,
      "updates_per_s": updates_done / train_seconds if train_seconds else None,
      "run_updates_per_s": updates_done * last_scores.size / train_seconds if train_seconds else None,
      **scaling,
  }
  run_folder.write_json(os.path.join(workdir, "summary.json"), summary)
  return summary


def load_trained(workdir: str, *, dataset_dir: Optional[str] = None, step: Optional[int] = None) -> tuple[OfflineConfig, Any, Any]:
  """A finished (or checkpointed) offline run's agents, to evaluate them again, e.g. under other
  prompts (``agents.replace(target_return=...)``).

  Args:
    workdir: the run folder (``config.json``, ``checkpoints/``).
    dataset_dir: extra folder to look for the run's dataset in.
    step: which checkpoint; default the newest readable one.

  Returns:
    ``(config, agents, dataset)``: the run's settings, its agents (every leaf ``[R, ...]``,
    ``R = H × S``, setting-major) and the dataset as the agents were trained on it.

  Raises:
    FileNotFoundError: no ``config.json`` in ``workdir``. CheckpointError: no readable checkpoint.
  """
  with open(os.path.join(workdir, "config.json")) as f:
    saved = json.load(f)
  fields = {field.name: saved[field.name] for field in dataclasses.fields(OfflineConfig) if field.name in saved}
  fields["hidden_dims"] = tuple(fields.get("hidden_dims", OfflineConfig.hidden_dims))  # JSON made them lists
  fields["sweep"] = {name: tuple(values) for name, values in fields.get("sweep", {}).items()}
  config = OfflineConfig(**fields)
  dataset, _ = prepare_dataset(config, data_lib.load(config.dataset, dataset_dir=dataset_dir, env_id=config.env_id))
  like = core.init_run_state(
      create_fn(config, dataset.transitions.observations.shape[1], data_lib.action_dim(dataset)),
      seed=config.seed, num_seeds=config.num_seeds, settings=config.settings,
  )
  checkpointer = Checkpointer(os.path.join(workdir, "checkpoints"), config.fingerprint())
  try:
    _, state, _ = checkpointer.restore(like, step)
  finally:
    checkpointer.close()
  return config, state.agents, dataset

