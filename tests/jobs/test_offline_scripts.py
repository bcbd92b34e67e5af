"""The offline job's scripts on a real (tiny) Hopper-v5 file, each in a fresh process:
experiments/train_offline.py, and the evidence scripts that read a finished run
(load_trained, value_vs_return.py, advantage_by_source.py)."""
import json
import os
import subprocess
import sys

import jax
import numpy as np
import pytest

from offline_testing import REPO, final_state, offline_config
from rlkit_jax.data import write_d4rl_hdf5
from rlkit_jax.offline import load_trained, run_offline


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
  from rlkit_jax.training.evaluation import evaluate_agents

  workdir, _ = reference_run
  config, agents, dataset = load_trained(workdir)
  assert config == offline_config(hopper_file)
  saved = final_state(workdir, config)
  for a, b in zip(jax.tree.leaves(agents.actor.params), jax.tree.leaves(saved.agents.actor.params)):
    np.testing.assert_array_equal(a, b)
  assert evaluate_agents(agents, dataset.env_id, episodes_per_seed=1, seed=0).shape == (2, 1)


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
  run_offline(offline_config(hopper_file, algo="bc", num_updates=4, eval_every=4, updates_per_call=4), str(tmp_path), progress=False)
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
    run_offline(offline_config(hopper_file, algo=algo, num_updates=4, eval_every=4, updates_per_call=4), str(workdir), progress=False)
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
