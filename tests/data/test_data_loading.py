"""Loading datasets: qlearning semantics against d4rl's loop, validation errors, names, cache, download."""
import io
import os
import pathlib
import urllib.error
import urllib.request

import gymnasium as gym
import h5py
import numpy as np
import pytest

from rlkit_jax import data
from rlkit_jax.data import d4rl, loading
from rlkit_jax.envs import UnknownTaskError

OBS_DIM, ACT_DIM = 11, 3  # Hopper-v5.
# (length, how it ends): the D4RL layout marks the last step of every episode.
EPISODES = [(4, "terminal"), (3, "timeout"), (6, "terminal"), (2, "timeout"), (5, "timeout")]


def _episodes(episodes=EPISODES, seed=0) -> dict[str, np.ndarray]:
  """D4RL arrays of consecutive episodes, s'_t = s_{t+1} inside each, fresh states between them."""
  rng = np.random.default_rng(seed)
  parts = {k: [] for k in ("observations", "actions", "rewards", "terminals", "timeouts", "next_observations")}
  for length, end in episodes:
    states = rng.normal(size=(length + 1, OBS_DIM)).astype(np.float32)
    parts["observations"].append(states[:-1])
    parts["next_observations"].append(states[1:])
    parts["actions"].append(rng.uniform(-1, 1, (length, ACT_DIM)).astype(np.float32))
    parts["rewards"].append(rng.normal(size=length).astype(np.float32))
    flags = np.zeros(length, bool)
    parts["terminals"].append(flags | (np.arange(length) == length - 1) & (end == "terminal"))
    parts["timeouts"].append(flags | (np.arange(length) == length - 1) & (end == "timeout"))
  return {k: np.concatenate(v) for k, v in parts.items()}


def _write(path, arrays, attrs=None) -> str:
  """Writes arrays and attrs with plain h5py (no checks, so bad files can be made too)."""
  with h5py.File(path, "w") as f:
    for key, value in arrays.items():
      f.create_dataset(key, data=value)
    for key, value in (attrs if attrs is not None else {"env_id": "Hopper-v5"}).items():
      f.attrs[key] = value
  return str(path)


def _d4rl_qlearning_dataset(dataset, max_episode_steps=1000):
  """d4rl.qlearning_dataset (terminate_on_end=False), transcribed as a plain loop."""
  n = dataset["rewards"].shape[0]
  out = {k: [] for k in ("observations", "actions", "next_observations", "rewards", "terminals")}
  use_timeouts = "timeouts" in dataset
  episode_step = 0
  for i in range(n - 1):
    done_bool = bool(dataset["terminals"][i])
    final_timestep = dataset["timeouts"][i] if use_timeouts else episode_step == max_episode_steps - 1
    if final_timestep:
      episode_step = 0
      continue
    if done_bool or final_timestep:
      episode_step = 0
    out["observations"].append(dataset["observations"][i].astype(np.float32))
    out["next_observations"].append(dataset["observations"][i + 1].astype(np.float32))
    out["actions"].append(dataset["actions"][i].astype(np.float32))
    out["rewards"].append(np.float32(dataset["rewards"][i]))
    out["terminals"].append(done_bool)
    episode_step += 1
  return {k: np.array(v) for k, v in out.items()}


def _assert_matches(dataset, reference):
  t = dataset.transitions
  for key in ("observations", "actions", "next_observations", "rewards"):
    np.testing.assert_array_equal(getattr(t, key), reference[key], err_msg=key)
  np.testing.assert_array_equal(t.terminals, reference["terminals"].astype(np.float32))
  assert t.terminals.dtype == np.float32 and t.observations.dtype == np.float32


def test_reconstructs_like_d4rl_with_timeouts(tmp_path):
  arrays = _episodes()
  del arrays["next_observations"]
  dataset = data.load(_write(tmp_path / "plain.hdf5", arrays))
  _assert_matches(dataset, _d4rl_qlearning_dataset(arrays))
  assert len(dataset) == len(arrays["rewards"]) - 3  # Two time-outs before the last row, and the last row.
  # Terminal ends; a dropped time-out leaves a break s'_i ≠ s_{i+1}; the last row ends.
  np.testing.assert_array_equal(np.flatnonzero(dataset.episode_ends), [3, 5, 11, 12, 16])


def test_reconstructs_like_d4rl_without_timeouts(tmp_path):
  arrays = _episodes([(3, "terminal"), (7, "timeout"), (2, "terminal"), (6, "timeout")])
  del arrays["next_observations"], arrays["timeouts"]
  dataset = data.read_d4rl_hdf5(_write(tmp_path / "old.hdf5", arrays), max_episode_steps=4)
  reference = _d4rl_qlearning_dataset(arrays, max_episode_steps=4)
  _assert_matches(dataset, reference)
  assert len(dataset) < len(arrays["rewards"]) - 1  # The step counter dropped rows.


def test_next_observations_keep_timeouts(tmp_path):
  arrays = _episodes()
  dataset = data.load(_write(tmp_path / "full.hdf5", arrays))
  t = dataset.transitions
  assert len(dataset) == len(arrays["rewards"])
  np.testing.assert_array_equal(t.next_observations, arrays["next_observations"])
  np.testing.assert_array_equal(t.terminals, arrays["terminals"].astype(np.float32))
  np.testing.assert_array_equal(dataset.episode_ends, arrays["terminals"] | arrays["timeouts"])
  lengths = np.cumsum([length for length, _ in EPISODES])
  expected = [arrays["rewards"][a:b].astype(np.float64).sum() for a, b in zip(np.r_[0, lengths[:-1]], lengths)]
  np.testing.assert_allclose(dataset.episode_returns(), expected)
  assert (dataset.env_id, dataset.name) == ("Hopper-v5", "full")
  assert (dataset.ref_min_score, dataset.ref_max_score) == (-20.272305, 3234.3)


def test_episode_ends_at_unmarked_break(tmp_path):
  arrays = _episodes([(3, "timeout"), (4, "timeout")])
  arrays["timeouts"][2] = False  # Two datasets concatenated without marking the seam.
  dataset = data.load(_write(tmp_path / "seam.hdf5", arrays))
  np.testing.assert_array_equal(np.flatnonzero(dataset.episode_ends), [2, 6])
  assert dataset.episode_returns().shape == (2,)


def test_attrs_are_plain_python(tmp_path):
  attrs = {"env_id": b"Hopper-v5", "seed": np.int64(3), "ret": np.float32(1.5), "command": "python x.py"}
  dataset = data.load(_write(tmp_path / "attrs.hdf5", _episodes(), attrs))
  assert dataset.env_id == "Hopper-v5"
  assert dataset.attrs == {"env_id": "Hopper-v5", "seed": 3, "ret": 1.5, "command": "python x.py"}
  assert type(dataset.attrs["seed"]) is int and type(dataset.attrs["ret"]) is float


def _drop(key):
  return lambda a: {k: v for k, v in a.items() if k != key}


def _set(key, fn):
  return lambda a: {**a, key: fn(a[key].copy())}


def _poke(index, value):
  def fn(x):
    x[index] = value
    return x

  return fn


def _narrow(a):
  return {**a, "observations": a["observations"][:, :5], "next_observations": a["next_observations"][:, :5]}


BAD = {  # case: (mutation, what the message must say about the field)
    "missing": (_drop("actions"), "missing field(s) ['actions']"),
    "lengths": (_set("rewards", lambda x: x[:-1]), "field 'rewards' has 19 rows"),
    "rank": (_set("observations", lambda x: x[:, 0]), "field 'observations' has shape (20,)"),
    "nan_observations": (_set("observations", _poke((3, 2), np.nan)), "field 'observations' has 1 NaN/inf"),
    "inf_rewards": (_set("rewards", _poke(5, np.inf)), "field 'rewards' has 1 NaN/inf"),
    "nan_actions": (_set("actions", _poke((0, 0), np.nan)), "field 'actions' has 1 NaN/inf"),
    "inf_next_observations": (_set("next_observations", _poke((7, 1), -np.inf)), "field 'next_observations' has 1"),
    "action_bounds": (_set("actions", _poke((4, 1), 1.5)), "field 'actions' has values outside Hopper-v5's"),
    "observation_width": (_narrow, "field 'observations' is 5 wide but Hopper-v5 observes 11"),
    "next_observation_width": (_set("next_observations", lambda x: x[:, :5]), "field 'next_observations' is 5 wide"),
    "action_width": (_set("actions", lambda x: x[:, :2]), "field 'actions' is 2 wide but Hopper-v5 takes 3"),
    "flags": (_set("terminals", lambda x: np.where(x, 0.5, 0.0)), "field 'terminals' must hold only 0/1"),
    "empty": (lambda a: {k: v[:0] for k, v in a.items()}, "field 'rewards' is empty"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_input_names_file_and_field(tmp_path, case):
  mutate, expected = BAD[case]
  path = _write(tmp_path / f"bad_{case}.hdf5", mutate(_episodes()))
  with pytest.raises(data.DatasetError) as error:
    data.load(path)
  message = str(error.value)
  assert message.startswith(path) and expected in message and "fix" in message, message


def test_actions_at_the_bounds_are_accepted(tmp_path):
  arrays = _episodes()
  arrays["actions"][0] = [1.0, -1.0, 1.0 + 5e-5]
  assert len(data.load(_write(tmp_path / "edge.hdf5", arrays))) == len(arrays["rewards"])


def test_unknown_task_needs_env_id(tmp_path, monkeypatch):
  path = _write(tmp_path / "mystery.hdf5", _episodes(), attrs={})
  with pytest.raises(data.DatasetError, match=r"mystery.hdf5.*env_id.*--env_id=Hopper-v5.*load\(path, env_id="):
    data.load(path)
  assert data.load(path, env_id="Hopper-v5").env_id == "Hopper-v5"
  # A task gymnasium knows but cannot make: actions checked against [-1, 1], no reference scores.
  monkeypatch.setitem(gym.registry, "NoSuchTask-v0", gym.envs.registration.EnvSpec("NoSuchTask-v0", "no_such_module:Env"))
  dataset = data.load(path, env_id="NoSuchTask-v0")
  assert dataset.env_id == "NoSuchTask-v0" and np.isnan(dataset.ref_min_score)
  # One it does not know is refused, with close matches.
  with pytest.raises(UnknownTaskError, match="env_id='Hoper-v5': gymnasium knows no such task.*'Hopper-v5'"):
    data.load(path, env_id="Hoper-v5")


@pytest.mark.parametrize("how", ["not_hdf5", "truncated"])
def test_corrupt_file(tmp_path, how):
  path = tmp_path / f"{how}.hdf5"
  if how == "not_hdf5":
    path.write_bytes(b"<html>404 Not Found</html>")
  else:
    data.write_d4rl_hdf5(str(path), _episodes(), {"env_id": "Hopper-v5"})
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
  with pytest.raises(data.DatasetError, match=f"{how}.hdf5: not a readable HDF5 file"):
    data.load(str(path))


def test_missing_file_and_unknown_name(tmp_path, monkeypatch):
  monkeypatch.chdir(tmp_path)
  with pytest.raises(data.DatasetError, match="nope.hdf5: no such file"):
    data.load(str(tmp_path / "nope.hdf5"))
  with pytest.raises(data.DatasetError, match="did you mean 'hopper-medium-replay-v2'.*minari:") as error:
    data.load("hoper-medium-replay-v2")
  assert "hopper-medium-replay-v5" in str(error.value)


@pytest.fixture
def isolated(tmp_path, monkeypatch):
  """No ./datasets, no shipped assets, an empty d4rl cache, no d4rl package, no network."""
  monkeypatch.chdir(tmp_path)
  monkeypatch.setattr(loading, "ASSETS_DIR", str(tmp_path / "assets"))
  monkeypatch.delenv("RLKIT_JAX_DATASET_DIR", raising=False)
  monkeypatch.setenv("D4RL_DATASET_DIR", str(tmp_path / "d4rl_cache"))
  monkeypatch.setattr(d4rl, "_d4rl_package_arrays", lambda name: None)

  def offline(url, timeout=None):
    raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

  monkeypatch.setattr(d4rl, "urlopen", offline)
  return tmp_path


def test_generated_name_in_dataset_dirs(isolated, monkeypatch):
  folder = isolated / "mine"
  attrs = {"env_id": "Hopper-v5", "dataset_kind": "medium-replay"}
  data.write_d4rl_hdf5(str(folder / "hopper-medium-replay-v5.hdf5"), _episodes(), attrs)
  dataset = data.load("hopper-medium-replay-v5", dataset_dir=str(folder))
  assert (dataset.name, dataset.env_id, dataset.attrs) == ("hopper-medium-replay-v5", "Hopper-v5", attrs)
  monkeypatch.setenv("RLKIT_JAX_DATASET_DIR", str(folder))
  assert data.load("hopper-medium-replay-v5").source == str(folder / "hopper-medium-replay-v5.hdf5")
  with pytest.raises(data.DatasetError, match=r"(?s)walker2d-expert-v5.*make_dataset.py --env=Walker2d-v5 --kinds=expert"):
    data.load("walker2d-expert-v5")


def test_d4rl_name_offline_fails_with_advice(isolated):
  with pytest.raises(data.DatasetError) as error:
    data.load("hopper-medium-replay-v2")
  message = str(error.value)
  cache = os.path.join(str(isolated / "d4rl_cache"), "hopper_medium_replay-v2.hdf5")
  assert "could not download" in message and cache in message
  assert "python experiments/make_dataset.py --env=Hopper-v5" in message and "--dataset" in message
  assert not (isolated / "d4rl_cache").exists()


def test_d4rl_cache_dir_lookup(isolated):
  path = data.d4rl_cache_path("walker2d-medium-v2")
  assert path == str(isolated / "d4rl_cache" / "walker2d_medium-v2.hdf5")
  arrays = _episodes()  # Widened to Walker2d's 17 observations and 6 actions.
  for key, extra in (("observations", 6), ("next_observations", 6), ("actions", 3)):
    arrays[key] = np.pad(arrays[key], ((0, 0), (0, extra)))
  os.makedirs(os.path.dirname(path))
  _write(path, arrays, attrs={})  # D4RL files carry no env_id: it comes from the registry.
  dataset = data.load("walker2d-medium-v2")  # The offline opener would raise if it were called.
  assert (dataset.name, dataset.env_id, dataset.source) == ("walker2d-medium-v2", "Walker2d-v5", path)
  assert (dataset.ref_min_score, dataset.ref_max_score) == (1.629008, 4592.3)
  assert data.load(path).name == "walker2d-medium-v2"  # The URL basename is recognised too.


def test_download_success_and_truncation(isolated, monkeypatch):
  source = _write(isolated / "served.hdf5", _episodes(), attrs={})
  opened = []

  def serve_local(url, timeout=None):
    opened.append(url)
    return urllib.request.urlopen(pathlib.Path(source).as_uri())

  monkeypatch.setattr(d4rl, "urlopen", serve_local)
  dataset = data.load("hopper-expert-v2")
  assert opened == ["http://rail.eecs.berkeley.edu/datasets/offline_rl/gym_mujoco_v2/hopper_expert-v2.hdf5"]
  assert dataset.source == str(isolated / "d4rl_cache" / "hopper_expert-v2.hdf5") and dataset.env_id == "Hopper-v5"
  assert sorted(os.listdir(isolated / "d4rl_cache")) == ["hopper_expert-v2.hdf5"]

  class Truncated(io.BytesIO):
    headers = {"Content-Length": "1000000"}

  monkeypatch.setattr(d4rl, "urlopen", lambda url, timeout=None: Truncated(b"\x89HDF partial"))
  with pytest.raises(data.DatasetError, match="received 12 of 1000000 bytes"):
    data.load("hopper-random-v2")
  assert sorted(os.listdir(isolated / "d4rl_cache")) == ["hopper_expert-v2.hdf5"]  # No half file.


def test_registry_and_reference_scores():
  assert len(data.D4RL_NAMES) == 4 * 6 + 6 and len(data.GENERATED_NAMES) == 4 * 5
  assert data.get_spec("antmaze-medium-play-v2").url.endswith(
      "ant_maze_v2/Ant_maze_big-maze_noisy_multistart_True_multigoal_False_sparse_fixed.hdf5"
  )
  assert data.get_spec("antmaze-umaze-v2").env_id is None and data.get_spec("antmaze-umaze-v2").max_episode_steps == 700
  assert data.get_spec("halfcheetah-medium-expert-v5").env_id == "HalfCheetah-v5"
  assert data.reference_scores("HalfCheetah-v5") == (-280.178953, 12135.0)
  assert data.reference_scores("ant-medium-v2") == (-325.6, 3879.7)
  assert data.reference_scores("antmaze-large-diverse-v2") == (0.0, 1.0)
  with pytest.raises(data.DatasetError, match="Pendulum-v1"):
    data.reference_scores("Pendulum-v1")


def test_loads_a_dataset_from_the_real_generator(tmp_path):
  from rlkit_jax.envs import rollout

  rng = np.random.default_rng(0)
  arrays, returns = rollout.collect(
      "Hopper-v5", lambda obs, key: rng.uniform(-1, 1, (1, ACT_DIM)).astype(np.float32), num_transitions=300, seed=0
  )
  path = str(tmp_path / "hopper-random-v5.hdf5")
  data.write_d4rl_hdf5(path, arrays, {"env_id": "Hopper-v5", "dataset_kind": "random", "seed": 0})
  dataset = data.load(path)
  assert (dataset.name, dataset.env_id, dataset.attrs["seed"]) == ("hopper-random-v5", "Hopper-v5", 0)
  assert len(dataset) == 300 and dataset.episode_ends[-1]
  np.testing.assert_array_equal(dataset.transitions.observations, arrays["observations"])
  np.testing.assert_allclose(dataset.episode_returns()[: len(returns)], returns, rtol=1e-5)


def test_minari_missing_or_converted():
  import minari  # noqa: F401  (in the test extra, so this never skips; tests/data/test_minari.py loads real datasets)

  with pytest.raises(data.DatasetError, match="minari:no/such/dataset-v0"):
    data.load("minari:no/such/dataset-v0")


def test_digest_names_the_data_not_the_file(tmp_path):
  """The same arrays give the same digest under another name, path and attributes; a changed
  reward, a termination read as a time-out, or another dtype give another."""
  arrays = _episodes()
  first = data.load(_write(tmp_path / "a.hdf5", arrays))
  other_name = data.load(_write(tmp_path / "b.hdf5", arrays, {"env_id": "Hopper-v5", "command": "elsewhere"}))
  assert len(first.digest()) == 64 and first.digest() == other_name.digest()
  assert first.digest() == data.Dataset.from_arrays(**arrays, name="arrays").digest()
  reward = dict(arrays, rewards=arrays["rewards"] + np.float32(1e-3) * (np.arange(len(arrays["rewards"])) == 2))
  flipped = dict(arrays, terminals=np.zeros_like(arrays["terminals"]), timeouts=arrays["terminals"] | arrays["timeouts"])
  wide = dict(arrays, observations=arrays["observations"].astype(np.float64))
  digests = {first.digest()} | {data.Dataset.from_arrays(**a).digest() for a in (reward, flipped)}
  assert len(digests) == 3
  # from_arrays stores float32 whatever it is given, so the digest is of what training sees
  assert data.Dataset.from_arrays(**wide).digest() == first.digest()
