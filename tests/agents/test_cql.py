"""CQL: the penalties' ensemble forms and the continuous agent (tiny networks).

Compilation dominates on a CPU, so the agent tests share four compiled programs: the jitted
``update`` of the default configuration (purity, per-member reference), one of the configuration
with every static option on (Lagrange α′ included), a vmapped ``create`` and a vmapped ``update``
of four agents over keys and ``cql_alpha`` (vmap equivalence and the out-of-distribution test).
"""
from __future__ import annotations

import math

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import rlkit_jax.objectives as obj
from agent_testing import (
    BATCH,
    HIDDEN,
    A,
    O,
    assert_finite_scalar_metrics,
    assert_trees_equal,
    leaves,
    member,
    member_keys,
    random_batch,
    trees_differ,
    vmapped_update,
)
from rlkit_jax.agents.cql import CQL
from rlkit_jax.data.transitions import Transitions

E = 2  # critic ensemble size
K = 3  # sampled actions per proposal (3K = 9 scored per state): small and fast
FIXED = dict(hidden_dims=HIDDEN, critic_lr=1e-2, actor_lr=1e-3, temperature_lr=1e-3, tau=0.05, num_sampled_actions=K)
METRICS = {
    "critic_loss", "td_loss", "actor_loss", "cql_penalty", "q_data", "q_sampled", "alpha", "cql_alpha", "entropy"
}
CQL_ALPHAS = [5.0, 5.0, 5.0, 0.0]  # members 2 and 3 share a key and differ only in cql_alpha

# Default (FIXED) configuration: must trace once for every agent built with it (no re-compiles).
update = jax.jit(chex.assert_max_traces(lambda agent, batch: agent.update(batch), n=1))
lagrange_update = jax.jit(lambda agent, batch: agent.update(batch))  # the LAGRANGE configuration


# ----------------------------------------------------------------------------------------------
# Objectives: ensemble forms and the importance-sampling convention.
# ----------------------------------------------------------------------------------------------


def _np_logsumexp(x):
  x = np.asarray(x, np.float64)
  m = x.max(axis=-1, keepdims=True)
  return (m + np.log(np.exp(x - m).sum(axis=-1, keepdims=True)))[..., 0]


def test_cql_penalty_ensemble_form():
  rng = np.random.default_rng(0)
  q_sampled = rng.normal(size=(E, 5, 7)).astype(np.float32) * 3
  log_densities = rng.normal(size=(5, 7)).astype(np.float32)
  q_data = rng.normal(size=(E, 5)).astype(np.float32)
  out = obj.cql_penalty(q_sampled, log_densities, q_data, cql_temperature=0.5)
  assert out.shape == (E, 5)
  expected = 0.5 * _np_logsumexp((q_sampled - log_densities[None]) / 0.5) - q_data
  np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)
  for e in range(E):  # each member's penalty is the single-critic penalty
    np.testing.assert_allclose(
        out[e], obj.cql_penalty(q_sampled[e], log_densities, q_data[e], cql_temperature=0.5), rtol=1e-6
    )
  # The shared importance weights get no gradient, even summed over members.
  grad = jax.grad(lambda ld: jnp.sum(obj.cql_penalty(q_sampled, ld, q_data)))(jnp.asarray(log_densities))
  np.testing.assert_array_equal(grad, np.zeros_like(log_densities))


def test_cql_discrete_penalty_ensemble_form():
  rng = np.random.default_rng(1)
  q_values = rng.normal(size=(E, 5, 4)).astype(np.float32) * 3
  actions = rng.integers(0, 4, 5)
  out = obj.cql_discrete_penalty(q_values, actions)
  assert out.shape == (E, 5)
  expected = _np_logsumexp(q_values) - q_values[:, np.arange(5), actions]
  np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)
  for e in range(E):
    np.testing.assert_allclose(out[e], obj.cql_discrete_penalty(q_values[e], actions), rtol=1e-6)


def test_cql_penalty_has_no_log_k_normaliser():
  """Constant Q = c under a uniform proposal on [−1, 1]^A: c + A log 2 + log K − c, per the reference."""
  num = 8
  q_sampled = jnp.full((3, num), 2.0)
  log_densities = jnp.full((3, num), -A * math.log(2.0))
  out = obj.cql_penalty(q_sampled, log_densities, jnp.full(3, 2.0))
  np.testing.assert_allclose(out, np.full(3, A * math.log(2.0) + math.log(num)), rtol=1e-6)


@pytest.mark.parametrize(
    "shapes",
    [
        pytest.param(((5, 4), (5, 3), (5,)), id="k_mismatch"),
        pytest.param(((5, 4), (5, 4), (4,)), id="q_data_size"),
        pytest.param(((E, 5, 4), (5, 4), (5,)), id="q_data_missing_ensemble_axis"),
        pytest.param(((E, 5, 4), (E, 5, 4), (E, 5)), id="log_densities_per_member"),
        pytest.param(((5,), (5,), ()), id="no_sample_axis"),
    ],
)
def test_cql_penalty_shape_mismatch_raises(shapes):
  with pytest.raises(AssertionError):
    obj.cql_penalty(*(jnp.zeros(s) for s in shapes))


# ----------------------------------------------------------------------------------------------
# Agent helpers.
# ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def batch() -> Transitions:
  return random_batch()


def _assert_finite_metrics(info, leading=()):
  assert set(info) == METRICS
  assert_finite_scalar_metrics(info, leading)


# ----------------------------------------------------------------------------------------------
# Agent: create, update, purity, vmap.
# ----------------------------------------------------------------------------------------------


def test_create_update_and_purity(batch):
  agent = CQL.create(jax.random.key(0), O, A, **FIXED)
  assert CQL.action_space == "continuous"
  twin = agent.replace(key=jax.random.clone(agent.key))  # the update consumes agent.key
  before = leaves(agent)

  new, info = update(agent, batch)
  again, _ = update(twin, batch)
  assert_trees_equal(new, again)  # same agent, same batch -> same result
  for x, y in zip(leaves(agent), before, strict=True):  # the input agent is untouched
    np.testing.assert_array_equal(x, y)
  for field in ("actor", "critic", "log_alpha"):
    assert trees_differ(getattr(agent, field).params, getattr(new, field).params), field
  assert trees_differ(agent.target_critic_params, new.target_critic_params)
  assert_trees_equal(agent.log_cql_alpha.params, new.log_cql_alpha.params)  # no Lagrange
  assert trees_differ(twin.key, new.key)
  _assert_finite_metrics(info)
  np.testing.assert_allclose(info["cql_alpha"], 10.0)  # the default
  # A second agent of the same configuration shares the compiled update (no re-trace).
  other, _ = update(CQL.create(jax.random.key(5), O, A, **FIXED), batch)
  assert int(other.critic.step) == 1

  assert agent.q_values(batch.observations, batch.actions).shape == (BATCH,)
  actions = agent.eval_actions(batch.observations)
  assert actions.shape == (BATCH, A) and np.all(np.abs(actions) < 1.0)


# Every static branch at once (Lagrange α′, entropy backup, BC warm start): one more compile.
LAGRANGE = dict(lagrange=True, backup_entropy=True, bc_steps=1, **FIXED)


def test_static_options_and_lagrange_run(batch):
  agent = CQL.create(jax.random.key(2), O, A, **LAGRANGE)
  assert (agent.lagrange, agent.backup_entropy, agent.bc_steps, agent.num_sampled_actions) == (True, True, 1, K)
  new, info = lagrange_update(agent, batch)
  _assert_finite_metrics(info)
  assert trees_differ(agent.log_cql_alpha.params, new.log_cql_alpha.params)


@pytest.fixture(scope="module")
def sweep() -> CQL:
  """4 agents from one vmapped create: keys [k0, k0, k1, k1], cql_alpha [5, 5, 5, 0]."""
  create = lambda key, alpha: CQL.create(key, O, A, cql_alpha=alpha, **FIXED)
  return jax.jit(jax.vmap(create))(member_keys([0, 0, 1, 1]), jnp.asarray(CQL_ALPHAS, jnp.float32))


def test_create_under_vmap_over_seeds_and_cql_alpha(sweep):
  for leaf in jax.tree.leaves(sweep):
    assert np.shape(leaf)[0] == 4
  np.testing.assert_allclose(sweep.cql_alpha, CQL_ALPHAS)
  np.testing.assert_allclose(sweep.critic.opt_state[0].hyperparams["learning_rate"], [1e-2] * 4)
  assert_trees_equal(member(sweep, 0).critic.params, member(sweep, 1).critic.params)
  assert trees_differ(member(sweep, 0).critic.params, member(sweep, 2).critic.params)


def test_vmapped_update_equals_per_member_updates(sweep, batch):
  new, info = vmapped_update(sweep.replace(key=jax.random.clone(sweep.key)), batch)
  _assert_finite_metrics(info, leading=(4,))
  np.testing.assert_allclose(info["cql_alpha"], CQL_ALPHAS)
  for i in range(4):
    single, single_info = update(member(sweep, i), batch)
    assert_trees_equal(member(new, i), single, rtol=1e-5, atol=1e-6)
    for name in METRICS:
      np.testing.assert_allclose(info[name][i], single_info[name], rtol=1e-5, atol=1e-6, err_msg=name)
  # Same key, cql_alpha 5 vs 0: different critic steps from identical networks.
  assert trees_differ(member(new, 2).critic.params, member(new, 3).critic.params)


# ----------------------------------------------------------------------------------------------
# Learning: the penalty lowers Q off the data; α′ follows the gap.
# ----------------------------------------------------------------------------------------------

DATA_ACTION = np.array([0.5, 0.5], np.float32)
OOD_ACTION = np.array([-0.9, -0.9], np.float32)


def _one_action_dataset() -> Transitions:
  """One state, every dataset action at +0.5, reward 1, terminal (so the TD target is 1)."""
  observation = np.array([0.3, -0.2, 0.5], np.float32)
  return Transitions(
      observations=jnp.asarray(np.tile(observation, (BATCH, 1))),
      actions=jnp.asarray(np.tile(DATA_ACTION, (BATCH, 1))),
      rewards=jnp.ones(BATCH, jnp.float32),
      terminals=jnp.ones(BATCH, jnp.float32),
      next_observations=jnp.asarray(np.tile(-observation, (BATCH, 1))),
  )


def test_penalty_lowers_q_on_out_of_distribution_actions(sweep):
  data = _one_action_dataset()
  agents = sweep.replace(key=jax.random.clone(sweep.key))
  for _ in range(200):
    agents, info = vmapped_update(agents, data)
  _assert_finite_metrics(info, leading=(4,))

  def q_at(action):
    actions = jnp.broadcast_to(jnp.asarray(action), (1, A))
    return np.asarray(jax.vmap(lambda a: a.q_values(data.observations[:1], actions)[0])(agents))

  q_data, q_ood = q_at(DATA_ACTION), q_at(OOD_ACTION)
  margin = q_data - q_ood
  np.testing.assert_allclose(q_data[3], 1.0, atol=0.1)  # cql_alpha = 0: plain regression to r = 1
  for member in (0, 2):  # cql_alpha = 5
    assert margin[member] > 1.0, margin
  assert margin[2] > margin[3] + 10.0, margin  # same key and networks, only cql_alpha differs (~100 vs ~0.3)
  assert float(info["q_sampled"][2]) < float(info["q_sampled"][3])


def test_lagrange_multiplier_follows_the_gap(batch):
  """α′ grows while the penalty exceeds ``target_action_gap`` and shrinks while it is below."""
  agents = [  # the penalty is O(1): above −100, below 100
      CQL.create(jax.random.key(3), O, A, target_action_gap=gap, **LAGRANGE) for gap in (-100.0, 100.0)
  ]
  weights = []  # the weight each update used, [steps, 2]
  for _ in range(5):
    steps = [lagrange_update(agent, batch) for agent in agents]
    agents = [agent for agent, _ in steps]
    weights.append([float(info["cql_alpha"]) for _, info in steps])
  weights = np.asarray(weights)
  np.testing.assert_allclose(weights[0], [10.0, 10.0])  # α′ = 1 at the start, times cql_alpha 10
  assert np.all(np.diff(weights[:, 0]) > 0), weights
  assert np.all(np.diff(weights[:, 1]) < 0), weights
  assert float(agents[0].penalty_weight()) > weights[-1, 0]


@pytest.mark.parametrize("mean_backup", [False, True])
def test_mean_backup_bootstraps_at_the_policy_mean(batch, mean_backup):
  """With no penalty (cql_alpha = 0) the critic step depends on the sampling key only through a′:
  with ``mean_backup`` (a′ = tanh μ(s′), d3rlpy's soft_q_backup=False) two keys give the same
  critics; with a sampled a′ they do not."""
  create = jax.jit(lambda k: CQL.create(k, O, A, hidden_dims=HIDDEN, cql_alpha=0.0, mean_backup=mean_backup))
  agent = create(jax.random.key(0))
  other_key = agent.replace(key=jax.random.key(7))
  step = jax.jit(lambda a, b: a.update(b))
  first, _ = step(agent.replace(key=jax.random.clone(agent.key)), batch)
  second, _ = step(other_key, batch)
  assert trees_differ(first.critic.params, second.critic.params) is not mean_backup
  with pytest.raises(ValueError, match="drop backup_entropy"):
    CQL.create(jax.random.key(0), O, A, mean_backup=True, backup_entropy=True)
