"""End-to-end tests of the offline job on a real (tiny) Hopper-v5 dataset made in the test: its
outputs, determinism, resume and checkpoints, refusals of bad settings, the shared dataset and the
critic diagnostics. Every algorithm through the job: test_offline_algorithms.py; the scripts:
test_offline_scripts.py."""
import csv
import functools
import json
import os

import jax
import numpy as np
import pytest

from offline_testing import final_state, offline_config
from rlkit_jax.training import core, evaluation
from rlkit_jax.agents import IQL
from rlkit_jax.checkpoint import CheckpointError, Checkpointer
from rlkit_jax.data import load
from rlkit_jax.offline import OfflineConfig, run_offline


def test_run_writes_outputs_and_is_deterministic(hopper_file, reference_run, tmp_path):
  config = offline_config(hopper_file)
  workdir, summary = reference_run
  again = run_offline(config, str(tmp_path / "b"), progress=False)
  assert summary["normalized_score_per_seed"] == again["normalized_score_per_seed"]
  with open(os.path.join(workdir, "metrics.csv")) as f:
    rows = list(csv.DictReader(f))
  assert [int(r["step"]) for r in rows] == [10, 10, 20, 20]
  assert json.load(open(os.path.join(workdir, "summary.json")))["num_seeds"] == 2
  digest = load(hopper_file).digest()
  assert summary["dataset_digest"] == json.load(open(os.path.join(workdir, "config.json")))["dataset_digest"] == digest
  a, b = final_state(workdir, config), final_state(str(tmp_path / "b"), config)
  jax.tree.map(np.testing.assert_array_equal, a.agents.actor.params, b.agents.actor.params)
  # The two seeds of one run differ.
  kernel = jax.tree.leaves(a.agents.actor.params)[0]
  assert not np.allclose(kernel[0], kernel[1])


def test_different_run_seed_differs(hopper_file, reference_run, tmp_path):
  other = offline_config(hopper_file, seed=1)
  run_offline(other, str(tmp_path / "b"), progress=False)
  a, b = final_state(reference_run[0], offline_config(hopper_file)), final_state(str(tmp_path / "b"), other)
  assert not np.allclose(jax.tree.leaves(a.agents.actor.params)[0], jax.tree.leaves(b.agents.actor.params)[0])


def test_killed_run_resumes_to_the_same_result(hopper_file, reference_run, tmp_path, monkeypatch):
  config = offline_config(hopper_file)
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
  a, b = final_state(whole_dir, config), final_state(str(tmp_path / "killed"), config)
  jax.tree.map(np.testing.assert_array_equal, a.agents.critic.params, b.agents.critic.params)
  with open(tmp_path / "killed" / "metrics.csv") as f:
    assert [int(r["step"]) for r in csv.DictReader(f)] == [10, 10, 20, 20]


def test_checkpoint_every_saves_between_evaluations_and_may_change_on_resume(
    hopper_file, reference_run, tmp_path, monkeypatch
):
  """A run killed after its step-15 checkpoint (--checkpoint_every=5, evaluations every 10) resumes
  from step 15 with the cadence changed back to evaluations only, to the uninterrupted result."""
  config, workdir = offline_config(hopper_file, checkpoint_every=5), str(tmp_path / "run")
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
  summary = run_offline(offline_config(hopper_file), workdir, resume=True, progress=False)
  assert len(chunks) == 1  # from 15 to 20: one call of 5 updates
  assert summary["normalized_score_per_seed"] == reference_run[1]["normalized_score_per_seed"]
  a, b = final_state(reference_run[0], config), final_state(workdir, config)
  jax.tree.map(np.testing.assert_array_equal, a.agents.critic.params, b.agents.critic.params)
  with open(os.path.join(workdir, "metrics.csv")) as f:
    assert [int(r["step"]) for r in csv.DictReader(f)] == [10, 10, 20, 20]
  with pytest.raises(ValueError, match="--checkpoint_every=7 must be a positive multiple of --updates_per_call=5"):
    run_offline(offline_config(hopper_file, checkpoint_every=7), str(tmp_path / "bad"), progress=False)


def _corrupt(step_dir):
  for root, _, files in os.walk(os.path.join(step_dir, "state")):
    for name in files:
      with open(os.path.join(root, name), "wb") as f:
        f.write(b"garbage")


def test_resume_falls_back_past_a_corrupt_checkpoint_and_refuses_foreign_ones(
    hopper_file, reference_run, tmp_path, caplog
):
  workdir = str(tmp_path / "run")
  run_offline(offline_config(hopper_file), workdir, progress=False)
  with pytest.raises(CheckpointError, match="different run.*num_seeds"):
    run_offline(offline_config(hopper_file, num_seeds=3), workdir, resume=True, progress=False)
  checkpoints = os.path.join(workdir, "checkpoints")
  _corrupt(os.path.join(checkpoints, "20"))
  with caplog.at_level("WARNING", logger="rlkit_jax.checkpoint"):
    summary = run_offline(offline_config(hopper_file), workdir, resume=True, progress=False)
  assert any("checkpoints/20: checkpoint state" in r.getMessage() and "older step" in r.getMessage() for r in caplog.records)
  # Resumed from step 10 and retrained to 20: the same result as the uninterrupted run.
  assert summary["normalized_score_per_seed"] == reference_run[1]["normalized_score_per_seed"]
  assert sorted(os.listdir(checkpoints)) == ["10", "20", "20.unreadable"]  # the broken step is kept aside
  _corrupt(os.path.join(checkpoints, "10"))
  _corrupt(os.path.join(checkpoints, "20"))
  with pytest.raises(CheckpointError, match=r"no readable checkpoint \(steps 20, 10 are all unreadable"):
    run_offline(offline_config(hopper_file), workdir, resume=True, progress=False)


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


def test_dataset_is_shared_not_copied_per_seed(hopper_file):
  dataset = load(hopper_file)
  create = functools.partial(IQL.create, observation_dim=11, action_dim=3, hidden_dims=(8, 8))
  state, data = core.place(core.init_run_state(create, seed=0, num_seeds=16), dataset.transitions)
  hlo = core.update_runs.lower(state.agents, state.data_keys, state.active, data, batch_size=4, num_updates=2).as_text()
  assert "tensor<400x11xf32>" in hlo
  assert "tensor<16x400x11xf32>" not in hlo


def test_bc_logs_no_q_diagnostics(reference_run, hopper_file, tmp_path):
  run_offline(offline_config(hopper_file, algo="bc", num_updates=5, eval_every=5), str(tmp_path), progress=False)
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
  run_offline(offline_config(hopper_file, num_updates=5, eval_every=5), str(tmp_path), progress=False)
  printed = capsys.readouterr()
  lines = [line for line in (printed.out + printed.err).splitlines() if "critic is diverging" in line]
  assert len(lines) == 1 and "seed 1" in lines[0] and "1e+09" in lines[0], lines
  low, high = evaluation.return_range(np.array([-0.5, 2.0]), discount=0.9)
  assert (low, high) == pytest.approx((-5.0, 20.0))
  assert evaluation.return_range(np.array([1.0, 3.0]), discount=0.5) == pytest.approx((0.0, 6.0))
