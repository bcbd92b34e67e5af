"""RvS: the prompt selects the behaviour (a two-outcome dataset in miniature), the evaluation
prompt is decremented by the rewards received, seeds × prompts vmap, missing fields are named."""
from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from agent_testing import BATCH, HIDDEN, A, O, assert_trees_equal, assert_update_is_pure, member, member_keys, random_batch
from rlkit_jax.agents import RvS
from rlkit_jax.data import preprocessing
from rlkit_jax.data.dataset import Dataset
from rlkit_jax.training import evaluation

update = jax.jit(lambda agent, batch: agent.update(batch))


def _conditioned_batch(seed: int = 0):
  """One state; half the rows took (0.5, 0.5) and went on to return 900 from t = 0, half took
  (−0.5, −0.5) and returned 100: ω = 0.9 and 0.1 per step of H = 1000."""
  rng = np.random.default_rng(seed)
  good = np.arange(BATCH) % 2 == 0
  return dataclasses.replace(
      random_batch(seed),
      observations=jnp.asarray(np.tile(rng.standard_normal(O), (BATCH, 1)), jnp.float32),
      actions=jnp.asarray(np.where(good[:, None], 0.5, -0.5) * np.ones((BATCH, A)), jnp.float32),
      returns_to_go=jnp.asarray(np.where(good, 900.0, 100.0), jnp.float32),
      timesteps=jnp.zeros(BATCH, jnp.int32),
  )


def test_the_prompt_selects_good_or_bad_behaviour():
  agent = RvS.create(jax.random.key(0), O, A, hidden_dims=HIDDEN, actor_lr=1e-2)
  batch = _conditioned_batch()
  _, agent, info = assert_update_is_pure(update, agent, batch, ("actor",))
  assert set(info) == {"actor_loss", "outcome_mean"}
  np.testing.assert_allclose(info["outcome_mean"], 0.5, rtol=1e-6)
  for _ in range(400):
    agent, info = update(agent, batch)
  observation = batch.observations[:1]
  high = agent.conditioned_actions(observation, jnp.asarray([0.9]))[0]
  low = agent.conditioned_actions(observation, jnp.asarray([0.1]))[0]
  np.testing.assert_allclose(high, [0.5, 0.5], atol=0.1)
  np.testing.assert_allclose(low, [-0.5, -0.5], atol=0.1)
  # The stateless form is the first step under the agent's own prompt R̂_0 = target_return.
  prompted = agent.replace(target_return=jnp.asarray(900.0))
  np.testing.assert_allclose(prompted.eval_actions(observation)[0], high, rtol=1e-6)


def test_the_evaluation_prompt_drops_by_each_reward_received():
  agents = jax.vmap(lambda k, target: RvS.create(k, O, A, hidden_dims=HIDDEN, target_return=target, horizon=10))(
      member_keys([0, 1]), jnp.asarray([100.0, 50.0])
  )
  prompt = evaluation.ReturnPrompt(agents, episodes_per_seed=2)
  seen = []
  original = evaluation._conditioned_actions
  try:
    evaluation._conditioned_actions = lambda a, obs, outcomes: (seen.append(np.asarray(outcomes)), original(a, obs, outcomes))[1]
    observations = np.zeros((4, O), np.float32)
    assert prompt(observations).shape == (4, A)
    prompt.observe(np.array([1.0, 2.0, 3.0, 4.0]))
    prompt(observations)
  finally:
    evaluation._conditioned_actions = original
  np.testing.assert_allclose(seen[0], [[10.0, 10.0], [5.0, 5.0]])  # R̂_0 / H
  np.testing.assert_allclose(seen[1], [[99 / 9, 98 / 9], [47 / 9, 46 / 9]], rtol=1e-6)  # (R̂_0 − r) / (H − 1)


def test_seeds_and_prompts_vmap_to_their_members():
  agents = jax.jit(jax.vmap(lambda k, target: RvS.create(k, O, A, hidden_dims=HIDDEN, target_return=target)))(
      member_keys([0, 0, 1, 1]), jnp.asarray([3000.0, 1000.0, 3000.0, 1000.0])
  )
  batch = _conditioned_batch(1)
  new, _ = jax.jit(jax.vmap(lambda a, b: a.update(b), in_axes=(0, None)))(agents, batch)
  assert_trees_equal(member(new, 0).actor, member(new, 1).actor)  # the prompt does not enter training
  own, _ = update(member(agents, 2), batch)
  assert_trees_equal(member(new, 2), own, rtol=1e-5, atol=1e-6)


def test_update_names_the_missing_fields():
  agent = RvS.create(jax.random.key(0), O, A, hidden_dims=HIDDEN)
  with pytest.raises(ValueError, match="with_timesteps"):
    agent.update(dataclasses.replace(_conditioned_batch(), timesteps=None))


def test_with_timesteps_counts_from_each_trajectory_start():
  dataset = Dataset.from_arrays(
      observations=np.zeros((6, 3), np.float32), actions=np.zeros((6, 2), np.float32), rewards=np.ones(6, np.float32),
      terminals=np.array([0, 1, 0, 0, 0, 0], np.float32), timeouts=np.array([0, 0, 0, 0, 1, 0], np.float32),
      next_observations=np.zeros((6, 3), np.float32),
  )
  np.testing.assert_array_equal(preprocessing.with_timesteps(dataset).transitions.timesteps, [0, 1, 0, 1, 2, 0])
