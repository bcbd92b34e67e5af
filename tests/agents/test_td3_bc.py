"""TD3+BC: its own checks (the shared ones are in test_offline_agent_checks.py): the policy delay,
also under the seed vmap (where the actor's gradient is skipped on the updates that do not use it)."""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from agent_testing import HIDDEN, A, O, assert_trees_equal, member, member_keys, plain_agent, plain_update, trees_differ
from rlkit_jax import objectives
from rlkit_jax.agents.common import any_over_vmap
from rlkit_jax.agents.td3_bc import TD3BC
from rlkit_jax.training import core

AGENT = "TD3BC"


def test_td3_bc_delays_actor_and_target_updates(batch):
  """Reference order: the actor and both targets move only on every 2nd update, the critic on every one."""
  agent = plain_agent(AGENT)
  first, info1 = plain_update(agent.replace(key=jax.random.clone(agent.key)), batch)
  assert float(info1["actor_updated"]) == 0.0 and int(first.step) == 1
  assert_trees_equal(first.actor, agent.actor)  # params, optimiser state and step count
  assert_trees_equal(first.target_actor_params, agent.target_actor_params)
  assert_trees_equal(first.target_critic_params, agent.target_critic_params)
  assert trees_differ(first.critic.params, agent.critic.params)

  second, info2 = plain_update(first, batch)
  assert float(info2["actor_updated"]) == 1.0 and int(second.step) == 2
  assert trees_differ(second.actor.params, first.actor.params) and int(second.actor.step) == 1
  assert trees_differ(second.target_critic_params, first.target_critic_params)
  # Polyak with τ = 0.1 towards the new online actor.
  expected = jax.tree.map(lambda o, t: 0.1 * o + 0.9 * t, second.actor.params, first.target_actor_params)
  assert_trees_equal(second.target_actor_params, expected, rtol=1e-5, atol=1e-6)


def test_any_over_vmap_is_the_flag_alone_and_one_unbatched_any_under_vmap():
  assert bool(any_over_vmap(jnp.asarray(True))) and not bool(any_over_vmap(jnp.asarray(False)))
  over_runs = jax.vmap(any_over_vmap, out_axes=None)  # out_axes=None raises for a batched output
  assert bool(over_runs(jnp.asarray([False, True, False])))
  assert not bool(over_runs(jnp.asarray([False, False])))


def test_any_over_vmap_reduces_every_axis_of_nested_vmaps_to_one_branch():
  """A library user's own vmap around seeds vmapped by the core (or a sweep nested around seeds):
  one unbatched flag over both axes, so a ``cond`` on it stays a branch, not a select."""
  nested = jax.vmap(jax.vmap(any_over_vmap, out_axes=None), out_axes=None)
  assert bool(nested(jnp.asarray([[False, False], [False, True]])))
  assert not bool(nested(jnp.zeros((2, 3), bool)))
  outer_only = jax.vmap(jax.vmap(any_over_vmap, in_axes=None, axis_size=3, out_axes=None), out_axes=None)
  assert bool(outer_only(jnp.asarray([False, True]))) and not bool(outer_only(jnp.asarray([False, False])))
  step = jax.vmap(jax.vmap(lambda x: jax.lax.cond(any_over_vmap(x > 0), lambda: x + 1, lambda: x)))
  jaxpr = str(jax.make_jaxpr(step)(jnp.ones((2, 3))))
  assert " cond[" in jaxpr and " select_n" not in jaxpr


def test_the_training_core_keeps_the_actor_step_a_branch(batch):
  """In the core's compiled chunk (seeds vmapped around a scan of updates) the delayed actor step
  is a ``cond``: vmap turns a cond on a batched predicate into a select, which computes the
  actor's gradient on every update."""
  create = functools.partial(TD3BC.create, observation_dim=O, action_dim=A, hidden_dims=HIDDEN)
  state, data = core.place(core.init_run_state(create, seed=0, num_seeds=2), batch)
  train = core.make_train_chunk(batch_size=8, num_updates=2)
  assert " cond[" in str(jax.make_jaxpr(train)(state, data))


def test_agents_out_of_step_keep_their_own_delay_under_vmap(batch):
  """Member 0 at step 0 (no actor step next) and member 1 at step 1 (actor step next) in one
  vmapped update: each ends as its own unbatched update does."""
  agents = jax.vmap(lambda k: TD3BC.create(k, O, A, hidden_dims=HIDDEN))(member_keys([0, 1]))
  agents = agents.replace(step=jnp.asarray([0, 1], agents.step.dtype))
  new, info = jax.vmap(lambda agent: agent.update(batch))(agents)
  np.testing.assert_array_equal(np.asarray(info["actor_updated"]), [0.0, 1.0])
  for i in (0, 1):
    alone, _ = member(agents, i).update(batch)
    assert_trees_equal(member(new, i), alone, rtol=1e-5, atol=1e-6)
  assert_trees_equal(member(new, 0).actor, member(agents, 0).actor)


def test_td3_bc_rejects_bad_policy_delay():
  with pytest.raises(ValueError, match="policy_delay"):
    TD3BC.create(jax.random.key(0), O, A, hidden_dims=HIDDEN, policy_delay=0)


def test_td3_bc_actor_loss_is_invariant_to_the_q_scale():
  """λ = α / mean|Q| makes the loss (and its gradient into π) independent of the reward scale."""
  rng = np.random.default_rng(0)
  q = rng.standard_normal(6).astype(np.float32) + 3.0
  pi, a = rng.uniform(-1, 1, (2, 6, 2)).astype(np.float32)
  base = objectives.td3_bc_actor_loss(q, pi, a, alpha=2.5)
  np.testing.assert_allclose(objectives.td3_bc_actor_loss(100.0 * q, pi, a, alpha=2.5), base, rtol=1e-5)
  zero = objectives.td3_bc_actor_loss(np.zeros(6, np.float32), pi, a, alpha=2.5)
  np.testing.assert_allclose(zero, np.mean((pi - a) ** 2, axis=-1), rtol=1e-6)  # no 0/0
  bad_calls = (
      lambda: objectives.td3_bc_actor_loss(q[:5], pi, a),  # batch sizes differ
      lambda: objectives.td3_bc_actor_loss(q, pi, a[:, :1]),  # action dims differ
      lambda: objectives.td3_bc_actor_loss(q[:, None], pi, a),  # Q must be [B]
  )
  for bad in bad_calls:
    with pytest.raises(AssertionError):
      bad()
