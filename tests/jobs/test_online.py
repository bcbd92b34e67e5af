"""The online SAC driver on a real (tiny) Hopper-v5: outputs, determinism, resume, the reward hook, errors."""
from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys

import jax
import numpy as np
import pytest

from rlkit_jax import online, results
from rlkit_jax.rewards import base
from rlkit_jax.checkpoint import CheckpointError, Checkpointer
from rlkit_jax.online import OnlineConfig, run_online, train_online
from rlkit_jax.results import plot_online
from rlkit_jax.rewards.base import ReplayView, TrueReward

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NUM_STEPS = 200


def _config(**overrides) -> OnlineConfig:
  kwargs = dict(
      env_id="Hopper-v5", num_seeds=2, num_steps=NUM_STEPS, start_steps=100, update_every=50, batch_size=16,
      eval_every=100, eval_episodes=1, hidden_dims=(8, 8),
  )
  kwargs.update(overrides)
  return OnlineConfig(**kwargs)


def _rows(workdir: str) -> list[dict[str, str]]:
  with open(os.path.join(workdir, "metrics.csv"), newline="") as f:
    return list(csv.DictReader(f))


def _params(agents) -> dict:
  return jax.device_get({"actor": agents.actor.params, "critic": agents.critic.params, "log_alpha": agents.log_alpha.params})


class ActionCost:
  """A fake learned reward: r = -scale · ||a||²; scale goes 1 → 2 at the first update and 2 → 3 at
  the third (each reported as a change), and it logs a scalar and a per-seed metric."""

  name = "action_cost"

  def __init__(self, num_seeds: int = 2):
    self.scale = 1.0
    self.calls = 0
    self.num_seeds = num_seeds
    self.views: list[tuple[int, int]] = []

  def update(self, step: int, buffer: ReplayView, key: jax.Array):
    jax.random.uniform(key)  # a fresh key (the tests run with jax_debug_key_reuse)
    self.calls += 1
    self.views.append((step, buffer.size))
    assert buffer.observations.shape == (self.num_seeds, step, 11) and buffer.actions.shape == (self.num_seeds, step, 3)
    assert buffer.env_rewards.shape == buffer.episode_ends.shape == (self.num_seeds, step)
    assert buffer.episode_ends[:, -1].all() and not buffer.actions.flags.writeable
    changed = self.calls in (1, 3)
    if changed:
      self.scale += 1.0
    return changed, {"scale": self.scale, "per_seed": np.arange(self.num_seeds, dtype=np.float32) + self.calls}

  def rewards(self, observations, actions, next_observations, terminals):
    return -self.scale * np.sum(np.square(actions), axis=-1)

  def state(self):
    return {"scale": np.asarray(self.scale, np.float32), "calls": np.asarray(self.calls, np.int32)}

  def restore(self, state) -> None:
    self.scale, self.calls = float(state["scale"]), int(state["calls"])


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
  """A finished run of the default test config (true reward), only read by the tests."""
  workdir = str(tmp_path_factory.mktemp("reference"))
  return workdir, train_online(_config(), workdir, progress=False)


def test_run_writes_outputs_is_deterministic_and_seeds_differ(reference, tmp_path):
  workdir, run = reference
  assert sorted(os.listdir(workdir)) == ["checkpoints", "config.json", "env_states", "metrics.csv", "summary.json"]
  assert sorted(os.listdir(os.path.join(workdir, "checkpoints"))) == ["100", "200"]
  rows = _rows(workdir)
  assert [(int(r["step"]), int(r["seed_index"])) for r in rows] == [(100, 0), (100, 1), (200, 0), (200, 1)]
  for column in ("return", "normalized_score", "train_return", "critic_loss", "actor_loss", "alpha", "relabels"):
    assert all(np.isfinite(float(r[column])) for r in rows), column
  summary = json.load(open(os.path.join(workdir, "summary.json")))
  assert summary["num_seeds"] == 2 and summary["reward"] == "true" and len(summary["return_per_seed"]) == 2
  assert json.load(open(os.path.join(workdir, "config.json")))["env_id"] == "Hopper-v5"
  # Trained on the task's reward: the device buffer holds the stored env rewards.
  np.testing.assert_array_equal(np.asarray(run.buffer.rewards), run.replay.env_rewards)
  # Seeds differ: acting, data and parameters.
  assert not np.allclose(run.replay.actions[0], run.replay.actions[1])
  kernels = jax.tree.leaves(run.agents.actor.params)
  assert all(not np.allclose(k[0], k[1]) for k in kernels)
  # Same config and seed: identical results.
  again = train_online(_config(), str(tmp_path / "again"), progress=False)
  assert _rows(workdir) == _rows(str(tmp_path / "again"))
  jax.tree.map(np.testing.assert_array_equal, _params(run.agents), _params(again.agents))
  np.testing.assert_array_equal(run.replay.observations, again.replay.observations)
  # A different run seed gives other results.
  other = train_online(_config(seed=1), str(tmp_path / "other"), progress=False)
  assert not np.allclose(other.replay.actions, run.replay.actions)


def test_reward_source_is_called_relabels_and_logs(tmp_path):
  source = ActionCost()
  run = train_online(_config(reward="action_cost"), str(tmp_path), reward_source=source, progress=False)
  assert source.views == [(s, s) for s in range(50, NUM_STEPS + 1, 50)]  # every chunk, start_steps included
  assert source.scale == 3.0 and run.summary["relabels"] == 2
  expected = -3.0 * np.sum(np.square(run.replay.actions), axis=-1)
  np.testing.assert_allclose(np.asarray(run.buffer.rewards), expected, rtol=1e-6)
  assert not np.allclose(expected, run.replay.env_rewards)  # the task's reward is still stored
  rows = _rows(str(tmp_path))
  assert [float(r["reward_scale"]) for r in rows] == [2.0, 2.0, 3.0, 3.0]  # latest at each evaluation
  assert [float(r["reward_per_seed"]) for r in rows] == [2.0, 3.0, 4.0, 5.0]  # calls 2 and 4, per seed
  assert [int(r["relabels"]) for r in rows] == [1, 1, 2, 2]


def test_registry_builds_the_reward_source(tmp_path, monkeypatch):
  seen = {}

  def make(config, env, observation_dim, action_dim, key, **unused):
    seen.update(reward_kwargs=dict(config.reward_kwargs), dims=(observation_dim, action_dim), env=env.spec.id)
    jax.random.uniform(key)
    return ActionCost(config.num_seeds)

  monkeypatch.setitem(base.REWARD_SOURCES, "action_cost", make)
  monkeypatch.setitem(base.REWARD_SOURCES, "lazy", "rlkit_jax.rewards.base:_true_reward")
  assert isinstance(base.reward_factory("lazy")(config=None), TrueReward)
  summary = run_online(_config(reward="action_cost", reward_kwargs={"scale": 2}), str(tmp_path), progress=False)
  assert seen == {"reward_kwargs": {"scale": 2}, "dims": (11, 3), "env": "Hopper-v5"} and summary["relabels"] == 2


def test_resume_continues_from_the_checkpoint(tmp_path, capsys):
  full = str(tmp_path / "full")
  train_online(_config(reward="action_cost"), full, reward_source=ActionCost(), progress=False)
  # A run killed after its step-100 checkpoint, with rows logged after it.
  killed = str(tmp_path / "killed")
  shutil.copytree(full, killed)
  shutil.rmtree(os.path.join(killed, "checkpoints", "200"))
  os.remove(os.path.join(killed, "summary.json"))
  with pytest.raises(CheckpointError, match="--resume"):
    train_online(_config(reward="action_cost"), killed, reward_source=ActionCost(), progress=False)
  with pytest.raises(CheckpointError, match="batch_size"):
    train_online(_config(reward="action_cost", batch_size=8), killed, resume=True, reward_source=ActionCost(), progress=False)
  source = ActionCost()
  capsys.readouterr()
  resumed = train_online(_config(reward="action_cost"), killed, resume=True, reward_source=source, progress=False)
  assert "SAC[" not in capsys.readouterr().err  # progress=False holds on resume too
  assert source.views == [(150, 150), (200, 200)] and source.scale == 3.0  # restored state, calls 3 and 4
  full_rows, resumed_rows = _rows(full), _rows(killed)
  assert [(int(r["step"]), int(r["seed_index"])) for r in resumed_rows] == [(100, 0), (100, 1), (200, 0), (200, 1)]
  assert resumed_rows[:2] == full_rows[:2]  # earlier rows kept as they were
  assert resumed.summary["relabels"] == 2
  # The envs continued their episodes from the checkpoint: the run is the uninterrupted one.
  finished = train_online(_config(reward="action_cost"), full, resume=True, reward_source=ActionCost(), progress=False)
  for name in ("observations", "actions", "next_observations", "terminals", "timeouts"):
    np.testing.assert_array_equal(getattr(resumed.replay, name), getattr(finished.replay, name), err_msg=name)
  assert resumed_rows == full_rows
  jax.tree.map(np.testing.assert_array_equal, _params(resumed.agents), _params(finished.agents))
  np.testing.assert_allclose(
      np.asarray(resumed.buffer.rewards), -3.0 * np.sum(np.square(resumed.replay.actions), axis=-1), rtol=1e-6
  )
  # Resuming a finished run reports its last evaluation.
  again = run_online(_config(reward="action_cost"), killed, resume=True, reward_source=ActionCost(), progress=False)
  assert again["return_per_seed"] == resumed.summary["return_per_seed"]


def test_resume_without_env_states_restarts_the_episodes(tmp_path):
  """A run folder without the envs' states (made before they were saved) still resumes: the replay
  up to the checkpoint is restored and the interrupted episodes end at its last row."""
  full, killed = str(tmp_path / "full"), str(tmp_path / "killed")
  finished = train_online(_config(), full, progress=False)
  assert sorted(os.listdir(os.path.join(full, "env_states"))) == ["100.pkl", "200.pkl"]
  shutil.copytree(full, killed)
  shutil.rmtree(os.path.join(killed, "checkpoints", "200"))
  shutil.rmtree(os.path.join(killed, "env_states"))
  os.remove(os.path.join(killed, "summary.json"))
  resumed = train_online(_config(), killed, resume=True, progress=False)
  np.testing.assert_array_equal(resumed.replay.observations[:, :100], finished.replay.observations[:, :100])
  assert np.all(resumed.replay.timeouts[:, 99] | resumed.replay.terminals[:, 99])
  assert not np.array_equal(resumed.replay.observations[:, 100:], finished.replay.observations[:, 100:])


def test_results_and_plot_read_run_folders(reference, tmp_path):
  workdir, _ = reference
  (curve,) = results.load_curves(workdir)
  assert curve.algo == "sac_true" and curve.scores.shape == (2, 2) and list(curve.steps) == [100, 200]
  path = plot_online([workdir, workdir], str(tmp_path / "compare.png"), labels=["learned", "true"])
  assert os.path.getsize(path) > 0


def test_load_replay_reads_the_final_checkpoint(reference, tmp_path):
  workdir, run = reference
  replay = online.load_replay(workdir)
  assert replay.size == NUM_STEPS and replay.terminals.dtype == replay.timeouts.dtype == bool
  for name in ("observations", "actions", "env_rewards", "terminals", "timeouts", "next_observations"):
    np.testing.assert_array_equal(getattr(replay, name), getattr(run.replay, name), err_msg=name)
  with pytest.raises(CheckpointError, match="no such folder"):
    online.load_replay(str(tmp_path))
  not_online = Checkpointer(str(tmp_path / "checkpoints"), {"algo": "iql"})
  not_online.save(5, {"agent": np.zeros(3)})
  not_online.close()
  with pytest.raises(CheckpointError, match="checkpoint 5 holds no replay.*online run folder"):
    online.load_replay(str(tmp_path))
  os.remove(os.path.join(tmp_path, "checkpoints", "5", "state", "manifest.ocdbt"))
  with pytest.raises(CheckpointError, match="5: checkpoint is unreadable"):
    online.load_replay(str(tmp_path))


def test_bad_input_is_refused(tmp_path):
  with pytest.raises(ValueError, match="--reward='nope'.*valid choices: classifier, gail, preferences, success, true"):
    run_online(_config(reward="nope"), str(tmp_path), progress=False)
  with pytest.raises(ValueError, match="CartPole-v1.*Box"):
    run_online(_config(env_id="CartPole-v1"), str(tmp_path), progress=False)
  with pytest.raises(ValueError, match="--env='NoSuchTask-v0'"):
    run_online(_config(env_id="NoSuchTask-v0"), str(tmp_path), progress=False)
  with pytest.raises(ValueError, match="--eval_every=75 must be a multiple of --update_every=50"):
    run_online(_config(eval_every=75), str(tmp_path), progress=False)
  with pytest.raises(ValueError, match="--hparams: 'expectile'"):
    run_online(_config(agent_kwargs={"expectile": 0.7}), str(tmp_path), progress=False)
  with pytest.raises(ValueError, match=r"--hparams: lecun_init takes an integer \(0 or 1\), got 2"):
    run_online(_config(agent_kwargs={"lecun_init": 2}), str(tmp_path), progress=False)
  with pytest.raises(ValueError, match="OnlineConfig.reward='true'"):
    run_online(_config(), str(tmp_path), reward_source=ActionCost(), progress=False)

  class WrongShape(ActionCost):
    def rewards(self, observations, actions, next_observations, terminals):
      return np.zeros(actions.shape[:2] + (1,))

  with pytest.raises(ValueError, match="action_cost.*shape"):
    run_online(_config(reward="action_cost"), str(tmp_path / "shape"), reward_source=WrongShape(), progress=False)


def test_script_refuses_unknown_reward(tmp_path):
  out = subprocess.run(
      [sys.executable, os.path.join(REPO, "experiments", "train_online.py"), "--reward=nope", f"--workdir={tmp_path}"],
      capture_output=True, text=True, timeout=120,
  )
  assert out.returncode == 2 and "valid choices: classifier, gail, preferences, success, true" in out.stderr


def test_env_states_of_a_task_without_mujoco_are_not_saved(tmp_path):
  """Pendulum has no MjData: no snapshot, no file, and a load finds nothing (the episodes restart)."""
  import gymnasium as gym
  from rlkit_jax.online import acting, env_state

  envs = [gym.make("Pendulum-v1") for _ in range(2)]
  observations = np.stack([env.reset(seed=i)[0] for i, env in enumerate(envs)])
  episodes = acting.EpisodeLog.empty(2)
  assert env_state.snapshot(envs[0]) is None
  env_state.save(str(tmp_path), 100, envs, observations, episodes, keep=[100])
  assert not os.path.exists(tmp_path / env_state.FOLDER)
  assert not env_state.load(str(tmp_path), 100, envs, observations, episodes)


def test_env_states_round_trip_and_a_damaged_file_is_skipped(tmp_path):
  import gymnasium as gym
  from rlkit_jax.online import acting, env_state

  def make():
    envs = [gym.make("Hopper-v5") for _ in range(2)]
    return envs, np.stack([env.reset(seed=i)[0] for i, env in enumerate(envs)]), acting.EpisodeLog.empty(2)

  envs, observations, episodes = make()
  for env in envs:
    env.step(np.full(3, 0.5, np.float32))
  episodes.running[:] = [1.5, 2.5]
  env_state.save(str(tmp_path), 100, envs, observations + 1.0, episodes, keep=[100])
  fresh, fresh_observations, fresh_episodes = make()
  assert env_state.load(str(tmp_path), 100, fresh, fresh_observations, fresh_episodes)
  np.testing.assert_array_equal(fresh_observations, observations + 1.0)
  assert fresh_episodes.running.tolist() == [1.5, 2.5]
  action = np.full(3, -0.3, np.float32)
  for env, other in zip(envs, fresh):
    np.testing.assert_array_equal(env.step(action)[0], other.step(action)[0])
  with open(tmp_path / env_state.FOLDER / "100.pkl", "wb") as f:
    f.write(b"not a pickle")
  with pytest.warns(UserWarning, match="100.pkl: unreadable"):
    assert not env_state.load(str(tmp_path), 100, fresh, fresh_observations, fresh_episodes)
