"""experiments/reproduce.py and its reference sides: the same transitions, the same episodes, one-line
errors for what a reference cannot do, resumable reference runs, and the report's verdicts.

The reference libraries are an optional extra (``.[reference]``): tests that need d3rlpy or rliable
skip where they do not import; the error paths and the episode mapping run everywhere."""
from __future__ import annotations

import csv
import dataclasses
import json
import os
import subprocess
import sys

import h5py
import jax
import numpy as np
import pytest

from rlkit_jax import data
from rlkit_jax.envs import evaluate

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXPERIMENTS = os.path.join(REPO, "experiments")
sys.path.insert(0, EXPERIMENTS)

from reference import d3rlpy_side, sbx_side  # noqa: E402
from rlkit_jax.errors import UsageError  # noqa: E402


def _run(*args: str, env: dict | None = None, cwd: str | None = None) -> subprocess.CompletedProcess:
  return subprocess.run(
      [sys.executable, *args], capture_output=True, text=True, timeout=600, cwd=cwd,
      env={**os.environ, "JAX_PLATFORMS": "cpu", **(env or {})},
  )


def test_reference_seed_i_is_evaluated_on_our_run_is_episodes():
  """Our job evaluates S×K env copies reset with base + j (seed i's episodes are copies iK … iK+K−1);
  a reference seed evaluated alone with base + iK must meet the same episodes."""
  rng = np.random.default_rng(0)
  weights = rng.normal(size=(11, 3)) * 0.3  # a fixed, deterministic policy
  act = lambda obs: np.tanh(obs @ weights).astype(np.float32)
  S, K, base = 2, 2, 1_000_003 + 20_000
  together = evaluate(act, "Hopper-v5", num_envs=S * K, seed=base, max_episode_steps=40).reshape(S, K)
  for i in range(S):
    alone = evaluate(act, "Hopper-v5", num_envs=K, seed=base + i * K, max_episode_steps=40)
    np.testing.assert_array_equal(alone, together[i])
  assert len(np.unique(together)) == S * K  # the episodes differ from each other


def test_missing_d3rlpy_is_a_one_line_usage_error(monkeypatch):
  monkeypatch.setitem(sys.modules, "d3rlpy", None)  # import d3rlpy now raises ImportError
  with pytest.raises(UsageError, match=r'fix: pip install -e "\.\[reference\]"'):
    d3rlpy_side.require_d3rlpy()


def test_missing_sbx_is_a_one_line_usage_error(monkeypatch):
  monkeypatch.setitem(sys.modules, "sbx", None)
  with pytest.raises(UsageError, match=r"--side=sbx needs sbx-rl .*fix: pip install -e '\.\[reference\]'"):
    sbx_side.require_sbx()


def test_driver_refuses_what_a_reference_cannot_do_in_one_line(tmp_path):
  fake = tmp_path / "site"
  fake.mkdir()
  (fake / "d3rlpy.py").write_text("raise ImportError('No module named torch')\n")
  cases = [
      (["--algo=cql", "--reference=jax_corl"], {}, "--reference=jax_corl has IQL and BC (its IQL with beta=0) only"),
      (["--reference=jax_corl"], {}, "--reference=jax_corl needs --jax_corl="),
      (["--algo=iql"], {"PYTHONPATH": str(fake)}, 'pip install -e ".[reference]"'),
      (["--algo=dqn", "--side=reference"], {}, None),  # the shipped data is continuous: see below
      (["--algo=bc", "--side=reference", "--reference_seeds=1"], {"PYTHONPATH": str(fake)}, 'pip install -e ".[reference]"'),
  ]
  for flags, env, message in cases:
    result = _run(os.path.join(EXPERIMENTS, "reproduce.py"), *flags, f"--workdir={tmp_path / 'w'}", env=env)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1 and lines[0].startswith("reproduce.py: "), result.stderr[-2000:]
    if message:
      assert message in lines[0]
    else:  # discrete DQN on continuous data: refused by our check, or for want of d3rlpy
      assert "continuous actions but --algo=dqn is for discrete actions" in lines[0] or "[reference]" in lines[0]
  assert not os.path.exists(tmp_path / "w" / "ours")  # refused before anything trained


def _d3rlpy_transitions(mdp):
  """Every transition d3rlpy's own picker yields, in episode order."""
  picker = mdp.transition_picker
  rows = [picker(episode, i) for episode in mdp.episodes for i in range(episode.transition_count)]
  return {
      "observations": np.stack([r.observation for r in rows]),
      "actions": np.stack([r.action for r in rows]),
      "rewards": np.array([np.asarray(r.reward).reshape(()) for r in rows]),
      "terminals": np.array([np.asarray(r.terminal).reshape(()) for r in rows]),
      "next_observations": np.stack([r.next_observation for r in rows]),
  }


def test_d3rlpy_gets_exactly_our_transitions(hopper_file, tmp_path):
  pytest.importorskip("d3rlpy")
  dataset = data.load(hopper_file)
  # a time-out in the middle, so one trajectory ends without a termination
  t = dataset.transitions
  assert t.terminals.sum() > 0
  ends = dataset.episode_ends.copy()
  ends[5] = True
  dataset = dataclasses.replace(dataset, episode_ends=ends)
  ours = {k: np.asarray(getattr(t, k)) for k in ("observations", "actions", "rewards", "terminals", "next_observations")}
  theirs = _d3rlpy_transitions(d3rlpy_side.to_mdp_dataset(dataset))
  for key in ("observations", "actions", "rewards", "terminals"):
    np.testing.assert_array_equal(theirs[key], ours[key], err_msg=key)
  live = ours["terminals"] == 0  # d3rlpy zeroes s' after a termination, which the target masks
  np.testing.assert_array_equal(theirs["next_observations"][live], ours["next_observations"][live])


def test_tiny_reproduction_trains_both_sides_resumes_and_refuses_other_settings(hopper_file, tmp_path):
  pytest.importorskip("d3rlpy")
  script = os.path.join(EXPERIMENTS, "reproduce.py")
  common = [f"--dataset={hopper_file}", "--algo=bc", "--num_seeds=2", "--eval_every=10", "--eval_episodes=1", f"--workdir={tmp_path}"]
  first = _run(script, *common, "--num_updates=10")
  assert first.returncode == 0, first.stderr[-3000:]
  resumed = _run(script, *common, "--num_updates=10", "--side=reference", "--resume")
  assert resumed.returncode == 0, resumed.stderr[-3000:]
  for i in range(2):
    with open(tmp_path / "d3rlpy" / f"seed{i}" / "metrics.csv") as f:
      assert [int(r["step"]) for r in csv.DictReader(f)] == [10]  # resumed a finished seed: nothing added
  other = _run(script, *common, "--num_updates=20", "--side=reference", "--resume")
  assert other.returncode == 2 and "the saved run has num_updates=10, this one 20" in other.stderr, other.stderr[-2000:]
  assert "| objective |" in (tmp_path / "settings_d3rlpy.md").read_text()


class _Stop(Exception):
  pass


def test_a_reference_seed_stopped_between_evaluations_resumes_as_if_never_stopped(hopper_file, tmp_path):
  """With checkpoints every 4 updates and evaluations every 8, a seed stopped right after its 12-update
  save (no evaluation since 8) resumes from there: its rows equal the uninterrupted seed's, its
  progress goes on from 12, and only the latest step-tagged model is kept."""
  pytest.importorskip("d3rlpy")
  from reference import d3rlpy_configs  # noqa: PLC0415
  from rlkit_jax.offline import OfflineConfig, prepare_dataset  # noqa: PLC0415

  config = OfflineConfig(algo="td3_bc", dataset=hopper_file, batch_size=8, num_updates=16, eval_every=8, updates_per_call=4)
  dataset = data.load(hopper_file)
  reference, _ = d3rlpy_configs.make_config("td3_bc", config.hyperparameters(), hidden_dims=(16, 16), batch_size=8, num_updates=16)
  mdp = d3rlpy_side.to_mdp_dataset(prepare_dataset(config, dataset)[0])
  probe = np.asarray(dataset.transitions.observations[:4], np.float32)
  evaluate = lambda act, step, i: np.asarray(act(probe), np.float64).sum(axis=1)  # returns that move with every weight
  common = dict(seed_index=0, run_seed=3, num_updates=16, eval_every=8, batch_size=8, score=lambda r: r,
                evaluate=evaluate, fingerprint={"test": 1}, checkpoint_every=4)

  def stop_at(step):
    if step == 12:
      raise _Stop

  whole = d3rlpy_side.train_seed(reference, mdp, folder=str(tmp_path / "whole"), resume=False, **common)
  with pytest.raises(_Stop):
    d3rlpy_side.train_seed(reference, mdp, folder=str(tmp_path / "cut"), resume=False, progress=stop_at, **common)
  assert sorted(os.listdir(tmp_path / "cut")) == ["metrics.csv", "model-12.pt", "state.pkl"]
  seen = []
  resumed = d3rlpy_side.train_seed(reference, mdp, folder=str(tmp_path / "cut"), resume=True, progress=seen.append, **common)
  assert seen == [16]
  assert [r["step"] for r in resumed] == [r["step"] for r in whole] == [8, 16]
  for ours, theirs in zip(resumed, whole):
    assert ours["return_mean"] == theirs["return_mean"] and ours["return_std"] == theirs["return_std"]
  assert resumed[0]["return_mean"] != resumed[1]["return_mean"]  # the policy moved between the evaluations
  with pytest.raises(UsageError, match="the saved run has test=1, this one 2"):
    d3rlpy_side.train_seed(reference, mdp, folder=str(tmp_path / "cut"), resume=True, **{**common, "fingerprint": {"test": 2}})


@pytest.mark.parametrize("algo, extra", [
    ("rebrac", ["--batch_size=16"]),
    ("dt", ["--batch_size=4", "--reward_scaling=none", "--hparams=embed_dim=16,num_layers=1,context_length=5,warmup_steps=5"]),
])
def test_tiny_reference_of_the_newer_agents(hopper_file, tmp_path, algo, extra):
  """d3rlpy's ReBRAC and Decision Transformer from our settings: a few updates, one evaluation
  (DT's through a per-episode prompt), and the side-by-side settings table."""
  pytest.importorskip("d3rlpy")
  result = _run(os.path.join(EXPERIMENTS, "reproduce.py"), f"--dataset={hopper_file}", f"--algo={algo}", "--num_seeds=1",
                "--num_updates=10", "--eval_every=10", "--eval_episodes=2", "--side=reference", f"--workdir={tmp_path}", *extra)
  assert result.returncode == 0, result.stderr[-3000:]
  with open(tmp_path / "d3rlpy" / "seed0" / "metrics.csv") as f:
    (row,) = list(csv.DictReader(f))
  assert int(row["step"]) == 10 and np.isfinite(float(row["return_mean"]))
  settings = (tmp_path / "settings_d3rlpy.md").read_text()
  assert ("| evaluation prompt |" if algo == "dt" else "| critic LayerNorm |") in settings
  assert ("| initialisation | the paper's code" if algo == "dt" else "| initialisation | orthogonal") in settings


def _write_cell(root, name: str, ours: list[float], reference: list[float], reference_steps=(10, 20)) -> None:
  cell = root / name
  (cell / "ours").mkdir(parents=True)
  with open(cell / "ours" / "summary.json", "w") as f:
    json.dump({"wall_time_s": 60.0}, f)
  rows = [{"step": step, "setting_index": 0, "seed_index": i, "normalized_score": s * step / 20}
          for step in (10, 20) for i, s in enumerate(ours)]
  with open(cell / "ours" / "metrics.csv", "w", newline="") as f:
    writer = csv.DictWriter(f, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
  for i, s in enumerate(reference):
    (cell / "d3rlpy" / f"seed{i}").mkdir(parents=True)
    with open(cell / "d3rlpy" / f"seed{i}" / "metrics.csv", "w", newline="") as f:
      writer = csv.DictWriter(f, fieldnames=["step", "setting_index", "seed_index", "normalized_score", "train_s"])
      writer.writeheader()
      writer.writerows([{"step": step, "setting_index": 0, "seed_index": i, "normalized_score": s * step / 20,
                         "train_s": 30.0 * step / 10} for step in reference_steps])


def test_report_gives_rliable_intervals_and_verdicts(tmp_path):
  pytest.importorskip("rliable")
  _write_cell(tmp_path / "runs", "a_agree", ours=[50.0, 52.0, 54.0], reference=[51.0, 53.0, 55.0])
  _write_cell(tmp_path / "runs", "b_differ", ours=[20.0, 21.0, 22.0], reference=[60.0, 61.0, 62.0])
  _write_cell(tmp_path / "runs", "c_running", ours=[20.0, 21.0, 22.0], reference=[60.0, 61.0, 62.0], reference_steps=(10,))
  _write_cell(tmp_path / "runs", "d_running", ours=[50.0, 52.0, 54.0], reference=[51.0, 53.0], reference_steps=(10,))
  out = tmp_path / "report"
  result = _run(os.path.join(EXPERIMENTS, "reference", "reproduction_table.py"), f"--runs={tmp_path / 'runs'}",
                f"--out={out}", "--reps=500")
  assert result.returncode == 0, result.stderr[-3000:]
  rows = {tuple(c.strip() for c in line.split("|")[1:3]): line for line in (tmp_path / "report.md").read_text().splitlines()[2:]}
  assert rows[("a_agree", "d3rlpy")].rstrip(" |").endswith("agree")
  assert "**differ**" in rows[("b_differ", "d3rlpy")]
  # A reference still running is judged at the last step both sides logged, and says so.
  assert "| 10 |" in rows[("c_running", "d3rlpy")] and "**differ** at 10 (running: 3 of 3 seeds)" in rows[("c_running", "d3rlpy")]
  assert "| agree at 10 (running: 2 of 3 seeds) |" in rows[("d_running", "d3rlpy")]
  assert "50.0, 52.0, 54.0" in rows[("a_agree", "ours")] and "52.0 ± 1.6" in rows[("a_agree", "ours")]
  assert "3 min" in rows[("a_agree", "d3rlpy")]  # 3 seeds × 60 s of training, summed
  assert os.path.getsize(f"{out}_curves.png") > 0 and os.path.getsize(f"{out}_iqm.png") > 0


def test_intervals_repeat_and_depend_only_on_their_own_scores():
  """rliable draws its bootstrap resamples from NumPy's global generator; the wrapper seeds it per
  entry and restores it, so the same scores give the same interval whatever else is reported."""
  pytest.importorskip("rliable")
  from reference import intervals  # noqa: PLC0415

  rng = np.random.default_rng(0)
  scores = {"a": rng.normal(50.0, 10.0, (3, 3)), "b": rng.normal(20.0, 5.0, (3, 3))}
  first = intervals.aggregate_intervals(scores, reps=300)
  np.random.seed(123)
  drawn_after_seed = np.random.rand()
  np.random.seed(123)
  again = intervals.aggregate_intervals(scores, reps=300)
  assert np.random.rand() == drawn_after_seed  # the caller's global stream is left as it was
  alone = intervals.aggregate_intervals({"b": scores["b"]}, reps=300)
  for name in scores:
    np.testing.assert_array_equal(first[1][name], again[1][name])
  np.testing.assert_array_equal(first[1]["b"], alone[1]["b"])
  assert intervals.iqm_interval(np.array([1.0, 5.0, 9.0]), reps=300) == intervals.iqm_interval(np.array([1.0, 5.0, 9.0]), reps=300)


SAC_TINY = ["--env=Hopper-v5", "--num_steps=400", "--start_steps=200", "--update_every=100", "--eval_every=200",
            "--eval_episodes=2", "--num_seeds=2"]


def test_sac_reproduction_ours_side_and_the_same_episodes_on_the_reference_side(tmp_path):
  """Ours trains S seeds through the online job; a reference seed i (where d3rlpy imports) logs at
  the same steps, and resuming it with other settings is refused naming the setting."""
  script = os.path.join(EXPERIMENTS, "reference", "reproduce_sac.py")
  out = _run(script, *SAC_TINY, "--side=ours", f"--workdir={tmp_path}")
  assert out.returncode == 0, out.stderr[-2000:]
  with open(tmp_path / "ours" / "metrics.csv") as f:
    ours = list(csv.DictReader(f))
  assert [(int(r["step"]), int(r["seed_index"])) for r in ours] == [(200, 0), (200, 1), (400, 0), (400, 1)]
  # ours_lecun: the same job with SBX's initialisation, recorded in its own folder's config.
  out = _run(script, *SAC_TINY, "--side=ours_lecun", f"--workdir={tmp_path}")
  assert out.returncode == 0, out.stderr[-2000:]
  configs = {side: json.loads((tmp_path / side / "config.json").read_text()) for side in ("ours", "ours_lecun")}
  assert [configs[side]["sac_hyperparameters"]["lecun_init"] for side in ("ours", "ours_lecun")] == [False, True]
  with open(tmp_path / "ours_lecun" / "metrics.csv") as f:
    lecun = list(csv.DictReader(f))
  assert len(lecun) == 4 and [r["return"] for r in lecun] != [r["return"] for r in ours]
  pytest.importorskip("d3rlpy")
  out = _run(script, *SAC_TINY, "--side=reference", "--reference_seeds=1", f"--workdir={tmp_path}")
  assert out.returncode == 0, out.stderr[-2000:]
  with open(tmp_path / "d3rlpy" / "seed1" / "metrics.csv") as f:
    reference = list(csv.DictReader(f))
  assert [int(r["step"]) for r in reference] == [200, 400] and all(np.isfinite(float(r["return"])) for r in reference)
  again = _run(script, *SAC_TINY[:-1], "--num_seeds=3", "--side=reference", "--reference_seeds=1", "--resume", f"--workdir={tmp_path}")
  assert again.returncode == 2 and "num_seeds=2, this one 3" in again.stderr
  # Its replay buffer as a medium-replay file: trajectories end at terminations and env resets.
  replay = tmp_path / "walker-like-medium-replay.hdf5"
  converter = os.path.join(EXPERIMENTS, "reference", "replay_dataset.py")
  buffer = tmp_path / "d3rlpy" / "seed1" / "buffer.npz"
  out = _run(converter, f"--buffer={buffer}", "--env=Hopper-v5", "--num_transitions=300", f"--out={replay}")
  assert out.returncode == 0, out.stderr[-2000:]
  dataset = data.load(str(replay))
  stored = np.load(buffer)
  t = dataset.transitions
  np.testing.assert_array_equal(t.observations, stored["observations"][:300])
  with h5py.File(replay) as f:
    flagged = np.flatnonzero(f["terminals"][:] | f["timeouts"][:])
  ends = np.flatnonzero(dataset.episode_ends)
  np.testing.assert_array_equal(ends, flagged)  # every trajectory ends on a flag, every flag ends one
  assert ends[-1] == 299
  inner = np.setdiff1d(np.arange(299), ends)
  np.testing.assert_array_equal(t.next_observations[inner], t.observations[inner + 1])
  too_many = _run(converter, f"--buffer={buffer}", "--env=Hopper-v5", "--num_transitions=500", f"--out={replay}")
  assert too_many.returncode == 2 and "holds 400 rows, fewer than --num_transitions=500" in too_many.stderr


def test_one_sac_update_equals_d3rlpys():
  """The same weights, batch and noise: the critic step agrees to float precision, and with the
  temperature frozen (d3rlpy's actor loss otherwise uses the post-step α) so does the actor's."""
  pytest.importorskip("d3rlpy")
  result = _run(os.path.join(EXPERIMENTS, "reference", "d3rlpy_sac_check.py"), "--batch_size=64")
  assert result.returncode == 0, result.stderr[-3000:]
  frozen = result.stdout.split("### temperature learning rate 1e-12")[1]
  differences = dict(part.strip().rsplit(" ", 1) for part in frozen.split("after one update: ")[1].splitlines()[0].split(","))
  assert float(differences["critic"]) < 1e-5 and float(differences["target critic"]) < 1e-6, differences
  assert float(differences["actor"]) < 1e-4, differences  # Adam's first step: rate × g / (|g| + ε) for g ≈ ε
  losses = [line for line in frozen.splitlines() if line.startswith("| actor loss")][0].split("|")
  assert abs(float(losses[2]) - float(losses[3])) < 1e-5, losses


@pytest.mark.parametrize("algo, heading", [("rebrac", "### d3rlpy's LayerNorm ε 1e-06"), ("td3_bc", "### TD3+BC")])
def test_one_td3_family_update_equals_d3rlpys(algo, heading):
  """The same weights, batch (with next actions) and smoothing noise: both losses agree to float
  precision and so do the critics, the actor and the targets (for ReBRAC with d3rlpy's LayerNorm ε
  set to flax's)."""
  pytest.importorskip("d3rlpy")
  result = _run(os.path.join(EXPERIMENTS, "reference", "d3rlpy_td3_check.py"), f"--algo={algo}", "--batch_size=64")
  assert result.returncode == 0, result.stderr[-3000:]
  matched = result.stdout.split(heading)[1]
  differences = dict(part.strip().rsplit(" ", 1) for part in matched.split("after one update: ")[1].splitlines()[0].split(","))
  assert float(differences["critic"]) < 1e-5 and float(differences["target critic"]) < 1e-6, differences
  assert float(differences["actor"]) < 1e-4 and float(differences["target actor"]) < 1e-6, differences
  for name in ("| critic loss", "| actor loss"):
    losses = [line for line in matched.splitlines() if line.startswith(name)][0].split("|")
    assert abs(float(losses[2]) - float(losses[3])) < 1e-5, losses


def test_one_decision_transformer_update_equals_d3rlpys():
  """The same weights and segments: with d3rlpy's LayerNorm ε set to GPT-2's (ours), the predicted
  actions, the loss (up to d3rlpy's normalisation) and every parameter after one AdamW step agree."""
  pytest.importorskip("d3rlpy")
  result = _run(os.path.join(EXPERIMENTS, "reference", "d3rlpy_dt_check.py"), "--batch_size=8")
  assert result.returncode == 0, result.stderr[-3000:]
  matched = result.stdout.split("side: 1e-05")[1]
  assert float(matched.split("before the step: ")[1].split()[0]) < 1e-5
  losses = [line for line in matched.splitlines() if line.startswith("| loss")][0].split("|")
  assert abs(float(losses[2]) - float(losses[3])) < 1e-5, losses
  differences = dict(part.strip().rsplit(" ", 1) for part in matched.split("after one update: ")[1].splitlines()[0].split(","))
  assert all(float(v) < 1e-5 for v in differences.values()), differences  # each weight moved by about 1e-4


@pytest.mark.parametrize("side", ["sbx", "sbx_chunked", "sbx_ours_init"])
def test_sbx_side_runs_its_own_loop_logs_our_steps_and_resumes(tmp_path, side):
  """SBX's SAC (where sbx-rl imports), per step, in chunks or from our init, logs at our evaluation steps, refuses to
  start over a saved run and to resume with other settings (naming the first that differs), and
  resumes a saved one; the sbx_ours_init side trains from our initialisation."""
  sbx = pytest.importorskip("sbx")
  script = os.path.join(EXPERIMENTS, "reference", "reproduce_sac.py")
  tiny = ["--env=Hopper-v5", "--num_steps=400", "--start_steps=100", "--update_every=100", "--eval_every=200",
          "--eval_episodes=2", "--num_seeds=2", f"--side={side}", "--reference_seeds=1"]
  first = _run(script, *tiny, f"--workdir={tmp_path}")
  assert first.returncode == 0, first.stderr[-2000:]
  folder = tmp_path / side / "seed1"
  with open(folder / "metrics.csv") as f:
    rows = list(csv.DictReader(f))
  assert [int(r["step"]) for r in rows] == [200, 400] and all(np.isfinite(float(r["normalized_score"])) for r in rows)
  assert {"model-400.zip", "buffer-400.pkl", "state.pkl"} <= set(os.listdir(folder))  # the 200-step save removed
  assert not {"model-200.zip", "buffer-200.pkl"} & set(os.listdir(folder))
  # the actor's first layer [11, 256] after 300 updates: std near ours (0.088), or flax's LeCun (0.30)
  first_layer = np.asarray(sbx.SAC.load(folder / "model-400.zip").policy.actor_state.params["params"]["Dense_0"]["kernel"])
  assert (first_layer.std() < 0.15) == (side == "sbx_ours_init"), first_layer.std()
  again = _run(script, *tiny, f"--workdir={tmp_path}")
  assert again.returncode == 2 and "already holds an sbx run" in again.stderr and "--resume" in again.stderr
  other = _run(script, *tiny, "--num_seeds=3", "--resume", f"--workdir={tmp_path}")
  assert other.returncode == 2 and "num_seeds=2, this one 3" in other.stderr
  resumed = _run(script, *tiny, "--resume", f"--workdir={tmp_path}")  # loads model and buffer; nothing left to do
  assert resumed.returncode == 0, resumed.stderr[-2000:]
  with open(folder / "metrics.csv") as f:
    assert list(csv.DictReader(f)) == rows


def test_sbx_init_like_ours_redraws_every_kernel_with_our_variance():
  """The sbx_ours_init side: each kernel of SBX's actor and of each critic member is redrawn with
  variance 2 / max(fan_in, fan_out) (ours), biases stay zero, the targets copy the critics, the
  members differ, and the draws follow the seed."""
  sbx = pytest.importorskip("sbx")

  def model():
    return sbx.SAC("MlpPolicy", "Hopper-v5", seed=0, policy_kwargs={"net_arch": [256, 256]})

  flat = lambda params: {jax.tree_util.keystr(p): np.asarray(x) for p, x in jax.tree_util.tree_flatten_with_path(params)[0]}
  before, redrawn, again, other = model(), model(), model(), model()
  for m, seed in ((redrawn, 1), (again, 1), (other, 2)):
    sbx_side.init_like_ours(m, seed)
  for name in ("actor_state", "qf_state"):
    old, new = flat(getattr(before.policy, name).params), flat(getattr(redrawn.policy, name).params)
    assert old.keys() == new.keys() and len(new) >= 6
    for path, value in new.items():
      if path.endswith("['bias']"):
        np.testing.assert_array_equal(value, old[path])
        continue
      members = value if value.ndim == 3 else value[None]  # the critics stack [E, fan_in, fan_out]
      fan_in, fan_out = members.shape[1:]
      np.testing.assert_allclose(members.std(), np.sqrt(2.0 / max(fan_in, fan_out)), rtol=0.15, err_msg=path)
      assert abs(members.std() - old[path].std()) > 0.1 * members.std(), path  # not flax's LeCun normal
      if value.ndim == 3:
        assert not np.allclose(members[0], members[1]), path
      np.testing.assert_array_equal(value, flat(getattr(again.policy, name).params)[path])
      assert not np.allclose(value, flat(getattr(other.policy, name).params)[path]), path
  critics = redrawn.policy.qf_state
  assert all(np.array_equal(a, b) for a, b in zip(jax.tree_util.tree_leaves(critics.params), jax.tree_util.tree_leaves(critics.target_params)))
  actions, _ = redrawn.predict(np.zeros((4, 11), np.float32), deterministic=True)
  assert actions.shape == (4, 3) and np.all(np.isfinite(actions))


def test_sbx_chunked_settings_update_in_our_loops_chunks():
  """The sbx_chunked side's SB3 settings: update_every env steps, then as many updates; the plain
  side updates after every step whatever update_every says."""
  from rlkit_jax.online import OnlineConfig

  config = OnlineConfig(env_id="Hopper-v5", num_steps=200_000, start_steps=5_000, update_every=1_000)
  plain, chunked = sbx_side.sbx_settings(config), sbx_side.sbx_settings(config, chunked=True)
  assert (plain["train_freq"], plain["gradient_steps"]) == (1, 1)
  assert (chunked["train_freq"], chunked["gradient_steps"]) == (1_000, 1_000)
  assert {k: v for k, v in plain.items() if k not in ("train_freq", "gradient_steps")} == {
      k: v for k, v in chunked.items() if k not in ("train_freq", "gradient_steps")}
  assert (plain["learning_starts"], plain["batch_size"], plain["buffer_size"]) == (5_000, 256, 200_000)


@pytest.mark.parametrize("env, message", [
    ("CartPole-v1", "--env=CartPole-v1: its action space is Discrete(2), but SAC needs continuous (Box) actions"),
    ("Hoper-v5", "gymnasium knows no such task (did you mean 'Hopper-v5'"),
])
def test_sac_reproduction_refuses_a_task_sac_cannot_run_in_one_line(tmp_path, env, message):
  for side in ("ours", "ours_lecun", "reference", "sbx", "sbx_chunked", "sbx_ours_init"):
    out = _run(os.path.join(EXPERIMENTS, "reference", "reproduce_sac.py"), f"--env={env}", f"--side={side}", f"--workdir={tmp_path}")
    assert out.returncode == 2 and message in out.stderr and len(out.stderr.strip().splitlines()) == 1, out.stderr[-2000:]
