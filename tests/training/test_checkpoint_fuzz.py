"""Fuzzed orbax checkpoint folders: truncated, overwritten or deleted files, foreign trees, wrong
shapes. Each must end in CheckpointError naming the folder, or, when the damage falls back to the
older step, restore that step exactly; none may load as if whole."""
import os
import shutil
import tempfile

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from fuzz_testing import fuzz
from rlkit_jax.checkpoint import CheckpointError, Checkpointer, read_checkpoint

CONFIG = {"algo": "fuzz", "num_seeds": 2}


def _state(scale: float):
  return {
      "weights": jnp.full((2, 3), scale, jnp.float32),
      "keys": jax.random.split(jax.random.key(int(scale)), 2),
      "step": jnp.asarray(int(scale), jnp.int32),
  }


def _host(tree):
  return jax.tree.map(lambda x: np.asarray(jax.random.key_data(x) if jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key) else x), tree)


@pytest.fixture(scope="module")
def pristine():
  """A folder with steps 1 and 2 of a valid run, copied for every example."""
  folder = tempfile.mkdtemp()
  checkpointer = Checkpointer(os.path.join(folder, "checkpoints"), CONFIG)
  checkpointer.save(1, _state(1.0), {"elapsed_s": 1.0})
  checkpointer.save(2, _state(2.0), {"elapsed_s": 2.0})
  checkpointer.close()
  yield os.path.join(folder, "checkpoints")
  shutil.rmtree(folder)


def _files(step_dir: str) -> list[str]:
  return sorted(os.path.join(root, name) for root, _, names in os.walk(step_dir) for name in names)


def _damage(path: str, how: str, offset: float, payload: bytes) -> None:
  if how == "delete":
    os.remove(path)
    return
  size = os.path.getsize(path)
  with open(path, "r+b") as f:
    if how == "truncate":
      f.truncate(int(offset * size))
    elif how == "overwrite":
      f.seek(int(offset * size))
      f.write(payload)
    else:  # replace the whole file with foreign bytes
      f.truncate(0)
      f.write(payload)


def _restore_outcome(directory: str):
  checkpointer = Checkpointer(directory, CONFIG)
  try:
    return checkpointer.restore(_state(0.0))
  finally:
    checkpointer.close()


@fuzz(60)
@given(
    steps=st.sampled_from([(2,), (1, 2)]),
    file_index=st.integers(0, 1_000),
    how=st.sampled_from(["delete", "truncate", "overwrite", "replace"]),
    offset=st.floats(0.0, 1.0),
    payload=st.binary(min_size=1, max_size=64),
)
@example(steps=(2,), file_index=0, how="replace", offset=0.0, payload=b"0")  # step 2's commit record (a case that once escaped)
def test_damaged_step_files_end_in_checkpoint_error_or_the_older_step(pristine, steps, file_index, how, offset, payload):
  work = tempfile.mkdtemp()
  try:
    directory = os.path.join(work, "checkpoints")
    shutil.copytree(pristine, directory)
    for step in steps:
      files = _files(os.path.join(directory, str(step)))
      _damage(files[file_index % len(files)], how, offset, payload)
    try:
      step, state, extra = _restore_outcome(directory)
    except CheckpointError as e:
      assert directory in str(e)
      assert "\n" not in str(e)
      return
    # It loaded: then it must be a step restored exactly, never a damaged one passing as whole.
    expected = {2: _state(2.0), 1: _state(1.0)}[step]
    jax.tree.map(np.testing.assert_array_equal, _host(state), _host(expected))
    assert extra == {"elapsed_s": float(step)}
  finally:
    shutil.rmtree(work)


@pytest.mark.parametrize("record", [b"0", b"[]", b'"done"', b'{"commit_timestamp_nsecs": "soon"}'])
def test_a_commit_record_that_stops_orbax_is_set_aside_and_the_older_step_resumes(pristine, tmp_path, record):
  """Orbax reads every step's ``_CHECKPOINT_METADATA`` when it opens a folder, and one that is JSON
  but not a record stops it: that step is renamed ``<step>.unreadable``, the older one resumes
  exactly and the run saves on; with every step damaged no step is left to resume from; the
  reader refuses in one line naming the damaged step."""
  directory = str(tmp_path / "checkpoints")
  shutil.copytree(pristine, directory)
  (tmp_path / "checkpoints" / "2" / "_CHECKPOINT_METADATA").write_bytes(record)
  with pytest.raises(CheckpointError) as error:
    read_checkpoint(directory)
  assert directory in str(error.value) and "_CHECKPOINT_METADATA: 2)" in str(error.value) and "\n" not in str(error.value)
  checkpointer = Checkpointer(directory, CONFIG)
  step, state, extra = checkpointer.restore(_state(0.0))
  assert step == 1 and extra == {"elapsed_s": 1.0}
  jax.tree.map(np.testing.assert_array_equal, _host(state), _host(_state(1.0)))
  assert sorted(os.listdir(directory)) == ["1", "2.unreadable"]
  checkpointer.save(2, _state(2.0), {"elapsed_s": 2.0})
  checkpointer.close()
  assert _restore_outcome(directory)[0] == 2

  for step in (1, 2):
    (tmp_path / "checkpoints" / str(step) / "_CHECKPOINT_METADATA").write_bytes(record)
  with pytest.raises(CheckpointError, match="no checkpoint to resume from"):
    _restore_outcome(directory)


def _save(directory: str, state, config=CONFIG) -> None:
  checkpointer = Checkpointer(directory, config)
  checkpointer.save(1, state)
  checkpointer.close()


@fuzz(25)
@given(
    kind=st.sampled_from(["extra_leaf", "missing_leaf", "shape", "dtype", "rank"]),
    width=st.integers(1, 5),
)
def test_foreign_and_reshaped_trees_are_refused(kind, width):
  work = tempfile.mkdtemp()
  try:
    directory = os.path.join(work, "checkpoints")
    state = _state(1.0)
    if kind == "extra_leaf":
      state = {**state, "other": jnp.zeros(width)}
    elif kind == "missing_leaf":
      state = {k: v for k, v in state.items() if k != "weights"}
    elif kind == "shape":
      state = {**state, "weights": jnp.ones((2, 3 + width), jnp.float32)}
    elif kind == "dtype":
      state = {**state, "weights": jnp.ones((2, 3), jnp.int32)}
    else:
      state = {**state, "weights": jnp.ones((2, 3, width), jnp.float32)}
    _save(directory, state)
    with pytest.raises(CheckpointError) as error:
      _restore_outcome(directory)
    assert directory in str(error.value)
  finally:
    shutil.rmtree(work)


def test_non_checkpoint_folders_and_bytes_are_refused(tmp_path):
  folder = tmp_path / "checkpoints"
  (folder / "3").mkdir(parents=True)
  (folder / "3" / "state").write_bytes(os.urandom(128))
  with pytest.raises(CheckpointError, match=str(folder)):
    _restore_outcome(str(folder))
  with pytest.raises(CheckpointError, match="no such folder"):
    read_checkpoint(str(tmp_path / "missing"))
  _save(str(tmp_path / "other"), _state(1.0), config={"algo": "someone-else"})
  with pytest.raises(CheckpointError, match="different run.*algo"):
    _restore_outcome(str(tmp_path / "other"))


def test_a_renamed_config_field_still_resumes(tmp_path):
  """A checkpoint written when ``updates_per_call`` was called ``log_every`` resumes under the new name."""
  old = Checkpointer(str(tmp_path), {"algo": "iql", "log_every": 1000})
  old.save(1, {"w": jnp.ones(2)}, {})
  old.close()
  new = Checkpointer(str(tmp_path), {"algo": "iql", "updates_per_call": 1000})
  step, state, _ = new.restore(lambda step: {"w": jnp.zeros(2)})
  new.close()
  assert step == 1 and float(state["w"][0]) == 1.0
  other = Checkpointer(str(tmp_path), {"algo": "iql", "updates_per_call": 500})
  with pytest.raises(CheckpointError, match="updates_per_call"):
    other.restore(lambda step: {"w": jnp.zeros(2)})
