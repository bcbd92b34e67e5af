"""The Decision Transformer: segments sampled in the program match the data's trajectories, the
prompt selects the behaviour, the evaluation window rolls, seeds × rates vmap, the offline job runs it."""
from __future__ import annotations


import jax
import jax.numpy as jnp
import numpy as np

from agent_testing import A, O, assert_trees_equal, assert_update_is_pure, member, member_keys
from rlkit_jax.agents import DecisionTransformer
from rlkit_jax.agents.decision_transformer import sample_segments
from rlkit_jax.data.transitions import Transitions
from rlkit_jax.training import evaluation

SMALL = dict(embed_dim=16, num_layers=1, num_heads=1, context_length=4, warmup_steps=1, learning_rate=3e-3, horizon=50)
update = jax.jit(lambda agent, batch: agent.update(batch))


def _data(lengths=(3, 5, 2), good=(True, False, True), by_row=True) -> Transitions:
  """Trajectories of the given lengths; observation row i is (i, 0, 0) (``by_row``) or (t, 0, 0),
  its timestep (the trajectories then look alike); a "good" trajectory takes (0.5, 0.5) and
  returns 2 per step, a bad one (−0.5, −0.5) and 0."""
  rows = sum(lengths)
  timesteps = np.concatenate([np.arange(n) for n in lengths]).astype(np.int32)
  is_good = np.concatenate([[g] * n for n, g in zip(lengths, good)])
  rewards = np.where(is_good, 2.0, 0.0).astype(np.float32)
  returns = np.concatenate([np.cumsum(r[::-1])[::-1] for r in np.split(rewards, np.cumsum(lengths)[:-1])])
  observations = np.zeros((rows, O), np.float32)
  observations[:, 0] = np.arange(rows) if by_row else timesteps
  return Transitions(
      observations=jnp.asarray(observations),
      actions=jnp.asarray(np.where(is_good[:, None], 0.5, -0.5) * np.ones((rows, A)), jnp.float32),
      rewards=jnp.asarray(rewards), terminals=jnp.zeros(rows, jnp.float32), next_observations=jnp.asarray(observations),
      returns_to_go=jnp.asarray(returns, jnp.float32), timesteps=jnp.asarray(timesteps),
  )


def test_segments_are_left_padded_windows_of_one_trajectory():
  data, k = _data(), 4
  segments = jax.jit(lambda key: sample_segments(data, key, 64, k))(jax.random.key(0))
  timesteps = np.asarray(data.timesteps)
  assert np.all(np.asarray(segments.mask)[:, -1])
  for b in range(64):
    end = int(segments.observations[b, -1, 0])  # observation row i is (i, 0, 0)
    start = end - timesteps[end]
    rows = np.arange(end - k + 1, end + 1)
    valid = rows >= start
    np.testing.assert_array_equal(segments.mask[b], valid)
    np.testing.assert_array_equal(segments.observations[b][valid], np.asarray(data.observations)[rows[valid]])
    np.testing.assert_array_equal(segments.returns[b][valid], np.asarray(data.returns_to_go)[rows[valid]])
    np.testing.assert_array_equal(segments.timesteps[b][valid], timesteps[rows[valid]])
    assert not np.any(segments.observations[b][~valid]) and not np.any(segments.returns[b][~valid])
  assert len({int(e) for e in segments.observations[:, -1, 0]}) > 5  # many ends drawn


def test_the_prompt_selects_good_or_bad_behaviour():
  data = _data(lengths=(6, 6), good=(True, False), by_row=False)  # only the return tells them apart
  agent = jax.jit(lambda k: DecisionTransformer.create(k, O, A, **SMALL))(jax.random.key(0))
  batch = jax.jit(lambda key: sample_segments(data, key, 32, 4))(jax.random.key(1))
  _, agent, _ = assert_update_is_pure(update, agent, batch, ("model",))
  key = jax.random.key(2)
  for _ in range(600):
    key, batch_key = jax.random.split(key)
    agent, info = update(agent, agent.sample_batch(data, batch_key, 32))
  assert info["actor_loss"] < 0.05
  context = dict(
      observations=jnp.zeros((1, 4, O)), actions=jnp.zeros((1, 4, A)), timesteps=jnp.zeros((1, 4), jnp.int32),
      mask=jnp.asarray([[False, False, False, True]]),
  )
  high = agent.act_in_context(returns=jnp.full((1, 4), 12.0), **context)[0]
  low = agent.act_in_context(returns=jnp.zeros((1, 4)), **context)[0]
  np.testing.assert_allclose(high, [0.5, 0.5], atol=0.1)
  np.testing.assert_allclose(low, [-0.5, -0.5], atol=0.1)


def test_the_evaluation_window_rolls_and_the_prompt_drops():
  agents = jax.vmap(lambda k, t: DecisionTransformer.create(k, O, A, **{**SMALL, "context_length": 3}, target_return=t))(
      member_keys([0, 1]), jnp.asarray([10.0, 20.0])
  )
  prompt = evaluation.ContextPrompt(agents, episodes_per_seed=1)
  first = prompt(np.full((2, O), 1.0, np.float32))
  prompt.observe(np.array([1.0, 2.0]))
  prompt(np.full((2, O), 2.0, np.float32))
  np.testing.assert_array_equal(prompt.mask, [[False, True, True]] * 2)
  np.testing.assert_allclose(prompt.returns[:, 1:], [[10.0, 9.0], [20.0, 18.0]])
  np.testing.assert_array_equal(prompt.timesteps[:, 1:], [[0, 1]] * 2)
  np.testing.assert_allclose(prompt.observations[:, 1:, 0], [[1.0, 2.0]] * 2)
  np.testing.assert_allclose(prompt.actions[:, 1], first)  # the action taken is in the window


def test_seeds_and_learning_rates_vmap_to_their_members():
  data = _data()
  agents = jax.jit(jax.vmap(lambda k, lr: DecisionTransformer.create(k, O, A, **{**SMALL, "learning_rate": lr})))(
      member_keys([0, 0, 1, 1]), jnp.asarray([1e-3, 1e-3, 1e-3, 0.0])
  )
  batch = jax.jit(lambda key: sample_segments(data, key, 8, 4))(jax.random.key(3))
  new, _ = jax.jit(jax.vmap(lambda a, b: a.update(b), in_axes=(0, None)))(agents, batch)
  assert_trees_equal(member(new, 0), member(new, 1))
  own, _ = update(member(agents, 2), batch)
  # Every parameter but the attention's key bias: softmax is invariant to it, so its gradient is 0
  # up to float noise (1e-8), which Adam's first step scales up to ±lr — differently per program.
  for (path, vmapped), alone in zip(jax.tree_util.tree_leaves_with_path(member(new, 2).model.params), jax.tree.leaves(own.model.params)):
    if "['key']['bias']" not in jax.tree_util.keystr(path):
      np.testing.assert_allclose(vmapped, alone, rtol=1e-5, atol=1e-6, err_msg=jax.tree_util.keystr(path))
  assert_trees_equal(member(new, 3).model.params, member(agents, 3).model.params)  # rate 0: unchanged


def test_offline_job_trains_and_evaluates_it(hopper_file, tmp_path):
  from rlkit_jax.offline import OfflineConfig, run_offline

  config = OfflineConfig(
      algo="dt", dataset=hopper_file, num_seeds=2, num_updates=4, batch_size=4, eval_every=4, updates_per_call=4,
      eval_episodes=1, agent_kwargs={"embed_dim": 8, "num_layers": 1, "context_length": 3, "warmup_steps": 1},
  )
  summary = run_offline(config, str(tmp_path), progress=False)
  assert len(summary["normalized_score_per_seed"]) == 2 and all(np.isfinite(summary["normalized_score_per_seed"]))
