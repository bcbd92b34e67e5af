"""ReBRAC's own checks (the shared ones are in test_offline_agent_checks.py): the critic's BC
penalty reaches the target, LayerNorm sits in the critics only, next actions are required."""
from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from agent_testing import BATCH, HIDDEN, A, O, member_keys, random_batch
from rlkit_jax.agents import ReBRAC
from rlkit_jax.data import preprocessing
from rlkit_jax.data.dataset import Dataset


def test_the_critic_penalty_lowers_q_by_the_distance_to_the_next_data_action():
  """Zero rewards, no terminals, next data actions far from any tanh policy's (at ±1 in every
  dimension, opposite to each other): two agents from the same key, β₂ = 0 and β₂ = 1. Every
  target of the second carries −γ β₂ ‖ã' − a'‖² (about −2 per row), so its Q falls well below the
  first's (whose fixed point is Q = 0, approached slowly through τ = 0.005)."""
  batch = dataclasses.replace(
      random_batch(5),
      rewards=jnp.zeros(BATCH, jnp.float32),
      terminals=jnp.zeros(BATCH, jnp.float32),
      next_actions=jnp.asarray(np.where(np.arange(BATCH)[:, None] % 2 == 0, 1.0, -1.0) * np.ones((BATCH, A)), jnp.float32),
  )
  create = jax.jit(jax.vmap(lambda k, beta: ReBRAC.create(k, O, A, hidden_dims=HIDDEN, critic_bc_coef=beta, critic_lr=1e-2)))
  agents = create(member_keys([0, 0]), jnp.asarray([0.0, 1.0], jnp.float32))
  step = jax.jit(jax.vmap(lambda a, b: a.update(b), in_axes=(0, None)))
  for _ in range(300):
    agents, info = step(agents, batch)
  q = np.asarray(info["q_data"])
  assert q[1] < q[0] - 2.0, q


def test_layer_norm_is_in_the_critics_only():
  agent = ReBRAC.create(jax.random.key(0), O, A, hidden_dims=HIDDEN)
  names = lambda params: {"/".join(str(getattr(k, "key", k)) for k in path) for path, _ in jax.tree_util.tree_leaves_with_path(params)}
  assert any("LayerNorm" in n for n in names(agent.critic.params))
  assert not any("LayerNorm" in n for n in names(agent.actor.params))
  plain = ReBRAC.create(jax.random.key(0), O, A, hidden_dims=HIDDEN, critic_layer_norm=False)
  assert not any("LayerNorm" in n for n in names(plain.critic.params))


def test_update_without_next_actions_says_how_to_add_them():
  agent = ReBRAC.create(jax.random.key(0), O, A, hidden_dims=HIDDEN)
  with pytest.raises(ValueError, match="with_next_actions"):
    agent.update(dataclasses.replace(random_batch(), next_actions=None))


def test_with_next_actions_follows_trajectories():
  actions = (np.arange(12, dtype=np.float32) / 12).reshape(6, 2)
  ends = np.array([False, False, True, False, False, True])
  dataset = Dataset.from_arrays(
      observations=np.zeros((6, 3), np.float32), actions=actions, rewards=np.zeros(6, np.float32),
      terminals=np.array([0, 0, 1, 0, 0, 0], np.float32), timeouts=np.array([0, 0, 0, 0, 0, 1], np.float32),
      next_observations=np.zeros((6, 3), np.float32),
  )
  np.testing.assert_array_equal(dataset.episode_ends, ends)
  got = np.asarray(preprocessing.with_next_actions(dataset).transitions.next_actions)
  np.testing.assert_array_equal(got, actions[[1, 2, 2, 4, 5, 5]])
