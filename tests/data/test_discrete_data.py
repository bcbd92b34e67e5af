"""Discrete-action datasets: the real generator on CartPole-v1 at toy size, loading back, the
registry, evaluation on a Discrete task, and the reader's errors for bad discrete files."""
from __future__ import annotations

import os
import subprocess
import sys

import gymnasium as gym
import h5py
import numpy as np
import pytest

from rlkit_jax import data
from rlkit_jax.data import loading, registry
from rlkit_jax import generation
from rlkit_jax.generation import dqn as generate_discrete
from rlkit_jax.envs import evaluate, is_discrete_env, make_env

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOY = dict(num_steps=300, num_transitions=120, start_steps=50, update_every=50, eval_every=100, eval_episodes=2,
           hidden_dims=(8, 8), batch_size=16, progress=False)


@pytest.fixture(scope="module")
def cartpole_files(tmp_path_factory):
  out = tmp_path_factory.mktemp("cartpole")
  return generate_discrete.make_discrete_datasets("CartPole-v1", str(out), seed=0, provenance={"command": "pytest"}, **TOY)


def test_generator_writes_every_kind_in_d4rl_layout(cartpole_files):
  assert sorted(cartpole_files) == sorted(generation.DATASET_KINDS)
  lengths = {}
  for kind, path in cartpole_files.items():
    assert os.path.basename(path) == f"cartpole-{kind}-v1.hdf5"
    with h5py.File(path) as f:
      assert {"observations", "actions", "rewards", "terminals", "timeouts", "next_observations"} <= set(f)
      assert f["actions"].dtype == np.int64 and f["actions"].ndim == 1
      assert f.attrs["action_space"] == "discrete" and f.attrs["num_actions"] == 2
      assert f.attrs["env_id"] == "CartPole-v1" and f.attrs["seed"] == 0 and f.attrs["command"] == "pytest"
      assert f.attrs["dataset_kind"] == kind and "expert_eval_return" in f.attrs and "rlkit_jax_version" in f.attrs
      lengths[kind] = f["rewards"].shape[0]
      medium_step = int(f.attrs["medium_snapshot_step"])
      assert f["timeouts"][-1] or f["terminals"][-1]  # every file ends a trajectory
  assert lengths["random"] == lengths["medium"] == lengths["expert"] == 120
  assert lengths["medium-expert"] == 240 and lengths["medium-replay"] == medium_step


def test_generated_files_load_as_discrete(cartpole_files):
  for kind, path in cartpole_files.items():
    dataset = data.load(path)
    actions = dataset.transitions.actions
    assert dataset.name == f"cartpole-{kind}-v1" and dataset.env_id == "CartPole-v1"
    assert actions.dtype == np.int32 and actions.shape == (len(dataset),)
    assert set(np.unique(actions)) <= {0, 1}
    assert loading.is_discrete(dataset) and loading.action_dim(dataset) == 2
    assert (dataset.ref_min_score, dataset.ref_max_score) == registry.DISCRETE_REF_SCORES["cartpole"]
  random_actions = data.load(cartpole_files["random"]).transitions.actions
  assert 0.3 < random_actions.mean() < 0.7  # uniform random actions
  # Loaded by registered name from a dataset folder too.
  folder = os.path.dirname(cartpole_files["random"])
  assert loading.is_discrete(data.load("cartpole-medium-replay-v1", dataset_dir=folder))


@pytest.mark.parametrize("env_id, episodes", [("CartPole-v1", 1000), ("Acrobot-v1", 60)])
def test_random_reference_is_the_uniform_policys_mean_return(env_id, episodes):
  """The registry's random score is re-measured here: uniform actions, fresh episodes (reset seeds
  10,000 on, not the registry's 0..999), within 4 standard errors."""
  env = gym.make(env_id)
  env.action_space.seed(0)
  returns = []
  for episode in range(episodes):
    env.reset(seed=10_000 + episode)
    total, done = 0.0, False
    while not done:
      _, reward, terminated, truncated, _ = env.step(env.action_space.sample())
      total, done = total + reward, terminated or truncated
    returns.append(total)
  standard_error = max(np.std(returns) / np.sqrt(episodes), 0.1)
  assert abs(np.mean(returns) - data.reference_scores(env_id)[0]) < 4 * standard_error


def test_registry_and_reference_scores():
  assert len(registry.DISCRETE_NAMES) == 2 * 5
  spec = data.get_spec("acrobot-medium-replay-v1")
  assert spec.env_id == "Acrobot-v1" and spec.action_space == "discrete" and spec.url is None
  assert data.reference_scores("CartPole-v1")[1] == 500.0  # the time limit: +1 a step for 500 steps
  assert data.reference_scores("acrobot-expert-v1")[1] == gym.spec("Acrobot-v1").reward_threshold
  assert not loading.is_discrete(data.load(os.path.join(REPO, "rlkit_jax", "assets", "hopper-medium-replay-v5.hdf5")))


def test_missing_generated_discrete_dataset_says_how_to_make_it(tmp_path, monkeypatch):
  monkeypatch.chdir(tmp_path)
  monkeypatch.delenv("RLKIT_JAX_DATASET_DIR", raising=False)
  with pytest.raises(data.DatasetError, match="make_dataset.py --env=Acrobot-v1 --kinds=medium-replay"):
    data.load("acrobot-medium-replay-v1")


def test_make_env_and_evaluate_on_a_discrete_task():
  assert is_discrete_env("CartPole-v1") and not is_discrete_env("Pendulum-v1")
  env = make_env("CartPole-v1")
  assert env.action_space.n == 2  # no RescaleAction on a Discrete space
  env.close()
  always_left = lambda obs: np.zeros((len(obs), 1), np.int32)  # [N, 1] accepted, as [N]
  returns = evaluate(always_left, "CartPole-v1", num_envs=3, seed=0)
  assert returns.shape == (3,) and np.all((returns > 5) & (returns < 20))
  with pytest.raises(ValueError, match="integer actions"):
    evaluate(lambda obs: np.zeros(len(obs), np.float32), "CartPole-v1", num_envs=2, seed=0)


# -- the reader's errors --


def _arrays(n: int = 12, seed: int = 0) -> dict[str, np.ndarray]:
  rng = np.random.default_rng(seed)
  terminals = np.zeros(n, bool)
  terminals[n // 2 - 1] = terminals[-1] = True
  return {
      "observations": rng.normal(size=(n, 4)).astype(np.float32),
      "actions": rng.integers(0, 2, n).astype(np.int64),
      "rewards": np.ones(n, np.float32),
      "terminals": terminals,
      "timeouts": np.zeros(n, bool),
      "next_observations": rng.normal(size=(n, 4)).astype(np.float32),
  }


def _write(path, arrays, attrs) -> str:
  with h5py.File(path, "w") as f:
    for key, value in arrays.items():
      f.create_dataset(key, data=value)
    for key, value in attrs.items():
      f.attrs[key] = value
  return str(path)


CARTPOLE = {"env_id": "CartPole-v1", "action_space": "discrete", "num_actions": 2}
BAD = {  # case: (arrays mutation, attrs, what the message must say)
    "out_of_range": (lambda a: {**a, "actions": np.where(np.arange(12) == 3, 2, a["actions"])}, CARTPOLE,
                     "field 'actions' has 1 indices outside [0, 2)"),
    "negative": (lambda a: {**a, "actions": np.where(np.arange(12) == 0, -1, a["actions"])}, CARTPOLE,
                 "first row 0, min -1"),
    "float_actions": (lambda a: {**a, "actions": a["actions"].astype(np.float32)}, CARTPOLE,
                      "field 'actions' has dtype float32, but a discrete dataset"),
    "continuous_file_on_discrete_task": (
        lambda a: {**a, "actions": np.zeros((12, 3), np.float32)}, {"env_id": "CartPole-v1"},
        "field 'actions' holds continuous actions (shape (12, 3)"),
    "declared_continuous_on_discrete_task": (
        lambda a: a, {**CARTPOLE, "action_space": "continuous"}, "but CartPole-v1 has a Discrete(2) action space"),
    "discrete_file_on_continuous_task": (
        lambda a: {**a, "observations": np.zeros((12, 3), np.float32), "next_observations": np.zeros((12, 3), np.float32)},
        {**CARTPOLE, "env_id": "Pendulum-v1"}, "holds discrete action indices"),
    "observation_width": (lambda a: {**a, "observations": a["observations"][:, :3],
                                     "next_observations": a["next_observations"][:, :3]}, CARTPOLE,
                          "field 'observations' is 3 wide but CartPole-v1 observes 4"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_discrete_files_name_file_and_field(tmp_path, case):
  mutate, attrs, expected = BAD[case]
  path = _write(tmp_path / f"bad_{case}.hdf5", mutate(_arrays()), attrs)
  with pytest.raises(data.DatasetError) as error:
    data.load(path)
  message = str(error.value)
  assert message.startswith(path) and expected in message and "fix" in message, message


def test_discrete_file_evaluated_on_a_continuous_task_is_refused(cartpole_files, tmp_path):
  with pytest.raises(data.DatasetError, match="env_id 'Hopper-v5' was given.*'env_id' attribute is 'CartPole-v1'"):
    data.load(cartpole_files["random"], env_id="Hopper-v5")
  path = _write(tmp_path / "no_task.hdf5", _arrays(), {"action_space": "discrete"})  # no env_id to disagree with
  with pytest.raises(data.DatasetError, match="holds discrete action indices.*Hopper-v5 has a continuous"):
    data.load(path, env_id="Hopper-v5")


def test_column_actions_and_unknown_task(tmp_path, monkeypatch):
  monkeypatch.setitem(gym.registry, "NoSuchTask-v0", gym.envs.registration.EnvSpec("NoSuchTask-v0", "no_such_module:Env"))
  arrays = _arrays()
  path = _write(tmp_path / "column.hdf5", {**arrays, "actions": arrays["actions"][:, None]}, CARTPOLE)
  dataset = data.load(path)
  assert dataset.transitions.actions.shape == (12,) and dataset.transitions.actions.dtype == np.int32
  # A task gymnasium knows but cannot make: the attributes decide (num_actions bounds the indices).
  path = _write(tmp_path / "unknown.hdf5", arrays, {"env_id": "NoSuchTask-v0", "action_space": "discrete", "num_actions": 3})
  dataset = data.load(path)
  assert loading.is_discrete(dataset) and loading.action_dim(dataset) == 3
  path = _write(tmp_path / "unknown_bad.hdf5", {**arrays, "actions": arrays["actions"] + 5},
                {"env_id": "NoSuchTask-v0", "num_actions": 3})
  with pytest.raises(data.DatasetError, match="outside \\[0, 3\\)"):
    data.load(path)


def test_make_dataset_script_on_cartpole(tmp_path):
  out = subprocess.run(
      [sys.executable, os.path.join(REPO, "experiments", "make_dataset.py"), "--env=CartPole-v1",
       f"--out_dir={tmp_path}", "--num_steps=200", "--eval_every=100", "--num_transitions=50",
       "--start_steps=50", "--kinds=random,medium-replay"],
      capture_output=True, text=True, timeout=300,
  )
  assert out.returncode == 0, out.stderr[-2000:]
  assert sorted(os.listdir(tmp_path)) == ["cartpole-medium-replay-v1.hdf5", "cartpole-random-v1.hdf5"]
  assert loading.is_discrete(data.load(str(tmp_path / "cartpole-random-v1.hdf5")))
