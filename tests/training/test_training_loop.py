"""The training core as a library call: IQL on a user's own arrays, with no environment, no files
and no driver, in the ten lines the README shows."""
from __future__ import annotations

import functools

import jax
import numpy as np
import pytest

import rlkit_jax as rk
from rlkit_jax.training import train


def _arrays(n: int = 400, seed: int = 0):
  """A one-step bandit: the reward is 1 − |a − 0.5|² summed over 2 action dims, episodes of 20 steps."""
  rng = np.random.default_rng(seed)
  observations = rng.normal(size=(n, 3)).astype(np.float32)
  actions = rng.uniform(-1, 1, (n, 2)).astype(np.float32)
  rewards = (1.0 - ((actions - 0.5) ** 2).sum(axis=1)).astype(np.float32)
  terminals = np.zeros(n, bool)
  timeouts = np.arange(n) % 20 == 19
  return observations, actions, rewards, terminals, timeouts


def test_iql_on_own_arrays_in_ten_lines_without_an_environment(monkeypatch):
  def no_env(*args, **kwargs):
    raise AssertionError("an environment was created")

  monkeypatch.setattr("gymnasium.make", no_env)
  # --- the README's ten lines ---
  observations, actions, rewards, terminals, timeouts = _arrays()
  dataset = rk.data.Dataset.from_arrays(observations, actions, rewards, terminals, timeouts)
  create = functools.partial(rk.IQL.create, observation_dim=3, action_dim=2, hidden_dims=(32, 32))
  result = train(create, dataset.transitions, num_updates=600, num_seeds=2, batch_size=64, updates_per_call=200)
  policy = jax.vmap(lambda agent, obs: agent.eval_actions(obs), in_axes=(0, None))
  chosen = policy(result.agents, observations[:50])
  # -------------------------------
  assert chosen.shape == (2, 50, 2) and result.active.tolist() == [True, True]
  assert set(result.metrics) >= {"value_loss", "actor_loss", "critic_loss"}
  assert result.metrics["critic_loss"].shape == (3, 2)
  assert np.all(result.metrics["critic_loss"][-1] < result.metrics["critic_loss"][0])
  # advantage weighting moves the policy to the best action (0.5, 0.5); BC stays at the data's mean
  # action 0 (measured: IQL 0.14-0.16 from it, BC 0.53)
  assert np.all(np.abs(np.asarray(chosen) - 0.5).mean(axis=(1, 2)) < 0.3)
  assert np.isnan(dataset.ref_min_score) and dataset.env_id is None


def test_same_seed_same_agents_and_the_callback_sees_every_call():
  observations, actions, rewards, terminals, timeouts = _arrays()
  transitions = rk.data.Dataset.from_arrays(observations, actions, rewards, terminals, timeouts).transitions
  create = functools.partial(rk.BC.create, observation_dim=3, action_dim=2, hidden_dims=(8,))
  seen = []
  first = train(create, transitions, num_updates=20, num_seeds=2, batch_size=8, updates_per_call=10,
                callback=lambda step, agents, metrics: seen.append((step, metrics["actor_loss"].shape)))
  second = train(create, transitions, num_updates=20, num_seeds=2, batch_size=8, updates_per_call=10)
  assert seen == [(10, (2,)), (20, (2,))]
  jax.tree.map(np.testing.assert_array_equal, first.agents.actor.params, second.agents.actor.params)


def test_bad_counts_and_bad_arrays_are_refused():
  observations, actions, rewards, terminals, timeouts = _arrays()
  create = functools.partial(rk.BC.create, observation_dim=3, action_dim=2, hidden_dims=(8,))
  dataset = rk.data.Dataset.from_arrays(observations, actions, rewards, terminals, timeouts)
  with pytest.raises(ValueError, match="num_updates=15 is not a multiple of updates_per_call=10"):
    train(create, dataset.transitions, num_updates=15, updates_per_call=10)
  with pytest.raises(ValueError, match="num_seeds must be positive"):
    train(create, dataset.transitions, num_updates=10, num_seeds=0, updates_per_call=10)
  bad = rewards.copy()
  bad[3] = np.nan
  with pytest.raises(rk.data.DatasetError, match="arrays"):
    rk.data.Dataset.from_arrays(observations, actions, bad, terminals, timeouts)
  with pytest.raises(rk.data.DatasetError, match="actions"):
    rk.data.Dataset.from_arrays(observations, actions * 3, rewards, terminals, timeouts)


def test_check_recorded_refuses_other_settings_and_passes_folders_that_recorded_none(tmp_path):
  from rlkit_jax.errors import UsageError
  from rlkit_jax.training import run_folder

  path = str(tmp_path / "config.json")
  run_folder.check_recorded(path, "reward_settings", {"a": 1})  # no file yet
  run_folder.write_json(path, {"env_id": "Hopper-v5"})  # a folder from before the key existed
  run_folder.check_recorded(path, "reward_settings", {"a": 1})
  run_folder.write_json(path, {"reward_settings": {"a": 1, "dims": [8, 8]}})
  run_folder.check_recorded(path, "reward_settings", {"a": 1, "dims": (8, 8)})  # compared as JSON
  with pytest.raises(UsageError, match=r"config.json: this run began with other reward_settings \(a: 1 then, 2 now, c: None then, 0 now\)"):
    run_folder.check_recorded(path, "reward_settings", {"a": 2, "dims": [8, 8], "c": 0})
