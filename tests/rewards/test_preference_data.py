"""Preference data without a network: segments, the preference file, B-Pref teachers, model
labellers and query selection. Statistical checks use fixed seeds and ~3-4 standard errors."""
from __future__ import annotations

import json
import math
import os
import re

import numpy as np
import pytest

from rlkit_jax.data import Dataset, Transitions
from rlkit_jax.rewards import (
    FORMAT,
    TEACHERS,
    ModelLabeller,
    PreferenceDataError,
    Preferences,
    Queries,
    ScriptedTeacher,
    episode_lengths,
    gather,
    load_preferences,
    make_teacher,
    pairs,
    query_scores,
    sample_refs,
    save_preferences,
    select_queries,
)

# --------------------------------------------------------------------------------------------------
# Helpers.


def _dataset(lengths, *, source: str = "toy.hdf5") -> Dataset:
  """Trajectories of the given lengths; row i has observation [i, -i], action [2i], reward i / 10."""
  n = int(np.sum(lengths))
  rows = np.arange(n, dtype=np.float32)
  ends = np.zeros(n, bool)
  ends[np.cumsum(lengths) - 1] = True
  observations = np.stack([rows, -rows], axis=1)
  transitions = Transitions(
      observations=observations, actions=2 * rows[:, None], rewards=rows / 10, terminals=np.zeros(n, np.float32),
      next_observations=observations + 1,
  )
  return Dataset(transitions, ends, "toy", None, math.nan, math.nan, source)


def _queries(rewards) -> Queries:
  """Queries ``[Q, K, T]`` that carry only rewards (what a scripted teacher judges)."""
  rewards = np.asarray(rewards, np.float32)
  q, k, t = rewards.shape
  return Queries(
      refs=np.zeros((q, k, 3), np.int64), observations=np.zeros((q, k, t, 1), np.float32),
      actions=np.zeros((q, k, t, 1), np.float32), rewards=rewards,
  )


def _pair(first, second, copies: int = 1) -> Queries:
  return _queries(np.broadcast_to(np.asarray([first, second], np.float32)[None], (copies, 2, len(first))))


def _write(path, payload) -> str:
  with open(path, "w") as f:
    json.dump(payload, f)
  return str(path)


def _file(path, queries, **fields) -> str:
  return _write(path, {"format": FORMAT, "dataset": "toy", "labeller": "test", "queries": queries, **fields})


# --------------------------------------------------------------------------------------------------
# Segments.


def test_sample_refs_stays_inside_trajectories_long_enough():
  lengths = np.array([3, 2, 10, 0, 1, 7, 4])
  refs = sample_refs(lengths, num_queries=2000, segment_length=4, rng=np.random.default_rng(0), num_segments=3)
  assert refs.shape == (2000, 3, 3) and refs.dtype == np.int64
  episodes, starts, length = refs[..., 0], refs[..., 1], refs[..., 2]
  assert np.all(length == 4) and np.all(starts >= 0)
  assert set(np.unique(episodes)) == {2, 5, 6}  # every trajectory with ≥ 4 steps, no other
  assert np.all(starts + length <= lengths[episodes])


def test_sample_refs_is_uniform_over_windows():
  # lengths [3, 10], T = 3: one window in trajectory 0 and eight in trajectory 1, all equally likely;
  # trajectories shorter than T at either end or between are never drawn.
  lengths = np.array([2, 3, 1, 10, 2])
  refs = sample_refs(lengths, num_queries=4500, segment_length=3, rng=np.random.default_rng(1))
  windows = [(1, 0)] + [(3, s) for s in range(8)]
  counts = np.array([np.sum((refs[..., 0] == e) & (refs[..., 1] == s)) for e, s in windows])
  assert counts.sum() == refs.shape[0] * refs.shape[1]  # nothing outside these 9 windows
  expected = counts.sum() / len(windows)
  chi2 = np.sum((counts - expected) ** 2 / expected)
  assert chi2 < 26.1, (counts, chi2)  # χ²(8 dof) at p = 0.001


def test_sample_refs_errors():
  rng = np.random.default_rng(0)
  with pytest.raises(PreferenceDataError, match="toy.hdf5: no trajectory has 5 steps.*longest has 4"):
    sample_refs(np.array([4, 2]), num_queries=3, segment_length=5, rng=rng, source="toy.hdf5")
  for bad in ({"num_queries": 0}, {"segment_length": 0}, {"num_segments": 1}):
    kwargs = {"num_queries": 3, "segment_length": 2, "num_segments": 2, **bad}
    with pytest.raises(PreferenceDataError, match="sample_refs"):
      sample_refs(np.array([4]), rng=rng, **kwargs)


def test_gather_returns_the_dataset_rows():
  dataset = _dataset([4, 6, 5])  # trajectories start at rows 0, 4, 10
  np.testing.assert_array_equal(episode_lengths(dataset), [4, 6, 5])
  refs = np.array([[[1, 2, 3], [0, 1, 3]], [[2, 0, 3], [1, 3, 3]]])
  queries = gather(dataset, refs)
  rows = np.array([[[6, 7, 8], [1, 2, 3]], [[10, 11, 12], [7, 8, 9]]], np.float32)
  assert queries.observations.shape == (2, 2, 3, 2) and queries.actions.shape == (2, 2, 3, 1)
  np.testing.assert_array_equal(queries.observations[..., 0], rows)
  np.testing.assert_array_equal(queries.observations[..., 1], -rows)
  np.testing.assert_array_equal(queries.actions[..., 0], 2 * rows)
  np.testing.assert_allclose(queries.rewards, rows / 10)
  np.testing.assert_array_equal(queries.refs, refs)
  assert len(queries) == 2 and queries.num_segments == 2 and queries.segment_length == 3
  # The last row of the last trajectory is reachable; one past it is not.
  np.testing.assert_array_equal(gather(dataset, [[[2, 2, 3], [0, 0, 3]]]).observations[0, 0, :, 0], [12, 13, 14])
  with pytest.raises(PreferenceDataError, match=r"plan.json: query 0, field 'segments': steps \[3, 6\).*trajectory 2 of toy.hdf5.*5 steps"):
    gather(dataset, [[[2, 3, 3], [0, 0, 3]]], source="plan.json")
  with pytest.raises(PreferenceDataError, match="query 1, field 'segments': episode 3 is outside toy.hdf5"):
    gather(dataset, [[[0, 0, 2], [1, 0, 2]], [[3, 0, 2], [1, 0, 2]]])
  with pytest.raises(PreferenceDataError, match="query 0, field 'segments': segments of one query must have one length"):
    gather(dataset, [[[0, 0, 2], [1, 0, 3]]])
  with pytest.raises(PreferenceDataError, match="every query must use one segment length"):
    gather(dataset, [[[0, 0, 2], [1, 0, 2]], [[0, 0, 3], [1, 0, 3]]])


def test_sampled_refs_gather_contiguous_rows_of_one_trajectory():
  lengths = [5, 1, 9, 3, 12]
  dataset = _dataset(lengths)
  refs = sample_refs(episode_lengths(dataset), num_queries=200, segment_length=3, rng=np.random.default_rng(2))
  rows = gather(dataset, refs).observations[..., 0]  # [Q, 2, 3] row indices
  np.testing.assert_array_equal(np.diff(rows, axis=-1), 1)
  trajectory = np.searchsorted(np.cumsum(lengths), rows, side="right")
  assert np.all(trajectory == trajectory[..., :1]) and np.all(trajectory[..., 0] == refs[..., 0])


def test_queries_take():
  queries = gather(_dataset([4, 6, 5]), [[[0, 0, 2], [1, 0, 2]], [[1, 1, 2], [2, 0, 2]], [[2, 3, 2], [0, 2, 2]]])
  queries = Queries(queries.refs, queries.observations, queries.actions, queries.rewards, env_id="Hopper-v5")
  picked = queries.take(np.array([2, 0]))
  assert len(picked) == 2 and picked.env_id == "Hopper-v5"
  for name in ("refs", "observations", "actions", "rewards"):
    np.testing.assert_array_equal(getattr(picked, name), getattr(queries, name)[[2, 0]])


# --------------------------------------------------------------------------------------------------
# The preference file.


def test_pairs_round_trip_with_ties_and_skips(tmp_path):
  refs = np.array([[[0, 0, 2], [1, 1, 2]], [[2, 0, 2], [1, 0, 2]], [[0, 1, 2], [2, 3, 2]], [[1, 4, 2], [0, 2, 2]]])
  prefs = pairs("toy", refs, np.array([1.0, np.nan, 0.5, 0.0]), labeller="oracle")
  assert len(prefs) == 3 and prefs.labels.dtype == np.float32 and prefs.rankings is None
  np.testing.assert_array_equal(prefs.refs, refs[[0, 2, 3]])
  path = str(tmp_path / "sub" / "prefs.json")
  skipped = refs[[1]]
  save_preferences(path, prefs, skipped_refs=skipped)
  assert os.listdir(tmp_path / "sub") == ["prefs.json"]  # the temporary file is gone
  stored = json.load(open(path))
  assert stored["format"] == FORMAT and [q["label"] for q in stored["queries"]] == [1.0, 0.5, 0.0, None]
  loaded = load_preferences(path, dataset=_dataset([4, 6, 5]))
  assert loaded.dataset == "toy" and loaded.labeller == "oracle" and loaded.rankings is None
  np.testing.assert_array_equal(loaded.refs, prefs.refs)
  np.testing.assert_array_equal(loaded.labels, [1.0, 0.5, 0.0])
  assert loaded.refs.dtype == np.int64 and loaded.labels.dtype == np.float32
  half = loaded.take(np.array([1]))
  np.testing.assert_array_equal(half.refs, refs[[2]])
  np.testing.assert_array_equal(half.labels, [0.5])


def test_rankings_round_trip(tmp_path):
  refs = np.array([[[0, 0, 2], [1, 1, 2], [2, 0, 2]], [[2, 1, 2], [1, 0, 2], [0, 2, 2]]])
  prefs = Preferences("toy", refs, rankings=np.array([[2, 0, 1], [0, 1, 2]]), labeller="oracle")
  path = str(tmp_path / "ranks.json")
  save_preferences(path, prefs)
  loaded = load_preferences(path, dataset=_dataset([4, 6, 5]))
  assert loaded.labels is None and loaded.rankings.dtype == np.int64
  np.testing.assert_array_equal(loaded.rankings, prefs.rankings)
  np.testing.assert_array_equal(loaded.refs, refs)
  np.testing.assert_array_equal(loaded.take(np.array([1])).rankings, [[0, 1, 2]])


PAIR = {"segments": [[0, 0, 2], [1, 0, 2]], "label": 1}


@pytest.mark.parametrize(
    "queries, match",
    [
        ([{"segments": [[0, 0, 2], [1, 0, 3]], "label": 1}], r"query 0, field 'segments': segments have different lengths \[2, 3\]"),
        ([PAIR, {"segments": [[0, 0, 3], [1, 0, 3]], "label": 0}], r"field 'segments': segments have different lengths"),
        ([PAIR, {"segments": [[0, 0, 2], [1, 0, 2]], "label": 2}], r"query 1, field 'label': 2 is not one of 1"),
        ([{"segments": [[0, 0, 2], [1, 0, 2]], "label": -1}], r"query 0, field 'label': -1 is not one of"),
        ([{"segments": [[0, 0, 2], [1, 0, 2]], "label": "yes"}], r"query 0, field 'label': 'yes' is not one of"),
        ([{"segments": [[0, 0, 2], [1, 0, 2]], "label": True}], r"query 0, field 'label': True is not one of"),
        ([{"segments": [[0, 0, 2], [1, 0, 2]], "label": 0.7}], r"query 0, field 'label': 0.7 is not one of"),
        ([{"segments": [[0, 0, 2], [1, 0, 2], [2, 0, 2]], "label": 1}], r"query 0, field 'label': a label needs exactly 2 segments"),
        ([], r"field 'queries' holds no labelled query \(0 in the file"),
        ([{"segments": [[0, 0, 2], [1, 0, 2]], "label": None}] * 2, r"holds no labelled query \(2 in the file, all skipped"),
        ([{"segments": [[0, 0, 2], [1, 0, 2], [2, 0, 2]], "ranking": [0, 0, 1]}], r"query 0, field 'ranking': must list the segment positions 0..2"),
        ([{"segments": [[0, 0, 2], [1, 0, 2]], "ranking": [1, 2]}], r"query 0, field 'ranking'"),
        ([{"segments": [[0, 0, 2], [1, 0, 2]], "ranking": "01"}], r"query 0, field 'ranking'"),
        ([PAIR, {"segments": [[0, 0, 2], [1, 0, 2]], "ranking": [1, 0]}], r"field 'queries' mixes pairs \('label'\) and rankings"),
        ([{"segments": [[0, 0, 2], [1, 0, 2]], "ranking": [1, 0]},
          {"segments": [[0, 0, 2], [1, 0, 2], [2, 0, 2]], "ranking": [1, 0, 2]}], r"rankings of different sizes \[2, 3\]"),
        ([{"segments": [[0, 0, 2], [1, 0, 2]], "label": 1, "ranking": [1, 0]}], r"query 0: give exactly one of 'label'"),
        ([{"segments": [[0, 0, 2], [1, 0, 2]]}], r"query 0: give exactly one of 'label'"),
        ([{"segments": [[0, 0, 2.0], [1, 0, 2]], "label": 1}], r"query 0, field 'segments': must be ≥ 2 \[episode, start, length\]"),
        ([{"segments": [[0, 0, 2], [1, True, 2]], "label": 1}], r"query 0, field 'segments'"),
        ([{"segments": [[0, 0, 2]], "label": 1}], r"query 0, field 'segments'"),
        ([{"segments": [[0, 0], [1, 0]], "label": 1}], r"query 0, field 'segments'"),
        ([[[0, 0, 2], [1, 0, 2]]], r"query 0: each query must be an object with a 'segments' field"),
    ],
)
def test_bad_preference_files_name_the_file_and_the_field(tmp_path, queries, match):
  path = _file(tmp_path / "bad.json", queries)
  with pytest.raises(PreferenceDataError, match=match) as info:
    load_preferences(path)
  assert str(info.value).startswith(path)


def test_preference_files_outside_the_dataset(tmp_path):
  dataset = _dataset([4, 6, 5])
  path = _file(tmp_path / "far.json", [PAIR, {"segments": [[0, 0, 2], [3, 0, 2]], "label": 0}])
  load_preferences(path)  # without a dataset the indices cannot be checked
  with pytest.raises(PreferenceDataError, match=r"far.json: query 1, field 'segments': episode 3 is outside toy.hdf5, which has 3 trajectories"):
    load_preferences(path, dataset=dataset)
  path = _file(tmp_path / "late.json", [PAIR, {"segments": [[1, 5, 2], [0, 0, 2]], "label": 0.5}])
  late = r"late.json: query 1, field 'segments': steps \[5, 7\) are outside trajectory 1 of toy.hdf5, which has 6 steps"
  with pytest.raises(PreferenceDataError, match=late):
    load_preferences(path, dataset=dataset)
  path = _file(tmp_path / "negative.json", [{"segments": [[0, -1, 2], [1, 0, 2]], "label": 1}])
  with pytest.raises(PreferenceDataError, match=r"negative.json: query 0, field 'segments': .*start ≥ 0"):
    load_preferences(path)  # refused with or without a dataset


def test_unreadable_preference_files(tmp_path):
  missing = str(tmp_path / "nope.json")
  with pytest.raises(PreferenceDataError, match=re.escape(missing) + ": no such preference file"):
    load_preferences(missing)
  garbage = tmp_path / "garbage.json"
  garbage.write_text("{not json")
  with pytest.raises(PreferenceDataError, match="garbage.json: not a JSON preference file"):
    load_preferences(str(garbage))
  binary = tmp_path / "binary.json"
  binary.write_bytes(b"\xff\xfe\x00\x81")
  with pytest.raises(PreferenceDataError, match="binary.json: not a JSON preference file"):
    load_preferences(str(binary))
  other = _file(tmp_path / "other.json", [PAIR], format="someone-elses/2")
  with pytest.raises(PreferenceDataError, match="other.json: field 'format' is 'someone-elses/2', expected 'rlkit_jax.preferences/1'"):
    load_preferences(other)
  with pytest.raises(PreferenceDataError, match="list.json: field 'format' is 'list'"):
    load_preferences(_write(tmp_path / "list.json", [PAIR]))
  with pytest.raises(PreferenceDataError, match="noformat.json: field 'format' is None"):
    load_preferences(_write(tmp_path / "noformat.json", {"queries": [PAIR]}))
  with pytest.raises(PreferenceDataError, match="dict.json: field 'queries' must be a list"):
    load_preferences(_file(tmp_path / "dict.json", {"0": PAIR}))


# --------------------------------------------------------------------------------------------------
# B-Pref teachers (Lee et al. 2021, Sec. 3.2).


def test_oracle_labels_by_the_return_difference():
  rewards = np.array([
      [[1, 2, 3], [0, 0, 5]],      # 6 vs 5: first
      [[0, 0, 0], [0, 0, 0.1]],    # second
      [[1, 1, 1], [3, 0, 0]],      # exact tie
      [[-1, -1, -1], [-2, 0, -2]],  # -3 vs -4: first
  ])
  teacher = make_teacher("oracle", seed=0)
  assert teacher.name == "oracle" and math.isinf(teacher.beta)
  labels = teacher(_queries(rewards))
  assert labels.dtype == np.float32
  np.testing.assert_array_equal(labels, [1.0, 0.0, 0.5, 1.0])
  with pytest.raises(ValueError, match="labels pairs; these queries have 3 segments"):
    teacher(_queries(np.zeros((1, 3, 2))))


@pytest.mark.parametrize("beta, delta", [(1.0, 1.0), (0.5, -2.0), (3.0, 0.25)])
def test_stochastic_teacher_follows_the_bradley_terry_probability(beta, delta):
  n = 20_000
  labels = ScriptedTeacher(beta=beta, seed=3)(_pair([delta, 0.0], [0.0, 0.0], copies=n))
  assert set(np.unique(labels)) <= {0.0, 1.0}
  p = 1.0 / (1.0 + math.exp(-beta * delta))
  assert abs(labels.mean() - p) < 3.5 * math.sqrt(p * (1 - p) / n), (labels.mean(), p)


def test_teachers_with_one_seed_repeat_and_with_another_differ():
  queries = _pair([0.3, 0.0], [0.0, 0.1], copies=500)
  a, b = make_teacher("stochastic", seed=4)(queries), make_teacher("stochastic", seed=4)(queries)
  np.testing.assert_array_equal(a, b)
  assert not np.array_equal(a, make_teacher("stochastic", seed=5)(queries))


def test_myopic_teacher_weights_late_steps_more():
  early, late = [1.0, 1.0, 1.0, 0.0], [0.0, 0.0, 0.0, 2.0]  # returns 3 vs 2; γ = 0.5: 0.875 vs 2
  queries = _queries(np.array([[early, late], [late, early]]))
  np.testing.assert_array_equal(ScriptedTeacher()(queries), [1.0, 0.0])
  np.testing.assert_array_equal(ScriptedTeacher(gamma=0.5)(queries), [0.0, 1.0])
  np.testing.assert_array_equal(ScriptedTeacher(gamma=0.9)(queries), [1.0, 0.0])  # 2.44 vs 2.0: still early
  myopic = make_teacher("myopic", seed=0)
  assert myopic.gamma == 0.9 and myopic.name == "myopic(gamma=0.9)"


def test_skip_and_equal_thresholds():
  # return_scale 10: skip below a best return of 0.3 · 10 = 3; equal within 0.1 · 10 = 1.
  rewards = np.array([
      [[1.0, 1.0], [0.5, 0.5]],  # best 2 < 3: skipped
      [[2.0, 1.5], [0.0, 0.0]],  # best 3.5: labelled, first
      [[2.0, 2.0], [1.6, 1.6]],  # 4 vs 3.2: |Δ| = 0.8 < 1: equal
      [[2.0, 2.0], [1.5, 1.0]],  # 4 vs 2.5: first
      [[0.2, 0.2], [0.1, 0.1]],  # skipped even though also "equal"
  ])
  queries = _queries(rewards)
  labels = ScriptedTeacher(skip=0.3, equal=0.1, return_scale=10.0)(queries)
  np.testing.assert_array_equal(np.isnan(labels), [True, False, False, False, True])
  np.testing.assert_array_equal(labels[1:4], [1.0, 0.5, 1.0])
  np.testing.assert_array_equal(ScriptedTeacher(return_scale=10.0)(queries), [1.0, 1.0, 1.0, 1.0, 1.0])
  # Without return_scale the scale is the mean |segment return| of the queries (here 2.08).
  np.testing.assert_array_equal(
      np.isnan(ScriptedTeacher(skip=1.0)(queries)), [True, False, False, False, True]
  )
  # B-Pref's scale: T · mean reward of the dataset.
  teacher = make_teacher("skip", seed=0).for_rewards(np.array([1.0, 2.0, 3.0]), segment_length=50)
  assert teacher.return_scale == pytest.approx(100.0) and teacher.skip == 0.1 and teacher.name == "skip(skip=0.1)"
  assert make_teacher("equal", seed=0).equal == 0.1


def test_mistake_teacher_flips_a_share_epsilon_of_strict_labels():
  n = 20_000
  rng = np.random.default_rng(0)
  returns = rng.normal(size=(n, 2))
  queries = _queries(np.concatenate([returns[..., None], np.zeros((n, 2, 1))], axis=-1))
  truth = ScriptedTeacher()(queries)
  labels = ScriptedTeacher(epsilon=0.2, seed=1)(queries)
  flipped = np.mean(labels != truth)
  assert abs(flipped - 0.2) < 3.5 * math.sqrt(0.2 * 0.8 / n), flipped
  np.testing.assert_array_equal(labels[labels != truth], 1.0 - truth[labels != truth])
  # Ties are never flipped into a strict label.
  ties = ScriptedTeacher(epsilon=0.9, seed=1)(_pair([1.0], [1.0], copies=200))
  np.testing.assert_array_equal(ties, 0.5)
  assert make_teacher("mistake", seed=0).epsilon == 0.1


def test_rank_orders_by_return():
  rewards = np.array([[[1, 1], [3, 0], [-1, 0], [0, 0.5]], [[0, 0], [0, 1], [0, 2], [0, 3]]], np.float32)
  ranking = make_teacher("oracle", seed=0).rank(_queries(rewards))
  assert ranking.dtype == np.int64
  np.testing.assert_array_equal(ranking, [[1, 0, 3, 2], [3, 2, 1, 0]])
  # Myopic ranking: γ = 0.1 almost only sees the last step.
  np.testing.assert_array_equal(ScriptedTeacher(gamma=0.1).rank(_queries(rewards[:1])), [[0, 3, 1, 2]])


def test_stochastic_rank_is_a_plackett_luce_sample():
  n, beta = 20_000, 1.0
  returns = np.array([1.0, 0.0, -1.0])
  queries = _queries(np.broadcast_to(returns[None, :, None], (n, 3, 1)))
  ranking = ScriptedTeacher(beta=beta, seed=2).rank(queries)
  assert np.all(np.sort(ranking, axis=1) == np.arange(3))
  p_first = np.exp(beta * returns) / np.exp(beta * returns).sum()
  for k in range(3):
    share = np.mean(ranking[:, 0] == k)
    assert abs(share - p_first[k]) < 3.5 * math.sqrt(p_first[k] * (1 - p_first[k]) / n), (k, share, p_first[k])
  # P(1 second | 0 first) = softmax over the remaining {1, 2}.
  given = ranking[ranking[:, 0] == 0]
  p = 1.0 / (1.0 + math.exp(-beta * (returns[1] - returns[2])))
  assert abs(np.mean(given[:, 1] == 1) - p) < 3.5 * math.sqrt(p * (1 - p) / len(given))


def test_make_teacher_presets_and_errors():
  # B-Pref's teachers (Lee et al. 2021): each departs from the oracle in one parameter.
  b_pref = {"oracle": {}, "stochastic": {"beta": 1.0}, "myopic": {"gamma": 0.9}, "skip": {"skip": 0.1},
            "equal": {"equal": 0.1}, "mistake": {"epsilon": 0.1}}
  oracle = {"beta": math.inf, "gamma": 1.0, "epsilon": 0.0, "skip": 0.0, "equal": 0.0}
  assert set(TEACHERS) == set(b_pref)
  for kind, params in b_pref.items():
    teacher = make_teacher(kind, seed=7)
    assert teacher.seed == 7 and teacher.name.startswith(kind)
    assert {name: getattr(teacher, name) for name in oracle} == {**oracle, **params}, kind
  custom = make_teacher("stochastic", seed=0, beta=5.0)
  assert custom.beta == 5.0 and custom.name == "stochastic(beta=5)"
  with pytest.raises(ValueError, match=r"unknown teacher 'greedy'; choose one of \['equal', 'mistake'"):
    make_teacher("greedy", seed=0)
  for bad in ({"beta": 0.0}, {"gamma": 0.0}, {"gamma": 1.5}, {"epsilon": 1.0}, {"skip": -0.1}, {"equal": -1.0}):
    with pytest.raises(ValueError, match="ScriptedTeacher: need beta > 0"):
      ScriptedTeacher(**bad)


def test_model_labeller():
  queries = _queries(np.zeros((4, 2, 1)))
  scores = np.array([[1.0, 0.0], [0.0, 2.0], [1.0, 1.05], [3.0, 3.0]])
  labeller = ModelLabeller(lambda q: scores[: len(q)], name="model:test")
  np.testing.assert_array_equal(labeller(queries), [1.0, 0.0, 0.0, 0.5])
  np.testing.assert_array_equal(ModelLabeller(lambda q: scores, equal_margin=0.1)(queries), [1.0, 0.0, 0.5, 0.5])
  with pytest.raises(ValueError, match=r"ModelLabeller 'bad': score_fn must return \[Q, 2\] = \(4, 2\), got \(4,\)"):
    ModelLabeller(lambda q: scores[:, 0], name="bad")(queries)
  with pytest.raises(ValueError, match="labels pairs"):
    labeller(_queries(np.zeros((4, 3, 1))))
  n = 20_000
  sampled = ModelLabeller(lambda q: np.tile([[0.5, 0.0]], (len(q), 1)), beta=2.0, seed=1)(_queries(np.zeros((n, 2, 1))))
  p = 1.0 / (1.0 + math.exp(-1.0))
  assert abs(sampled.mean() - p) < 3.5 * math.sqrt(p * (1 - p) / n)


# --------------------------------------------------------------------------------------------------
# Query selection.


def test_uniform_selection_gives_distinct_indices():
  rng = np.random.default_rng(0)
  picked = select_queries("uniform", 10, rng=rng, num_candidates=40)
  assert picked.dtype == np.int64 and len(set(picked.tolist())) == 10 and picked.min() >= 0 and picked.max() < 40
  np.testing.assert_array_equal(np.sort(select_queries("uniform", 7, rng=rng, num_candidates=7)), np.arange(7))
  returns = rng.normal(size=(3, 12, 2))
  assert len(set(select_queries("uniform", 12, rng=rng, returns=returns).tolist())) == 12
  np.testing.assert_array_equal(query_scores("uniform", returns), np.zeros(12))


def _sigmoid_differences(returns: np.ndarray) -> np.ndarray:
  return 1.0 / (1.0 + np.exp(returns[..., 1] - returns[..., 0]))


def test_disagreement_picks_the_largest_spread_of_member_probabilities():
  returns = np.random.default_rng(1).normal(scale=2.0, size=(5, 60, 2))
  p = _sigmoid_differences(returns)  # [E, M]
  spread = np.sqrt(np.mean((p - p.mean(axis=0)) ** 2, axis=0))
  expected = np.argsort(-spread)[:8]
  picked = select_queries("disagreement", 8, rng=np.random.default_rng(0), returns=returns)
  np.testing.assert_array_equal(picked, expected)
  np.testing.assert_allclose(query_scores("disagreement", returns), spread, rtol=1e-12)


def test_entropy_picks_mean_probabilities_nearest_one_half():
  returns = np.random.default_rng(2).normal(scale=2.0, size=(4, 60, 2))
  mean = _sigmoid_differences(returns).mean(axis=0)
  expected = np.argsort(np.abs(mean - 0.5))[:8]
  picked = select_queries("entropy", 8, rng=np.random.default_rng(0), returns=returns)
  np.testing.assert_array_equal(picked, expected)
  entropy = -(mean * np.log(mean) + (1 - mean) * np.log(1 - mean))
  np.testing.assert_allclose(query_scores("entropy", returns), entropy, rtol=1e-12)


def test_selection_breaks_ties_at_random():
  returns = np.zeros((3, 20, 2))  # every candidate scores the same
  picks = {tuple(select_queries("entropy", 5, rng=np.random.default_rng(s), returns=returns)) for s in range(5)}
  assert len(picks) > 1 and all(len(set(p)) == 5 for p in picks)


def test_selection_errors():
  rng = np.random.default_rng(0)
  returns = np.zeros((3, 4, 2))
  with pytest.raises(ValueError, match=r"unknown query selection 'random'; choose one of \('uniform', 'disagreement', 'entropy'\)"):
    select_queries("random", 2, rng=rng, returns=returns)
  with pytest.raises(ValueError, match="asked for 5 queries from 4 candidates"):
    select_queries("disagreement", 5, rng=rng, returns=returns)
  with pytest.raises(ValueError, match="asked for 5 queries from 4 candidates"):
    select_queries("uniform", 5, rng=rng, num_candidates=4)
  with pytest.raises(ValueError, match="select_queries: asked for 1 queries"):
    select_queries("uniform", 1, rng=rng)
  for method in ("disagreement", "entropy"):
    with pytest.raises(ValueError, match=f"query selection '{method}' needs the ensemble's returns"):
      select_queries(method, 2, rng=rng, num_candidates=10)
  with pytest.raises(ValueError, match=r"returns must be \[E, M, 2\].*\(4, 2\)"):
    query_scores("entropy", np.zeros((4, 2)))
