"""What the online job writes: the rows of ``metrics.csv`` and ``summary.json``.

``metrics.csv``, one row per evaluation and seed: ``step`` (env steps per seed), ``seed_index``,
``return`` / ``return_std`` (mean / std over ``eval_episodes`` of the deterministic policy's return
on the task's own reward), ``normalized_score`` (D4RL, ``100 · (return − random) / (expert −
random)`` with :func:`rlkit_jax.data.registry.reference_scores`; NaN for tasks without reference
returns, e.g. Pendulum-v1), ``train_return`` (mean task return of the training episodes that ended
since the previous evaluation — since the resume after one; NaN if none) and ``train_episodes``,
``train_success`` (share of those episodes whose last observation passes the task's success test,
:data:`rlkit_jax.rewards.success_tests.SUCCESS_TESTS`, e.g. Reacher-v5's fingertip within 0.02
of the target; NaN for tasks without one),
SAC's chunk-mean update metrics (``actor_loss``, ``alpha``, ``critic_loss``, ``entropy``, ``q_data``;
NaN before ``start_steps``), ``relabels`` (relabellings so far), and ``reward_<name>`` for each
metric the reward source reported (its latest value), then the ``on_evaluation`` hook's columns. Columns a reward source reports late are
added to the file then (earlier rows "nan").
"""
from __future__ import annotations

import csv
from typing import Any, Mapping, Optional, Sequence

import numpy as np

from rlkit_jax.training import run_folder
from rlkit_jax.training.divergence import DivergenceLog


def evaluation_rows(
    step: int,
    returns: np.ndarray,
    scores: np.ndarray,
    finished: Sequence[Sequence[float]],
    successes: Sequence[Sequence[float]],
    sac_metrics: Mapping[str, np.ndarray],
    relabels: int,
    reward_metrics: Mapping[str, np.ndarray],
    hooked: Mapping[str, np.ndarray],
    active: np.ndarray,
) -> list[dict[str, Any]]:
  """One ``metrics.csv`` row per seed still active (module docstring for the columns).

  Args:
    step: env steps per seed.
    returns: ``[S, K]`` evaluation returns (K episodes per seed).
    scores: ``[S]`` D4RL-normalised mean returns.
    finished, successes: per seed, the returns and success flags of the training episodes that
      ended since the previous evaluation.
    sac_metrics, reward_metrics, hooked: name → ``[S]``.
    relabels: relabellings so far.
    active: ``[S]`` bool, seeds that have not diverged.
  """
  means = returns.mean(axis=1)
  return [
      {
          "step": step,
          "seed_index": i,
          "return": float(means[i]),
          "return_std": float(returns[i].std()),
          "normalized_score": float(scores[i]),
          "train_return": float(np.mean(finished[i])) if finished[i] else float("nan"),
          "train_episodes": len(finished[i]),
          "train_success": float(np.mean(successes[i])) if successes[i] else float("nan"),
          **{name: float(v[i]) for name, v in sac_metrics.items()},
          "relabels": relabels,
          **{f"reward_{name}": float(v[i]) for name, v in sorted(reward_metrics.items())},
          **{name: float(v[i]) for name, v in hooked.items()},
      }
      for i in range(len(means))
      if active[i]
  ]


def logged_returns(metrics_path: str, step: int, num_seeds: int) -> np.ndarray:
  """``[S]`` the ``return`` each seed logged at ``step`` (NaN where none): a finished run resumed."""
  returns = np.full(num_seeds, np.nan)
  with open(metrics_path, newline="") as f:
    for r in csv.DictReader(f):
      if int(r["step"]) == step:
        returns[int(r["seed_index"])] = float(r["return"])
  return returns


def summary(
    config: Any,
    reward_name: str,
    returns: np.ndarray,
    scores: np.ndarray,
    divergence: DivergenceLog,
    *,
    ref_min: float,
    ref_max: float,
    relabels: int,
    wall_time_s: float,
    eval_time_s: float,
    steps_per_s: Optional[float],
    steps_per_s_excluding_eval: Optional[float],
) -> dict[str, Any]:
  """``summary.json``: final evaluation ``return_*`` and ``normalized_score_*`` (per seed, mean,
  std over the seeds that did not diverge), the divergence records, timings (``env_steps_per_s``
  per seed; × S for all envs), ``relabels``, and the keys :func:`rlkit_jax.results.load_curves`
  reads (``algo`` = ``"sac_<reward>"``, ``dataset`` = the env id, ``settings``, ``num_seeds``,
  ``dataset_normalized_score`` = NaN).

  Args:
    config: the run's :class:`~rlkit_jax.online.OnlineConfig`.
    reward_name: the reward source's name.
    returns, scores: ``[S]`` final mean returns and their D4RL-normalised scores.
    divergence: the run's divergence log.
  """
  active = divergence.active
  return {
      "algo": f"sac_{reward_name}",
      "dataset": config.env_id,
      "env_id": config.env_id,
      "reward": reward_name,
      "num_seeds": config.num_seeds,
      "num_steps": config.num_steps,
      **run_folder.summarise(returns, "return", active),
      **run_folder.summarise(scores, "normalized_score", active),
      "settings": [{"hyperparameters": {}, **run_folder.summarise(scores, "normalized_score", active)}],
      "diverged": [
          {**event.to_json(), "seed_index": event.run, "message": event.describe(f"seed {event.run}", "env step")}
          for event in (divergence.get(i) for i in sorted(divergence.records))
      ],
      "dataset_normalized_score": float("nan"),
      "ref_min_score": ref_min,
      "ref_max_score": ref_max,
      "relabels": relabels,
      "wall_time_s": wall_time_s,
      "eval_time_s": eval_time_s,
      "env_steps_per_s": steps_per_s,
      "env_steps_per_s_excluding_eval": steps_per_s_excluding_eval,
  }
