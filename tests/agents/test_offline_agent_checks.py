"""The checks AWR, AWAC, TD3+BC and ReBRAC share, parametrized over :data:`agent_testing.AGENTS`; each
agent's own tests are in its file (test_awr.py, test_td3_bc.py).

Tiny networks; compilation dominates: each agent compiles its plain ``update`` (shared by the
purity test and the per-member comparison) and one vmapped ``update`` (shared by the vmap test and
the bandit learning tests).
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from agent_testing import (
    AGENTS,
    BATCH,
    FIXED,
    HIDDEN,
    A,
    O,
    assert_finite_scalar_metrics,
    assert_trees_equal,
    assert_update_is_pure,
    member,
    member_keys,
    plain_agent,
    plain_update,
    trees_differ,
    vmapped_update,
)
from rlkit_jax.data.transitions import Transitions

@pytest.fixture(scope="module", params=sorted(AGENTS))
def name(request) -> str:
  """The agent under test, a key of :data:`agent_testing.AGENTS`."""
  return request.param


def test_update_is_pure_and_deterministic(name, batch):
  cls, trained, _, _ = AGENTS[name]
  agent = plain_agent(name)
  assert cls.action_space == "continuous"
  assert isinstance(cls.needs_returns_to_go, bool)
  _, new, info = assert_update_is_pure(plain_update, agent, batch, trained)
  assert "actor_loss" in info
  if hasattr(new, "q_values"):
    assert {"critic_loss", "q_data"} <= info.keys()
    q = new.q_values(batch.observations, batch.actions)
    assert q.shape == (BATCH,) and q.dtype == jnp.float32
  actions = new.eval_actions(batch.observations)
  assert actions.shape == (BATCH, A) and actions.dtype == jnp.float32
  assert np.all(np.abs(np.asarray(actions)) <= 1.0)


_SWEEPS = {}


def sweep(name: str):
  """4 agents made by one ``jax.vmap(create)`` over keys [k0, k0, k1, k1] and the hyperparameter."""
  if name not in _SWEEPS:
    cls, _, hparam, values = AGENTS[name]
    create = jax.vmap(lambda key, hp: cls.create(key, O, A, hidden_dims=HIDDEN, **FIXED[name], **{hparam: hp}))
    # One compile, not op by op.
    _SWEEPS[name] = jax.jit(create)(member_keys([0, 0, 1, 1]), jnp.asarray(values, jnp.float32))
  return _SWEEPS[name]


def test_vmap_over_seeds_and_hyperparameter_matches_members(name, batch):
  _, trained, hparam, values = AGENTS[name]
  agents = sweep(name)
  for leaf in jax.tree.leaves(agents):  # a leading member axis on every leaf
    assert np.shape(leaf)[0] == 4
  np.testing.assert_allclose(getattr(agents, hparam), values)  # the swept value is a leaf
  np.testing.assert_allclose(agents.actor.opt_state[0].hyperparams["learning_rate"], [1e-2] * 4)
  assert_trees_equal(member(agents, 0), member(agents, 1))  # same key
  assert trees_differ(member(agents, 0).actor.params, member(agents, 2).actor.params)  # other key
  for field in ("policy_delay", "normalize_advantages"):  # static fields hold no tracer
    if hasattr(agents, field):
      assert type(getattr(agents, field)) in (int, bool), field

  members = [member(agents, i) for i in range(4)]
  new, info = vmapped_update(agents.replace(key=jax.random.clone(agents.key)), batch)
  assert_finite_scalar_metrics(info, leading=(4,))
  assert_trees_equal(member(new, 0), member(new, 1))
  for field in trained:
    assert trees_differ(getattr(agents, field).params, getattr(new, field).params), field
  for i in (0, 2, 3):  # the batched update equals each member's own update
    own, own_info = plain_update(members[i], batch)
    assert_trees_equal(member(new, i), own, rtol=1e-5, atol=1e-6)
    for key, value in own_info.items():
      np.testing.assert_allclose(info[key][i], value, rtol=1e-5, atol=1e-6, err_msg=key)


# ----------------------------------------------------------------------------------------------
# Learning on a one-step bandit: one state, four dataset actions (the corners (±0.5, ±0.5)), only
# (0.5, 0.5) rewarded; terminals = 1, so Q(s, a) = r and the return-to-go is r. Behaviour cloning's
# mean is the dataset mean (0, 0); the reward-aware agents must move towards the rewarded corner.
# ----------------------------------------------------------------------------------------------

GOOD_ACTION = np.array([0.5, 0.5], np.float32)  # reward 1
OTHER_ACTIONS = [np.array(a, np.float32) for a in ([-0.5, 0.5], [0.5, -0.5], [-0.5, -0.5])]  # reward 0
NUM_STEPS = 300


def bandit_batch() -> Transitions:
  observation = np.array([0.3, -0.2, 0.5], np.float32)
  rewards = jnp.asarray(np.tile([1.0, 0.0, 0.0, 0.0], BATCH // 4), jnp.float32)
  return Transitions(
      observations=jnp.asarray(np.tile(observation, (BATCH, 1))),
      actions=jnp.asarray(np.stack([GOOD_ACTION, *OTHER_ACTIONS] * (BATCH // 4))),
      rewards=rewards,
      terminals=jnp.ones(BATCH, jnp.float32),
      next_observations=jnp.asarray(np.tile(-observation, (BATCH, 1))),
      returns_to_go=rewards,
      next_actions=jnp.asarray(np.stack([GOOD_ACTION, *OTHER_ACTIONS] * (BATCH // 4))),
  )


@pytest.fixture(scope="module")
def trained_on_bandit(name):
  data = bandit_batch()
  agents = sweep(name)
  agents = agents.replace(key=jax.random.clone(agents.key))
  for _ in range(NUM_STEPS):
    agents, info = vmapped_update(agents, data)
  assert_finite_scalar_metrics(info, leading=(4,))
  means = np.asarray(jax.vmap(lambda a: a.eval_actions(data.observations[:1])[0])(agents))  # [4, A]
  return agents, data, means


def test_bandit_reward_aware_agent_beats_behaviour_cloning(name, trained_on_bandit):
  _, _, means = trained_on_bandit
  # Member 3 (β = 0, α = 0, or ReBRAC's β₁ = 1000) is behaviour cloning: the mean of the four corners, about (0, 0).
  np.testing.assert_allclose(means[3], 0.0, atol=0.15, err_msg=f"{name}: the BC member")
  bc_gap = np.linalg.norm(means[3] - GOOD_ACTION)
  towards_good = GOOD_ACTION / np.linalg.norm(GOOD_ACTION)
  # Weighted BC (AWR, AWAC) moves along the data towards the rewarded corner. TD3+BC and ReBRAC follow
  # ∇ₐQ, which off the four dataset corners is whatever the critic interpolates: TD3+BC's plain critic
  # extrapolates past the corner, ReBRAC's LayerNorm critic is flat between them, so its members stop
  # at about (0.25, 0.4) — still well clear of BC along the rewarded direction.
  weighted_bc = name not in ("TD3BC", "ReBRAC")
  for i in (0, 2):
    assert np.all(means[i] > (0.3 if weighted_bc else 0.1)), (name, means)  # in the good action's quadrant
    if weighted_bc:
      assert np.linalg.norm(means[i] - GOOD_ACTION) < bc_gap - 0.4, (name, means)
    else:
      assert np.dot(means[i] - means[3], towards_good) > 0.25, (name, means)


def test_bandit_values_are_learned(name, trained_on_bandit):
  agents, data, _ = trained_on_bandit
  if hasattr(agents, "q_values"):  # terminal transitions: Q(s, a) = r on the dataset actions
    q = jax.vmap(lambda a: a.q_values(data.observations, data.actions))(agents)
    np.testing.assert_allclose(q, np.broadcast_to(data.rewards, (4, BATCH)), atol=0.15)
  else:  # AWR: V regresses on returns-to-go {1, 0, 0, 0}: their mean, 0.25
    v = jax.vmap(lambda a: a.values(data.observations[:1])[0])(agents)
    np.testing.assert_allclose(v, 0.25, atol=0.1)
