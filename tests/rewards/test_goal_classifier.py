"""Goal-classifier rewards (VICE): the classifier's fit, balanced batches, the bounded D−, the frozen
ablation, success examples of Reacher-v5, Pusher-v5 and Swimmer-v5 checked in the simulator, the
examples file, the success indicator as a reward, and tiny online SAC runs on Reacher-v5 with resume
and the comparison's table."""
from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rlkit_jax import objectives
from rlkit_jax.envs.make import make_env
from rlkit_jax.online import OnlineConfig, train_online
from rlkit_jax.rewards import base
from rlkit_jax.rewards.base import ReplayView
from rlkit_jax.rewards.classifier_ensemble import ClassifierEnsemble, fit, reservoir_insert
from rlkit_jax.rewards.goal_classifier import ClassifierReward, make_classifier_reward
from rlkit_jax.rewards.success_examples import load_examples, make_success_examples, save_examples
from rlkit_jax.rewards.success_tests import (
    ExamplesError,
    episode_successes,
    make_success_reward,
    pusher_object_distance,
    pusher_success,
    reacher_fingertip_distance,
    reacher_success,
    swimmer_heading_turned,
    swimmer_reversal_angle,
    swimmer_success,
)

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TINY = (8, 8)


def _blobs(rng: np.random.Generator, n: int, center: float, dim: int = 2) -> np.ndarray:
  offset = np.zeros(dim)
  offset[0] = center
  return (rng.normal(size=(n, dim)) + offset[None]).astype(np.float32)


def _host(tree):
  """A pytree as NumPy (typed keys as their data), for equality checks."""
  unwrap = lambda x: jax.random.key_data(x) if jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key) else x
  return jax.tree.map(lambda x: np.asarray(unwrap(jnp.asarray(x))), tree)


def _assert_trees_equal(a, b):
  jax.tree.map(np.testing.assert_array_equal, _host(a), _host(b))


# --------------------------------------------------------------------------------------------------
# The classifier.


def _ensemble(key) -> ClassifierEnsemble:
  return ClassifierEnsemble.create(key, 2, ensemble_size=2, hidden_dims=TINY, learning_rate=3e-3)


@pytest.mark.parametrize("regularised", [False, True], ids=["plain", "mixup+gp"])
def test_fit_separates_two_blobs(regularised):
  rng = np.random.default_rng(0)
  positives, negatives = _blobs(rng, 300, 2.0), _blobs(rng, 1000, -2.0)
  # Padding rows look like positives: used as negatives, they would wreck the accuracy.
  padded = np.concatenate([negatives, _blobs(rng, 500, 2.0)])
  model, metrics = fit(
      _ensemble(jax.random.key(0)), jnp.asarray(positives), jnp.asarray(padded), jnp.asarray(len(negatives), jnp.int32),
      num_steps=300, batch_size=64, mixup_alpha=1.0 if regularised else 0.0, gradient_penalty=1.0 if regularised else 0.0,
  )
  assert np.isfinite(float(metrics["classifier_loss"])) and float(metrics["classifier_accuracy"]) > 0.9
  test_pos, test_neg = _blobs(rng, 1000, 2.0), _blobs(rng, 1000, -2.0)
  pos_logits, neg_logits = np.asarray(model.logits(jnp.asarray(test_pos))), np.asarray(model.logits(jnp.asarray(test_neg)))
  assert pos_logits.shape == (2, 1000)  # [E, n]
  accuracy = 0.5 * ((pos_logits > 0).mean(axis=1) + (neg_logits < 0).mean(axis=1))
  assert np.all(accuracy > 0.9), accuracy  # Bayes accuracy Φ(2) = 0.977 per member


def test_one_centred_penalty_gives_unit_slopes_between_the_classes():
  """WGAN-GP's form, weighted heavily: on interpolates of the two blobs each member's logit has an
  input-gradient norm near 1, and the blobs are still told apart."""
  rng = np.random.default_rng(4)
  positives, negatives = _blobs(rng, 300, 2.0), _blobs(rng, 1000, -2.0)
  model, metrics = fit(
      _ensemble(jax.random.key(2)), jnp.asarray(positives), jnp.asarray(negatives), jnp.asarray(1000, jnp.int32),
      num_steps=600, batch_size=64, mixup_alpha=0.0, gradient_penalty=10.0, gradient_penalty_form="one_centred",
  )
  assert float(metrics["classifier_accuracy"]) > 0.9
  lam = rng.random((300, 1)).astype(np.float32)
  between = jnp.asarray(lam * positives + (1 - lam) * negatives[:300])
  grads = jax.vmap(lambda x: jax.jacrev(lambda z: model.logits(z[None])[:, 0])(x))(between)  # [n, E, 2]
  norms = np.linalg.norm(np.asarray(grads), axis=-1)
  assert 0.7 < np.median(norms) < 1.3, np.percentile(norms, [10, 50, 90])


def test_unknown_gradient_penalty_form_is_refused():
  with pytest.raises(ValueError, match="gradient_penalty_form='two_centred'; choose one of zero_centred, one_centred"):
    ClassifierReward(
        num_seeds=1, observation_dim=2, positives=np.ones((3, 2), np.float32), key=jax.random.key(0),
        gradient_penalty_form="two_centred",
    )


def test_balanced_batches_score_rare_positives_high():
  """10 positives, 1000 negatives, overlapping blobs (log-likelihood ratio 2·x₀): balanced batches
  learn the ratio (D ≈ σ(2x₀), high on positives); plain BCE on uniform draws from D+ ∪ D− learns
  the posterior with a 1 : 100 prior (σ(2x₀ − log 100), low on positives)."""
  rng = np.random.default_rng(1)
  positives, negatives = _blobs(rng, 10, 1.0), _blobs(rng, 1000, -1.0)
  test_pos = jnp.asarray(_blobs(rng, 2000, 1.0))
  keys = jax.random.split(jax.random.key(1), 3)
  # The blob test's shapes (one compile): 30 copies of the 10 positives sample like the 10; D− padded to 1500.
  balanced, _ = fit(
      _ensemble(keys[0]), jnp.asarray(np.tile(positives, (30, 1))), jnp.asarray(np.concatenate([negatives, negatives[:500]])),
      jnp.asarray(1000, jnp.int32), num_steps=300, batch_size=64, mixup_alpha=0.0, gradient_penalty=0.0,
  )
  balanced_d = float(jax.nn.sigmoid(balanced.logits(test_pos)).mean())

  inputs = jnp.asarray(np.concatenate([positives, negatives]))
  labels = jnp.asarray(np.concatenate([np.ones(10), np.zeros(1000)]), jnp.float32)
  plain = _ensemble(keys[1])

  @jax.jit
  def unbalanced(state, key):
    def body(carry, _):
      state, key = carry
      key, batch_key = jax.random.split(key)
      rows = jax.random.randint(batch_key, (128,), 0, inputs.shape[0])
      loss = lambda p: jnp.mean(objectives.sigmoid_cross_entropy(plain._member_logits(p, inputs[rows]), labels[rows]))
      state = jax.vmap(lambda s: s.apply_gradients(grads=jax.grad(loss)(s.params)))(state)  # every member
      return (state, key), None

    return jax.lax.scan(body, (state, key), None, length=300)[0][0]

  plain = plain.replace(state=unbalanced(plain.state, keys[2]))
  plain_d = float(jax.nn.sigmoid(plain.logits(test_pos)).mean())
  assert balanced_d > 0.6 and plain_d < 0.4, (balanced_d, plain_d)


def test_reservoir_is_bounded_uniform_and_deterministic():
  def run(seed):
    rng = np.random.default_rng(seed)
    buffer, count, seen = np.full((50, 1), -1.0), 0, 0
    for chunk in range(7):
      ids = np.arange(30 * chunk, 30 * chunk + 30, dtype=np.float64)[:, None]
      count, seen = reservoir_insert(buffer, count, seen, ids, rng)
      assert count == min(seen, 50) and seen == 30 * (chunk + 1)
      kept = buffer[:count, 0]
      assert len(np.unique(kept)) == count and kept.min() >= 0 and kept.max() < seen  # no duplicates, only offered rows
    return buffer[:, 0].copy()

  np.testing.assert_array_equal(run(0), run(0))
  assert not np.array_equal(run(0), run(1))
  # Uniform over all 210 offered rows (not FIFO): inclusion probability 50/210 for early and late rows alike.
  kept = np.stack([np.isin(np.arange(210), run(seed)) for seed in range(300)])
  assert abs(kept[:, :30].mean() - 50 / 210) < 0.04 and abs(kept[:, -30:].mean() - 50 / 210) < 0.04


def _view(observations: np.ndarray) -> ReplayView:
  """A replay of S seeds whose next observations are ``observations`` ``[S, n, O]``."""
  s, n, o = observations.shape
  flags = np.zeros((s, n), bool)
  return ReplayView(observations, np.zeros((s, n, 1), np.float32), np.zeros((s, n), np.float32), flags, flags, observations, n)


def _source(key, *, add_visited, negatives=None, **overrides):
  rng = np.random.default_rng(2)
  kwargs = dict(
      num_seeds=2, observation_dim=2, positives=_blobs(rng, 50, 2.0), key=key, negatives=negatives, negatives_capacity=150,
      add_visited=add_visited, update_every_steps=100, num_steps=100, initial_num_steps=100, batch_size=16, hidden_dims=TINY,
      learning_rate=3e-3,
  )
  kwargs.update(overrides)
  return ClassifierReward(**kwargs)


def test_frozen_fits_once_loop_refits_and_d_minus_is_bounded():
  rng = np.random.default_rng(3)
  replay = np.stack([_blobs(rng, 400, -2.0), _blobs(rng, 400, -1.0)])  # [S=2, 400, 2] visited states
  keys = iter(jax.random.split(jax.random.key(3), 40))

  frozen = _source(next(keys), add_visited=False)  # no initial D−: the first chunk's states become D−
  assert frozen.counts.tolist() == [0, 0]
  changed, metrics = frozen.update(100, _view(replay[:, :100]), next(keys))
  assert changed and frozen.fits == 1 and frozen.counts.tolist() == [100, 100]
  assert set(metrics) == {
      "classifier_loss", "classifier_accuracy", "positive_accuracy", "positive_reward", "negatives", "classifier_diverged_members"
  }
  assert metrics["classifier_diverged_members"].tolist() == [0, 0]  # per seed
  assert metrics["positive_accuracy"].shape == (2,) and np.all(metrics["positive_accuracy"] > 0.9)
  positive_rewards = np.asarray(frozen.rewards(None, None, np.broadcast_to(frozen.positives, (2, 50, 2)))).mean(axis=1)
  np.testing.assert_allclose(metrics["positive_reward"], positive_rewards, rtol=1e-5)
  assert np.all(metrics["positive_reward"] > np.asarray(frozen.rewards(None, None, replay[:, :100])).mean(axis=1))
  after_fit = _host(frozen.state())
  for step in (200, 300, 400):
    changed, metrics = frozen.update(step, _view(replay[:, :step]), next(keys))
    assert not changed and set(metrics) == {"visited_accuracy", "visited_reward", "negatives"}
    assert np.all(metrics["visited_accuracy"] > 0.5) and np.all(metrics["visited_reward"] < 0)
  _assert_trees_equal(frozen.state()["models"], after_fit["models"])
  np.testing.assert_array_equal(frozen.negatives, after_fit["negatives"])
  assert frozen.fits == 1 and frozen.counts.tolist() == [100, 100] and frozen.seen.tolist() == [100, 100]

  # The loop: every visited state is offered to D− (reservoir, ≤ capacity 150); a fit every 100 steps.
  initial = _blobs(rng, 30, -3.0)

  def loop(key, update_keys):
    source = _source(key, add_visited=True, negatives=initial)
    assert source.counts.tolist() == [30, 30]
    changes = [source.update(step, _view(replay[:, :step]), k)[0] for step, k in zip((50, 100, 150, 200, 300), update_keys)]
    return source, changes

  source_key, update_keys = next(keys), [next(keys) for _ in range(5)]
  same_keys = (jax.random.clone(source_key), [jax.random.clone(k) for k in update_keys])
  source, changes = loop(source_key, update_keys)
  assert changes == [True, False, True, False, True] and source.fits == 3
  assert source.seen.tolist() == [330, 330] and source.counts.tolist() == [150, 150]
  # Deterministic given the keys: the same keys give the same D− and the same classifiers.
  again, _ = loop(*same_keys)
  np.testing.assert_array_equal(again.negatives, source.negatives)
  _assert_trees_equal(again.state()["models"], source.state()["models"])
  assert not np.array_equal(source.negatives[0], source.negatives[1])  # each seed its own reservoir draws

  # Rewards: transform(mean logit of s'), per seed, [S, n].
  next_obs = replay[:, :7]
  logits = np.asarray(jax.jit(jax.vmap(lambda m, o: m.logits(o)))(source.models, jnp.asarray(next_obs))).mean(axis=1)  # [S, E, n] → [S, n]
  rewards = np.asarray(source.rewards(None, None, next_obs))
  assert rewards.shape == (2, 7) and np.all(rewards <= 0)  # log D ≤ 0
  np.testing.assert_allclose(rewards, np.asarray(jax.nn.log_sigmoid(logits)), rtol=1e-5, atol=1e-6)
  source.transform = "gail"
  np.testing.assert_allclose(np.asarray(source.rewards(None, None, next_obs)), np.asarray(jax.nn.softplus(logits)), rtol=1e-5, atol=1e-6)


def test_features_restrict_what_the_classifier_sees():
  rng = np.random.default_rng(5)
  positives, negatives = _blobs(rng, 50, 2.0), _blobs(rng, 60, -2.0)  # [N, 2]
  visited = np.stack([_blobs(rng, 100, -1.0), _blobs(rng, 100, 0.0)])  # [S=2, 100, 2]
  noise = lambda a: np.concatenate([rng.normal(size=a.shape[:-1] + (1,)), a, rng.normal(size=a.shape[:-1] + (2,))], axis=-1)
  # Observations of 5 features, the examples' two at indices 1 and 2; the rest is noise a policy could game.
  wide = ClassifierReward(
      num_seeds=2, observation_dim=5, positives=noise(positives), negatives=noise(negatives), key=jax.random.key(7),
      update_every_steps=100, num_steps=50, batch_size=16, hidden_dims=TINY, features=(1, 2),
  )
  narrow = ClassifierReward(
      num_seeds=2, observation_dim=2, positives=positives, negatives=negatives, key=jax.random.key(7),
      update_every_steps=100, num_steps=50, batch_size=16, hidden_dims=TINY,
  )
  wide.update(100, _view(noise(visited)), jax.random.key(8))
  narrow.update(100, _view(visited), jax.random.key(8))
  np.testing.assert_array_equal(wide.negatives, narrow.negatives)  # D− holds the two features only
  _assert_trees_equal(wide.state()["models"], narrow.state()["models"])
  probe = noise(visited[:, :9])
  np.testing.assert_allclose(np.asarray(wide.rewards(None, None, probe)), np.asarray(narrow.rewards(None, None, probe[..., 1:3])))
  np.testing.assert_allclose(wide.success_probabilities(probe), narrow.success_probabilities(probe[..., 1:3]))
  for bad in ((), (1, 1), (5,), (-1,)):
    with pytest.raises(ValueError, match="features=.*distinct observation indices in \\[0, 5\\)"):
      ClassifierReward(num_seeds=1, observation_dim=5, positives=noise(positives), key=jax.random.key(0), features=bad)


# --------------------------------------------------------------------------------------------------
# Success examples, checked in the simulator.


def test_reacher_examples_are_successes_in_the_simulator():
  positives, negatives = make_success_examples("Reacher-v5", num_positives=30, num_negatives=300, seed=0)
  assert positives.shape == (30, 10) and negatives.shape == (300, 10)
  assert reacher_success(positives).all()
  assert reacher_success(negatives).mean() < 0.1  # a random policy rarely touches the target (measured: 0.6%)
  env = make_env("Reacher-v5")
  env.reset(seed=0)
  sim = env.unwrapped
  for observation in positives:
    angles = np.arctan2(observation[2:4], observation[0:2])
    sim.set_state(np.concatenate([angles, observation[4:6]]), np.concatenate([observation[6:8], np.zeros(2)]))
    tip_minus_target = (sim.get_body_com("fingertip") - sim.get_body_com("target"))[:2]
    assert np.linalg.norm(tip_minus_target) <= 0.02
    np.testing.assert_allclose(tip_minus_target, observation[8:10], atol=1e-6)
  env.close()
  again, _ = make_success_examples("Reacher-v5", num_positives=30, num_negatives=0, seed=0)
  np.testing.assert_array_equal(again, positives)
  assert reacher_fingertip_distance(positives).max() <= 0.0101


def test_pusher_examples_are_successes_in_the_simulator():
  positives, negatives = make_success_examples("Pusher-v5", num_positives=20, num_negatives=200, seed=0)
  assert positives.shape == (20, 23) and negatives.shape == (200, 23)
  assert pusher_success(positives).all() and pusher_success(negatives).mean() < 0.1
  env = make_env("Pusher-v5")
  env.reset(seed=0)
  sim = env.unwrapped
  object_rest, goal_rest = sim.model.body("object").pos[:2], sim.model.body("goal").pos[:2]
  for observation in positives:
    qpos = sim.data.qpos.copy()
    qpos[:7] = observation[:7]
    # slide joints (y, x) of the object, then of the goal
    qpos[-4:-2] = (observation[17:19] - object_rest)[::-1]
    qpos[-2:] = (observation[20:22] - goal_rest)[::-1]
    sim.set_state(qpos, np.zeros(sim.model.nv))
    np.testing.assert_allclose(sim.get_body_com("object"), observation[17:20], atol=1e-5)
    assert np.linalg.norm((sim.get_body_com("object") - sim.get_body_com("goal"))[:2]) <= 0.05
  env.close()
  assert pusher_object_distance(negatives).min() > 0.05


def test_swimmer_examples_are_successes_in_the_simulator():
  positives, negatives = make_success_examples("Swimmer-v5", num_positives=20, num_negatives=200, seed=0)
  assert positives.shape == (20, 8) and negatives.shape == (200, 8)
  assert swimmer_success(positives).all() and not swimmer_success(negatives).any()  # random: never turned round
  np.testing.assert_allclose(swimmer_heading_turned(positives), np.pi, atol=np.pi / 12)  # within half the success angle
  assert swimmer_heading_turned(negatives).max() < np.pi - np.pi / 6
  np.testing.assert_allclose(
      swimmer_reversal_angle(np.asarray([[np.pi], [-np.pi], [0.0], [2 * np.pi], [3 * np.pi], [np.pi / 2]]) * np.eye(8)[:1]),
      [0.0, 0.0, np.pi, np.pi, 0.0, np.pi / 2], atol=1e-12,
  )
  env = make_env("Swimmer-v5")
  env.reset(seed=0)
  sim = env.unwrapped
  start_axis = sim.data.body("torso").xmat.reshape(3, 3)[:, 0].copy()  # the front segment's axis at heading 0
  for observation in positives:
    sim.set_state(np.concatenate([[0.0, 0.0], observation[:3]]), observation[3:])
    np.testing.assert_allclose(sim._get_obs(), observation, atol=1e-6)
    axis = sim.data.body("torso").xmat.reshape(3, 3)[:, 0]  # from MuJoCo's kinematics, not the observation
    assert axis @ start_axis <= -np.cos(np.pi / 6) + 1e-6
  env.close()


def test_success_indicator_reward(tmp_path):
  def factory(env_id, **reward_kwargs):
    config = OnlineConfig(env_id=env_id, reward="success", num_seeds=2, reward_kwargs=reward_kwargs)
    return make_success_reward(config=config, env=None, observation_dim=10, action_dim=2, key=jax.random.key(0))

  with pytest.raises(ExamplesError, match="Hopper-v5 has no success test; tasks with one: Reacher-v5, Pusher-v5, Swimmer-v5"):
    factory("Hopper-v5")
  with pytest.raises(ExamplesError, match="no settings.*examples"):
    factory("Reacher-v5", examples="x.npz")
  positives, negatives = make_success_examples("Reacher-v5", num_positives=5, num_negatives=50, seed=1)
  next_observations = np.concatenate([positives, negatives])[None]  # [S=1, 55, O]
  labels = factory("Reacher-v5").rewards(next_observations * 0, None, next_observations, None)
  assert labels.dtype == np.float32 and labels.shape == (1, 55)
  np.testing.assert_array_equal(labels[0], (reacher_fingertip_distance(next_observations[0]) <= 0.02).astype(np.float32))
  assert labels[0, :5].all()
  config = OnlineConfig(
      env_id="Reacher-v5", reward="success", num_seeds=2, num_steps=200, start_steps=100, update_every=100, batch_size=16,
      eval_every=200, eval_episodes=1, hidden_dims=TINY,
  )
  run = train_online(config, str(tmp_path / "success"), progress=False)
  replay = run.replay
  expected = reacher_fingertip_distance(replay.next_observations) <= 0.02
  np.testing.assert_array_equal(np.asarray(run.buffer.rewards), expected.astype(np.float32))
  assert run.summary["relabels"] == 0 and run.reward_source.name == "success"


def test_examples_file_and_bad_input(tmp_path):
  rng = np.random.default_rng(4)
  path = save_examples(str(tmp_path / "ok.npz"), rng.normal(size=(5, 10)), rng.normal(size=(7, 10)), env_id="Reacher-v5")
  positives, negatives = load_examples(path, env_id="Reacher-v5", observation_dim=10)
  assert positives.shape == (5, 10) and negatives.shape == (7, 10) and positives.dtype == np.float32

  def write(name, **fields):
    with open(tmp_path / name, "wb") as f:
      np.savez(f, **fields)
    return str(tmp_path / name)

  empty = write("empty.npz", positives=np.zeros((0, 10), np.float32), env_id=np.asarray("Reacher-v5"))
  with pytest.raises(ExamplesError, match="empty.npz.*'positives'.*at least one"):
    load_examples(empty, env_id="Reacher-v5", observation_dim=10)
  with pytest.raises(ExamplesError, match="ok.npz.*'positives'.*shape \\[5, 10\\].*23 features"):
    load_examples(path, env_id="Reacher-v5", observation_dim=23)
  with pytest.raises(ExamplesError, match="ok.npz.*'env_id' is 'Reacher-v5' but the task is 'Pusher-v5'"):
    load_examples(path, env_id="Pusher-v5", observation_dim=10)
  no_env = write("no_env.npz", positives=np.ones((3, 10), np.float32))
  with pytest.raises(ExamplesError, match="no_env.npz.*'env_id'"):
    load_examples(no_env, env_id="Reacher-v5")
  with pytest.raises(ExamplesError, match="missing.npz: no such"):
    load_examples(str(tmp_path / "missing.npz"))
  with pytest.raises(ValueError, match="positives.*empty"):
    ClassifierReward(num_seeds=1, observation_dim=10, positives=np.zeros((0, 10)), key=jax.random.key(0))
  with pytest.raises(ValueError, match="positives.*\\[3, 4\\].*\\[N, 10\\]"):
    ClassifierReward(num_seeds=1, observation_dim=10, positives=np.zeros((3, 4)), key=jax.random.key(0))

  def factory(**reward_kwargs):
    config = OnlineConfig(env_id="Reacher-v5", reward="classifier", num_seeds=2, reward_kwargs=reward_kwargs)
    return make_classifier_reward(config=config, env=None, observation_dim=10, action_dim=2, key=jax.random.key(0))

  with pytest.raises(ValueError, match="examples=PATH"):
    factory()
  with pytest.raises(ValueError, match="unknown reward_kwargs \\['frozn'\\]"):
    factory(examples=path, frozn=True)
  with pytest.raises(ExamplesError, match="empty.npz.*'positives'"):
    factory(examples=empty)
  source = factory(examples=path, frozen=True, hidden_dims="8-8", example_negatives=False)
  assert not source.add_visited and source.counts.tolist() == [0, 0]
  assert factory(examples=path, features=8).features.tolist() == [8]
  assert factory(examples=path, features="8-9", hidden_dims=8).negatives.shape == (2, 100_000, 2)
  with pytest.raises(ValueError, match="features='8,9': write integers joined by '-'"):
    factory(examples=path, features="8,9")


# --------------------------------------------------------------------------------------------------
# The online driver.


def _config(examples: str, **reward_kwargs) -> OnlineConfig:
  kwargs = dict(
      examples=examples, hidden_dims="8-8", num_steps=20, initial_num_steps=20, update_every_steps=100, batch_size=16,
      negatives_capacity=500,
  )
  kwargs.update(reward_kwargs)
  return OnlineConfig(
      env_id="Reacher-v5", reward="classifier", num_seeds=2, num_steps=400, start_steps=100, update_every=100,
      batch_size=16, eval_every=200, eval_episodes=1, hidden_dims=TINY, reward_kwargs=kwargs,
  )


def _rows(workdir: str) -> list[dict[str, str]]:
  with open(os.path.join(workdir, "metrics.csv"), newline="") as f:
    return list(csv.DictReader(f))


def test_online_run_with_classifier_reward_and_resume(tmp_path, monkeypatch):
  examples = save_examples(
      str(tmp_path / "reacher.npz"), *make_success_examples("Reacher-v5", num_positives=50, num_negatives=100, seed=0),
      env_id="Reacher-v5",
  )
  entries: dict[str, dict[int, dict]] = {}

  def recording(name):
    def factory(**kwargs):
      source = make_classifier_reward(**kwargs)
      update, seen = source.update, entries.setdefault(name, {})

      def record(step, buffer, key):
        seen[step] = _host(source.state())  # the state the update starts from
        return update(step, buffer, key)

      source.update = record
      return source

    return factory

  monkeypatch.setitem(base.REWARD_SOURCES, "classifier", recording("full"))
  full = str(tmp_path / "full")
  run = train_online(_config(examples), full, progress=False)
  source = run.reward_source
  assert source.fits == 4 and run.summary["relabels"] == 4 and sorted(entries["full"]) == [100, 200, 300, 400]
  assert source.seen.tolist() == [500, 500] and source.counts.tolist() == [500, 500]  # 100 examples + 400 visited
  # The agent trained on the classifier's reward of s', the buffer holding the latest labels.
  replay = run.replay
  expected = np.asarray(source.rewards(replay.observations, replay.actions, replay.next_observations))
  np.testing.assert_allclose(np.asarray(run.buffer.rewards), expected, rtol=1e-5, atol=1e-5)
  assert np.all(expected <= 0) and not np.allclose(expected, replay.env_rewards)
  rows = _rows(full)
  for column in ("classifier_loss", "classifier_accuracy", "positive_accuracy", "visited_accuracy", "visited_reward", "negatives"):
    assert all(np.isfinite(float(r[f"reward_{column}"])) for r in rows), column
  assert [float(r["reward_negatives"]) for r in rows] == [300, 300, 500, 500]
  steps, success = episode_successes(replay.next_observations[0], replay.episode_ends[0], "Reacher-v5")
  assert steps.tolist() == list(range(50, 401, 50)) and success.dtype == bool  # Reacher: 50-step episodes
  # The driver logs the share of training episodes that succeeded since the last evaluation.
  seed0 = [float(r["train_success"]) for r in rows if r["seed_index"] == "0"]
  np.testing.assert_allclose(seed0, [success[:4].mean(), success[4:].mean()])

  # Resume after the step-200 checkpoint: the source continues from its checkpointed state.
  killed = str(tmp_path / "killed")
  shutil.copytree(full, killed)
  shutil.rmtree(os.path.join(killed, "checkpoints", "400"))
  os.remove(os.path.join(killed, "summary.json"))
  monkeypatch.setitem(base.REWARD_SOURCES, "classifier", recording("resumed"))
  resumed = train_online(_config(examples), killed, resume=True, progress=False)
  assert sorted(entries["resumed"]) == [300, 400]
  _assert_trees_equal(entries["resumed"][300], entries["full"][300])
  assert resumed.reward_source.fits == 4

  # Frozen: one fit, on the examples' negatives only, never a visited state.
  monkeypatch.setitem(base.REWARD_SOURCES, "classifier", recording("frozen"))
  frozen_dir = str(tmp_path / "frozen")
  frozen = train_online(_config(examples, frozen=True), frozen_dir, progress=False)
  source = frozen.reward_source
  assert source.fits == 1 and frozen.summary["relabels"] == 1 and source.counts.tolist() == [100, 100]
  _assert_trees_equal(entries["frozen"][400]["models"], entries["frozen"][200]["models"])
  replay = frozen.replay
  expected = np.asarray(source.rewards(replay.observations, replay.actions, replay.next_observations))
  np.testing.assert_allclose(np.asarray(frozen.buffer.rewards), expected, rtol=1e-5, atol=1e-5)

  # The comparison's table: success over the last evaluation, where those episodes ended.
  out = subprocess.run(
      [sys.executable, os.path.join(REPO, "experiments", "evidence", "goal_classifier_table.py"), f"--runs={frozen_dir},{full}",
       "--last=1", f"--png={tmp_path / 'success.png'}"],
      capture_output=True, text=True, timeout=120,
  )
  assert out.returncode == 0, out.stderr
  for name, folder, replay in (("(a) classifier, frozen", frozen_dir, frozen.replay), ("(b) classifier + visited negatives", full, run.replay)):
    per_seed = [float(r["train_success"]) for r in _rows(folder) if r["step"] == "400"]
    ends = replay.episode_ends & (np.arange(400) >= 200)  # Reacher's episodes ending at steps 250, 300, 350, 400
    median = np.median(reacher_fingertip_distance(replay.next_observations[ends]))
    assert ends.sum() == 8
    assert f"| {name} | 200–400 | {np.mean(per_seed):.3f} ± {np.std(per_seed):.3f} | " in out.stdout
    assert f"| {median:.3g} [" in out.stdout.split(name)[1].splitlines()[0]
  assert os.path.getsize(tmp_path / "success.png") > 0


def test_fit_guard_counts_and_keeps_diverged_members():
  rng = np.random.default_rng(0)
  positives, negatives = _blobs(rng, 50, 2.0), _blobs(rng, 50, -2.0)
  model = ClassifierEnsemble.create(jax.random.key(0), 2, ensemble_size=2, hidden_dims=TINY, learning_rate=1e38)
  fitted, metrics = fit(
      model, jnp.asarray(positives), jnp.asarray(negatives), jnp.asarray(50, jnp.int32), num_steps=5, batch_size=8
  )
  assert float(metrics["classifier_diverged_members"]) == 2.0  # a step of 1e38 overflows every member
  jax.tree.map(np.testing.assert_array_equal, jax.device_get(fitted.state.params), jax.device_get(model.state.params))
