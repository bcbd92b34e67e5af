"""The D4RL recipe on a real gymnasium task, at toy size: files, layout, provenance, loading."""
import json
import os
import subprocess
import sys

import h5py
import numpy as np
import pytest

from rlkit_jax import generation as generate
from rlkit_jax.data import load
from rlkit_jax.generation import sac as generate_sac
from rlkit_jax.results import load_metrics

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_make_d4rl_datasets_writes_every_kind(tmp_path):
  paths = generate.make_d4rl_datasets(
      "Hopper-v5", str(tmp_path), seed=0, num_steps=400, num_transitions=150, start_steps=100,
      update_every=100, eval_every=100, eval_episodes=2, hidden_dims=(8, 8), batch_size=16,
      provenance={"command": "pytest"}, progress=False,
  )
  assert sorted(paths) == sorted(generate.DATASET_KINDS)
  lengths = {}
  for kind, path in paths.items():
    assert os.path.basename(path) == f"hopper-{kind}-v5.hdf5"
    with h5py.File(path) as f:
      assert {"observations", "actions", "rewards", "terminals", "timeouts", "next_observations"} <= set(f)
      assert f.attrs["command"] == "pytest" and f.attrs["seed"] == 0 and f.attrs["dataset_kind"] == kind
      assert f.attrs["env_id"] == "Hopper-v5" and "rlkit_jax_version" in f.attrs
      lengths[kind] = f["rewards"].shape[0]
      medium_step = int(f.attrs["medium_snapshot_step"])
    dataset = load(path)
    assert dataset.env_id == "Hopper-v5" and np.all(np.abs(dataset.transitions.actions) <= 1)
  assert lengths["random"] == lengths["medium"] == lengths["expert"] == 150
  assert lengths["medium-expert"] == 300
  assert lengths["medium-replay"] == medium_step
  with h5py.File(paths["medium-replay"]) as f:
    assert f["timeouts"][-1] or f["terminals"][-1]  # the cut-off buffer ends a trajectory
    attrs = dict(f.attrs)
  # D4RL's rule: medium is the earlier snapshot nearest a third of the expert's (stochastic) return.
  steps, returns = load_metrics(os.path.join(tmp_path, "runs", "Hopper-v5-seed0"), "stochastic_return")
  returns = dict(zip(steps.tolist(), returns[:, 0].tolist()))
  assert attrs["medium_fraction"] == pytest.approx(1 / 3) and attrs["expert_snapshot_step"] == 400
  assert attrs["expert_eval_return"] == pytest.approx(returns[400])
  earlier = [step for step in returns if step < 400]
  nearest = min(earlier, key=lambda step: abs(returns[step] - returns[400] / 3))
  assert attrs["medium_snapshot_step"] == nearest and attrs["medium_eval_return"] == pytest.approx(returns[nearest])


def test_same_seed_same_files(tmp_path):
  """Generation is a function of its seed: two runs write the same arrays, and another seed does not
  (what lets a lost dataset be remade from the command in its provenance)."""
  def make(out, seed):
    return generate.make_d4rl_datasets(
        "Hopper-v5", str(tmp_path / out), seed=seed, num_steps=300, num_transitions=100, start_steps=100,
        update_every=100, eval_every=100, eval_episodes=2, hidden_dims=(8, 8), batch_size=16,
        kinds=["medium-replay", "expert"], progress=False,
    )

  first, again, other = make("a", 0), make("b", 0), make("c", 1)
  for kind in first:
    with h5py.File(first[kind]) as f, h5py.File(again[kind]) as g, h5py.File(other[kind]) as h:
      for field in ("observations", "actions", "rewards", "terminals", "timeouts", "next_observations"):
        np.testing.assert_array_equal(f[field][()], g[field][()], err_msg=f"{kind}/{field}")
      assert not np.array_equal(f["actions"][()], h["actions"][()])


def test_unknown_kind_is_refused(tmp_path):
  with pytest.raises(ValueError, match="unknown dataset kinds"):
    generate.make_d4rl_datasets("Hopper-v5", str(tmp_path), seed=0, num_steps=10, num_transitions=10, kinds=["good"])


def test_make_dataset_script(tmp_path):
  out = subprocess.run(
      [sys.executable, os.path.join(REPO, "experiments", "make_dataset.py"), "--env=Walker2d-v5",
       f"--out_dir={tmp_path}", "--num_steps=1000", "--eval_every=500", "--update_every=500", "--num_transitions=100",
       "--kinds=random,medium-replay"],
      capture_output=True, text=True, timeout=300,
  )
  assert out.returncode == 0, out.stderr[-2000:]
  assert sorted(f for f in os.listdir(tmp_path) if f.endswith(".hdf5")) == [
      "walker2d-medium-replay-v5.hdf5", "walker2d-random-v5.hdf5"
  ]
  assert os.listdir(tmp_path / "runs" / "Walker2d-v5-seed0" / "snapshots")  # the SAC run's own folder
  printed = json.loads(out.stdout[out.stdout.index("{"):])
  assert printed["random"]["digest"] == load(str(tmp_path / "walker2d-random-v5.hdf5")).digest()


def test_generation_stops_with_a_one_line_error_when_sac_diverges(monkeypatch, tmp_path):
  from rlkit_jax.agents import SAC
  from rlkit_jax.errors import DivergenceError
  from rlkit_jax.online import loop

  class OverflowingSAC(SAC):  # a critic step size of 1e38 overflows the critic in its first chunk
    @classmethod
    def create(cls, *args, **kwargs):
      return SAC.create(*args, **{**kwargs, "critic_lr": 1e38})

  monkeypatch.setattr(loop, "SAC", OverflowingSAC)
  with pytest.raises(DivergenceError, match=r"^SAC diverged at env step 50: .*critic_loss is (nan|inf).*the run stops here"):
    generate.make_d4rl_datasets(
        "Hopper-v5", str(tmp_path), seed=0, num_steps=200, num_transitions=10, start_steps=50, update_every=50,
        batch_size=8, eval_every=100, eval_episodes=1, hidden_dims=(8,), progress=False,
    )


SMALL = dict(
    num_steps=300, num_transitions=50, start_steps=100, update_every=100, eval_every=100, eval_episodes=1,
    hidden_dims=(8, 8), batch_size=16, progress=False,
)


def test_a_killed_generation_resumes_from_its_last_checkpoint(monkeypatch, tmp_path):
  from rlkit_jax.checkpoint import CheckpointError
  from rlkit_jax.results import load_metrics

  record = generate_sac.SnapshotRecorder.__call__

  def killed_at_300(self, step, agents):
    if step == 300:
      raise KeyboardInterrupt  # after the checkpoint of step 200, before that of step 300
    return record(self, step, agents)

  monkeypatch.setattr(generate_sac.SnapshotRecorder, "__call__", killed_at_300)
  with pytest.raises(KeyboardInterrupt):
    generate.make_d4rl_datasets("Hopper-v5", str(tmp_path), seed=0, kinds=["medium-replay"], **SMALL)
  monkeypatch.setattr(generate_sac.SnapshotRecorder, "__call__", record)
  with pytest.raises(CheckpointError, match="--resume"):
    generate.make_d4rl_datasets("Hopper-v5", str(tmp_path), seed=0, kinds=["medium-replay"], **SMALL)
  paths = generate.make_d4rl_datasets("Hopper-v5", str(tmp_path), seed=0, kinds=["expert"], resume=True, **SMALL)
  run = os.path.join(tmp_path, "runs", "Hopper-v5-seed0")
  steps, stochastic = load_metrics(run, "stochastic_return")
  assert list(steps) == [100, 200, 300] and np.isfinite(stochastic).all()
  assert sorted(os.listdir(os.path.join(run, "snapshots"))) == [f"step_{s:09d}.msgpack" for s in (0, 100, 200, 300)]
  with h5py.File(paths["expert"]) as f:
    assert f.attrs["expert_snapshot_step"] == 300
    assert f.attrs["expert_eval_return"] == pytest.approx(stochastic[-1, 0])
  # The envs continued their episodes from the checkpoint: the files are the uninterrupted run's.
  uninterrupted = generate.make_d4rl_datasets("Hopper-v5", str(tmp_path / "uninterrupted"), seed=0, kinds=["expert"], **SMALL)
  assert load(paths["expert"]).digest() == load(uninterrupted["expert"]).digest()
  assert sorted(os.listdir(os.path.join(run, "env_states"))) == ["200.pkl", "300.pkl"]  # the kept checkpoints' steps
  assert load_metrics(os.path.join(tmp_path, "uninterrupted", "runs", "Hopper-v5-seed0"), "stochastic_return")[1].tolist() == stochastic.tolist()
