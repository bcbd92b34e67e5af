"""SAC-N and EDAC: N critics in one call, EDAC's diversity term against a member-by-member
computation of the action gradients, η = 0 is SAC-N, and seeds × η × N = 50 stay one program."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from agent_testing import (
    BATCH, HIDDEN, A, O, assert_trees_equal, assert_update_is_pure, member, member_keys, random_batch, trees_differ,
)
from rlkit_jax import objectives
from rlkit_jax.agents import EDAC, SACN

update = jax.jit(lambda agent, batch: agent.update(batch))


def _edac(num_critics=5, eta=1.0, seed=0):
  return jax.jit(lambda k: EDAC.create(k, O, A, hidden_dims=HIDDEN, num_critics=num_critics, eta=eta))(jax.random.key(seed))


def test_n_critics_are_one_ensemble_and_the_minimum_is_the_value():
  agent = jax.jit(lambda k: SACN.create(k, O, A, hidden_dims=HIDDEN, num_critics=10))(jax.random.key(0))
  batch = random_batch()
  for leaf in jax.tree.leaves(agent.critic.params):
    assert leaf.shape[0] == 10
  all_q = agent.critic.apply_fn({"params": agent.critic.params}, batch.observations, batch.actions)
  assert all_q.shape == (10, BATCH)
  np.testing.assert_allclose(agent.q_values(batch.observations, batch.actions), np.min(all_q, axis=0), rtol=1e-6)
  _, new, info = assert_update_is_pure(update, agent, batch, ("actor", "critic"))
  assert {"critic_loss", "q_data", "actor_loss", "entropy", "alpha"} <= info.keys()
  with pytest.raises(ValueError, match="num_critics must be an int >= 2"):
    SACN.create(jax.random.key(0), O, A, num_critics=1)


def test_edac_critic_loss_adds_eta_times_the_diversity_of_member_by_member_gradients():
  """The split-input ensemble's one backward pass gives each member's ∇_a Q_e: compare with E
  separate gradients of the shared-input ensemble's row e."""
  agent, batch = _edac(eta=0.7), random_batch(1)
  targets = jnp.asarray(np.random.default_rng(2).standard_normal(BATCH), jnp.float32)
  params = agent.critic.params
  per_member = np.stack([
      np.asarray(jax.grad(lambda a, e=e: jnp.sum(agent.critic.apply_fn({"params": params}, batch.observations, a)[e]))(batch.actions))
      for e in range(5)
  ])  # [E, B, A]
  q = np.asarray(agent.critic.apply_fn({"params": params}, batch.observations, batch.actions), np.float64)
  plain = np.mean(np.sum((q - np.asarray(targets, np.float64)[None]) ** 2, axis=0))
  diversity = float(np.mean(objectives.edac_diversity_loss(per_member)))
  loss, info = jax.jit(type(agent).critic_loss)(agent, params, batch, targets)
  np.testing.assert_allclose(info["diversity"], diversity, rtol=1e-5)
  np.testing.assert_allclose(loss, plain + 0.7 * diversity, rtol=1e-5)
  # The term reaches the critic's parameters (second-order: through the action gradients).
  grads = jax.grad(lambda p: type(agent).critic_loss(agent, p, batch, targets)[0])(params)
  plain_grads = jax.grad(lambda p: SACN.critic_loss(agent, p, batch, targets)[0])(params)
  assert any(not np.allclose(g, h) for g, h in zip(jax.tree.leaves(grads), jax.tree.leaves(plain_grads)))


def test_edac_with_eta_zero_updates_as_sac_n():
  edac = _edac(eta=0.0)
  sac_n = SACN(**{name: getattr(edac, name) for name in SACN.__dataclass_fields__})
  batch = random_batch(3)
  new_edac, info = update(edac, batch)
  new_sac_n, _ = update(sac_n.replace(key=jax.random.clone(sac_n.key)), batch)
  for field in ("actor", "critic", "target_critic_params", "log_alpha"):
    assert_trees_equal(getattr(new_edac, field), getattr(new_sac_n, field), rtol=1e-6, atol=1e-7)
  assert np.isfinite(info["diversity"])


def test_seeds_and_eta_vmapped_with_fifty_critics_is_one_program():
  """4 EDAC agents (keys [k0, k0, k1, k1] × η) of N = 50 critics: one create and one update
  program; each member's update equals its own."""
  create = jax.jit(jax.vmap(lambda k, eta: EDAC.create(k, O, A, hidden_dims=HIDDEN, num_critics=50, eta=eta)))
  agents = create(member_keys([0, 0, 1, 1]), jnp.asarray([1.0, 1.0, 0.5, 0.0], jnp.float32))
  batch = random_batch(4)
  vmapped = jax.jit(jax.vmap(lambda a, b: a.update(b), in_axes=(0, None)))
  members = [member(agents, i) for i in range(4)]
  new, info = vmapped(agents.replace(key=jax.random.clone(agents.key)), batch)
  assert info["diversity"].shape == (4,) and np.all(np.isfinite(info["critic_loss"]))
  assert_trees_equal(member(new, 0), member(new, 1))
  for i in (1, 2, 3):  # η = 1, 0.5 and 0 (member 0 equals member 1)
    own, _ = update(members[i], batch)
    assert_trees_equal(member(new, i), own, rtol=1e-5, atol=1e-6)
  assert trees_differ(member(new, 2).critic.params, member(new, 3).critic.params)  # same key, η 0.5 vs 0
