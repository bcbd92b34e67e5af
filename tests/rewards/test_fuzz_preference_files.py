"""Fuzzed preference files through ``rlkit_jax.rewards.preference_data.load_preferences``.

Each case is a valid file (1–6 labelled pairs, or rankings of 3, of one segment length, inside the
trajectories of a toy dataset) with one class of damage: its bytes (cut at a random offset, not
UTF-8, not JSON at all, nested too deeply), wrong types in 'format', 'queries', a query, its
'segments', 'label' or 'ranking', out-of-range segment indices, pairs mixed with rankings, or
unknown fields. A refused file must raise ``PreferenceDataError`` with a one-line message naming
it; one that loads must hold exactly the labelled queries written.
"""
from __future__ import annotations

import json
import math
from typing import Any

import hypothesis
import hypothesis.strategies as st
import numpy as np
import pytest

from fuzz_testing import foreign_bytes, fuzz, loaded, refused, truncated, write_bytes
from rlkit_jax.data import Dataset, Transitions
from rlkit_jax.rewards.preference_data import FORMAT, load_preferences
from rlkit_jax.rewards.segments import PreferenceDataError

LENGTHS = (30, 12, 25, 8)  # the toy dataset's trajectories


def _toy() -> Dataset:
  n = sum(LENGTHS)
  ends = np.zeros(n, bool)
  ends[np.cumsum(LENGTHS) - 1] = True
  rows = np.arange(n, dtype=np.float32)[:, None]
  t = Transitions(observations=rows, actions=rows, rewards=rows[:, 0], terminals=np.zeros(n, np.float32), next_observations=rows)
  return Dataset(t, ends, "toy", None, math.nan, math.nan, "toy.hdf5")


TOY = _toy()
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4), max_leaves=10,
)


def _triple(segment: Any) -> bool:
  """What any file's segment must be: [episode ≥ 0, start ≥ 0, length ≥ 1] integers (int64)."""
  return (isinstance(segment, list) and len(segment) == 3 and all(type(v) is int for v in segment)
          and min(segment[:2]) >= 0 and segment[2] >= 1 and max(segment) < 2**63)


def _fits(segment: Any, length: int, dataset: bool) -> bool:
  """A segment of a labelled query: a triple of the file's segment length, inside a toy trajectory
  when loaded with the dataset."""
  return _triple(segment) and segment[2] == length and (
      not dataset or (segment[0] < len(LENGTHS) and segment[1] + length <= LENGTHS[segment[0]]))


@st.composite
def payloads(draw: st.DrawFn, ranked: bool | None = None) -> dict:
  """A valid file: pairs (labels 0, 0.5, 1 or null, at least one not null) or rankings of 3."""
  length, ranked = draw(st.integers(1, 8)), draw(st.booleans()) if ranked is None else ranked
  episodes = [e for e, n in enumerate(LENGTHS) if n >= length]
  segment = st.sampled_from(episodes).flatmap(lambda e: st.tuples(st.just(e), st.integers(0, LENGTHS[e] - length)))
  queries = []
  for _ in range(draw(st.integers(1, 6))):
    segments = [[e, s, length] for e, s in draw(st.lists(segment, min_size=3 if ranked else 2, max_size=3 if ranked else 2))]
    if ranked:
      queries.append({"segments": segments, "ranking": draw(st.permutations([0, 1, 2]))})
    else:
      queries.append({"segments": segments, "label": draw(st.sampled_from([0, 0.5, 1, 1.0, None]))})
  if not ranked and all(q["label"] is None for q in queries):
    queries[0]["label"] = 1
  return {"format": FORMAT, "dataset": "toy", "labeller": "oracle", "queries": queries}


def _labelled(payload: dict) -> list[dict]:
  return [q for q in payload["queries"] if q.get("label", 0) is not None]


RESERVED = {"format", "queries", "segments", "label", "ranking"}


def _change(draw: st.DrawFn, payload: dict, kind: str, dataset: bool) -> bool:
  """Applies damage ``kind`` to ``payload`` in place; True if the file must still load."""
  queries, q = payload["queries"], draw(st.integers(0, len(payload["queries"]) - 1))
  query, ranked, length = queries[q], "ranking" in queries[0], queries[0]["segments"][0][2]
  if kind == "format":
    if draw(st.booleans()):
      del payload["format"]
    else:
      payload["format"] = draw(json_values)  # never FORMAT: strings of ≤ 6 characters
  elif kind == "queries":
    payload["queries"] = draw(json_values)  # its dicts' keys (≤ 5 characters) are never 'segments'
  elif kind == "query":
    queries[q] = draw(json_values)
  elif kind == "segments":
    query["segments"] = value = draw(json_values)
    hypothesis.assume(not (isinstance(value, list) and len(value) >= 2 and all(map(_triple, value))))
  elif kind == "index":  # one number of one segment; a skipped pair is dropped once its triples are read
    segment = query["segments"][draw(st.integers(0, len(query["segments"]) - 1))]
    segment[draw(st.integers(0, 2))] = draw(st.integers(-3, 40) | st.integers(-(2**70), 2**70))
    return _fits(segment, length, dataset) or (query.get("label", 0) is None and _triple(segment))
  elif kind == "label":  # pairs only
    query["label"] = value = draw(json_values | st.sampled_from([0, 0.5, 1, 1.0, float("nan"), float("inf"), 10**400]))
    return (value is None and bool(_labelled(payload))) or (type(value) in (int, float) and value in (0, 0.5, 1))
  elif kind == "ranking":  # rankings only
    query["ranking"] = value = draw(json_values | st.permutations([0, 1, 2]).map(lambda r: [float(r[0]), *r[1:]]))
    return type(value) is list and all(type(v) is int for v in value) and sorted(value) == [0, 1, 2]
  elif kind == "kinds":  # a query with both 'label' and 'ranking', with neither, or one of the other kind
    how = draw(st.sampled_from(["both", "neither", "other"]))
    if how == "both":
      query.update(label=1, ranking=list(range(len(query["segments"]))))
    elif how == "neither":
      query.pop("label", None)
      query.pop("ranking", None)
    elif ranked:
      del query["ranking"]
      query["label"] = 1
    else:  # a ranking of 2 among labelled pairs
      hypothesis.assume(query["label"] is not None and len(_labelled(payload)) > 1)
      del query["label"]
      query["ranking"] = [1, 0]
  elif kind == "extra":
    target = draw(st.sampled_from([payload, query]))
    keys = st.text(max_size=8).filter(lambda k: k not in RESERVED)
    for key, value in draw(st.dictionaries(keys, json_values, min_size=1, max_size=3)).items():
      target.setdefault(key, value)
    return True
  return False


CHANGES = ("format", "queries", "query", "segments", "index", "label", "ranking", "kinds", "extra")
BYTES = ("truncated", "not_utf8", "foreign", "deep")


@pytest.mark.parametrize("kind", ["valid", *CHANGES, *BYTES])
@fuzz(40)
@hypothesis.given(with_dataset=st.booleans(), source=st.data())
def test_preference_files_are_loaded_whole_or_refused(tmp_path, kind, with_dataset, source):
  path = str(tmp_path / "preferences.json")
  payload = source.draw(payloads({"label": False, "ranking": True}.get(kind)))
  loads = kind in ("valid", "extra")
  if kind in CHANGES:
    loads = _change(source.draw, payload, kind, with_dataset)
  text = json.dumps(payload)
  if kind == "truncated":
    blob = source.draw(truncated(text.encode()))
  elif kind == "not_utf8":
    at = source.draw(st.integers(0, len(text)))
    bad = source.draw(st.sampled_from([b"\xff", b"\xfe\xff", b"\xc3\x28", b"\xa0\xa1", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80"]))
    blob = text.encode()[:at] + bad + text.encode()[at:] if source.draw(st.booleans()) else text.encode("utf-16")
  elif kind == "foreign":
    blob = source.draw(foreign_bytes)
  elif kind == "deep":
    depth = source.draw(st.integers(10_000, 100_000) | st.integers(500, 1_000))  # or just inside the recursion limit
    nested = "[" * depth + "]" * depth
    blob = source.draw(st.sampled_from([nested, '{"a":' * depth + "1" + "}" * depth, text[:-2] + f",{nested}]}}",
                                        text[:-2] + f',{{"segments":{nested},"label":1}}]}}'])).encode()
  else:
    blob = text.encode()
  write_bytes(path, blob)
  load = lambda: load_preferences(path, dataset=TOY if with_dataset else None)
  if not loads:
    refused(PreferenceDataError, path, load)
    return
  prefs, kept = loaded(load), _labelled(payload)
  np.testing.assert_array_equal(prefs.refs, np.asarray([q["segments"] for q in kept], np.int64).reshape(len(kept), -1, 3))
  if "ranking" in kept[0]:
    np.testing.assert_array_equal(prefs.rankings, [q["ranking"] for q in kept])
  else:
    np.testing.assert_array_equal(prefs.labels, np.asarray([q["label"] for q in kept], np.float32))
