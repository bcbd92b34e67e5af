"""RvS-G: hindsight goals are drawn as GCSL draws them (exact probabilities from NumPy), the loss
is the batch's negative log-likelihood, the goal steers the policy, seeds vmap."""
from __future__ import annotations

import collections
import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from agent_testing import HIDDEN, assert_trees_equal, assert_update_is_pure, member, member_keys
from rlkit_jax.agents import RvSG
from rlkit_jax.agents.rvs import hindsight_goal_batch
from rlkit_jax.data import preprocessing
from rlkit_jax.data.dataset import Dataset
from rlkit_jax.data.transitions import Transitions

G = 1  # goal width of the miniatures below: observations [achieved, desired, row index]
LENGTHS = (1, 3, 5)


def _successors(observations: np.ndarray, terminals: np.ndarray) -> np.ndarray:
  """s_{t+1}: the next row's observation inside a trajectory (its own at a terminal row)."""
  return np.where(terminals[:, None] > 0, observations, np.roll(observations, -1, axis=0))


def _rows_dataset() -> Transitions:
  """Trajectories of LENGTHS; row r's achieved goal is 10 r, its desired goal −1, its state r."""
  n = sum(LENGTHS)
  rows = np.arange(n, dtype=np.float32)
  ends = np.cumsum(LENGTHS) - 1
  observations = np.stack([10.0 * rows, -np.ones(n, np.float32), rows], axis=1)
  terminals = np.zeros(n, np.float32)
  terminals[ends] = 1.0
  dataset = Dataset.from_arrays(
      observations=observations, actions=np.zeros((n, 1), np.float32), rewards=np.zeros(n, np.float32),
      terminals=terminals, next_observations=_successors(observations, terminals),
  )
  return preprocessing.with_episode_lengths(preprocessing.with_timesteps(dataset)).transitions


def _gcsl_pair_probabilities() -> dict[tuple[int, int], float]:
  """P(start row, goal row): a row uniform over N, then i uniform in [0, L − 2] (0 if L = 1) and j
  in [0, L − 1] in its trajectory; start = min, goal = max."""
  n, out, start = sum(LENGTHS), collections.defaultdict(float), 0
  for length in LENGTHS:
    firsts = range(max(length - 1, 1))
    for i in firsts:
      for j in range(length):
        out[(start + min(i, j), start + max(i, j))] += (length / n) / (len(firsts) * length)
    start += length
  return dict(out)


def test_hindsight_goals_are_drawn_as_gcsl_draws_them():
  data = _rows_dataset()
  draws = jax.jit(lambda key: hindsight_goal_batch(data, key, 200_000, G))(jax.random.key(0))
  starts = np.asarray(draws.observations[:, 2]).astype(int)
  goals = np.asarray(draws.observations[:, 1] / 10.0).astype(int)
  np.testing.assert_array_equal(np.asarray(draws.observations[:, 0]), 10.0 * starts)  # the start row's own achieved goal
  np.testing.assert_array_equal(np.asarray(draws.timesteps), np.asarray(data.timesteps)[starts])  # other fields: the start row's
  expected = _gcsl_pair_probabilities()
  pairs, counts = np.unique(np.stack([starts, goals], axis=1), axis=0, return_counts=True)
  assert {tuple(p) for p in pairs} <= set(expected)  # never a goal before the start, or in another trajectory
  for pair, count in zip(pairs, counts):
    assert count / len(starts) == pytest.approx(expected[tuple(pair)], abs=4e-3)
  assert len(pairs) == len(expected)


def test_hindsight_goals_agree_with_and_without_jit_and_under_vmap():
  data = _rows_dataset()
  eager = [hindsight_goal_batch(data, member_keys([3, 4])[i], 64, G) for i in range(2)]  # fresh keys per call
  jitted = jax.jit(lambda k: hindsight_goal_batch(data, k, 64, G))(member_keys([3, 4])[0])
  vmapped = jax.vmap(lambda k: hindsight_goal_batch(data, k, 64, G))(member_keys([3, 4]))
  assert_trees_equal(eager[0], jitted)
  for i in range(2):
    assert_trees_equal(member(vmapped, i), eager[i])


def test_hindsight_goals_name_the_missing_fields():
  with pytest.raises(ValueError, match="with_episode_lengths"):
    hindsight_goal_batch(_rows_dataset().replace(episode_lengths=None), jax.random.key(0), 4, G)


def _line_data() -> Transitions:
  """From x = 0, twenty trajectories walk right with action +0.5 and twenty left with −0.5, 6 steps
  each: the goal's side is the only thing that tells which action to take."""
  rows = []
  for direction in [1.0] * 20 + [-1.0] * 20:
    for t in range(6):
      x = direction * t
      rows.append(([x, 0.0, x], [0.5 * direction]))
  observations = np.asarray([r[0] for r in rows], np.float32)
  terminals = (np.arange(len(rows)) % 6 == 5).astype(np.float32)
  dataset = Dataset.from_arrays(
      observations=observations, actions=np.asarray([r[1] for r in rows], np.float32), rewards=np.zeros(len(rows), np.float32),
      terminals=terminals, next_observations=_successors(observations, terminals),
  )
  return preprocessing.with_episode_lengths(preprocessing.with_timesteps(dataset)).transitions


def _numpy_loss(agent: RvSG, batch: Transitions) -> float:
  means, log_stds = (np.asarray(x, np.float64) for x in agent.actor.apply_fn({"params": agent.actor.params}, batch.observations))
  actions = np.asarray(batch.actions, np.float64)
  log_prob = np.sum(-0.5 * ((actions - means) / np.exp(log_stds)) ** 2 - log_stds - 0.5 * np.log(2 * np.pi), axis=-1)
  return float(-np.mean(log_prob))


def test_the_goal_steers_the_policy():
  data = _line_data()
  agent = RvSG.create(jax.random.key(0), 3, 1, hidden_dims=HIDDEN, actor_lr=1e-2, goal_dim=G)
  batch = agent.sample_batch(data, jax.random.key(1), 256)
  update = jax.jit(lambda a, b: a.update(b))
  _, new, info = assert_update_is_pure(update, agent, batch, ("actor",))
  assert set(info) == {"actor_loss", "goal_distance"}
  assert float(info["actor_loss"]) == pytest.approx(_numpy_loss(agent, batch), rel=1e-5)
  observations = np.asarray(batch.observations)
  assert float(info["goal_distance"]) == pytest.approx(np.mean(np.abs(observations[:, 1] - observations[:, 0])), rel=1e-5)

  @jax.jit
  def train(agent, key):
    def step(agent, key):
      return agent.update(agent.sample_batch(data, key, 256))
    return jax.lax.scan(step, agent, jax.random.split(key, 300))[0]

  trained = train(agent, jax.random.key(2))
  # At x = 1 (on the right-walkers' path; x = 1 is never on a left-walker's), a goal at 4 asks for
  # +0.5; from the start x = 0, a goal at −3 asks for −0.5 and one at 3 for +0.5.
  asked = jnp.asarray([[1.0, 4.0, 1.0], [0.0, -3.0, 0.0], [0.0, 3.0, 0.0]])
  np.testing.assert_allclose(trained.eval_actions(asked)[:, 0], [0.5, -0.5, 0.5], atol=0.1)


def test_seeds_vmap_to_their_members():
  data = _line_data()
  agents = jax.jit(jax.vmap(lambda k: RvSG.create(k, 3, 1, hidden_dims=HIDDEN, goal_dim=G)))(member_keys([0, 1]))
  batch = RvSG.sample_batch(member(agents, 0), data, jax.random.key(5), 32)
  new, _ = jax.jit(jax.vmap(lambda a, b: a.update(b), in_axes=(0, None)))(agents, batch)
  own, _ = jax.jit(lambda a, b: a.update(b))(member(agents, 1), batch)
  assert_trees_equal(member(new, 1), own, rtol=1e-5, atol=1e-6)


def test_create_refuses_observations_without_room_for_two_goals():
  with pytest.raises(ValueError, match=r"observation_dim=4 has no room .* goal_dim=2"):
    RvSG.create(jax.random.key(0), 4, 2, hidden_dims=HIDDEN, goal_dim=2)


def test_with_episode_lengths_gives_each_row_its_trajectory_length():
  data = _rows_dataset()
  np.testing.assert_array_equal(np.asarray(data.episode_lengths), [1, 3, 3, 3, 5, 5, 5, 5, 5])
