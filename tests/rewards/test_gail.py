"""GAIL with absorbing states: the discriminator's inputs, demonstrations files (and the refusal of
another task's), the reward of terminal steps, a tiny online SAC run on Hopper-v5, and the scripts
that cut demonstrations and tabulate the comparison."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import h5py
import jax
import numpy as np
import pytest

from rlkit_jax.data import DatasetError, load, take_episodes, write_d4rl_hdf5
from rlkit_jax.errors import UsageError
from rlkit_jax.envs.make import make_env
from rlkit_jax.online import OnlineConfig, train_online
from rlkit_jax.rewards.base import ReplayView
from rlkit_jax.rewards.gail import (
    DemonstrationsError,
    DiscriminatorReward,
    absorbing_input,
    discriminator_inputs,
    expert_inputs,
    load_demonstrations,
    make_gail_reward,
)

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TINY = (8, 8)


def _rollouts(env_id: str, num_episodes: int, max_steps: int, seed: int) -> dict[str, np.ndarray]:
  """Random-policy episodes of a real task in D4RL layout (Hopper falls over: terminations)."""
  env = make_env(env_id)
  rng = np.random.default_rng(seed)
  out = {k: [] for k in ("observations", "actions", "rewards", "terminals", "timeouts", "next_observations")}
  for episode in range(num_episodes):
    obs, _ = env.reset(seed=seed + episode)
    for t in range(max_steps):
      action = rng.uniform(-1, 1, env.action_space.shape).astype(np.float32)
      next_obs, reward, terminated, truncated, _ = env.step(action)
      timeout = (truncated or t == max_steps - 1) and not terminated
      for key, value in zip(out, (obs, action, reward, terminated, timeout, next_obs)):
        out[key].append(value)
      obs = next_obs
      if terminated or timeout:
        break
  env.close()
  arrays = {k: np.asarray(v) for k, v in out.items()}
  for key in ("observations", "actions", "rewards", "next_observations"):
    arrays[key] = arrays[key].astype(np.float32)
  return arrays


def _demos_file(path: str, env_id: str, *, num_episodes: int = 4, max_steps: int = 60, seed: int = 0) -> str:
  write_d4rl_hdf5(path, _rollouts(env_id, num_episodes, max_steps, seed), {"env_id": env_id})
  return path


@pytest.fixture(scope="module")
def hopper_demos(tmp_path_factory) -> str:
  return _demos_file(str(tmp_path_factory.mktemp("demos") / "hopper.hdf5"), "Hopper-v5")


# --------------------------------------------------------------------------------------------------
# Inputs and demonstrations.


def test_inputs_hold_one_absorbing_row_per_termination(hopper_demos):
  demos = load_demonstrations(hopper_demos, env_id="Hopper-v5", observation_dim=11, action_dim=3)
  t = demos.transitions
  terminations = int(np.sum(t.terminals))
  assert terminations > 0  # random Hopper falls
  rows = expert_inputs(demos)
  assert rows.shape == (len(t) + terminations, 11 + 3 + 1) and rows.dtype == np.float32
  np.testing.assert_array_equal(rows[:len(t), :11], t.observations)
  np.testing.assert_array_equal(rows[:len(t), 11:14], t.actions)
  assert not rows[:len(t), -1].any()
  np.testing.assert_array_equal(rows[len(t):], np.tile(absorbing_input(11, 3), (terminations, 1)))
  assert absorbing_input(11, 3).tolist() == [0.0] * 14 + [1.0]
  assert expert_inputs(demos, absorbing=False).shape == (len(t), 15)
  assert discriminator_inputs(np.ones((2, 5, 11)), np.ones((2, 5, 3))).shape == (2, 5, 15)


def test_take_episodes_cuts_whole_trajectories(hopper_demos):
  data = load(hopper_demos)
  ends = np.flatnonzero(data.episode_ends)
  two = take_episodes(data, 2)
  assert len(two) == ends[1] + 1 and two.episode_ends.sum() == 2 and two.env_id == "Hopper-v5"
  np.testing.assert_array_equal(two.transitions.observations, data.transitions.observations[:ends[1] + 1])
  with pytest.raises(DatasetError, match="hopper.hdf5: asked for 5 trajectories, the file holds 4"):
    take_episodes(data, 5)
  with pytest.raises(DatasetError, match="asked for 0"):
    take_episodes(data, 0)


def test_demonstrations_of_another_task_are_refused(tmp_path, hopper_demos):
  cheetah = _demos_file(str(tmp_path / "cheetah.hdf5"), "HalfCheetah-v5", num_episodes=2, max_steps=20)
  with pytest.raises(DemonstrationsError, match="cheetah.hdf5: env_id is 'HalfCheetah-v5', but the agent acts in Hopper-v5; fix"):
    load_demonstrations(cheetah, env_id="Hopper-v5", observation_dim=11, action_dim=3)
  with pytest.raises(DemonstrationsError, match="hopper.hdf5: actions have width 3, Hopper-v5 has 4"):
    load_demonstrations(hopper_demos, env_id="Hopper-v5", observation_dim=11, action_dim=4)
  with pytest.raises(DemonstrationsError, match="num_demos=9: .*hopper.hdf5: asked for 9 trajectories, the file holds 4"):
    load_demonstrations(hopper_demos, env_id="Hopper-v5", observation_dim=11, action_dim=3, num_demos=9)
  assert load_demonstrations(hopper_demos, env_id="Hopper-v5", observation_dim=11, action_dim=3, num_demos=1).episode_ends.sum() == 1
  # A corrupt file: the loader's error names the file and the field.
  broken = str(tmp_path / "nan.hdf5")
  arrays = _rollouts("Hopper-v5", 1, 10, 0)
  arrays["observations"][3, 2] = np.nan
  write_d4rl_hdf5(broken, arrays, {"env_id": "Hopper-v5"})
  with pytest.raises(DatasetError, match="nan.hdf5.*observations"):
    load_demonstrations(broken, env_id="Hopper-v5", observation_dim=11, action_dim=3)

  def factory(**reward_kwargs):
    config = OnlineConfig(env_id="Hopper-v5", reward="gail", num_seeds=2, num_steps=1000, reward_kwargs=reward_kwargs)
    return make_gail_reward(config=config, env=None, observation_dim=11, action_dim=3, key=jax.random.key(0))

  with pytest.raises(ValueError, match="demos=PATH"):
    factory()
  with pytest.raises(ValueError, match="unknown reward_kwargs \\['absorbng'\\]"):
    factory(demos=hopper_demos, absorbng=False)
  with pytest.raises(DemonstrationsError, match="cheetah.hdf5: env_id"):
    factory(demos=cheetah)
  source = factory(demos=hopper_demos, hidden_dims="8-8", num_demos=2)
  assert source.positives.shape[1] == 15 and source.negatives.shape == (2, 2000, 15) and source.discount == 0.99
  assert source.gradient_penalty_form == "one_centred"  # DAC's form
  assert factory(demos=hopper_demos, hidden_dims="8-8", gradient_penalty_form="zero_centred").gradient_penalty_form == "zero_centred"
  with pytest.raises(ValueError, match="gradient_penalty_form='one'; choose one of zero_centred, one_centred"):
    factory(demos=hopper_demos, hidden_dims="8-8", gradient_penalty_form="one")


# --------------------------------------------------------------------------------------------------
# The reward.


def _replay(num_seeds: int, steps: int) -> ReplayView:
  """Each seed's random Hopper rollouts (with terminations), cut to ``steps`` rows, as a ReplayView."""
  parts = [_rollouts("Hopper-v5", 20, 50, 100 + seed) for seed in range(num_seeds)]
  stack = lambda key: np.stack([p[key][:steps] for p in parts])
  return ReplayView(
      observations=stack("observations"), actions=stack("actions"), env_rewards=stack("rewards"),
      terminals=stack("terminals"), timeouts=stack("timeouts"), next_observations=stack("next_observations"), size=steps,
  )


def _independent_rewards(source: DiscriminatorReward, inputs: np.ndarray) -> np.ndarray:
  """softplus(ensemble-mean logit) per seed, from the raw parameters: ``[S, n, F]`` → ``[S, n]``."""
  models = source.models
  out = []
  for i in range(inputs.shape[0]):
    x = (inputs[i] - np.asarray(models.input_offset[i])) * np.asarray(models.input_scale[i])
    params = jax.tree.map(lambda p: p[i], models.state.params)
    members = jax.tree.leaves(params)[0].shape[0]
    logits = [np.asarray(models.state.apply_fn({"params": jax.tree.map(lambda p: p[e], params)}, x))[..., 0] for e in range(members)]
    out.append(np.logaddexp(0.0, np.mean(logits, axis=0)))  # −log(1 − σ(l)) = softplus(l)
  return np.stack(out)


@pytest.mark.parametrize("absorbing", [True, False], ids=["absorbing", "plain"])
def test_terminal_rows_get_the_absorbing_states_value(hopper_demos, absorbing):
  demos = load_demonstrations(hopper_demos, env_id="Hopper-v5", observation_dim=11, action_dim=3)
  source = DiscriminatorReward(
      num_seeds=2, observation_dim=11, action_dim=3, demonstrations=expert_inputs(demos, absorbing=absorbing),
      key=jax.random.key(1), discount=0.9, absorbing=absorbing, hidden_dims=TINY, ensemble_size=2, num_steps=5,
      initial_num_steps=20, batch_size=16,
  )
  replay = _replay(2, 300)
  terminations = replay.terminals.sum(axis=1)
  assert terminations.min() > 0
  changed, metrics = source.update(300, replay, jax.random.key(2))
  assert changed and source.fits == 1
  # D−: every visited (s, a), then one absorbing row per termination.
  expected_counts = 300 + terminations if absorbing else np.full(2, 300)
  assert source.counts.tolist() == expected_counts.tolist()
  if absorbing:
    np.testing.assert_array_equal(source.negatives[0, 300:expected_counts[0]], np.tile(absorbing_input(11, 3), (terminations[0], 1)))
    assert np.asarray(source.models.input_offset)[:, -1].tolist() == [0, 0]
    assert np.asarray(source.models.input_scale)[:, -1].tolist() == [1, 1]
    assert metrics["absorbing_reward"].shape == (2,)
  plain = _independent_rewards(source, discriminator_inputs(replay.observations, replay.actions))
  r_abs = _independent_rewards(source, np.broadcast_to(absorbing_input(11, 3), (2, 1, 15)))[:, 0]
  np.testing.assert_allclose(source.absorbing_reward(), r_abs if absorbing else 0.0, rtol=1e-5, atol=1e-6)
  got = source.rewards(replay.observations, replay.actions, replay.next_observations, replay.terminals)
  bonus = 0.9 / (1 - 0.9) * r_abs[:, None] * replay.terminals if absorbing else 0.0
  np.testing.assert_allclose(got, plain + bonus, rtol=1e-5, atol=1e-5)
  np.testing.assert_allclose(source.rewards(replay.observations, replay.actions, None), plain, rtol=1e-5, atol=1e-5)
  assert np.all(plain >= 0)
  with pytest.raises(ValueError, match="demonstrations have shape \\[5, 14\\], expected \\[P, 15\\]"):
    DiscriminatorReward(num_seeds=1, observation_dim=11, action_dim=3, demonstrations=np.zeros((5, 14)), key=jax.random.key(0))
  with pytest.raises(ValueError, match="discount must be in \\[0, 1\\)"):
    DiscriminatorReward(num_seeds=1, observation_dim=11, action_dim=3, demonstrations=expert_inputs(demos), key=jax.random.key(0), discount=1.0)


# --------------------------------------------------------------------------------------------------
# The online driver and the scripts.


def test_online_gail_run_and_imitation_table(tmp_path, hopper_demos):
  config = OnlineConfig(
      env_id="Hopper-v5", reward="gail", num_seeds=2, num_steps=400, start_steps=100, update_every=100, batch_size=16,
      eval_every=200, eval_episodes=1, hidden_dims=TINY,
      reward_kwargs=dict(demos=hopper_demos, hidden_dims="8-8", num_steps=10, initial_num_steps=20, batch_size=16, update_every_steps=100),
  )
  workdir = str(tmp_path / "gail")
  run = train_online(config, workdir, progress=False)
  source, replay = run.reward_source, run.replay
  assert source.fits == 4 and run.summary["relabels"] == 4
  terminations = replay.terminals.sum(axis=1)
  assert terminations.min() > 0 and source.counts.tolist() == (400 + terminations).tolist()
  # The agent trained on the latest discriminator's reward, terminal steps with the absorbing value.
  expected = source.rewards(replay.observations, replay.actions, replay.next_observations, replay.terminals)
  np.testing.assert_allclose(np.asarray(run.buffer.rewards), expected, rtol=1e-5, atol=1e-5)
  with open(os.path.join(workdir, "metrics.csv")) as f:
    header = f.readline()
  assert {"reward_absorbing_reward", "reward_positive_accuracy", "reward_positive_reward"} <= set(header.strip().split(","))
  with open(os.path.join(workdir, "config.json")) as f:
    recorded = json.load(f)["reward_settings"]  # resolved, defaults included: the folder outlives a default's change
  assert recorded == source.settings()
  assert recorded["gradient_penalty_form"] == "one_centred" and recorded["absorbing"] is True and recorded["hidden_dims"] == [8, 8]
  # A run begun under another default is not continued under the new one.
  with open(os.path.join(workdir, "config.json")) as f:
    stored = json.load(f)
  stored["reward_settings"]["gradient_penalty_form"] = "zero_centred"
  with open(os.path.join(workdir, "config.json"), "w") as f:
    json.dump(stored, f)
  with pytest.raises(UsageError, match=r"gradient_penalty_form: 'zero_centred' then, 'one_centred' now\); fix: set them as recorded"):
    train_online(config, workdir, resume=True, progress=False)
  stored["reward_settings"]["gradient_penalty_form"] = "one_centred"  # as the run recorded it
  with open(os.path.join(workdir, "config.json"), "w") as f:
    json.dump(stored, f)

  png = str(tmp_path / "curve.png")
  out = subprocess.run(
      [sys.executable, os.path.join(REPO, "experiments", "evidence", "imitation_table.py"), f"--demos={hopper_demos}",
       f"--online={workdir}", f"--png={png}"],
      capture_output=True, text=True, timeout=120,
  )
  assert out.returncode == 0, out.stderr
  assert "| demonstrator | 4 trajectories |" in out.stdout and "| SAC, gail reward (batch_size=16, hidden_dims=8-8, initial_num_steps=20, num_steps=10, update_every_steps=100; penalty one_centred × 10) | env steps 200–400 |" in out.stdout
  assert os.path.getsize(png) > 0


def test_scripts_cut_demonstrations_and_refuse_another_tasks(tmp_path, hopper_demos):
  out_file = str(tmp_path / "two.hdf5")
  out = subprocess.run(
      [sys.executable, os.path.join(REPO, "experiments", "make_demonstrations.py"), f"--dataset={hopper_demos}",
       "--num_demos=2", f"--out={out_file}"],
      capture_output=True, text=True, timeout=120,
  )
  assert out.returncode == 0, out.stderr
  two = load(out_file)
  source = take_episodes(load(hopper_demos), 2)
  np.testing.assert_array_equal(two.transitions.actions, source.transitions.actions)
  np.testing.assert_array_equal(two.episode_ends, source.episode_ends)
  with h5py.File(out_file) as f:
    assert f.attrs["num_episodes"] == 2 and f.attrs["source"].endswith("hopper.hdf5")
  np.testing.assert_allclose(two.episode_returns(), source.episode_returns(), rtol=1e-6)

  cheetah = _demos_file(str(tmp_path / "cheetah.hdf5"), "HalfCheetah-v5", num_episodes=1, max_steps=10)
  out = subprocess.run(
      [sys.executable, os.path.join(REPO, "experiments", "train_online.py"), "--env=Hopper-v5", "--reward=gail",
       f"--reward_kwargs=demos={cheetah}", "--num_steps=100", "--update_every=50", "--eval_every=100", "--start_steps=50",
       "--hidden_dims=8,8", "--num_seeds=1", f"--workdir={tmp_path / 'run'}"],
      capture_output=True, text=True, timeout=180,
  )
  assert out.returncode != 0 and "cheetah.hdf5: env_id is 'HalfCheetah-v5', but the agent acts in Hopper-v5" in out.stderr
  assert "Traceback" not in out.stderr  # a usage error, not a crash


def test_discriminator_range_script_fits_each_setting_once(hopper_demos, hopper_file):
  """experiments/evidence/discriminator_range.py: one row per setting, every figure finite."""
  tiny = "hidden_dims=8-8,batch_size=16,initial_num_steps=5"
  out = subprocess.run(
      [sys.executable, os.path.join(REPO, "experiments", "evidence", "discriminator_range.py"), f"--demos={hopper_demos}",
       f"--visited={hopper_file}", "--rows=300", "--num_seeds=2", f"--setting={tiny}", f"--setting={tiny},gradient_penalty=0"],
      capture_output=True, text=True, timeout=120,
  )
  assert out.returncode == 0, out.stderr
  rows = [line for line in out.stdout.splitlines() if line.startswith(f"| {tiny}")]
  assert len(rows) == 2
  for row in rows:
    cells = row.split("|")[2:-1]  # accuracy, D+ called expert, rewards on D+, D− [p5, p95], r(absorbing), correlation
    figures = [float(x) for cell in cells for x in cell.replace("[", " ").replace("]", " ").replace(",", " ").split()]
    assert len(figures) == 8 and np.all(np.isfinite(figures))
