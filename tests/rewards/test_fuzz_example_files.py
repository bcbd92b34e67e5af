"""Fuzzed success-example files through ``rlkit_jax.rewards.success_examples.load_examples``.

Each case is a valid ``.npz`` (1–20 positives and 0–20 negatives of Reacher-v5's 10 features, its
``env_id``, ``format`` and ``metadata``) with one class of damage: missing keys, extra keys, wrong
shapes, wrong dtypes, NaN/inf/float32-overflowing values, another task's ``env_id``, pickled
objects, or its bytes (cut at a random offset, overwritten, a lone ``.npy``, not an npz at all).
A refused file must raise ``ExamplesError`` with a one-line message naming it; one that loads must
give back exactly the positives and negatives written.
"""
from __future__ import annotations

import io
import json

import hypothesis
import hypothesis.extra.numpy as hnp
import hypothesis.strategies as st
import numpy as np
import pytest

from fuzz_testing import foreign_bytes, fuzz, loaded, overwritten, refused, refused_or_loaded, truncated, write_bytes
from rlkit_jax.rewards.success_examples import FORMAT, load_examples
from rlkit_jax.rewards.success_tests import ExamplesError

TASK, WIDTH = "Reacher-v5", 10
FIELDS = ("positives", "negatives", "env_id", "format", "metadata")


@st.composite
def example_files(draw: st.DrawFn) -> dict[str, np.ndarray]:
  rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
  return {
      "positives": rng.normal(size=(draw(st.integers(1, 20)), WIDTH)).astype(np.float32),
      "negatives": rng.normal(size=(draw(st.integers(0, 20)), WIDTH)).astype(np.float32),
      "env_id": np.asarray(TASK), "format": np.asarray(FORMAT), "metadata": np.asarray(json.dumps({"seed": 0})),
  }


def _npz(fields: dict, *, pickle: bool = False) -> bytes:
  buffer = io.BytesIO()
  np.savez(buffer, allow_pickle=pickle, **fields)
  return buffer.getvalue()


def _states_ok(name: str, value: np.ndarray) -> bool:
  """What loads as D+ / D−: real numbers [P ≥ 1, 10] (negatives: [N, 10] or empty [0, any])."""
  real = np.issubdtype(value.dtype, np.integer) or np.issubdtype(value.dtype, np.floating)
  if not real or value.ndim != 2:
    return False
  with np.errstate(over="ignore"):
    if not np.all(np.isfinite(value.astype(np.float32))):  # beyond float32's range too
      return False
  return value.shape[1] == WIDTH and len(value) >= 1 if name == "positives" else len(value) == 0 or value.shape[1] == WIDTH


def _change(draw: st.DrawFn, f: dict, kind: str, task: str | None) -> tuple[dict, bool]:
  """The fields with damage ``kind``, and whether the file must still load."""
  name = draw(st.sampled_from(["positives", "negatives"]))
  if kind == "nonfinite" and f[name].size == 0:
    name = "positives"
  value = f[name]
  if kind == "missing":
    gone = draw(st.sets(st.sampled_from(FIELDS), min_size=1))
    return {k: v for k, v in f.items() if k not in gone}, not gone & {"positives", "env_id"}
  if kind == "extra":
    names = st.from_regex(r"[a-z][a-z0-9_]{0,9}", fullmatch=True).filter(lambda k: k not in FIELDS)
    arrays = hnp.arrays(st.sampled_from(["f4", "i8", "?", "U3", "c8"]), hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=3))
    return {**f, **draw(st.dictionaries(names, arrays, min_size=1, max_size=3))}, True
  if kind == "shape":
    how = draw(st.sampled_from(["scalar", "flat", "column", "leading", "narrow", "wide", "none"]))
    new = {"scalar": np.asarray(value.reshape(-1)[0] if value.size else 0.0), "flat": value.reshape(-1), "column": value[..., None],
           "leading": value[None], "narrow": value[:, : draw(st.integers(0, WIDTH - 1))],
           "wide": np.concatenate([value, value[:, :1]], axis=1), "none": value[:0]}[how]
  elif kind == "dtype":
    target = draw(st.sampled_from(["float16", "float64", "int32", "int64", "bool", "str", "bytes", "complex64"]))
    new = value.astype({"str": "U16", "bytes": "S16"}.get(target, target))
  elif kind == "nonfinite":
    new = value.astype(np.float64)
    huge = st.floats(3.5e38, 1.7e308).flatmap(lambda x: st.sampled_from([x, -x]))
    for index in draw(st.lists(st.integers(0, new.size - 1), min_size=1, max_size=3)):
      new.reshape(-1)[index] = draw(st.sampled_from([np.nan, np.inf, -np.inf]) | huge)
  elif kind == "env_id":
    new_id = draw(st.text(st.characters(blacklist_characters="\x00"), max_size=12) | st.sampled_from(["reacher-v5", "Reacher-v4", "Pusher-v5", " Reacher-v5"]))
    stored = draw(st.sampled_from([np.asarray(new_id), np.asarray([new_id]), np.asarray(new_id.encode("utf-8")), np.asarray(7)]))
    return {**f, "env_id": stored}, task is None or (stored.dtype.kind == "U" and stored.ndim == 0 and new_id == task)
  else:
    raise AssertionError(kind)
  return {**f, name: new}, _states_ok(name, new)


CHANGES = ("missing", "extra", "shape", "dtype", "nonfinite", "env_id")
BYTES = ("truncated", "overwritten", "foreign", "npy", "pickled")


@pytest.mark.parametrize("kind", ["valid", *CHANGES, *BYTES])
@fuzz(40)
@hypothesis.given(fields=example_files(), task=st.sampled_from([TASK, None]), source=st.data())
def test_example_files_are_loaded_whole_or_refused(tmp_path, kind, fields, task, source):
  path, loads = str(tmp_path / "examples.npz"), kind == "valid"
  if kind in CHANGES:
    fields, loads = _change(source.draw, fields, kind, task)
  blob = _npz(fields)
  if kind in ("truncated", "overwritten"):
    blob = source.draw(truncated(blob) if kind == "truncated" else overwritten(blob))
  elif kind == "foreign":
    blob = source.draw(foreign_bytes)
  elif kind == "npy":
    buffer = io.BytesIO()
    np.save(buffer, fields["positives"])
    blob = buffer.getvalue()
  elif kind == "pickled":
    blob = _npz({**fields, source.draw(st.sampled_from(FIELDS)): np.asarray([{"a": 1}, None], dtype=object)}, pickle=True)
  write_bytes(path, blob)
  load = lambda: load_examples(path, env_id=task, observation_dim=WIDTH)
  if kind == "overwritten":  # the zip's CRC-32s catch damaged members; what loads must be what was written
    got = refused_or_loaded(ExamplesError, path, load)
    if got is None:
      return
  elif not loads:
    refused(ExamplesError, path, load)
    return
  else:
    got = loaded(load)
  negatives = np.asarray(fields.get("negatives", []), np.float32)
  np.testing.assert_array_equal(got[0], np.asarray(fields["positives"], np.float32))
  np.testing.assert_array_equal(got[1], negatives if negatives.size else np.zeros((0, WIDTH), np.float32))
  assert got[0].dtype == got[1].dtype == np.float32 and got[1].shape[1:] == (WIDTH,)
