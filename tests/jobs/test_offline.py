"""End-to-end tests of the offline job on a real (tiny) Hopper-v5 dataset made in the test."""
import csv
import dataclasses
import functools
import json
import os
import subprocess
import sys

import jax
import numpy as np
import pytest

from rlkit_jax.training import core, evaluation
from rlkit_jax.agents import IQL
from rlkit_jax.checkpoint import CheckpointError, Checkpointer
from rlkit_jax.data import DatasetError, load, write_d4rl_hdf5
from rlkit_jax.envs.make import time_limit
from rlkit_jax.errors import UsageError
from rlkit_jax.offline import (
    ALGOS, OfflineConfig, create_fn, load_trained, prepare_dataset, run_offline, with_data_prompt, with_task_horizon,
)

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="module")
def cartpole_file(tmp_path_factory):
  from rlkit_jax.generation import dqn as generate_discrete

  def zeros(variables, observations):  # a Q-network stand-in; ε = 1 acts uniformly anyway
    return jax.numpy.zeros((observations.shape[0], 2))

  arrays, _ = generate_discrete.collect("CartPole-v1", None, zeros, epsilon=1.0, num_transitions=300, seed=0)
  path = str(tmp_path_factory.mktemp("data") / "cartpole-random-v1.hdf5")
  write_d4rl_hdf5(path, arrays, {"env_id": "CartPole-v1", "seed": 0})
  return path


def _config(path, **overrides):
  kwargs = dict(
      algo="iql", dataset=path, seed=0, num_seeds=2, num_updates=20, batch_size=8, eval_every=10,
      eval_episodes=1, updates_per_call=5, hidden_dims=(8, 8),
  )
  kwargs.update(overrides)
  return OfflineConfig(**kwargs)


@pytest.fixture(scope="module")
def reference_run(hopper_file, tmp_path_factory):
  """A finished run of the default test config, trained once and only read by the tests."""
  workdir = str(tmp_path_factory.mktemp("reference"))
  return workdir, run_offline(_config(hopper_file), workdir, progress=False)


def _params(workdir, config):
  """The final run state restored from a run folder's newest checkpoint (Hopper: O=11, A=3)."""
  like = core.init_run_state(
      create_fn(config, 11, 3), seed=config.seed, num_seeds=config.num_seeds, settings=config.settings
  )
  _, state, _ = Checkpointer(os.path.join(workdir, "checkpoints"), config.fingerprint()).restore(like)
  return state


def test_run_writes_outputs_and_is_deterministic(hopper_file, reference_run, tmp_path):
  config = _config(hopper_file)
  workdir, summary = reference_run
  again = run_offline(config, str(tmp_path / "b"), progress=False)
  assert summary["normalized_score_per_seed"] == again["normalized_score_per_seed"]
  with open(os.path.join(workdir, "metrics.csv")) as f:
    rows = list(csv.DictReader(f))
  assert [int(r["step"]) for r in rows] == [10, 10, 20, 20]
  assert json.load(open(os.path.join(workdir, "summary.json")))["num_seeds"] == 2
  digest = load(hopper_file).digest()
  assert summary["dataset_digest"] == json.load(open(os.path.join(workdir, "config.json")))["dataset_digest"] == digest
  a, b = _params(workdir, config), _params(str(tmp_path / "b"), config)
  jax.tree.map(np.testing.assert_array_equal, a.agents.actor.params, b.agents.actor.params)
  # The two seeds of one run differ.
  kernel = jax.tree.leaves(a.agents.actor.params)[0]
  assert not np.allclose(kernel[0], kernel[1])


def test_different_run_seed_differs(hopper_file, reference_run, tmp_path):
  other = _config(hopper_file, seed=1)
  run_offline(other, str(tmp_path / "b"), progress=False)
  a, b = _params(reference_run[0], _config(hopper_file)), _params(str(tmp_path / "b"), other)
  assert not np.allclose(jax.tree.leaves(a.agents.actor.params)[0], jax.tree.leaves(b.agents.actor.params)[0])


def test_killed_run_resumes_to_the_same_result(hopper_file, reference_run, tmp_path, monkeypatch):
  config = _config(hopper_file)
  whole_dir = reference_run[0]

  calls = {"n": 0}
  real = evaluation.evaluate_agents

  def dies_on_second_eval(*args, **kwargs):
    calls["n"] += 1
    if calls["n"] == 2:
      raise KeyboardInterrupt("killed")
    return real(*args, **kwargs)

  monkeypatch.setattr(evaluation, "evaluate_agents", dies_on_second_eval)
  with pytest.raises(KeyboardInterrupt):
    run_offline(config, str(tmp_path / "killed"), progress=False)
  monkeypatch.setattr(evaluation, "evaluate_agents", real)
  with pytest.raises(CheckpointError, match="--resume"):
    run_offline(config, str(tmp_path / "killed"), progress=False)
  summary = run_offline(config, str(tmp_path / "killed"), resume=True, progress=False)
  whole = json.load(open(os.path.join(whole_dir, "summary.json")))
  assert summary["normalized_score_per_seed"] == whole["normalized_score_per_seed"]
  a, b = _params(whole_dir, config), _params(str(tmp_path / "killed"), config)
  jax.tree.map(np.testing.assert_array_equal, a.agents.critic.params, b.agents.critic.params)
  with open(tmp_path / "killed" / "metrics.csv") as f:
    assert [int(r["step"]) for r in csv.DictReader(f)] == [10, 10, 20, 20]


def test_checkpoint_every_saves_between_evaluations_and_may_change_on_resume(
    hopper_file, reference_run, tmp_path, monkeypatch
):
  """A run killed after its step-15 checkpoint (--checkpoint_every=5, evaluations every 10) resumes
  from step 15 with the cadence changed back to evaluations only, to the uninterrupted result."""
  config, workdir = _config(hopper_file, checkpoint_every=5), str(tmp_path / "run")
  real_save = Checkpointer.save

  def killed_after_15(self, step, *args, **kwargs):
    real_save(self, step, *args, **kwargs)
    if step == 15:
      raise KeyboardInterrupt("killed")

  monkeypatch.setattr(Checkpointer, "save", killed_after_15)
  with pytest.raises(KeyboardInterrupt):
    run_offline(config, workdir, progress=False)
  monkeypatch.setattr(Checkpointer, "save", real_save)
  assert sorted(os.listdir(os.path.join(workdir, "checkpoints"))) == ["10", "15"]
  chunks, real_chunk = [], core.make_train_chunk
  monkeypatch.setattr(core, "make_train_chunk", lambda **kw: lambda *a: chunks.append(1) or real_chunk(**kw)(*a))
  summary = run_offline(_config(hopper_file), workdir, resume=True, progress=False)
  assert len(chunks) == 1  # from 15 to 20: one call of 5 updates
  assert summary["normalized_score_per_seed"] == reference_run[1]["normalized_score_per_seed"]
  a, b = _params(reference_run[0], config), _params(workdir, config)
  jax.tree.map(np.testing.assert_array_equal, a.agents.critic.params, b.agents.critic.params)
  with open(os.path.join(workdir, "metrics.csv")) as f:
    assert [int(r["step"]) for r in csv.DictReader(f)] == [10, 10, 20, 20]
  with pytest.raises(ValueError, match="--checkpoint_every=7 must be a positive multiple of --updates_per_call=5"):
    run_offline(_config(hopper_file, checkpoint_every=7), str(tmp_path / "bad"), progress=False)


def _corrupt(step_dir):
  for root, _, files in os.walk(os.path.join(step_dir, "state")):
    for name in files:
      with open(os.path.join(root, name), "wb") as f:
        f.write(b"garbage")


def test_resume_falls_back_past_a_corrupt_checkpoint_and_refuses_foreign_ones(
    hopper_file, reference_run, tmp_path, caplog
):
  workdir = str(tmp_path / "run")
  run_offline(_config(hopper_file), workdir, progress=False)
  with pytest.raises(CheckpointError, match="different run.*num_seeds"):
    run_offline(_config(hopper_file, num_seeds=3), workdir, resume=True, progress=False)
  checkpoints = os.path.join(workdir, "checkpoints")
  _corrupt(os.path.join(checkpoints, "20"))
  with caplog.at_level("WARNING", logger="rlkit_jax.checkpoint"):
    summary = run_offline(_config(hopper_file), workdir, resume=True, progress=False)
  assert any("checkpoints/20: checkpoint state" in r.getMessage() and "older step" in r.getMessage() for r in caplog.records)
  # Resumed from step 10 and retrained to 20: the same result as the uninterrupted run.
  assert summary["normalized_score_per_seed"] == reference_run[1]["normalized_score_per_seed"]
  assert sorted(os.listdir(checkpoints)) == ["10", "20", "20.unreadable"]  # the broken step is kept aside
  _corrupt(os.path.join(checkpoints, "10"))
  _corrupt(os.path.join(checkpoints, "20"))
  with pytest.raises(CheckpointError, match=r"no readable checkpoint \(steps 20, 10 are all unreadable"):
    run_offline(_config(hopper_file), workdir, resume=True, progress=False)


def test_bad_settings_fail_before_loading(tmp_path):
  with pytest.raises(ValueError, match="--algo='sarsa'.*valid choices: awac.*iql.*td3_bc"):
    run_offline(OfflineConfig(algo="sarsa"), str(tmp_path))
  with pytest.raises(ValueError, match="--eval_every"):
    run_offline(OfflineConfig(eval_every=1500, updates_per_call=1000), str(tmp_path))
  with pytest.raises(ValueError, match="--sweep: 'hidden_dims' is not a numeric hyperparameter of --algo=iql; valid names: actor_lr"):
    run_offline(OfflineConfig(sweep={"hidden_dims": (8, 16)}), str(tmp_path))
  with pytest.raises(ValueError, match="--hparams: 'expectile' is not an option of --algo=bc; valid names: actor_lr"):
    run_offline(OfflineConfig(algo="bc", agent_kwargs={"expectile": 0.8}), str(tmp_path))
  with pytest.raises(ValueError, match="--sweep: 'num_critics' is not a numeric hyperparameter of --algo=iql \\(it is static"):
    run_offline(OfflineConfig(sweep={"num_critics": (2, 4)}), str(tmp_path))
  with pytest.raises(ValueError, match="--hparams: num_critics takes an integer"):
    run_offline(OfflineConfig(agent_kwargs={"num_critics": 2.5}), str(tmp_path))
  with pytest.raises(ValueError, match=r"--hparams: critic_layer_norm takes an integer \(0 or 1\), got 2"):
    run_offline(OfflineConfig(algo="rebrac", agent_kwargs={"critic_layer_norm": 2}), str(tmp_path))
  with pytest.raises(ValueError, match="--sweep: 'expectile' is also fixed by --hparams"):
    run_offline(OfflineConfig(agent_kwargs={"expectile": 0.8}, sweep={"expectile": (0.6,)}), str(tmp_path))
  with pytest.raises(ValueError, match="--sweep: expectile=.*finite"):
    run_offline(OfflineConfig(sweep={"expectile": (0.6, float("nan"))}), str(tmp_path))
  assert not os.listdir(tmp_path)  # nothing written


def test_sweep_trains_every_setting_and_seed_in_one_program(hopper_file, tmp_path):
  """expectile × actor_lr (2 × 2 settings) × 2 seeds = 8 runs; seed i starts identically in every setting.

  A rate of 1e-30 (rates must be > 0) moves no float32 parameter of magnitude above ~1e-22.
  """
  config = _config(hopper_file, sweep={"expectile": (0.6, 0.9), "actor_lr": (1e-3, 1e-30)}, num_updates=10, eval_every=10)
  summary = run_offline(config, str(tmp_path), progress=False)
  assert [s["hyperparameters"] for s in summary["settings"]] == [
      {"expectile": 0.6, "actor_lr": 1e-3}, {"expectile": 0.6, "actor_lr": 1e-30},
      {"expectile": 0.9, "actor_lr": 1e-3}, {"expectile": 0.9, "actor_lr": 1e-30},
  ]
  assert all(len(s["normalized_score_per_seed"]) == 2 for s in summary["settings"])
  assert "normalized_score_mean" not in summary  # only per setting when there is a sweep
  with open(tmp_path / "metrics.csv") as f:
    rows = list(csv.DictReader(f))
  assert [(int(r["setting_index"]), int(r["seed_index"])) for r in rows] == [(h, s) for h in range(4) for s in range(2)]
  assert [float(r["expectile"]) for r in rows] == [0.6] * 4 + [0.9] * 4
  for r in rows:  # offline model-selection signals, per run
    assert np.isfinite(float(r["q_dataset_actions"])) and np.isfinite(float(r["q_policy_actions"]))
  state = _params(str(tmp_path), config)
  np.testing.assert_allclose(state.agents.expectile, [0.6] * 4 + [0.9] * 4)
  rates = state.agents.actor.opt_state[0].hyperparams["learning_rate"]
  np.testing.assert_allclose(rates, [1e-3, 1e-3, 1e-30, 1e-30] * 2)
  # A 1e-30 learning rate leaves the actor's kernels at their initialisation, seed i's in every setting.
  kernel = np.asarray([x for x in jax.tree.leaves(state.agents.actor.params) if x.ndim == 3][0])  # [R, in, out]
  np.testing.assert_array_equal(kernel[2], kernel[6])
  np.testing.assert_array_equal(kernel[3], kernel[7])
  assert not np.allclose(kernel[2], kernel[3])  # the seeds differ
  assert not np.allclose(kernel[0], kernel[2])  # lr 1e-3 moved the actor


def test_action_space_mismatch_fails_before_compiling(hopper_file, cartpole_file, tmp_path, monkeypatch):
  monkeypatch.setattr(core, "init_run_state", None)  # never reached
  with pytest.raises(ValueError, match="has discrete actions but --algo=iql is for continuous actions; valid --algo choices for this dataset: dqn"):
    run_offline(_config(cartpole_file), str(tmp_path))
  with pytest.raises(ValueError, match="continuous actions but --algo=dqn is for discrete actions; valid --algo choices for this dataset: awac, awr, bc, cql, dt, edac, filtered_bc, iql, rebrac, rvs, rvs_g, sac_n, td3_bc"):
    run_offline(_config(hopper_file, algo="dqn"), str(tmp_path))


def test_discrete_sweep_runs_end_to_end(cartpole_file, tmp_path):
  """Double DQN and DDQN + CQL side by side in one program, evaluated on CartPole-v1."""
  config = _config(cartpole_file, algo="dqn", sweep={"cql_alpha": (0.0, 1.0)}, reward_scaling="none", eval_every=20)
  summary = run_offline(config, str(tmp_path), progress=False)
  assert [s["hyperparameters"] for s in summary["settings"]] == [{"cql_alpha": 0.0}, {"cql_alpha": 1.0}]
  with open(tmp_path / "metrics.csv") as f:
    rows = list(csv.DictReader(f))
  assert len(rows) == 4 and all(float(r["return_mean"]) >= 8 for r in rows)  # CartPole lasts ≥ 8 steps
  assert [float(r["cql_penalty"]) > 0 for r in rows] == [True] * 4
  assert all(np.isfinite(float(r["q_policy_actions"])) for r in rows)


@pytest.mark.parametrize("algo", ["awac", "awr", "cql", "edac", "filtered_bc", "rebrac", "rvs", "sac_n", "td3_bc"])
def test_every_continuous_algorithm_sweeps_in_one_program(algo, hopper_file, tmp_path):
  """actor_lr ∈ {1e-30, 1e-3} × 2 seeds: 4 runs of one program; a 1e-30 rate leaves the actor as created
  (to 1e-25: zero-initialised biases move by ~1e-30 a step)."""
  extra = {"cql": {"agent_kwargs": {"num_sampled_actions": 2}}, "edac": {"agent_kwargs": {"num_critics": 3}},
           "sac_n": {"agent_kwargs": {"num_critics": 3}},
           "rvs": {"agent_kwargs": {"target_return": 100.0}}}.get(algo, {})  # given: the job keeps the config as it is
  config = _config(
      hopper_file, algo=algo, sweep={"actor_lr": (1e-30, 1e-3)}, num_updates=4, eval_every=4, updates_per_call=4,
      top_fraction=0.5, **extra,
  )
  summary = run_offline(config, str(tmp_path), progress=False)
  assert [s["hyperparameters"] for s in summary["settings"]] == [{"actor_lr": 1e-30}, {"actor_lr": 1e-3}]
  with open(tmp_path / "metrics.csv") as f:
    rows = list(csv.DictReader(f))
  assert [(int(r["setting_index"]), int(r["seed_index"])) for r in rows] == [(0, 0), (0, 1), (1, 0), (1, 1)]
  assert all(np.isfinite(float(r["normalized_score"])) for r in rows)
  state = _params(str(tmp_path), config)
  initial = core.init_run_state(
      create_fn(config, 11, 3), seed=config.seed, num_seeds=config.num_seeds, settings=config.settings
  )
  for before, after in zip(jax.tree.leaves(initial.agents.actor.params), jax.tree.leaves(state.agents.actor.params)):
    np.testing.assert_allclose(after[:2], before[:2], rtol=0, atol=1e-25)  # actor_lr = 1e-30
  assert any(not np.allclose(b[2:], a[2:]) for b, a in zip(
      jax.tree.leaves(initial.agents.actor.params), jax.tree.leaves(state.agents.actor.params)))


def test_bc_logs_no_q_diagnostics(reference_run, hopper_file, tmp_path):
  run_offline(_config(hopper_file, algo="bc", num_updates=5, eval_every=5), str(tmp_path), progress=False)
  with open(tmp_path / "metrics.csv") as f:
    assert "q_dataset_actions" not in next(csv.DictReader(f))
  with open(os.path.join(reference_run[0], "metrics.csv")) as f:
    assert "q_policy_actions" in next(csv.DictReader(f))


def test_a_critic_far_outside_the_return_range_is_reported(hopper_file, tmp_path, monkeypatch, capsys):
  """A seed whose mean Q on dataset actions is far outside [min(r, 0), max(r, 0)] / (1 − γ) (AWAC's
  seed 0 on hopper-medium-expert reached 1.4e5 against a bound of 183) gets a warning naming it;
  a seed inside the range does not."""
  real = evaluation.q_diagnostics

  def runaway(agents, observations, actions):
    out = real(agents, observations, actions)
    return {**out, "q_dataset_actions": out["q_dataset_actions"].at[1].set(1e9)}

  monkeypatch.setattr(evaluation, "q_diagnostics", runaway)
  run_offline(_config(hopper_file, num_updates=5, eval_every=5), str(tmp_path), progress=False)
  printed = capsys.readouterr()
  lines = [line for line in (printed.out + printed.err).splitlines() if "critic is diverging" in line]
  assert len(lines) == 1 and "seed 1" in lines[0] and "1e+09" in lines[0], lines
  low, high = evaluation.return_range(np.array([-0.5, 2.0]), discount=0.9)
  assert (low, high) == pytest.approx((-5.0, 20.0))
  assert evaluation.return_range(np.array([1.0, 3.0]), discount=0.5) == pytest.approx((0.0, 6.0))


def test_dataset_is_shared_not_copied_per_seed(hopper_file):
  dataset = load(hopper_file)
  create = functools.partial(IQL.create, observation_dim=11, action_dim=3, hidden_dims=(8, 8))
  state, data = core.place(core.init_run_state(create, seed=0, num_seeds=16), dataset.transitions)
  hlo = core.update_runs.lower(state.agents, state.data_keys, state.active, data, batch_size=4, num_updates=2).as_text()
  assert "tensor<400x11xf32>" in hlo
  assert "tensor<16x400x11xf32>" not in hlo


def test_script_runs_bc_end_to_end(hopper_file, tmp_path):
  out = subprocess.run(
      [sys.executable, os.path.join(REPO, "experiments", "train_offline.py"), "--algo=bc", f"--dataset={hopper_file}",
       "--num_seeds=2", "--num_updates=10", "--eval_every=10", "--updates_per_call=5", "--eval_episodes=1",
       "--hidden_dims=8,8", f"--workdir={tmp_path / 'run'}"],
      capture_output=True, text=True, timeout=300,
  )
  assert out.returncode == 0, out.stderr[-2000:]
  assert "normalized score" in out.stdout
  assert json.load(open(tmp_path / "run" / "summary.json"))["algo"] == "bc"


@pytest.mark.parametrize(
    "flag, message",
    [
        ("--algo=sarsa", "--algo='sarsa' is not a known algorithm; valid choices: awac"),
        ("--sweep=hidden_dims=8,16", "'hidden_dims' is not a numeric hyperparameter of --algo=iql"),
        ("--sweep=expectile=0.6,high", "--sweep: 'expectile=0.6,high' has a value that is not a number"),
    ],
)
def test_script_rejects_bad_flags_before_compiling(flag, message, tmp_path):
  out = subprocess.run(
      [sys.executable, os.path.join(REPO, "experiments", "train_offline.py"), flag, f"--workdir={tmp_path / 'run'}"],
      capture_output=True, text=True, timeout=120,
  )
  assert out.returncode == 2  # a usage error: one line, ``train_offline.py: <message>``
  assert out.stderr.strip().startswith("train_offline.py: ") and message in out.stderr, out.stderr[-2000:]
  assert not (tmp_path / "run").exists()


def test_load_trained_gives_back_the_saved_agents(hopper_file, reference_run):
  """``load_trained`` rebuilds a finished run's agents from its folder alone (config.json and the
  newest checkpoint): the same parameters as the checkpoint, ready to evaluate again."""
  from rlkit_jax.offline import load_trained
  from rlkit_jax.training.evaluation import evaluate_agents

  workdir, _ = reference_run
  config, agents, dataset = load_trained(workdir)
  assert config == _config(hopper_file)
  saved = _params(workdir, config)
  for a, b in zip(jax.tree.leaves(agents.actor.params), jax.tree.leaves(saved.agents.actor.params)):
    np.testing.assert_array_equal(a, b)
  assert evaluate_agents(agents, dataset.env_id, episodes_per_seed=1, seed=0).shape == (2, 1)


def test_return_conditioned_runs_are_prompted_with_the_data_best_return(hopper_file, tmp_path):
  """RvS without a target_return: the job prompts with the data's best episode return (recorded in
  config.json, carried by the agents); one that is given is kept."""
  best = float(load(hopper_file).episode_returns().max())
  config = _config(hopper_file, algo="rvs", num_updates=4, eval_every=4, updates_per_call=4)
  run_offline(config, str(tmp_path / "default"), progress=False)
  with open(tmp_path / "default" / "config.json") as f:
    assert json.load(f)["agent_kwargs"] == {"target_return": pytest.approx(best)}
  _, agents, _ = load_trained(str(tmp_path / "default"), dataset_dir=os.path.dirname(hopper_file))
  np.testing.assert_allclose(agents.target_return, [best] * config.num_seeds, rtol=1e-6)
  given = _config(hopper_file, algo="rvs", num_updates=4, eval_every=4, updates_per_call=4, agent_kwargs={"target_return": 50.0})
  assert with_data_prompt(given, np.array([1.0, 900.0])) is given
  assert with_data_prompt(_config(hopper_file), np.array([1.0, 900.0])).agent_kwargs == {}  # IQL has no prompt


def test_conditioned_agents_take_the_task_time_limit_as_horizon(hopper_file):
  """RvS's and DT's H becomes the evaluation task's time limit unless the run gives it; the MuJoCo
  tasks' 1000 (the agents' default) and a task without one leave the settings as they were."""
  assert time_limit("Hopper-v5") == 1000 and time_limit("gymnasium_robotics:PointMaze_Medium-v3") == 600
  assert time_limit("NoSuchTask-v0") is None and time_limit("Ant") == 1000
  for algo in ("rvs", "dt"):
    config = _config(hopper_file, algo=algo)
    assert with_task_horizon(config, 600).agent_kwargs == {"horizon": 600}
    assert with_task_horizon(config, 1000) is config and with_task_horizon(config, None) is config
  given = _config(hopper_file, algo="rvs", agent_kwargs={"horizon": 700})
  assert with_task_horizon(given, 600) is given
  iql = _config(hopper_file)
  assert with_task_horizon(iql, 600) is iql  # no horizon to set


def test_conditioned_agents_refuse_trajectories_longer_than_their_horizon(hopper_file):
  """RvS and DT on a file whose longest trajectory exceeds H (given, or any setting of a sweep) get one
  line naming the file, the length and the fix; an H that covers it passes."""
  data = load(hopper_file)
  starts = np.flatnonzero(np.r_[True, data.episode_ends[:-1]])
  longest = int(np.max(np.diff(np.r_[starts, len(data.episode_ends)])))
  for algo in ("rvs", "dt"):
    short = _config(hopper_file, algo=algo, agent_kwargs={"horizon": longest - 1})
    with pytest.raises(UsageError, match=rf"trajectory of {longest} steps.*horizon H = {longest - 1}; fix: --hparams=horizon={longest}"):
      prepare_dataset(short, data)
    prepare_dataset(_config(hopper_file, algo=algo, agent_kwargs={"horizon": longest}), data)
  swept = _config(hopper_file, algo="rvs", sweep={"horizon": (longest, longest - 1)})
  with pytest.raises(UsageError, match="horizon H"):
    prepare_dataset(swept, data)


def test_algorithms_that_read_no_reward_skip_reward_scaling(hopper_file):
  """A file whose trajectories all return the same (one demonstration; rewards never recorded)
  trains BC, %BC, RvS, RvS-G and DT with the default scaling, recorded as the identity; IQL, which reads
  rewards, refuses it naming the fix."""
  data = load(hopper_file)
  flat = dataclasses.replace(
      data, transitions=data.transitions.replace(rewards=np.zeros_like(data.transitions.rewards)),
      attrs={**data.attrs, "goal_dim": 2},  # RvS-G takes goal files only; the first four columns stand in for goals
  )
  reward_free = sorted(name for name, a in ALGOS.items() if not getattr(a.agent_class, "reads_rewards", True))
  assert reward_free == ["bc", "dt", "filtered_bc", "rvs", "rvs_g"]
  for algo in reward_free:
    prepared, scaling = prepare_dataset(_config(hopper_file, algo=algo, reward_scaling="iql_locomotion"), flat)
    assert scaling == {"reward_scale": 1.0, "reward_shift": 0.0}
    np.testing.assert_array_equal(prepared.transitions.rewards, 0.0)
  with pytest.raises(DatasetError, match="same return.*--reward_scaling=none"):
    prepare_dataset(_config(hopper_file, algo="iql"), flat)


def test_value_vs_return_script_compares_every_seeds_critic_with_its_return(reference_run, hopper_file, tmp_path):
  """experiments/evidence/value_vs_return.py on the reference IQL run: one row per seed with the
  episodes' score, Q and return over the kept states, and their gap; a one-line refusal for a run
  whose agent has no critic."""
  script = os.path.join(REPO, "experiments", "evidence", "value_vs_return.py")
  out = subprocess.run([sys.executable, script, f"--run={reference_run[0]}", "--transitions=120"],
                       capture_output=True, text=True, timeout=300)
  assert out.returncode == 0, out.stderr[-2000:]
  rows = [line.split("|")[1:-1] for line in out.stdout.splitlines() if line.startswith(("| 0 |", "| 1 |"))]
  assert len(rows) == 2
  for _, episodes, score, kept, q, ret, gap, *_ in rows:
    assert int(episodes) >= 1 and 0 < int(kept) <= 120 and np.isfinite(float(score))
    assert float(gap) == pytest.approx(float(q) - float(ret), abs=0.11)
  run_offline(_config(hopper_file, algo="bc", num_updates=4, eval_every=4, updates_per_call=4), str(tmp_path), progress=False)
  out = subprocess.run([sys.executable, script, f"--run={tmp_path}"], capture_output=True, text=True, timeout=300)
  assert out.returncode != 0 and "a bc agent has no critic" in out.stderr and "Traceback" not in out.stderr


def test_advantage_by_source_script_reads_an_iql_run(hopper_file, reference_run, tmp_path):
  """experiments/evidence/advantage_by_source.py on the reference IQL run, its file split after
  the first 100 rows: one row per seed with a weight share in (0, 1), every step band filled; an
  AWR run's rows (no critics) and an AWAC run's; one-line refusals for a run without advantage
  weights and for a --first file that does not open the run's file."""
  import h5py

  with h5py.File(hopper_file) as f:
    head = {k: f[k][:100] for k in f if isinstance(f[k], h5py.Dataset)}
  first = str(tmp_path / "first.hdf5")
  write_d4rl_hdf5(first, head, {"env_id": "Hopper-v5"})
  script = os.path.join(REPO, "experiments", "evidence", "advantage_by_source.py")
  out = subprocess.run([sys.executable, script, f"--run={reference_run[0]}", f"--first={first}", "--temperatures=10"],
                       capture_output=True, text=True, timeout=300)
  assert out.returncode == 0, out.stderr[-2000:]
  assert "(100 from" in out.stdout and "At β = 10," in out.stdout
  seeds = [line.split("|")[2:-1] for line in out.stdout.splitlines() if line.startswith(("| 0 |", "| 1 |"))]
  assert len(seeds) == 2 and all(0 < float(share) < 1 and 0 < float(ess) <= 1 for share, ess, _ in seeds)
  bands = [line for line in out.stdout.splitlines() if line.startswith("| [")]
  assert len(bands) == 6 and "nan" not in " ".join(bands)
  assert "–" not in bands[0] and "| –" in bands[-1]  # the short random episodes never reach step 200

  runs = {algo: tmp_path / algo for algo in ("awr", "awac", "bc")}
  for algo, workdir in runs.items():
    run_offline(_config(hopper_file, algo=algo, num_updates=4, eval_every=4, updates_per_call=4), str(workdir), progress=False)
  out = subprocess.run([sys.executable, script, f"--run={runs['awr']}", f"--first={first}"], capture_output=True, text=True, timeout=300)
  assert out.returncode == 0, out.stderr[-2000:]
  seeds = [line.split("|")[2:-1] for line in out.stdout.splitlines() if line.startswith(("| 0 |", "| 1 |"))]
  assert len(seeds) == 2 and all(0 < float(share) < 1 and critics.strip() == "–" for share, _, critics in seeds)
  out = subprocess.run([sys.executable, script, f"--run={runs['awac']}", f"--first={first}"], capture_output=True, text=True, timeout=300)
  assert out.returncode == 0, out.stderr[-2000:]
  seeds = [line.split("|")[2:-1] for line in out.stdout.splitlines() if line.startswith(("| 0 |", "| 1 |"))]
  assert len(seeds) == 2 and all(0 < float(share) < 1 and float(critics) >= 0 for share, _, critics in seeds)
  out = subprocess.run([sys.executable, script, f"--run={runs['bc']}", f"--first={first}"], capture_output=True, text=True, timeout=300)
  assert out.returncode != 0 and "a bc run has no advantage weights to read" in out.stderr and "Traceback" not in out.stderr
  with h5py.File(hopper_file) as f:
    tail = {k: f[k][-100:] for k in f if isinstance(f[k], h5py.Dataset)}
  write_d4rl_hdf5(first, tail, {"env_id": "Hopper-v5"})
  out = subprocess.run([sys.executable, script, f"--run={runs['awr']}", f"--first={first}"], capture_output=True, text=True, timeout=300)
  assert out.returncode != 0 and "are not the first 100 rows" in out.stderr and "Traceback" not in out.stderr
