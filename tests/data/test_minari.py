"""Minari datasets for real: recorded with Minari's own ``DataCollector`` around a gymnasium task
(random actions, no download) into a temporary ``$MINARI_DATASETS_PATH``, then loaded with
``rlkit_jax.data.load("minari:<id>")`` and compared step by step with what the task emitted."""
from __future__ import annotations

import gymnasium as gym
import minari
import numpy as np
import pytest

from rlkit_jax import data


def _record(env_id: str, dataset_id: str, *, episodes: int, max_steps: int, seed: int, wrap=lambda env: env) -> list[tuple]:
  """Random-policy episodes through ``minari.DataCollector`` (around ``wrap(task)``), stored as
  ``dataset_id``; returns the steps the task emitted, ``(s, a, r, terminated, truncated, s')`` each."""
  collector = minari.DataCollector(wrap(gym.make(env_id, max_episode_steps=max_steps)))
  collector.action_space.seed(seed)
  steps = []
  for episode in range(episodes):
    observation, _ = collector.reset(seed=seed + episode)
    done = False
    while not done:
      action = collector.action_space.sample()
      next_observation, reward, terminated, truncated, _ = collector.step(action)
      steps.append((observation, action, reward, terminated, truncated, next_observation))
      observation, done = next_observation, terminated or truncated
  collector.create_dataset(
      dataset_id=dataset_id, algorithm_name="uniform random actions", author="rlkit_jax tests",
      author_email="tests@example.org", code_permalink="tests/data/test_minari.py", description="a test dataset",
      eval_env=env_id,
  )
  collector.close()
  return steps


@pytest.mark.parametrize(
    "env_id, episodes, max_steps, scale",
    [
        ("Pendulum-v1", 3, 25, 2.0),  # time-outs only; actions in [-2, 2], rescaled to [-1, 1]
        ("Hopper-v5", 4, 40, 1.0),  # random actions fall over: terminations and time-outs
    ],
)
def test_a_minari_dataset_loads_as_recorded(tmp_path, monkeypatch, env_id, episodes, max_steps, scale):
  monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "minari"))
  dataset_id = f"rlkit-test/{env_id.split('-')[0].lower()}/random-v0"
  steps = _record(env_id, dataset_id, episodes=episodes, max_steps=max_steps, seed=0)
  dataset = data.load(f"minari:{dataset_id}")
  s, a, r, terminated, truncated, s_next = (np.asarray(x) for x in zip(*steps))
  assert truncated.any() and terminated.any() == (env_id == "Hopper-v5")  # both ways of ending, where the task has both
  t = dataset.transitions
  assert (dataset.source, dataset.name, dataset.env_id, len(dataset)) == (f"minari:{dataset_id}", dataset_id, env_id, len(steps))
  np.testing.assert_array_equal(t.observations, s.astype(np.float32))
  np.testing.assert_array_equal(t.next_observations, s_next.astype(np.float32))
  np.testing.assert_allclose(t.actions, a / scale, rtol=1e-6, atol=1e-7)
  assert np.abs(t.actions).max() <= 1.0 and t.actions.dtype == np.float32
  np.testing.assert_allclose(t.rewards, r.astype(np.float32), rtol=1e-6)
  np.testing.assert_array_equal(t.terminals, terminated.astype(np.float32))
  np.testing.assert_array_equal(dataset.episode_ends, terminated | truncated)
  assert int(dataset.episode_ends.sum()) == episodes
  if scale != 1.0:
    assert dataset.attrs["minari_action_bounds"] == [[-scale], [scale]]
  want = data.reference_scores(env_id) if env_id.startswith("Hopper") else (np.nan, np.nan)
  np.testing.assert_array_equal((dataset.ref_min_score, dataset.ref_max_score), want)


def test_a_minari_id_not_stored_here_is_refused(tmp_path, monkeypatch):
  monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "empty"))
  with pytest.raises(data.DatasetError, match="minari:rlkit-test/none/random-v0: not found among the local Minari datasets"):
    data.load("minari:rlkit-test/none/random-v0")


def test_a_goal_task_dataset_loads_in_the_goal_layout(tmp_path, monkeypatch):
  """PointMaze's dict observations are flattened as make_env flattens the task's, with goal_dim
  recorded, and the task id imports gymnasium-robotics."""
  from rlkit_jax.envs.make import make_env

  monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "minari"))
  import gymnasium_robotics  # noqa: F401  (registers PointMaze for the collector's gym.make)

  steps = _record("PointMaze_UMaze-v3", "rlkit-test/pointmaze/random-v0", episodes=2, max_steps=15, seed=0)
  dataset = data.load("minari:rlkit-test/pointmaze/random-v0")
  assert dataset.env_id == "gymnasium_robotics:PointMaze_UMaze-v3" and dataset.attrs["goal_dim"] == 2
  env = make_env(dataset.env_id)
  flat = np.stack([gym.spaces.flatten(env.unwrapped.observation_space, s) for s, *_ in steps]).astype(np.float32)
  env.close()
  np.testing.assert_array_equal(dataset.transitions.observations, flat)
  np.testing.assert_array_equal(dataset.transitions.observations[:, 4:6], dataset.transitions.observations[:, :2])


def test_dict_observations_of_another_kind_are_refused(tmp_path, monkeypatch):
  monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "minari"))
  import gymnasium_robotics  # noqa: F401

  keep = lambda env: gym.wrappers.FilterObservation(env, ["desired_goal", "observation"])
  _record("PointMaze_UMaze-v3", "rlkit-test/pointmaze/partial-v0", episodes=1, max_steps=5, seed=0, wrap=keep)
  with pytest.raises(data.DatasetError, match=r"field 'observations' is a dict .* but not a goal task's"):
    data.load("minari:rlkit-test/pointmaze/partial-v0")
