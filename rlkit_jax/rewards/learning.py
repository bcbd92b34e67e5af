"""Reward learning from preferences on an offline dataset, end to end, and how to judge the result.

:func:`learn_reward`: draw pairs of segments, have a labeller label them (in rounds, choosing
queries by ensemble uncertainty after the first), fit the ensemble, normalise it on the dataset.
:func:`evaluate_reward` measures it against the dataset's true reward: held-out preference accuracy
(oracle labels on fresh pairs) and Pearson / Spearman correlation per step and per episode.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Sequence

import jax
import numpy as np
import scipy.stats

from rlkit_jax.data.dataset import Dataset, episode_returns
from rlkit_jax.errors import DivergenceError
from rlkit_jax.rewards.labellers import Labeller, make_teacher
from rlkit_jax.rewards.preference_data import Preferences, pairs
from rlkit_jax.rewards.query_selection import select_queries
from rlkit_jax.rewards.labelled_queries import preference_arrays
from rlkit_jax.rewards.reward_model import RewardEnsemble, fit, relabel
from rlkit_jax.rewards.segments import episode_lengths, gather, sample_refs


@dataclasses.dataclass(frozen=True)
class RewardLearningConfig:
  """Settings of :func:`learn_reward` (defaults: B-Pref / PEBBLE's where they apply).

  Attributes:
    num_queries: pairs to label in all.
    segment_length: T, steps per segment (B-Pref: 50).
    selection: ``"uniform"``, ``"disagreement"`` or ``"entropy"``.
    num_rounds: labelling rounds; queries are split evenly, the first round uniform, later rounds
      choose from ``candidates_per_query × n`` uniform candidates by ``selection``.
    candidates_per_query: pool size per chosen query (B-Pref: 10).
    ensemble_size: E (PEBBLE: 3).
    hidden_dims: reward network widths (PEBBLE: 3 × 256).
    learning_rate: Adam step (PEBBLE: 3e-4).
    batch_size: pairs per member and step.
    num_epochs: passes over the labelled pairs per fit, at least ``min_steps`` steps.
    min_steps: floor on steps per fit (few labels still get trained).
    bootstrap: each member on its own resample.
    use_actions: learn r(s, a) (True) or r(s) (False).
    seed: seeds the query draws, the teacher and the ensemble.
  """

  num_queries: int = 500
  segment_length: int = 50
  selection: str = "uniform"
  num_rounds: int = 1
  candidates_per_query: int = 10
  ensemble_size: int = 3
  hidden_dims: Sequence[int] = (256, 256, 256)
  learning_rate: float = 3e-4
  batch_size: int = 64
  num_epochs: int = 50
  min_steps: int = 200
  bootstrap: bool = True
  use_actions: bool = True
  seed: int = 0

  def num_steps(self, num_labelled: int) -> int:
    return max(self.min_steps, self.num_epochs * math.ceil(num_labelled / self.batch_size))


def create_model(config: RewardLearningConfig, observation_dim: int, action_dim: int) -> RewardEnsemble:
  """An untrained ensemble as ``config`` describes it, initialised from ``config.seed``."""
  return RewardEnsemble.create(
      jax.random.key(config.seed), observation_dim, action_dim, ensemble_size=config.ensemble_size,
      hidden_dims=tuple(config.hidden_dims), learning_rate=config.learning_rate, use_actions=config.use_actions,
  )


def learn_reward(
    dataset: Dataset, config: RewardLearningConfig, labeller: Labeller
) -> tuple[RewardEnsemble, Preferences, dict[str, float]]:
  """Labels ``config.num_queries`` pairs of ``dataset`` with ``labeller`` and fits the ensemble.

  Returns:
    ``(model normalised to [0, 1] on the dataset, the labelled preferences, training metrics)``.

  Raises:
    PreferenceDataError: the dataset has no trajectory of ``segment_length`` steps.
    ValueError: every query was skipped.
  """
  rng = np.random.default_rng(config.seed)
  lengths = episode_lengths(dataset)
  transitions = dataset.transitions
  model = create_model(config, transitions.observations.shape[1], int(np.shape(transitions.actions)[-1]))
  per_round = np.diff(np.linspace(0, config.num_queries, config.num_rounds + 1).round().astype(int))
  refs, labels, metrics = [], [], {}
  for round_index, count in enumerate(per_round):
    if round_index == 0 or config.selection == "uniform":
      new = sample_refs(lengths, num_queries=int(count), segment_length=config.segment_length, rng=rng, source=dataset.source)
    else:
      pool = sample_refs(
          lengths, num_queries=int(count) * config.candidates_per_query, segment_length=config.segment_length, rng=rng,
          source=dataset.source,
      )
      candidates = gather(dataset, pool)
      new = pool[select_queries(config.selection, int(count), rng=rng, returns=model.query_returns(candidates))]
    refs.append(new)
    labels.append(labeller(gather(dataset, new)))
    prefs = pairs(dataset.name, np.concatenate(refs), np.concatenate(labels), labeller=labeller.name)
    if len(prefs) == 0:
      continue
    model, metrics = fit_preferences(model, dataset, prefs, config)
  if len(prefs) == 0:
    raise ValueError(f"learn_reward: the labeller {labeller.name!r} skipped all {config.num_queries} queries")
  return model.normalized(transitions.observations, transitions.actions), prefs, metrics


def fit_preferences(
    model: RewardEnsemble, dataset: Dataset, prefs: Preferences, config: RewardLearningConfig
) -> tuple[RewardEnsemble, dict[str, float]]:
  """Fits ``model`` to the labelled ``prefs`` (segments of ``dataset``) for ``config.num_steps``.

  Raises:
    DivergenceError: every member of the ensemble went non-finite (members that did keep their
      parameters from before the fit, and ``diverged_members`` counts them).
  """
  data = preference_arrays(gather(dataset, prefs.refs), prefs)
  model, metrics = fit(model, data, num_steps=config.num_steps(len(prefs)), batch_size=config.batch_size, bootstrap=config.bootstrap)
  metrics = {k: float(v) for k, v in metrics.items()}
  if metrics["diverged_members"] == model.ensemble_size:
    raise DivergenceError(
        f"reward model on {dataset.name}: all {model.ensemble_size} members diverged while fitting {len(prefs)} "
        f"pairs (reward_loss is {metrics['reward_loss']}); fix: check the preference labels, or lower RewardLearningConfig.learning_rate"
    )
  return model, metrics


def evaluate_reward(model: RewardEnsemble, dataset: Dataset, *, num_queries: int = 1000, segment_length: int = 50, seed: int = 1) -> dict[str, float]:
  """How well a reward model matches the dataset's own reward.

  Args:
    model: the (normalised) ensemble.
    dataset: the dataset with its true rewards.
    num_queries: fresh pairs, drawn uniformly with ``seed`` and labelled by the oracle teacher.
    segment_length: T of those pairs.
    seed: seeds the draw (use one the training queries did not use).

  Returns:
    ``heldout_accuracy`` (share of strict oracle labels the model's segment returns agree with),
    ``pearson_step`` / ``spearman_step`` (learned vs true reward over every transition) and
    ``pearson_episode`` / ``spearman_episode`` (learned vs true return over every trajectory).
  """
  rng = np.random.default_rng(seed)
  refs = sample_refs(episode_lengths(dataset), num_queries=num_queries, segment_length=segment_length, rng=rng, source=dataset.source)
  queries = gather(dataset, refs)
  labels = make_teacher("oracle", seed=seed)(queries)
  scores = model.segment_scores(queries)
  strict = labels != 0.5
  agree = np.where(labels[strict] == 1.0, scores[strict, 0] > scores[strict, 1], scores[strict, 1] > scores[strict, 0])
  t = dataset.transitions
  learned = relabel(model, t.observations, t.actions)
  true = np.asarray(t.rewards, np.float64)
  learned_returns = episode_returns(learned, dataset.episode_ends)
  true_returns = episode_returns(true, dataset.episode_ends)
  return {
      "heldout_accuracy": float(np.mean(agree)),
      "heldout_pairs": int(strict.sum()),
      "pearson_step": float(scipy.stats.pearsonr(learned, true)[0]),
      "spearman_step": float(scipy.stats.spearmanr(learned, true)[0]),
      "pearson_episode": float(scipy.stats.pearsonr(learned_returns, true_returns)[0]),
      "spearman_episode": float(scipy.stats.spearmanr(learned_returns, true_returns)[0]),
  }
