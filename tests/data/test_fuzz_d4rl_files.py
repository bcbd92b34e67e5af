"""Fuzzed D4RL-layout HDF5 files through ``rlkit_jax.data.load`` / ``read_d4rl_hdf5`` and GAIL's
``load_demonstrations``.

Each case is a valid file (1–6 episodes of 1–12 steps at Hopper-v5's widths, each ending in a
termination or a time-out) with one class of damage: missing keys, extra keys, wrong ranks,
mismatched lengths, wrong dtypes, NaN/inf/float32-overflowing values, empty fields, links, file
attributes, or its bytes (cut at a random offset, overwritten, not HDF5 at all). A refused file
must raise ``DatasetError`` with a one-line message naming it; a file that loads (an extra key, a
flag stored ``[N, 1]``, a missing optional field, integer observations) must load whole, equal to
an independent transcription of d4rl's ``qlearning_dataset``.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Callable

import h5py
import hypothesis
import hypothesis.extra.numpy as hnp
import hypothesis.strategies as st
import numpy as np
import pytest

from fuzz_testing import foreign_bytes, fuzz, loaded, overwritten, refused, refused_or_loaded, truncated, write_bytes
from rlkit_jax import data
from rlkit_jax.data import d4rl, registry
from rlkit_jax.rewards.gail import DemonstrationsError, load_demonstrations

OBS, ACT = 11, 3  # Hopper-v5
KEYS = ("observations", "actions", "rewards", "terminals", "timeouts", "next_observations")
REQUIRED, FLAGS = KEYS[:4], ("terminals", "timeouts")
HOPPER_SCORES = registry.REF_SCORES["hopper"]


@dataclasses.dataclass
class Case:
  """A file to write and what loading it must give: ``expected`` (the arrays the dataset is made
  of, before d4rl's reconstruction; None = refused) and its reference scores."""

  arrays: dict[str, Any]
  expected: dict[str, Any] | None
  attrs: dict[str, Any] = dataclasses.field(default_factory=lambda: {"env_id": "Hopper-v5"})
  links: dict[str, Any] = dataclasses.field(default_factory=dict)
  scores: tuple[float, float] = HOPPER_SCORES


@st.composite
def episodes(draw: st.DrawFn) -> dict[str, np.ndarray]:
  """A valid file's arrays; s' = the next s inside an episode, a fresh state after each end."""
  ends = draw(st.lists(st.tuples(st.integers(1, 12), st.booleans()), min_size=1, max_size=6))
  rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
  parts: dict[str, list] = {k: [] for k in KEYS}
  for length, terminal in ends:
    states = rng.normal(size=(length + 1, OBS)).astype(np.float32)
    last = np.arange(length) == length - 1
    parts["observations"].append(states[:-1])
    parts["next_observations"].append(states[1:])
    parts["actions"].append(rng.uniform(-1, 1, (length, ACT)).astype(np.float32))
    parts["rewards"].append(rng.normal(size=length).astype(np.float32))
    parts["terminals"].append(last & terminal)
    parts["timeouts"].append(last & (not terminal))
  return {k: np.concatenate(v) for k, v in parts.items()}


def reference(arrays: dict[str, Any]) -> dict[str, np.ndarray]:
  """d4rl's ``qlearning_dataset`` as a plain loop: with ``next_observations`` every row; without,
  s' = s_{i+1}, dropping time-out rows and the last (d4rl's 1000-step counter never fires on these
  short files); plus where each kept row ends its trajectory."""
  obs = np.asarray(arrays["observations"], np.float32)
  n = len(obs)
  flag = {k: np.asarray(arrays[k]).reshape(n).astype(bool) for k in FLAGS if k in arrays}
  timeouts = flag.get("timeouts", np.zeros(n, bool))
  has_next = "next_observations" in arrays
  rows = [i for i in range(n) if has_next or (i < n - 1 and not timeouts[i])]
  nexts = [np.asarray(arrays["next_observations"][i], np.float32) if has_next else obs[i + 1] for i in rows]
  ends = [
      flag["terminals"][i] or (has_next and timeouts[i]) or j == len(rows) - 1 or bool(np.any(nexts[j] != obs[rows[j + 1]]))
      for j, i in enumerate(rows)
  ]
  rewards = np.asarray(arrays["rewards"]).reshape(n)
  return {
      "observations": obs[rows].reshape(-1, obs.shape[1]), "actions": np.asarray(arrays["actions"], np.float32)[rows],
      "rewards": rewards[rows].astype(np.float32), "terminals": flag["terminals"][rows].astype(np.float32),
      "next_observations": np.asarray(nexts, np.float32).reshape(-1, obs.shape[1]), "episode_ends": np.asarray(ends, bool),
  }


def assert_whole(dataset: data.Dataset, want: dict[str, np.ndarray], rows: int | None = None) -> None:
  """``dataset`` is ``want`` (its first ``rows`` rows when given): every row, every field."""
  rows = len(want["rewards"]) if rows is None else rows
  assert len(dataset) == rows
  for key in ("observations", "actions", "rewards", "terminals", "next_observations"):
    np.testing.assert_array_equal(getattr(dataset.transitions, key), want[key][:rows], err_msg=key)
  np.testing.assert_array_equal(dataset.episode_ends, want["episode_ends"][:rows])


def assert_valid(dataset: data.Dataset | None) -> None:
  """What a loaded file guarantees whatever bytes it held (None: it was refused): Hopper-v5's
  widths, one row count for every field, finite values, actions in [-1, 1], 0/1 flags."""
  if dataset is None:
    return
  t, n = dataset.transitions, len(dataset)
  assert n >= 1
  for key, shape in (("observations", (n, OBS)), ("next_observations", (n, OBS)), ("actions", (n, ACT)),
                     ("rewards", (n,)), ("terminals", (n,))):
    value = np.asarray(getattr(t, key))
    assert value.shape == shape and np.all(np.isfinite(value)), key
  assert np.all(np.abs(np.asarray(t.actions)) <= 1.0)
  assert set(np.unique(np.asarray(t.terminals))) <= {0.0, 1.0}
  assert np.asarray(dataset.episode_ends).shape == (n,) and set(np.unique(np.asarray(dataset.episode_ends))) <= {0, 1}


# --- Mutation classes: (draw, valid arrays) → Case -----------------------------------------------

names = st.from_regex(r"[a-z][a-z0-9_]{0,9}", fullmatch=True).filter(lambda s: s not in KEYS)
junk_arrays = hnp.arrays(
    st.sampled_from(["f4", "f8", "i8", "u1", "?", "S4", "c8"]), hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4)
)


def missing(draw: st.DrawFn, a: dict) -> Case:
  gone = draw(st.sets(st.sampled_from(KEYS), min_size=1) | st.sets(st.sampled_from(KEYS[4:]), min_size=1))  # any, or optional only
  kept = {k: v for k, v in a.items() if k not in gone}
  return Case(kept, None if gone & set(REQUIRED) else kept)


def extra(draw: st.DrawFn, a: dict) -> Case:
  more = draw(st.dictionaries(st.one_of(names, names.map("infos/{}".format)), junk_arrays, min_size=1, max_size=4))
  return Case({**a, **{k: v for k, v in more.items() if k != "infos"}}, a)


def rank(draw: st.DrawFn, a: dict) -> Case:
  key, how = draw(st.sampled_from(KEYS)), draw(st.sampled_from(["scalar", "flat", "column", "leading", "pair"]))
  value = a[key]
  new = {"scalar": value.reshape(-1)[0], "flat": value.reshape(-1), "column": value[..., None], "leading": value[None],
         "pair": np.stack([value, value], axis=-1)}[how]
  ok = value.ndim == 1 and (how in ("flat", "column") or (how == "leading" and len(value) == 1))
  return Case({**a, key: new}, a if ok else None)


def lengths(draw: st.DrawFn, a: dict) -> Case:
  key = draw(st.sampled_from(KEYS))
  n = len(a[key])
  if draw(st.booleans()):  # 1..n rows fewer, or 1..4 more
    new = a[key][: n - draw(st.integers(1, n))]
  else:
    new = np.concatenate([a[key], a[key][:1].repeat(draw(st.integers(1, 4)), axis=0)])
  return Case({**a, key: new}, None)


def dtype(draw: st.DrawFn, a: dict) -> Case:
  key, kind = draw(st.sampled_from(KEYS)), draw(st.sampled_from(
      ["float16", "float64", "int32", "int64", "bool", "bytes", "str", "complex64", "complex128", "compound"]
  ))
  value = a[key]
  if kind == "bytes":
    new = value.astype("S12")
  elif kind == "str":
    new = np.asarray(value.astype(str), dtype=h5py.string_dtype())
  elif kind == "compound":
    new = np.zeros(value.shape, [("x", value.dtype), ("y", "f4")])
    new["x"] = value
  else:
    new = value.astype(kind)
  ok = kind.startswith(("float", "int")) or (kind == "bool" and key in FLAGS)
  return Case({**a, key: new}, {**a, key: new} if ok else None)


def nonfinite(draw: st.DrawFn, a: dict) -> Case:
  key = draw(st.sampled_from(["observations", "actions", "rewards", "next_observations", *FLAGS]))
  value = a[key].astype(np.float64)
  huge = st.floats(3.5e38, 1.7e308).flatmap(lambda x: st.sampled_from([x, -x]))
  for index in draw(st.lists(st.integers(0, value.size - 1), min_size=1, max_size=3)):
    value.reshape(-1)[index] = draw(st.one_of(st.sampled_from([np.nan, np.inf, -np.inf]), huge))
  return Case({**a, key: value}, None)


def empty(draw: st.DrawFn, a: dict) -> Case:
  gone = draw(st.sets(st.sampled_from(KEYS), min_size=1))
  return Case({k: v[:0] if k in gone else v for k, v in a.items()}, None)


def links(draw: st.DrawFn, a: dict) -> Case:
  key, how = draw(st.sampled_from(KEYS)), draw(st.sampled_from(["dangling", "external", "alias"]))
  twin = {"next_observations": "observations", "timeouts": "terminals", "terminals": "timeouts"}.get(key)
  kept = {k: v for k, v in a.items() if k != key}
  if how == "alias" and twin:
    return Case(kept, {**a, key: a[twin]}, links={key: h5py.SoftLink(f"/{twin}")})
  target = h5py.SoftLink("/nowhere") if how == "dangling" else h5py.ExternalLink("no_such_file.h5", "/x")
  return Case(kept, None, links={key: target})


attr_values = st.one_of(
    st.floats(allow_nan=True), st.integers(-(2**63), 2**63 - 1), st.booleans(),
    st.text(st.characters(blacklist_characters="\x00"), max_size=12),
    st.sampled_from(["12.5", "nan", "discrete", "continuous"]), st.lists(st.floats(-9, 9), min_size=1, max_size=3),
    st.just(h5py.Empty("f4")),
)


def attrs(draw: st.DrawFn, a: dict) -> Case:
  """Reference scores (one or both), action_space, num_actions and unknown attributes of random types."""
  known = ("ref_min_score", "ref_max_score", "action_space", "num_actions")
  chosen = draw(st.sets(st.sampled_from(known), min_size=1))
  if draw(st.booleans()):
    chosen |= set(known[:2])  # both scores: the file's are then used
  found = {k: draw(attr_values) for k in sorted(chosen)}
  others = names.filter(lambda k: k not in (*known, *d4rl.TASK_ATTRIBUTES))
  found.update(draw(st.dictionaries(others, attr_values, max_size=2)))
  case = Case(a, a, attrs={"env_id": "Hopper-v5", **found})
  if found.get("action_space") == "discrete":  # a discrete file on Hopper's Box: refused
    case.expected = None
  if "ref_min_score" in found and "ref_max_score" in found:
    try:
      case.scores = (float(found["ref_min_score"]), float(found["ref_max_score"]))
    except (TypeError, ValueError):
      case.expected = None
  return case


MUTATIONS: dict[str, Callable[[st.DrawFn, dict], Case]] = {
    f.__name__: f for f in (missing, extra, rank, lengths, dtype, nonfinite, empty, links, attrs)
}
DAMAGE = ("truncated", "overwritten", "foreign")


def write(path: str, case: Case, compression: str | None) -> str:
  with h5py.File(path, "w") as f:
    for key, value in case.arrays.items():
      packed = compression if np.ndim(value) and np.size(value) else None
      f.create_dataset(key, data=value, compression=packed)
    for key, link in case.links.items():
      f[key] = link
    for key, value in case.attrs.items():
      f.attrs[key] = value
  return path


def _file(tmp_path, draw: st.DrawFn, kind: str, arrays: dict) -> tuple[str, Case | None]:
  """Writes the file of mutation ``kind`` (and returns its case), or a valid file whose bytes are
  then damaged (case None)."""
  path = str(tmp_path / "fuzz.hdf5")
  compression = draw(st.sampled_from([None, "gzip"]))
  if kind in MUTATIONS:
    case = MUTATIONS[kind](draw, arrays)
    write(path, case, compression)
    if case.expected is not None and len(reference(case.expected)["rewards"]) == 0:
      case.expected = None  # nothing left after dropping the time-outs and the last row
    return path, case
  with open(write(path, Case(arrays, arrays), compression), "rb") as f:
    blob = f.read()
  damage = {"truncated": truncated(blob), "overwritten": overwritten(blob), "foreign": foreign_bytes}[kind]
  write_bytes(path, draw(damage))
  return path, None


@pytest.mark.parametrize("kind", [*MUTATIONS, *DAMAGE])
@fuzz(40)
@hypothesis.given(arrays=episodes(), reader=st.sampled_from(["load", "read"]), source=st.data())
def test_d4rl_files_are_loaded_whole_or_refused(tmp_path, kind, arrays, reader, source):
  path, case = _file(tmp_path, source.draw, kind, arrays)
  read = data.load if reader == "load" else d4rl.read_d4rl_hdf5
  if kind == "overwritten":  # HDF5 keeps no checksums of raw data: damage there may load, validated
    assert_valid(refused_or_loaded(data.DatasetError, path, lambda: read(path, env_id="Hopper-v5")))
  elif case is None or case.expected is None:
    refused(data.DatasetError, path, lambda: read(path, env_id="Hopper-v5"))
  else:
    dataset = loaded(lambda: read(path, env_id="Hopper-v5"))
    assert_whole(dataset, reference(case.expected))
    np.testing.assert_array_equal((dataset.ref_min_score, dataset.ref_max_score), case.scores)


@pytest.mark.parametrize("kind", [*MUTATIONS, *DAMAGE, "other_task"])
@fuzz(15)
@hypothesis.given(arrays=episodes(), num_demos=st.none() | st.integers(-1, 8), source=st.data())
def test_demonstration_files_are_loaded_whole_or_refused(tmp_path, kind, arrays, num_demos, source):
  load = lambda: load_demonstrations(path, env_id="Hopper-v5", observation_dim=OBS, action_dim=ACT, num_demos=num_demos)
  if kind == "other_task":  # HalfCheetah-v5's widths, labelled as its own (another task) or as Hopper-v5's (too wide)
    n = len(arrays["rewards"])
    cheetah = {**arrays, "observations": np.zeros((n, 17)), "next_observations": np.zeros((n, 17)), "actions": np.zeros((n, 6))}
    task = source.draw(st.sampled_from(["HalfCheetah-v5", "Hopper-v5"]))
    path = write(str(tmp_path / "cheetah.hdf5"), Case(cheetah, None, attrs={"env_id": task}), None)
    refused(data.DatasetError, path, load)
    return
  path, case = _file(tmp_path, source.draw, kind, arrays)
  if kind == "overwritten":
    assert_valid(refused_or_loaded(data.DatasetError, path, load))
    return
  if case is None or case.expected is None:
    refused(data.DatasetError, path, load)
    return
  want = reference(case.expected)
  trajectories = int(want["episode_ends"].sum())
  if num_demos is not None and not 1 <= num_demos <= trajectories:
    refused(DemonstrationsError, path, load)
    return
  stops = np.flatnonzero(want["episode_ends"]) + 1
  assert_whole(loaded(load), want, None if num_demos is None else int(stops[num_demos - 1]))
