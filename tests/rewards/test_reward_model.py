"""The reward-model ensemble: creation, learning a known reward from oracle pairs and rankings,
padding and bootstrap in ``fit``, normalisation, chunked relabelling, save/load and its errors."""
from __future__ import annotations

import json
import os
import shutil

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.stats

from rlkit_jax.rewards import (
    Preferences,
    Queries,
    RewardEnsemble,
    RewardModelError,
    fit,
    load_reward_model,
    make_teacher,
    preference_arrays,
    relabel,
    reward_model_metadata,
    save_reward_model,
)

O, A, T = 3, 2, 5
W = np.array([1.0, -0.5, 0.25], np.float32)  # the true reward r(s, a) = s · w (actions are distractors)
HIDDEN = (16, 16)
CAPACITY = 64
SMALL = {"num_steps": 20, "batch_size": 8}  # the small fits share one compilation per bootstrap setting


def _queries(rng: np.random.Generator, num_queries: int, num_segments: int = 2) -> Queries:
  """Random segments (s ~ N(0, I), a ~ U[-1, 1]) with the true reward s · w."""
  observations = rng.normal(size=(num_queries, num_segments, T, O)).astype(np.float32)
  actions = rng.uniform(-1, 1, size=(num_queries, num_segments, T, A)).astype(np.float32)
  return Queries(np.zeros((num_queries, num_segments, 3), np.int64), observations, actions, (observations @ W).astype(np.float32))


def _oracle_pairs(queries: Queries) -> Preferences:
  return Preferences("synthetic", queries.refs, labels=make_teacher("oracle", seed=0)(queries), labeller="oracle")


# One compiled program per configuration instead of an eager trace of every layer (much faster here).
_create = jax.jit(
    RewardEnsemble.create,
    static_argnames=("observation_dim", "action_dim", "ensemble_size", "hidden_dims", "use_actions", "ranking_loss"),
)
_member_rewards = jax.jit(lambda model, observations, actions: model.member_rewards(observations, actions))


def _model(seed: int = 0, **kwargs) -> RewardEnsemble:
  kwargs = {"ensemble_size": 2, "hidden_dims": HIDDEN, **kwargs}
  return _create(jax.random.key(seed), observation_dim=O, action_dim=A, **kwargs)


def _quality(model: RewardEnsemble) -> tuple[float, float]:
  """Pearson correlation of learned vs true per-step reward, and the share of fresh pairs whose
  learned segment returns order them as the true returns do."""
  fresh = _queries(np.random.default_rng(99), 1000)
  learned = relabel(model, fresh.observations.reshape(-1, O), fresh.actions.reshape(-1, A))
  pearson = scipy.stats.pearsonr(learned, fresh.rewards.ravel())[0]
  scores, true = model.segment_scores(fresh), fresh.rewards.sum(axis=-1)
  accuracy = np.mean((scores[:, 0] > scores[:, 1]) == (true[:, 0] > true[:, 1]))
  return float(pearson), float(accuracy)


def _params(model: RewardEnsemble) -> list[np.ndarray]:
  return [np.asarray(x) for x in jax.tree.leaves(model.state.params)]


def _differ(a: list[np.ndarray], b: list[np.ndarray]) -> bool:
  return any(not np.allclose(x, y) for x, y in zip(a, b))


# --------------------------------------------------------------------------------------------------
# Creation and prediction.


def test_create_members_differ_and_rewards_are_bounded():
  model = _model()
  assert model.ensemble_size == 2 and model.use_actions and model.ranking_loss == "bradley_terry"
  rng = np.random.default_rng(0)
  observations = jnp.asarray(rng.normal(size=(4, 7, O)).astype(np.float32))
  actions = jnp.asarray(rng.uniform(-1, 1, size=(4, 7, A)).astype(np.float32))
  rewards = np.asarray(_member_rewards(model, observations, actions))
  assert rewards.shape == (2, 4, 7) and rewards.dtype == np.float32
  assert np.all(np.abs(rewards) < 1.0)
  assert np.all(np.abs(np.asarray(_member_rewards(model, 100 * observations, actions))) <= 1.0)  # tanh output
  assert not np.allclose(rewards[0], rewards[1])
  np.testing.assert_allclose(relabel(model, observations.reshape(-1, O), actions.reshape(-1, A)), rewards.mean(axis=0).ravel(), rtol=1e-6, atol=1e-7)
  returns = np.asarray(jax.jit(RewardEnsemble.member_segment_returns)(model, observations[None], actions[None]))  # 1 query, K = 4
  np.testing.assert_allclose(returns, rewards.sum(axis=-1)[:, None], rtol=1e-5, atol=1e-6)
  queries = Queries(np.zeros((1, 4, 3), np.int64), np.asarray(observations)[None], np.asarray(actions)[None], np.zeros((1, 4, 7), np.float32))
  np.testing.assert_allclose(model.query_returns(queries), returns, rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(model.segment_scores(queries), returns.mean(axis=0), rtol=1e-5, atol=1e-6)
  assert _differ(_params(_model(seed=1)), _params(model))


def test_create_errors():
  with pytest.raises(ValueError, match="ensemble_size must be ≥ 1, got 0"):
    _model(ensemble_size=0)
  with pytest.raises(ValueError, match=r"ranking_loss='listnet'; choose one of \('bradley_terry', 'plackett_luce'\)"):
    _model(ranking_loss="listnet")


def test_vmap_create_over_keys():
  create = lambda k: RewardEnsemble.create(k, O, A, ensemble_size=2, hidden_dims=HIDDEN)
  models = jax.jit(jax.vmap(create))(jax.random.split(jax.random.key(0), 3))  # as PreferenceReward does (there unjitted)
  kernel = jax.tree.leaves(models.state.params)[0]
  assert kernel.shape[:2] == (3, 2)
  observations, actions = jnp.ones((3, 6, O)), jnp.zeros((3, 6, A))
  rewards = np.asarray(jax.jit(jax.vmap(lambda m, o, a: m.member_rewards(o, a)))(models, observations, actions))
  assert rewards.shape == (3, 2, 6)
  assert not np.allclose(rewards[0], rewards[1]) and not np.allclose(rewards[1], rewards[2])
  first = jax.tree.map(lambda x: x[0], models)
  np.testing.assert_allclose(np.asarray(_member_rewards(first, observations[0], actions[0])), rewards[0], rtol=1e-6)


def test_preference_arrays_pads_and_checks():
  queries = _queries(np.random.default_rng(0), 5)
  prefs = _oracle_pairs(queries)
  data = preference_arrays(queries, prefs, capacity=8)
  assert data.observations.shape == (8, 2, T, O) and data.actions.shape == (8, 2, T, A) and data.labels.shape == (8,)
  assert data.rankings is None and int(data.count) == 5
  np.testing.assert_array_equal(np.asarray(data.observations[:5]), queries.observations)
  np.testing.assert_array_equal(np.asarray(data.observations[5:]), 0.0)
  with pytest.raises(ValueError, match="capacity 4 < 5 labelled queries"):
    preference_arrays(queries, prefs, capacity=4)
  with pytest.raises(ValueError, match="4 gathered queries for 5 labelled ones"):
    preference_arrays(queries.take(np.arange(4)), prefs)


# --------------------------------------------------------------------------------------------------
# Learning a known reward.


def test_untrained_model_does_not_know_the_reward():
  pearson, accuracy = _quality(_model())
  assert abs(pearson) < 0.6 and accuracy < 0.8  # the learning tests below can fail


def test_learns_a_known_reward_from_oracle_pairs():
  queries = _queries(np.random.default_rng(0), 1000)
  model, metrics = fit(_model(learning_rate=3e-3), preference_arrays(queries, _oracle_pairs(queries)), num_steps=300, batch_size=64)
  pearson, accuracy = _quality(model)
  assert pearson > 0.9 and accuracy > 0.85, (pearson, accuracy)
  assert set(metrics) == {"reward_loss", "reward_accuracy", "diverged_members"} and float(metrics["reward_accuracy"]) > 0.85
  assert float(metrics["diverged_members"]) == 0
  assert float(metrics["reward_loss"]) < 0.4


@pytest.mark.parametrize("ranking_loss", ["bradley_terry", "plackett_luce"])
def test_learns_a_known_reward_from_rankings(ranking_loss):
  queries = _queries(np.random.default_rng(1), 500, num_segments=3)
  rankings = make_teacher("oracle", seed=0).rank(queries)
  prefs = Preferences("synthetic", queries.refs, rankings=rankings, labeller="oracle")
  model = _model(learning_rate=3e-3, ranking_loss=ranking_loss)
  model, metrics = fit(model, preference_arrays(queries, prefs), num_steps=500, batch_size=64)
  pearson, accuracy = _quality(model)
  assert pearson > 0.9 and accuracy > 0.85, (ranking_loss, pearson, accuracy)
  assert float(metrics["reward_accuracy"]) > 0.8  # top-1 agreement on the training rankings


# --------------------------------------------------------------------------------------------------
# fit: padding, bootstrap, determinism.


def _small_data(seed: int, count: int):
  queries = _queries(np.random.default_rng(seed), count)
  return queries, _oracle_pairs(queries), preference_arrays(queries, _oracle_pairs(queries), capacity=CAPACITY)


def test_fit_never_reads_padding_rows():
  queries, prefs, padded = _small_data(2, 40)
  poisoned = padded.replace(
      observations=padded.observations.at[40:].set(jnp.nan), actions=padded.actions.at[40:].set(jnp.nan),
      labels=padded.labels.at[40:].set(jnp.nan),
  )
  for bootstrap in (True, False):
    model, metrics = fit(_model(), poisoned, **SMALL, bootstrap=bootstrap)
    assert all(np.all(np.isfinite(p)) for p in _params(model)), bootstrap
    assert all(np.isfinite(float(v)) for v in metrics.values())
  # Without bootstrap the draws do not depend on the capacity: padding changes nothing at all.
  a, _ = fit(_model(), preference_arrays(queries, prefs), **SMALL, bootstrap=False)
  b, _ = fit(_model(), poisoned, **SMALL, bootstrap=False)
  for x, y in zip(_params(a), _params(b)):
    np.testing.assert_allclose(x, y, rtol=1e-6, atol=1e-7)


def test_fit_grows_without_recompiling_and_uses_the_new_rows():
  queries, prefs, full = _small_data(3, 32)
  small = preference_arrays(queries.take(np.arange(8)), prefs.take(np.arange(8)), capacity=CAPACITY)
  a, _ = fit(_model(), small, **SMALL)
  cache = fit._cache_size()
  b, _ = fit(_model(), full, **SMALL)
  assert fit._cache_size() == cache  # count is a traced value
  assert _differ(_params(a), _params(b))


def test_fit_with_and_without_bootstrap_is_deterministic_given_the_key():
  _, _, data = _small_data(4, 24)
  runs = {}
  for bootstrap in (True, False):
    for seed in (0, 0, 1):
      model, metrics = fit(_model(seed), data, **SMALL, bootstrap=bootstrap)
      assert all(np.isfinite(float(v)) for v in metrics.values())
      runs.setdefault((bootstrap, seed), []).append(_params(model))
  for bootstrap in (True, False):
    (first, again), (other,) = runs[(bootstrap, 0)], runs[(bootstrap, 1)]
    for x, y in zip(first, again):
      np.testing.assert_array_equal(x, y)
    assert _differ(first, other)
  # The bootstrap resample changes what the members are trained on.
  assert _differ(runs[(True, 0)][0], runs[(False, 0)][0])


def test_fit_advances_the_key_and_leaves_the_input_model_unchanged():
  _, _, data = _small_data(5, 16)
  model = _model()
  before = _params(model)
  once, _ = fit(model, data, **SMALL)
  for x, y in zip(before, _params(model)):
    np.testing.assert_array_equal(x, y)
  twice, _ = fit(once, data, **SMALL)
  assert not np.array_equal(jax.random.key_data(once.key), jax.random.key_data(model.key))
  assert _differ(_params(twice), _params(once))


# --------------------------------------------------------------------------------------------------
# Normalisation and relabelling.


def test_normalized_maps_the_data_onto_the_unit_interval_and_relabel_chunks_agree():
  rng = np.random.default_rng(6)
  observations = rng.normal(size=(50, O)).astype(np.float32)
  actions = rng.uniform(-1, 1, size=(50, A)).astype(np.float32)
  model = _model()
  raw = relabel(model, observations, actions)
  np.testing.assert_allclose(raw, np.asarray(_member_rewards(model, observations, actions)).mean(axis=0), rtol=1e-6, atol=1e-7)
  normalized = model.normalized(observations, actions, chunk_size=16)
  values = relabel(normalized, observations, actions)
  assert values.dtype == np.float32 and values.shape == (50,)
  assert values.min() == pytest.approx(0.0, abs=1e-5) and values.max() == pytest.approx(1.0, abs=1e-5)
  np.testing.assert_allclose(values, (raw - raw.min()) / (raw.max() - raw.min()), atol=1e-5)
  for chunk_size in (7, 16, 50, 64):
    np.testing.assert_allclose(relabel(normalized, observations, actions, chunk_size=chunk_size), values, rtol=1e-6, atol=1e-6)
  # Parameters are untouched; only offset and scale change.
  for x, y in zip(_params(model), _params(normalized)):
    np.testing.assert_array_equal(x, y)


# --------------------------------------------------------------------------------------------------
# Save and load.


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
  """A normalised r(s) model (Plackett-Luce; not the seed load_reward_model initialises with) saved in a
  folder, only read by the tests."""
  queries = _queries(np.random.default_rng(7), 16)
  observations, actions = queries.observations.reshape(-1, O), queries.actions.reshape(-1, A)
  model = _model(seed=5, ranking_loss="plackett_luce", use_actions=False).normalized(observations, actions)
  path = str(tmp_path_factory.mktemp("saved") / "model")
  save_reward_model(path, model, observation_dim=O, action_dim=A, hidden_dims=HIDDEN, extra={"dataset": "synthetic", "metrics": {"x": 1.5}})
  return path, model, observations, actions


def test_save_load_round_trip(saved):
  path, model, observations, actions = saved
  assert sorted(os.listdir(path)) == ["params", "reward_model.json"]
  meta = reward_model_metadata(path)
  assert meta == {
      "format": "rlkit_jax.reward_model/1", "observation_dim": O, "action_dim": A, "ensemble_size": 2, "hidden_dims": list(HIDDEN),
      "use_actions": False, "ranking_loss": "plackett_luce", "dataset": "synthetic", "metrics": {"x": 1.5},
  }
  loaded = load_reward_model(path, observation_dim=O, action_dim=A)
  assert loaded.use_actions is False and loaded.ranking_loss == "plackett_luce" and loaded.ensemble_size == 2
  np.testing.assert_array_equal(relabel(loaded, observations, actions), relabel(model, observations, actions))
  assert float(loaded.offset) == float(model.offset) and float(loaded.scale) == float(model.scale) != 1.0
  for x, y in zip(_params(model), _params(loaded)):
    np.testing.assert_array_equal(x, y)
  # Saving again over the same folder replaces the model.
  copy = os.path.join(os.path.dirname(path), "copy")
  shutil.copytree(path, copy)
  other = _model(seed=3, use_actions=False, ranking_loss="plackett_luce")
  save_reward_model(copy, other, observation_dim=O, action_dim=A, hidden_dims=HIDDEN)
  np.testing.assert_array_equal(relabel(load_reward_model(copy), observations, actions), relabel(other, observations, actions))


def test_state_only_reward_ignores_actions(saved):
  model = saved[1]
  assert not model.use_actions
  observations = jnp.ones((5, O))
  a = _member_rewards(model, observations, jnp.zeros((5, A)))
  b = _member_rewards(model, observations, jnp.ones((5, A)))
  np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_load_refuses_a_model_for_another_task(saved):
  path = saved[0]
  with pytest.raises(RewardModelError, match=r"reward_model.json: field 'observation_dim' is 3 but the dataset/task has 11"):
    load_reward_model(path, observation_dim=11, action_dim=A)
  with pytest.raises(RewardModelError, match=r"reward_model.json: field 'action_dim' is 2 but the dataset/task has 6"):
    load_reward_model(path, observation_dim=O, action_dim=6)


def test_load_errors_on_missing_or_damaged_models(saved, tmp_path):
  path = saved[0]
  missing = str(tmp_path / "nowhere")
  with pytest.raises(RewardModelError, match="nowhere: no reward model here \\(missing reward_model.json\\)"):
    load_reward_model(missing)

  def damaged(name: str, damage) -> str:
    copy = str(tmp_path / name)
    shutil.copytree(path, copy)
    damage(copy)
    return copy

  def write_meta(text: str):
    def damage(copy: str):
      with open(os.path.join(copy, "reward_model.json"), "w") as f:
        f.write(text)
    return damage

  meta = json.load(open(os.path.join(path, "reward_model.json")))
  with pytest.raises(RewardModelError, match="corrupt/reward_model.json: corrupt reward model description"):
    load_reward_model(damaged("corrupt", write_meta('{"format": "rlkit_jax.rew')))
  with pytest.raises(RewardModelError, match=r"foreign/reward_model.json: field 'format' is 'x/1'"):
    load_reward_model(damaged("foreign", write_meta(json.dumps({**meta, "format": "x/1"}))))
  with pytest.raises(RewardModelError, match="no_params/params: cannot restore the reward model's parameters"):
    load_reward_model(damaged("no_params", lambda c: shutil.rmtree(os.path.join(c, "params"))))

  def scramble(copy: str):
    for root, _, files in os.walk(os.path.join(copy, "params")):
      for name in files:
        if name not in ("commit_success.txt", "_CHECKPOINT_METADATA"):
          with open(os.path.join(root, name), "wb") as f:
            f.write(b"\x00garbage\xff" * 3)

  with pytest.raises(RewardModelError, match="scrambled/params: cannot restore"):
    load_reward_model(damaged("scrambled", scramble))
  with pytest.raises(RewardModelError, match="mixed/params: the saved parameters do not have the shapes reward_model.json describes"):
    load_reward_model(damaged("mixed", write_meta(json.dumps({**meta, "hidden_dims": [h * 2 for h in meta["hidden_dims"]]}))))


def test_fit_guard_keeps_a_diverged_member_at_its_parameters_before_the_fit():
  queries = _queries(np.random.default_rng(0), 64)
  data = preference_arrays(queries, _oracle_pairs(queries))
  model = _model()
  # Member 1 is driven to overflow on purpose: weights of 1e30 give inf rewards, NaN gradients.
  params = jax.tree.map(lambda p: p.at[1].multiply(1e30), model.state.params)
  model = model.replace(state=model.state.replace(params=params))
  fitted, metrics = fit(model, data, **SMALL)
  assert float(metrics["diverged_members"]) == 1.0
  for before, after in zip(jax.tree.leaves(model.state.params), jax.tree.leaves(fitted.state.params)):
    np.testing.assert_array_equal(np.asarray(after)[1], np.asarray(before)[1])  # kept
    assert np.all(np.isfinite(np.asarray(after)))
  assert any(not np.array_equal(np.asarray(a)[0], np.asarray(b)[0])
             for a, b in zip(jax.tree.leaves(model.state.params), jax.tree.leaves(fitted.state.params)))  # trained
  _, healthy = fit(_model(), data, **SMALL)
  assert float(healthy["diverged_members"]) == 0.0
