"""Every algorithm through the offline job on a real (tiny) Hopper-v5 file (and DQN on CartPole-v1):
sweeps in one program, action-space refusals, the return-conditioned agents' prompts and horizons,
and reward scaling for agents that read no reward."""
import csv
import dataclasses
import json
import os

import jax
import numpy as np
import pytest

from offline_testing import final_state, offline_config
from rlkit_jax.training import core
from rlkit_jax.data import DatasetError, load, write_d4rl_hdf5
from rlkit_jax.envs.make import time_limit
from rlkit_jax.errors import UsageError
from rlkit_jax.offline import (
    ALGOS, create_fn, load_trained, prepare_dataset, run_offline, with_data_prompt, with_task_horizon,
)


@pytest.fixture(scope="module")
def cartpole_file(tmp_path_factory):
  from rlkit_jax.generation import dqn as generate_discrete

  def zeros(variables, observations):  # a Q-network stand-in; ε = 1 acts uniformly anyway
    return jax.numpy.zeros((observations.shape[0], 2))

  arrays, _ = generate_discrete.collect("CartPole-v1", None, zeros, epsilon=1.0, num_transitions=300, seed=0)
  path = str(tmp_path_factory.mktemp("data") / "cartpole-random-v1.hdf5")
  write_d4rl_hdf5(path, arrays, {"env_id": "CartPole-v1", "seed": 0})
  return path


def test_sweep_trains_every_setting_and_seed_in_one_program(hopper_file, tmp_path):
  """expectile × actor_lr (2 × 2 settings) × 2 seeds = 8 runs; seed i starts identically in every setting.

  A rate of 1e-30 (rates must be > 0) moves no float32 parameter of magnitude above ~1e-22.
  """
  config = offline_config(hopper_file, sweep={"expectile": (0.6, 0.9), "actor_lr": (1e-3, 1e-30)}, num_updates=10, eval_every=10)
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
  state = final_state(str(tmp_path), config)
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
    run_offline(offline_config(cartpole_file), str(tmp_path))
  with pytest.raises(ValueError, match="continuous actions but --algo=dqn is for discrete actions; valid --algo choices for this dataset: awac, awr, bc, cql, dt, edac, filtered_bc, iql, rebrac, rvs, rvs_g, sac_n, td3_bc"):
    run_offline(offline_config(hopper_file, algo="dqn"), str(tmp_path))


def test_discrete_sweep_runs_end_to_end(cartpole_file, tmp_path):
  """Double DQN and DDQN + CQL side by side in one program, evaluated on CartPole-v1."""
  config = offline_config(cartpole_file, algo="dqn", sweep={"cql_alpha": (0.0, 1.0)}, reward_scaling="none", eval_every=20)
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
  config = offline_config(
      hopper_file, algo=algo, sweep={"actor_lr": (1e-30, 1e-3)}, num_updates=4, eval_every=4, updates_per_call=4,
      top_fraction=0.5, **extra,
  )
  summary = run_offline(config, str(tmp_path), progress=False)
  assert [s["hyperparameters"] for s in summary["settings"]] == [{"actor_lr": 1e-30}, {"actor_lr": 1e-3}]
  with open(tmp_path / "metrics.csv") as f:
    rows = list(csv.DictReader(f))
  assert [(int(r["setting_index"]), int(r["seed_index"])) for r in rows] == [(0, 0), (0, 1), (1, 0), (1, 1)]
  assert all(np.isfinite(float(r["normalized_score"])) for r in rows)
  state = final_state(str(tmp_path), config)
  initial = core.init_run_state(
      create_fn(config, 11, 3), seed=config.seed, num_seeds=config.num_seeds, settings=config.settings
  )
  for before, after in zip(jax.tree.leaves(initial.agents.actor.params), jax.tree.leaves(state.agents.actor.params)):
    np.testing.assert_allclose(after[:2], before[:2], rtol=0, atol=1e-25)  # actor_lr = 1e-30
  assert any(not np.allclose(b[2:], a[2:]) for b, a in zip(
      jax.tree.leaves(initial.agents.actor.params), jax.tree.leaves(state.agents.actor.params)))


def test_return_conditioned_runs_are_prompted_with_the_data_best_return(hopper_file, tmp_path):
  """RvS without a target_return: the job prompts with the data's best episode return (recorded in
  config.json, carried by the agents); one that is given is kept."""
  best = float(load(hopper_file).episode_returns().max())
  config = offline_config(hopper_file, algo="rvs", num_updates=4, eval_every=4, updates_per_call=4)
  run_offline(config, str(tmp_path / "default"), progress=False)
  with open(tmp_path / "default" / "config.json") as f:
    assert json.load(f)["agent_kwargs"] == {"target_return": pytest.approx(best)}
  _, agents, _ = load_trained(str(tmp_path / "default"), dataset_dir=os.path.dirname(hopper_file))
  np.testing.assert_allclose(agents.target_return, [best] * config.num_seeds, rtol=1e-6)
  given = offline_config(hopper_file, algo="rvs", num_updates=4, eval_every=4, updates_per_call=4, agent_kwargs={"target_return": 50.0})
  assert with_data_prompt(given, np.array([1.0, 900.0])) is given
  assert with_data_prompt(offline_config(hopper_file), np.array([1.0, 900.0])).agent_kwargs == {}  # IQL has no prompt


def test_conditioned_agents_take_the_task_time_limit_as_horizon(hopper_file):
  """RvS's and DT's H becomes the evaluation task's time limit unless the run gives it; the MuJoCo
  tasks' 1000 (the agents' default) and a task without one leave the settings as they were."""
  assert time_limit("Hopper-v5") == 1000 and time_limit("gymnasium_robotics:PointMaze_Medium-v3") == 600
  assert time_limit("NoSuchTask-v0") is None and time_limit("Ant") == 1000
  for algo in ("rvs", "dt"):
    config = offline_config(hopper_file, algo=algo)
    assert with_task_horizon(config, 600).agent_kwargs == {"horizon": 600}
    assert with_task_horizon(config, 1000) is config and with_task_horizon(config, None) is config
  given = offline_config(hopper_file, algo="rvs", agent_kwargs={"horizon": 700})
  assert with_task_horizon(given, 600) is given
  iql = offline_config(hopper_file)
  assert with_task_horizon(iql, 600) is iql  # no horizon to set


def test_conditioned_agents_refuse_trajectories_longer_than_their_horizon(hopper_file):
  """RvS and DT on a file whose longest trajectory exceeds H (given, or any setting of a sweep) get one
  line naming the file, the length and the fix; an H that covers it passes."""
  data = load(hopper_file)
  starts = np.flatnonzero(np.r_[True, data.episode_ends[:-1]])
  longest = int(np.max(np.diff(np.r_[starts, len(data.episode_ends)])))
  for algo in ("rvs", "dt"):
    short = offline_config(hopper_file, algo=algo, agent_kwargs={"horizon": longest - 1})
    with pytest.raises(UsageError, match=rf"trajectory of {longest} steps.*horizon H = {longest - 1}; fix: --hparams=horizon={longest}"):
      prepare_dataset(short, data)
    prepare_dataset(offline_config(hopper_file, algo=algo, agent_kwargs={"horizon": longest}), data)
  swept = offline_config(hopper_file, algo="rvs", sweep={"horizon": (longest, longest - 1)})
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
    prepared, scaling = prepare_dataset(offline_config(hopper_file, algo=algo, reward_scaling="iql_locomotion"), flat)
    assert scaling == {"reward_scale": 1.0, "reward_shift": 0.0}
    np.testing.assert_array_equal(prepared.transitions.rewards, 0.0)
  with pytest.raises(DatasetError, match="same return.*--reward_scaling=none"):
    prepare_dataset(offline_config(hopper_file, algo="iql"), flat)
