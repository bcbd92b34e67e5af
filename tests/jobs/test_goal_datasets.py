"""Goal tasks end to end at toy size: PointMaze's flattened observation layout, the maze2d recipe's
planner and file (made by its script), RvS-G trained and evaluated on it by the offline job, and
the refusals of a file without the goal layout."""
from __future__ import annotations

import csv
import json
import os
import subprocess
import sys

import h5py
import numpy as np
import pytest

from rlkit_jax.data import load
from rlkit_jax.envs.evaluation import evaluate
from rlkit_jax.envs.make import make_env
from rlkit_jax.errors import UsageError
from rlkit_jax.generation.maze import shortest_path, waypoint_controller
from rlkit_jax.offline import OfflineConfig, load_trained, run_offline
from rlkit_jax.training.evaluation import evaluate_agents

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
UMAZE = "gymnasium_robotics:PointMaze_UMaze-v3"


def test_goal_observations_are_flattened_achieved_desired_state():
  env = make_env(UMAZE)
  observation, _ = env.reset(seed=0)
  assert observation.shape == (8,)
  np.testing.assert_allclose(observation[:2], observation[4:6])  # the achieved goal is the point's position
  np.testing.assert_allclose(observation[2:4], env.unwrapped.goal)
  env.close()


def test_shortest_path_goes_round_walls_and_refuses_walled_off_cells():
  free = np.array([[1, 1, 1], [0, 0, 1], [1, 1, 1]], bool)  # a U turned on its side
  assert shortest_path(free, (0, 0), (2, 0)) == [(0, 0), (0, 1), (0, 2), (1, 2), (2, 2), (2, 1), (2, 0)]
  assert shortest_path(free, (1, 2), (1, 2)) == [(1, 2)]
  with pytest.raises(ValueError, match=r"no path .* \(0, 0\) to cell \(1, 0\)"):
    shortest_path(free, (0, 0), (1, 0))


def test_the_noise_free_controller_reaches_the_goal():
  env = make_env(UMAZE)
  policy = waypoint_controller(UMAZE, action_noise=0.0, seed=0)
  observation, _ = env.reset(seed=3)
  for _ in range(200):
    observation, reward, *_ = env.step(policy(observation[None].astype(np.float32)))
  assert reward == 1.0 and np.linalg.norm(observation[:2] - observation[2:4]) < 0.45
  env.close()


def test_evaluation_reports_success_where_the_task_does():
  controller = waypoint_controller(UMAZE, action_noise=0.0, seed=0)
  returns, successes = evaluate(lambda obs: np.stack([controller(o[None]) for o in obs]), UMAZE, num_envs=3, seed=0, with_success=True)
  np.testing.assert_array_equal(successes, 1.0)
  assert np.all(returns > 0)
  _, still = evaluate(lambda obs: np.zeros((len(obs), 2), np.float32), UMAZE, num_envs=3, seed=0, with_success=True)
  env = make_env(UMAZE)
  starts = [env.reset(seed=i)[0] for i in range(3)]  # copy i of the vector env is reset with seed 0 + i
  env.close()
  far = [np.linalg.norm(s[:2] - s[2:4]) > 0.45 for s in starts]
  np.testing.assert_array_equal(still, np.where(far, 0.0, 1.0))  # standing still succeeds only where it starts at the goal
  _, hopper = evaluate(lambda obs: np.zeros((len(obs), 3), np.float32), "Hopper-v5", num_envs=2, seed=0, with_success=True)
  assert np.isnan(hopper).all()


def test_the_wandering_controller_ignores_the_goal_and_moves_on_at_each_target():
  env = make_env(UMAZE)
  policy = waypoint_controller(UMAZE, action_noise=0.0, seed=0, wander=True)
  observation, _ = env.reset(seed=3)
  other_goal = observation.copy()
  other_goal[2:4] = -other_goal[2:4]
  np.testing.assert_array_equal(policy(observation[None]), policy(other_goal[None]))
  visited = set()
  for _ in range(300):
    observation, *_ = env.step(policy(observation[None].astype(np.float32)))
    visited.add(tuple(env.unwrapped.maze.cell_xy_to_rowcol(observation[:2])))
  env.close()
  assert len(visited) >= 4  # it reached a target and set off for others


@pytest.fixture(scope="module")
def maze_file(tmp_path_factory):
  path = str(tmp_path_factory.mktemp("maze") / "umaze.hdf5")
  out = subprocess.run(
      [sys.executable, os.path.join(REPO, "experiments", "make_maze_dataset.py"), f"--env={UMAZE}",
       "--num_transitions=900", "--seed=1", f"--out={path}"],
      capture_output=True, text=True, check=True,
  )
  assert f"-> {path}" in out.stdout
  return path


def test_the_maze_file_records_layout_references_and_provenance(maze_file):
  with h5py.File(maze_file) as f:
    assert f.attrs["goal_dim"] == 2 and f.attrs["env_id"] == UMAZE and f.attrs["seed"] == 1
    assert "make_maze_dataset.py" in f.attrs["command"]
    assert f.attrs["ref_max_score"] > f.attrs["ref_min_score"] + 100  # the controller reaches goals; chance rarely does
  dataset = load(maze_file)
  assert len(dataset) == 900 and dataset.episode_ends.sum() == 3  # three 300-step episodes
  observations = dataset.transitions.observations
  np.testing.assert_allclose(observations[:, :2], observations[:, 4:6])


def _config(path, **overrides):
  kwargs = dict(algo="rvs_g", dataset=path, num_seeds=2, num_updates=20, batch_size=16, eval_every=10,
                updates_per_call=10, eval_episodes=1, hidden_dims=(8, 8))
  return OfflineConfig(**{**kwargs, **overrides})


def test_rvs_g_trains_and_evaluates_on_the_maze(maze_file, tmp_path):
  summary = run_offline(_config(maze_file), str(tmp_path), progress=False)
  assert np.isfinite(summary["normalized_score_mean"])
  with open(tmp_path / "metrics.csv") as f:
    rows = list(csv.DictReader(f))
  assert len(rows) == 4 and all(0 < float(r["goal_distance"]) < 10 for r in rows)
  assert all(float(r["success_rate"]) in (0.0, 1.0) for r in rows)  # one episode per seed
  assert json.load(open(tmp_path / "config.json"))["algo"] == "rvs_g"
  # Again from the checkpoint, under a shorter time limit (experiments/evidence/goal_reaching.py):
  # an episode of one step reaches the goal only where it starts within 0.45 of it.
  _, agents, dataset = load_trained(str(tmp_path))
  returns, successes = evaluate_agents(agents, dataset.env_id, episodes_per_seed=3, seed=0, with_success=True, max_episode_steps=1)
  assert returns.shape == successes.shape == (2, 3) and np.all(returns == successes)


def test_return_conditioned_agents_take_the_maze_time_limit_as_horizon(maze_file, tmp_path):
  """RvS on the maze: H is the task's 300 steps, not the MuJoCo default of 1000, recorded and restored."""
  run_offline(_config(maze_file, algo="rvs", num_updates=10, eval_every=10), str(tmp_path), progress=False)
  assert json.load(open(tmp_path / "config.json"))["agent_kwargs"]["horizon"] == 300
  _, agents, _ = load_trained(str(tmp_path))
  assert agents.horizon == 300


def test_goal_algorithms_refuse_files_without_the_layout(maze_file, hopper_file, tmp_path):
  with pytest.raises(UsageError, match=r"--algo=rvs_g needs a goal dataset, but .* has no 'goal_dim' attribute"):
    run_offline(_config(hopper_file), str(tmp_path / "hopper"), progress=False)
  with pytest.raises(UsageError, match=r"attribute 'goal_dim' is 2 but --algo=rvs_g has goal_dim=3; fix: --hparams=goal_dim=2"):
    run_offline(_config(maze_file, agent_kwargs={"goal_dim": 3}), str(tmp_path / "three"), progress=False)
  assert not os.listdir(tmp_path)  # refused before anything was written
