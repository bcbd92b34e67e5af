"""DQN / Double DQN (+ discrete CQL): the DQN max target, create/update, purity, vmap over seeds and
hyperparameters, learning a known answer, and CQL lowering the value of actions absent from the data."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import rlkit_jax.objectives as obj
from rlkit_jax.agents.dqn import DQN, epsilon_greedy
from rlkit_jax.data.transitions import Transitions

OBS, ACT, B = 3, 4, 8
TINY = dict(hidden_dims=(8, 8))


def _batch(seed: int = 0, batch_size: int = B, num_actions: int = ACT) -> Transitions:
  rng = np.random.default_rng(seed)
  return Transitions(
      observations=jnp.asarray(rng.normal(size=(batch_size, OBS)), jnp.float32),
      actions=jnp.asarray(rng.integers(0, num_actions, batch_size), jnp.int32),
      rewards=jnp.asarray(rng.normal(size=batch_size), jnp.float32),
      terminals=jnp.asarray(rng.random(batch_size) < 0.3, jnp.float32),
      next_observations=jnp.asarray(rng.normal(size=(batch_size, OBS)), jnp.float32),
  )


def _host(tree):
  """NumPy copies of every leaf (PRNG keys as their raw data)."""
  is_key = lambda x: isinstance(x, jax.Array) and jnp.issubdtype(x.dtype, jax.dtypes.prng_key)
  return jax.tree.map(lambda x: np.array(jax.random.key_data(x) if is_key(x) else x), tree)


def _leaves_equal(a, b) -> bool:
  return all(np.array_equal(x, y) for x, y in zip(jax.tree.leaves(_host(a)), jax.tree.leaves(_host(b))))


# -- the objective's DQN (max) form: the Double DQN form is a Case in tests/objectives/test_objectives.py --


@pytest.mark.parametrize("transform", [lambda f: f, jax.jit], ids=["nojit", "jit"])
def test_dqn_target_max_matches_numpy(transform):
  rng = np.random.default_rng(0)
  r, d = rng.normal(size=B).astype(np.float32), (rng.random(B) < 0.3).astype(np.float32)
  q = rng.normal(size=(B, ACT)).astype(np.float32)
  fn = transform(lambda r, d, q, g: obj.dqn_target(r, d, q, discount=g))
  for gamma in (0.0, 0.9, 0.99):
    expected = r.astype(np.float64) + gamma * (1 - d) * q.astype(np.float64).max(axis=1)  # Mnih et al. 2015
    np.testing.assert_allclose(fn(r, d, q, gamma), expected, rtol=1e-6, atol=1e-6)
  grads = jax.grad(lambda *a: jnp.mean(obj.dqn_target(a[0], a[1], a[2], discount=0.9)), argnums=(0, 2))(r, d, q)
  assert all(np.all(g == 0) for g in grads)  # target gradient stopped


def test_double_dqn_target_differs_from_max_when_networks_disagree():
  r, d = jnp.zeros(1), jnp.zeros(1)
  target, online = jnp.array([[1.0, 5.0]]), jnp.array([[2.0, 0.0]])
  assert float(obj.dqn_target(r, d, target, discount=1.0)[0]) == 5.0
  assert float(obj.dqn_target(r, d, target, discount=1.0, next_q_online=online)[0]) == 1.0  # online picks a=0


def test_dqn_target_rejects_wrong_shapes():
  with pytest.raises(AssertionError):
    obj.dqn_target(jnp.zeros(B), jnp.zeros(B), jnp.zeros((B + 1, ACT)), discount=0.9)
  with pytest.raises(AssertionError):
    obj.dqn_target(jnp.zeros(B), jnp.zeros(B), jnp.zeros((B, ACT)), discount=0.9, next_q_online=jnp.zeros((B, 2)))


# -- the agent --


def test_create_update_and_interface():
  agent = DQN.create(jax.random.key(0), OBS, ACT, cql_alpha=1.0, **TINY)
  assert DQN.action_space == "discrete"
  new, metrics = agent.update(_batch())
  assert {"critic_loss", "td_loss", "cql_penalty", "q_data", "q_max"} <= set(metrics)
  assert all(m.shape == () and np.isfinite(m) for m in metrics.values())
  batch = _batch()  # the penalty from the critic before the step, recomputed in NumPy (float64)
  q = np.asarray(agent.all_q_values(batch.observations), np.float64)
  q_max = q.max(axis=1, keepdims=True)
  logsumexp = (q_max + np.log(np.exp(q - q_max).sum(axis=1, keepdims=True)))[:, 0]
  expected = np.mean(logsumexp - q[np.arange(B), np.asarray(batch.actions)])
  np.testing.assert_allclose(metrics["cql_penalty"], expected, rtol=1e-5)
  np.testing.assert_allclose(metrics["q_data"], q[np.arange(B), np.asarray(batch.actions)].mean(), rtol=1e-5)
  np.testing.assert_allclose(metrics["critic_loss"], metrics["td_loss"] + metrics["cql_penalty"], rtol=1e-5)
  assert not _leaves_equal(new.critic.params, agent.critic.params)
  assert not _leaves_equal(new.target_critic_params, agent.target_critic_params)
  observations = _batch().observations
  actions = new.eval_actions(observations)
  assert actions.shape == (B,) and actions.dtype == jnp.int32
  assert np.all((0 <= actions) & (actions < ACT))
  q = new.all_q_values(observations)
  np.testing.assert_array_equal(actions, np.argmax(q, axis=1))
  np.testing.assert_allclose(new.q_values(observations, actions), np.max(q, axis=1), rtol=1e-6)
  greedy = new.sample_actions(observations, jax.random.key(1), epsilon=0.0)
  np.testing.assert_array_equal(greedy, actions)
  uniform = epsilon_greedy(jnp.zeros((4000, ACT)).at[:, 0].set(1.0), jax.random.key(2), 1.0)
  assert uniform.dtype == jnp.int32 and np.allclose(np.bincount(uniform, minlength=ACT) / 4000, 1 / ACT, atol=0.03)


def test_update_is_pure():
  agent = DQN.create(jax.random.key(0), OBS, ACT, **TINY)
  twin = agent.replace(key=jax.random.clone(agent.key))  # same agent by value; update consumes the key
  before = _host(agent)
  a1, m1 = agent.update(_batch())
  a2, m2 = twin.update(_batch())
  assert _leaves_equal(agent, before)  # input agent unchanged
  assert _leaves_equal(a1, a2) and _leaves_equal(m1, m2)


@pytest.mark.parametrize("double", [True, False])
def test_vmap_over_seeds_and_cql_alpha_matches_members(double):
  keys = lambda: jax.random.split(jax.random.key(0), 3)  # fresh keys for each use (no key reuse)
  alphas = jnp.array([0.0, 1.0, 5.0])
  lrs = jnp.array([1e-3, 3e-4, 1e-4])
  create = lambda k, a, lr: DQN.create(k, OBS, ACT, cql_alpha=a, critic_lr=lr, double=double, **TINY)
  agents = jax.vmap(create)(keys(), alphas, lrs)
  batch = _batch()
  new, metrics = jax.jit(jax.vmap(lambda agent: agent.update(batch)))(agents)
  assert metrics["critic_loss"].shape == (3,)
  for i in range(3):
    single, single_metrics = create(keys()[i], float(alphas[i]), float(lrs[i])).update(batch)
    member = jax.tree.map(lambda x: x[i], new)
    for x, y in zip(jax.tree.leaves(member.critic.params), jax.tree.leaves(single.critic.params)):
      np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-6)
    for name in metrics:
      np.testing.assert_allclose(metrics[name][i], single_metrics[name], rtol=1e-5, atol=1e-6, err_msg=name)


def _train(agent: DQN, batch: Transitions, num_updates: int) -> DQN:
  def step(agent, _):
    return agent.update(batch)[0], None

  return jax.jit(lambda a: jax.lax.scan(step, a, None, length=num_updates)[0])(agent)


def _chain() -> Transitions:
  """A 2-state chain, γ = 0.9, A = 2 (0 = stay, 1 = move). From s0, 'move' reaches s1 (reward 0);
  from s1, 'move' ends the episode with reward 1; 'stay' gives reward 0 in place. Every (s, a) is
  in the data. Q*(s1, move) = 1, Q*(s1, stay) = 0.9, Q*(s0, move) = 0.9, Q*(s0, stay) = 0.81."""
  s0, s1 = [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]
  return Transitions(
      observations=jnp.array([s0, s0, s1, s1], jnp.float32),
      actions=jnp.array([0, 1, 0, 1], jnp.int32),
      rewards=jnp.array([0.0, 0.0, 0.0, 1.0], jnp.float32),
      terminals=jnp.array([0.0, 0.0, 0.0, 1.0], jnp.float32),
      next_observations=jnp.array([s0, s1, s1, s1], jnp.float32),
  )


@pytest.mark.parametrize("double", [True, False])
def test_learns_the_q_values_of_a_two_state_chain(double):
  agent = DQN.create(jax.random.key(0), OBS, 2, hidden_dims=(16, 16), critic_lr=1e-2, discount=0.9, tau=0.1, double=double)
  agent = _train(agent, _chain(), 1500)
  q = np.asarray(agent.all_q_values(_chain().observations[1::2]))  # rows: s0, s1
  np.testing.assert_allclose(q, [[0.81, 0.9], [0.9, 1.0]], atol=0.03)
  np.testing.assert_array_equal(agent.eval_actions(_chain().observations[1::2]), [1, 1])


def test_cql_lowers_q_of_actions_absent_from_the_data():
  """A one-state bandit whose data only ever takes action 0 (reward 1, terminal). Without CQL the
  unseen actions keep whatever the network extrapolates; CQL pushes them below the seen action."""
  batch = Transitions(
      observations=jnp.ones((16, OBS), jnp.float32),
      actions=jnp.zeros(16, jnp.int32),
      rewards=jnp.ones(16, jnp.float32),
      terminals=jnp.ones(16, jnp.float32),
      next_observations=jnp.ones((16, OBS), jnp.float32),
  )
  create = lambda k, a: DQN.create(k, OBS, ACT, cql_alpha=a, critic_lr=1e-2, hidden_dims=(16, 16))
  agents = jax.vmap(create, in_axes=(None, 0))(jax.random.key(0), jnp.array([0.0, 1.0]))  # same init
  trained = jax.vmap(lambda a: _train(a, batch, 300))(agents)
  q = np.asarray(jax.vmap(lambda a: a.all_q_values(batch.observations[:1])[0])(trained))  # [2 alphas, A]
  np.testing.assert_allclose(q[:, 0], 1.0, atol=0.15)  # the data action is fitted either way
  unseen_plain, unseen_cql = q[0, 1:], q[1, 1:]
  assert np.all(unseen_cql < unseen_plain - 0.5), q
  assert np.all(unseen_cql < q[1, 0] - 0.5), q  # and CQL ranks the data action first
