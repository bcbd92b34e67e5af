"""Bad input never reaches the math: every driver in experiments/ reports it as one line on stderr
(``<script>: <what, where and the fix>``) with exit status 2 (usage) or 1 (data), before anything
trains or compiles; ``--traceback`` / ``--verbosity=1`` show the traceback instead. Also the task
of a dataset file: the ``env`` attribute, ``--env_id`` and unknown task ids."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import h5py
import numpy as np
import pytest

from rlkit_jax import data
from rlkit_jax.checkpoint import Checkpointer
from rlkit_jax.envs import UnknownTaskError, check_env_id, known_env_id

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TINY = ["--num_seeds=1", "--num_updates=2", "--updates_per_call=1", "--eval_every=2", "--eval_episodes=1", "--hidden_dims=8"]


def _arrays(num_episodes: int = 3, length: int = 10, seed: int = 0) -> dict[str, np.ndarray]:
  """Hopper-shaped D4RL arrays (11 observations, 3 actions) of episodes ending in time-outs."""
  rng = np.random.default_rng(seed)
  n = num_episodes * length
  timeouts = np.arange(n) % length == length - 1
  return {
      "observations": rng.normal(size=(n, 11)).astype(np.float32),
      "actions": rng.uniform(-1, 1, (n, 3)).astype(np.float32),
      "rewards": rng.normal(size=n).astype(np.float32),
      "terminals": np.zeros(n, bool),
      "timeouts": timeouts,
      "next_observations": rng.normal(size=(n, 11)).astype(np.float32),
  }


@pytest.fixture(scope="module")
def files(tmp_path_factory):
  """Inputs good and bad: D4RL files, a corrupt one, a preference file, a run folder with checkpoints."""
  root = tmp_path_factory.mktemp("inputs")
  paths = {name: str(root / f"{name}.hdf5") for name in ("hopper", "typo", "mystery", "corrupt")}
  data.write_d4rl_hdf5(paths["hopper"], _arrays(), {"env_id": "Hopper-v5"})
  data.write_d4rl_hdf5(paths["typo"], _arrays(), {"env_id": "Hoper-v5"})
  data.write_d4rl_hdf5(paths["mystery"], _arrays(), {"source": "another tool"})  # no task, no registered name
  with open(paths["corrupt"], "wb") as f:
    f.write(b"<html>404 Not Found</html>")
  paths["prefs"] = str(root / "prefs.json")
  with open(paths["prefs"], "w") as f:
    json.dump({"queries": []}, f)
  paths["run"] = str(root / "run")
  checkpointer = Checkpointer(os.path.join(paths["run"], "checkpoints"), {})
  checkpointer.save(2, {"x": np.zeros(2)})
  checkpointer.close()
  return paths


def _run(tmp_path, script: str, *flags: str) -> subprocess.CompletedProcess:
  return subprocess.run(
      [sys.executable, os.path.join(REPO, "experiments", script), *flags],
      capture_output=True, text=True, timeout=300, cwd=str(tmp_path),
  )


def _one_line(result: subprocess.CompletedProcess, script: str, status: int) -> str:
  """The single stderr line of a refused run (with its exit status checked)."""
  lines = [line for line in result.stderr.splitlines() if line.strip()]
  assert result.returncode == status, result.stderr[-3000:]
  assert len(lines) == 1 and lines[0].startswith(f"{os.path.basename(script)}: "), result.stderr[-3000:]
  return lines[0]


# (script, flags with {name} for files' paths and {tmp} for the test's folder, exit status, the line must say)
CASES = {
    "missing_dataset": ("train_offline.py", ["--dataset={tmp}/nope.hdf5"], 1, ["nope.hdf5: no such file", "fix"]),
    "corrupt_hdf5": ("train_offline.py", ["--dataset={corrupt}"], 1, ["corrupt.hdf5: not a readable HDF5 file", "fix"]),
    "unknown_env_id_attribute": (
        "train_offline.py", ["--dataset={typo}"], 1,
        ["typo.hdf5: field 'env_id' (file attribute) is 'Hoper-v5', a task gymnasium does not know", "'Hopper-v5'",
         "--env_id="],
    ),
    "disagreeing_env_id": (
        "train_offline.py", ["--dataset={hopper}", "--env_id=Walker2d-v5"], 1,
        ["hopper.hdf5: env_id 'Walker2d-v5' was given", "'env_id' attribute is 'Hopper-v5'"],
    ),
    "unknown_env_id_flag": ("train_offline.py", ["--env_id=Hoper-v5"], 2, ["--env_id='Hoper-v5'", "'Hopper-v5'"]),
    "hidden_dims": ("train_offline.py", ["--hidden_dims=abc"], 2, ["--hidden_dims=abc", "'abc' is not an integer"]),
    "num_seeds": ("train_offline.py", ["--num_seeds=abc"], 2, ["--num_seeds=abc"]),
    "unknown_algo": ("train_offline.py", ["--algo=sarsa"], 2, ["--algo='sarsa' is not a known algorithm"]),
    "checkpoint_conflict": ("train_offline.py", ["--workdir={run}"], 1, ["already holds checkpoints", "--resume"]),
    "unknown_env": (
        "train_online.py", ["--env=Hoper-v5"], 2, ["--env='Hoper-v5': gymnasium knows no such task", "'Hopper-v5'"],
    ),
    "gail_demonstrations": (
        "train_online.py", ["--env=Hopper-v5", "--reward=gail", "--reward_kwargs=demos={typo}", "--num_steps=100",
                            "--start_steps=50", "--update_every=50", "--eval_every=100"], 1, ["typo.hdf5: field 'env_id'"],
    ),
    "preference_file": ("learn_reward.py", ["--preferences={prefs}", "--out={tmp}/reward"], 1, ["prefs.json: field"]),
    "demonstrations_without_task": (
        "make_demonstrations.py", ["--dataset={mystery}", "--out={tmp}/demos.hdf5"], 1,
        ["mystery.hdf5: field 'env_id' (file attribute) is missing", "--env_id=Hopper-v5"],
    ),
    "app_usage_error": ("learn_reward.py", ["--num_rounds=0", "--out={tmp}/reward"], 2, ["--num_rounds must be in"]),
    "unknown_labeller": ("label_preferences.py", ["--labeller=nobody", "--out={tmp}/p.json"], 2, ["--labeller='nobody'"]),
    "required_flag": ("evidence/imitation_table.py", [], 2, ["--demos"]),
    "integer_list": ("benchmark.py", ["--seeds=1,x"], 2, ["--seeds=1,x", "'x' is not an integer"]),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_is_one_line_with_its_exit_status(case, files, tmp_path):
  script, flags, status, expected = CASES[case]
  flags = [flag.format(tmp=tmp_path, **files) for flag in flags]
  extra = {"train_offline.py": TINY, "train_online.py": ["--num_seeds=1", "--hidden_dims=8"]}.get(script, [])
  line = _one_line(_run(tmp_path, script, *extra, *flags), script, status)
  for text in expected:
    assert text.format(**files) in line, line
  assert not (tmp_path / "runs").exists()  # refused before any run folder was made


@pytest.mark.parametrize("flags, status", [(["--dataset={corrupt}", "--traceback"], 1), (["--num_seeds=x", "--traceback"], 2)],
                         ids=["data", "flag"])
def test_traceback_flag_shows_the_traceback(flags, status, files, tmp_path):
  result = _run(tmp_path, "train_offline.py", *(flag.format(**files) for flag in flags))
  assert result.returncode == status and "Traceback (most recent call last)" in result.stderr, result.stderr[-3000:]


def test_verbosity_shows_the_traceback_and_env_id_rescues_a_file(files, tmp_path):
  mystery = f"--dataset={files['mystery']}"
  result = _run(tmp_path, "make_demonstrations.py", mystery, f"--out={tmp_path}/d.hdf5", "--verbosity=1")
  assert result.returncode == 1 and "Traceback" in result.stderr and "DatasetError" in result.stderr
  # --env_id names the task of a file with no env_id attribute and no registered name.
  out = str(tmp_path / "demos.hdf5")
  result = _run(tmp_path, "make_demonstrations.py", mystery, "--env_id=Hopper-v5", "--num_demos=2", f"--out={out}")
  assert result.returncode == 0, result.stderr[-3000:]
  with h5py.File(out) as f:
    assert f.attrs["env_id"] == "Hopper-v5" and f.attrs["num_episodes"] == 2


# --------------------------------------------------------------------------------------------------
# The library: task ids and the task of a file.


def test_check_env_id_lists_close_matches():
  assert known_env_id("Hopper-v5") and known_env_id("Hopper") and not known_env_id("Hoper-v5")
  check_env_id("Pendulum-v1")
  with pytest.raises(UnknownTaskError, match=r"--env='Hoper-v5': gymnasium knows no such task \(did you mean 'Hopper-v5'"):
    check_env_id("Hoper-v5", where="--env")
  with pytest.raises(UnknownTaskError, match="no registered id is close"):
    check_env_id("zzzzzzzzzzzzzzzz")


def test_env_attribute_and_env_id(tmp_path):
  path = str(tmp_path / "other_tool.hdf5")
  data.write_d4rl_hdf5(path, _arrays(), {"env": "Hopper-v5"})
  assert data.load(path).env_id == "Hopper-v5"
  assert data.load(path, env_id="Hopper-v5").env_id == "Hopper-v5"
  with pytest.raises(data.DatasetError, match=r"env_id 'Walker2d-v5' was given.*the file's 'env' attribute is 'Hopper-v5'"):
    data.load(path, env_id="Walker2d-v5")
  both = str(tmp_path / "both.hdf5")
  data.write_d4rl_hdf5(both, _arrays(), {"env": "Walker2d-v5", "env_id": "Hopper-v5"})
  with pytest.raises(data.DatasetError, match="'env_id' \\('Hopper-v5'\\) and 'env' \\('Walker2d-v5'\\) disagree"):
    data.load(both)
  # An attribute naming no gymnasium task (a D4RL env name) is refused, and env_id overrides it.
  d4rl_named = str(tmp_path / "d4rl_named.hdf5")
  data.write_d4rl_hdf5(d4rl_named, _arrays(), {"env": "hopper-medium-v2"})
  with pytest.raises(data.DatasetError, match=r"field 'env' \(file attribute\) is 'hopper-medium-v2', a task gymnasium"):
    data.load(d4rl_named)
  assert data.load(d4rl_named, env_id="Hopper-v5").env_id == "Hopper-v5"
