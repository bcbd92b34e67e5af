"""Preference-learned rewards in the loop of online RL (PEBBLE-style), as a
:class:`rlkit_jax.rewards.base.RewardSource` (``train_online.py --reward=preferences``).

Every ``query_every`` env steps from ``first_query_step``: draw ``candidates_per_query × n``
candidate pairs of segments from each seed's replay, choose n by ``selection`` (uniform in the
first round), have the labeller label them, refit that seed's reward ensemble on all its labels so
far, renormalise it to [0, 1] on the replay, and tell the driver to relabel the whole replay.
Each seed has its own ensemble and labels; the S ensembles train as one vmapped program.

References:
  Lee, Smith & Abbeel, `PEBBLE <https://arxiv.org/abs/2106.05091>`_, ICML 2021, Alg. 2 (relabel the
  buffer after every reward update); Christiano et al. 2017 (queries on a schedule, ensemble
  disagreement). PEBBLE's unsupervised pre-training phase is not implemented: the first
  ``start_steps`` random actions fill the buffer instead.
"""
from __future__ import annotations

import math
from typing import Any, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import scipy.stats

from rlkit_jax.data.dataset import Dataset
from rlkit_jax.data.transitions import Transitions
from rlkit_jax.rewards.base import host_rng
from rlkit_jax.rewards.labellers import Labeller, make_teacher
from rlkit_jax.rewards.query_selection import select_queries
from rlkit_jax.rewards.labelled_queries import PreferenceArrays
from rlkit_jax.rewards.reward_model import RewardEnsemble, fit
from rlkit_jax.rewards.segments import episode_lengths, gather, sample_refs


def _replay_dataset(buffer: Any, seed_index: int, env_id: str | None) -> Dataset:
  """Seed ``seed_index``'s replay as a :class:`Dataset` (views, no copies) so segments can be gathered."""
  i = seed_index
  transitions = Transitions(
      observations=buffer.observations[i], actions=buffer.actions[i], rewards=buffer.env_rewards[i],
      terminals=buffer.terminals[i].astype(np.float32), next_observations=buffer.next_observations[i],
  )
  return Dataset(transitions, buffer.episode_ends[i], f"replay[{i}]", env_id, math.nan, math.nan, f"the replay of seed {i}")


@jax.jit
def _raw_rewards(models: RewardEnsemble, observations: jax.Array, actions: jax.Array) -> jax.Array:
  """Ensemble-mean raw reward per seed: models ``[S]``, ``[S, n, O]``, ``[S, n, A]`` → ``[S, n]``."""
  return jax.vmap(lambda m, o, a: jnp.mean(m.member_rewards(o, a), axis=0))(models, observations, actions)


class PreferenceReward:
  """A reward learned online from a labeller's preferences, one ensemble per seed.

  Args:
    num_seeds: S.
    observation_dim, action_dim: the task's sizes.
    num_steps: the run's env steps (to spread ``num_queries`` over the rounds that fit).
    key: initialises the S ensembles.
    labeller: any :class:`~rlkit_jax.rewards.labellers.Labeller` (default: the oracle teacher,
      which judges the stored task rewards).
    num_queries: labels per seed over the whole run (the issue's budget: ≤ 1000).
    query_every: env steps between labelling rounds.
    first_query_step: env step of the first round (the end of the random-action phase).
    segment_length: T. Default 25: episodes of a random Hopper policy last 18 steps in the median
      and only 3% reach 50, so B-Pref's 50 leaves almost no segments in the first rounds.
    selection: ``uniform``, ``disagreement`` or ``entropy`` for rounds after the first.
    candidates_per_query: pool size per chosen pair.
    ensemble_size, hidden_dims, learning_rate, batch_size, num_epochs, min_steps: the ensemble and
      its fit (see :class:`~rlkit_jax.rewards.learning.RewardLearningConfig`).
    env_id: recorded with the segments.
  """

  name = "preferences"

  def __init__(
      self,
      *,
      num_seeds: int,
      observation_dim: int,
      action_dim: int,
      num_steps: int,
      key: jax.Array,
      labeller: Labeller | None = None,
      num_queries: int = 1000,
      query_every: int = 5000,
      first_query_step: int = 5000,
      segment_length: int = 25,
      selection: str = "disagreement",
      candidates_per_query: int = 10,
      ensemble_size: int = 3,
      hidden_dims: Sequence[int] = (256, 256, 256),
      learning_rate: float = 3e-4,
      batch_size: int = 64,
      num_epochs: int = 50,
      min_steps: int = 200,
      env_id: str | None = None,
  ):
    if query_every <= 0 or first_query_step < 0 or num_queries <= 0:
      raise ValueError(
          f"PreferenceReward: need query_every > 0, first_query_step ≥ 0 and num_queries > 0, got "
          f"{query_every}, {first_query_step}, {num_queries}"
      )
    self.num_seeds, self.num_queries, self.query_every = num_seeds, num_queries, query_every
    self.first_query_step, self.segment_length, self.selection = first_query_step, segment_length, selection
    self.candidates_per_query, self.batch_size = candidates_per_query, batch_size
    self.num_epochs, self.min_steps, self.env_id = num_epochs, min_steps, env_id
    self.labeller = labeller if labeller is not None else make_teacher("oracle", seed=0)
    rounds = max(1, (num_steps - 1 - first_query_step) // query_every + 1)
    self.per_round = math.ceil(num_queries / rounds)
    create = lambda k: RewardEnsemble.create(
        k, observation_dim, action_dim, ensemble_size=ensemble_size, hidden_dims=tuple(hidden_dims), learning_rate=learning_rate
    )
    self.models = jax.vmap(create)(jax.random.split(key, num_seeds))
    capacity = num_queries
    self.observations = np.zeros((num_seeds, capacity, 2, segment_length, observation_dim), np.float32)
    self.actions = np.zeros((num_seeds, capacity, 2, segment_length, action_dim), np.float32)
    self.labels = np.zeros((num_seeds, capacity), np.float32)
    self.counts = np.zeros(num_seeds, np.int64)  # labelled (non-skipped) pairs per seed
    self.asked = 0  # pairs asked per seed so far (skipped ones included)

  def _model(self, i: int) -> RewardEnsemble:
    return jax.tree.map(lambda x: x[i], self.models)

  def update(self, step: int, buffer: Any, key: jax.Array) -> tuple[bool, dict[str, Any]]:
    due = step >= self.first_query_step and (step - self.first_query_step) % self.query_every == 0
    if not due or self.asked >= self.num_queries:
      return False, {}
    rng = host_rng(key)
    count = min(self.per_round, self.num_queries - self.asked)
    first_round = self.asked == 0
    for i in range(self.num_seeds):
      replay = _replay_dataset(buffer, i, self.env_id)
      lengths = episode_lengths(replay)
      pool_size = count if first_round or self.selection == "uniform" else count * self.candidates_per_query
      pool = sample_refs(lengths, num_queries=pool_size, segment_length=self.segment_length, rng=rng, source=replay.source)
      if pool_size > count:
        pool = pool[select_queries(self.selection, count, rng=rng, returns=self._model(i).query_returns(gather(replay, pool)))]
      queries = gather(replay, pool)
      labels = np.asarray(self.labeller(queries), np.float32)
      keep = ~np.isnan(labels)
      n, new = int(self.counts[i]), int(keep.sum())
      self.observations[i, n:n + new] = queries.observations[keep]
      self.actions[i, n:n + new] = queries.actions[keep]
      self.labels[i, n:n + new] = labels[keep]
      self.counts[i] += new
    self.asked += count
    data = PreferenceArrays(
        jnp.asarray(self.observations), jnp.asarray(self.actions), jnp.asarray(self.labels), None,
        jnp.asarray(self.counts, jnp.int32),
    )
    num_steps = max(self.min_steps, self.num_epochs * math.ceil(int(self.counts.max()) / self.batch_size))
    fitted, metrics = jax.vmap(lambda m, d: fit(m, d, num_steps=num_steps, batch_size=self.batch_size))(self.models, data)
    self.models = self._normalised(fitted, buffer)
    out = {name.removeprefix("reward_"): np.asarray(value) for name, value in metrics.items()}  # the driver prefixes
    out["queries"] = np.asarray(self.counts, np.float64)
    out["pearson"] = self._pearson(buffer, rng)
    return True, out

  def _normalised(self, models: RewardEnsemble, buffer: Any) -> RewardEnsemble:
    """Sets each seed's offset/scale so its ensemble-mean reward spans [0, 1] on its replay."""
    raw = np.concatenate(
        [np.asarray(_raw_rewards(models, jnp.asarray(buffer.observations[:, s:s + 50_000]), jnp.asarray(buffer.actions[:, s:s + 50_000])))
         for s in range(0, buffer.size, 50_000)], axis=1,
    )
    low, high = raw.min(axis=1), raw.max(axis=1)
    return models.replace(
        offset=jnp.asarray(low, jnp.float32), scale=jnp.asarray(1.0 / np.maximum(high - low, 1e-6), jnp.float32)
    )

  def _pearson(self, buffer: Any, rng: np.random.Generator) -> np.ndarray:
    """Pearson correlation of learned vs task reward on up to 10,000 replay rows per seed."""
    rows = rng.choice(buffer.size, min(buffer.size, 10_000), replace=False)
    learned = np.asarray(self.rewards(buffer.observations[:, rows], buffer.actions[:, rows], None))
    return np.asarray([scipy.stats.pearsonr(learned[i], buffer.env_rewards[i, rows])[0] for i in range(self.num_seeds)])

  def rewards(self, observations: Any, actions: Any, next_observations: Any, terminals: Any = None) -> jax.Array:
    """``[S, n, O]``, ``[S, n, A]`` → ``[S, n]``: seed i's normalised ensemble-mean r(s, a)."""
    del next_observations, terminals
    return _rewards(self.models, jnp.asarray(observations), jnp.asarray(actions))

  def state(self) -> dict[str, Any]:
    return {
        "models": self.models, "observations": self.observations, "actions": self.actions, "labels": self.labels,
        "counts": self.counts, "asked": np.asarray(self.asked),
    }

  def restore(self, state: dict[str, Any]) -> None:
    self.models = state["models"]
    self.observations, self.actions = np.asarray(state["observations"]), np.asarray(state["actions"])
    self.labels, self.counts = np.asarray(state["labels"]), np.asarray(state["counts"])
    self.asked = int(state["asked"])


@jax.jit
def _rewards(models: RewardEnsemble, observations: jax.Array, actions: jax.Array) -> jax.Array:
  return jax.vmap(lambda m, o, a: m.rewards(o, a))(models, observations, actions)


def make_preference_reward(*, config: Any, observation_dim: int, action_dim: int, key: jax.Array, **unused: Any) -> PreferenceReward:
  """The ``--reward=preferences`` factory: settings from ``config.reward_kwargs`` (``num_queries``,
  ``query_every``, ``segment_length``, ``selection``, ``teacher`` (a B-Pref teacher name),
  ``ensemble_size``, ...), the rest from the run's config."""
  kwargs = dict(config.reward_kwargs)
  teacher = kwargs.pop("teacher", "oracle")
  kwargs.setdefault("first_query_step", config.start_steps)
  if "hidden_dims" in kwargs and isinstance(kwargs["hidden_dims"], str):
    kwargs["hidden_dims"] = tuple(int(h) for h in kwargs["hidden_dims"].split("-"))
  return PreferenceReward(
      num_seeds=config.num_seeds, observation_dim=observation_dim, action_dim=action_dim, num_steps=config.num_steps,
      key=key, labeller=make_teacher(teacher, seed=config.seed), env_id=config.env_id, **kwargs,
  )
