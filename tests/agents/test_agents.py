"""Smoke, purity, vmap and small learning tests for the IQL, BC and SAC agents (tiny networks).

Compilation dominates the run time on a CPU. Every ``create(...)`` call builds fresh optimiser
closures and module instances (static pytree fields), so ``update`` re-traces for every newly
created agent; the tests therefore share agents: one plain agent per type for the purity test, and
one vmapped sweep per type for the vmap and learning tests (see ``_sweep``).
"""
from __future__ import annotations

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from agent_testing import (
    BATCH,
    HIDDEN,
    A,
    O,
    assert_finite_scalar_metrics,
    assert_trees_equal,
    assert_update_is_pure,
    member,
    member_keys,
    random_batch,
    trees_differ,
    vmapped_update,
)
from rlkit_jax.agents import BC, IQL, SAC, ReBRAC
from rlkit_jax.data.transitions import Transitions

# Per agent: the TrainStates whose params an update must change, and a sweep of 4 members made by
# one vmapped create: members 0/1 share a key and hyperparameters, 2 has another key, 3 has 2's key
# but actor_lr = 0 and, where the agent has one, another value of a loss hyperparameter. The sweep
# also drives the bandit learning tests below (hence the large learning rates), so that each agent's
# batched update is compiled once.
AGENTS = {
    "IQL": (IQL, ("actor", "critic", "value"), {"expectile": [0.5, 0.5, 0.5, 0.9], "temperature": [10.0, 10.0, 10.0, 3.0]}),
    "BC": (BC, ("actor",), {}),
    "SAC": (SAC, ("actor", "critic", "log_alpha"), {"discount": [0.99, 0.99, 0.99, 0.5]}),
}
FIXED = {"IQL": dict(critic_lr=1e-2, value_lr=1e-2, tau=0.1), "BC": {}, "SAC": {}}
AGENT_PARAMS = [pytest.param(name, id=name) for name in AGENTS]
ACTOR_LRS = [1e-2, 1e-2, 1e-2, 0.0]
# Every test shares agent_testing.vmapped_update, one jitted, vmapped update (it compiles once per
# agent type).


@pytest.fixture(scope="module")
def batch() -> Transitions:
  return random_batch()


@pytest.mark.parametrize("name", AGENT_PARAMS)
def test_update_is_pure_deterministic_and_traces_once(name, batch):
  cls, trained, _ = AGENTS[name]
  agent = cls.create(jax.random.key(0), O, A, hidden_dims=HIDDEN)
  chex.clear_trace_counter()  # the counter is keyed by the lambda's code, shared by parametrizations
  step = jax.jit(chex.assert_max_traces(lambda a, b: a.update(b), n=1))

  # Twice on the same agent (SAC's update consumes agent.key; the twin has a clone).
  twin, new, info = assert_update_is_pure(step, agent, batch, trained)
  if name == "SAC":  # the update samples, so it must hand back a fresh key
    assert trees_differ(twin.key, new.key)
  for _ in range(3):  # same shapes: no re-trace (assert_max_traces raises on a second trace)
    new, info = step(new, batch)
  assert_finite_scalar_metrics(info)
  assert int(new.actor.step) == 4


_SWEEPS = {}


def _sweep(name: str):
  """4 agents made by one ``jax.vmap(create)`` over keys and hyperparameters (built once)."""
  if name not in _SWEEPS:
    cls, _, sweep = AGENTS[name]
    keys = member_keys([0, 0, 1, 1])  # from raw key data (jnp.stack of keys counts as consuming them)
    sweep_arrays = {k: jnp.asarray(v, jnp.float32) for k, v in {"actor_lr": ACTOR_LRS, **sweep}.items()}
    _SWEEPS[name] = jax.vmap(
        lambda key, hp: cls.create(key, O, A, hidden_dims=HIDDEN, **FIXED[name], **hp)
    )(keys, sweep_arrays)
  return _SWEEPS[name]


@pytest.fixture(scope="module", params=list(AGENTS))
def swept(request):
  return request.param, _sweep(request.param)


def test_create_under_vmap_over_seeds_and_hyperparameters(swept):
  name, agents = swept
  for leaf in jax.tree.leaves(agents):  # a leading seed axis on every leaf
    assert np.shape(leaf)[0] == 4
  lr = agents.actor.opt_state[0].hyperparams["learning_rate"]  # the learning rate is a leaf
  np.testing.assert_allclose(lr, ACTOR_LRS)
  for field, values in AGENTS[name][2].items():
    np.testing.assert_allclose(getattr(agents, field), values)
  assert_trees_equal(member(agents, 0), member(agents, 1))  # same key
  assert trees_differ(member(agents, 0).actor.params, member(agents, 2).actor.params)  # other key
  assert_trees_equal(member(agents, 2).actor.params, member(agents, 3).actor.params)  # same key


def test_update_under_vmap(swept, batch):
  name, agents = swept
  new, info = vmapped_update(agents, batch)

  assert_finite_scalar_metrics(info, leading=(4,))
  assert_trees_equal(member(new, 0), member(new, 1))  # same key, same hyperparameters
  assert trees_differ(member(new, 0).actor.params, member(new, 2).actor.params)
  for field in AGENTS[name][1]:
    assert trees_differ(getattr(agents, field).params, getattr(new, field).params), field
  # Member 3 has actor_lr = 0: its actor is unchanged, while member 2 (same key) moved.
  assert_trees_equal(member(agents, 3).actor.params, member(new, 3).actor.params)
  assert trees_differ(member(agents, 2).actor.params, member(new, 2).actor.params)
  if name == "IQL":  # expectile 0.5 vs 0.9 -> different value steps from identical networks
    assert trees_differ(member(new, 2).value.params, member(new, 3).value.params)
  if name == "SAC":  # discount 0.99 vs 0.5 -> different critic targets
    assert trees_differ(member(new, 2).critic.params, member(new, 3).critic.params)


def test_every_optimiser_learning_rate_is_a_leaf():
  iql = IQL.create(jax.random.key(2), O, A, hidden_dims=HIDDEN, actor_lr=1e-3, critic_lr=2e-3, value_lr=3e-3)
  sac = SAC.create(jax.random.key(3), O, A, hidden_dims=HIDDEN, temperature_lr=4e-3)
  rates = {
      "iql.actor": (iql.actor, 1e-3),
      "iql.critic": (iql.critic, 2e-3),
      "iql.value": (iql.value, 3e-3),
      "sac.log_alpha": (sac.log_alpha, 4e-3),
  }
  for name, (state, expected) in rates.items():
    rate = state.opt_state[0].hyperparams["learning_rate"]
    assert any(rate is leaf for leaf in jax.tree.leaves(state)), name
    np.testing.assert_allclose(rate, expected, rtol=1e-6, err_msg=name)


def test_vmapped_create_leaks_no_tracer_into_static_fields():
  """The learning rate lives in the optimiser state, so ``vmap(create)`` stores no tracer in the
  static ``TrainState.tx`` and the optimiser can be re-initialised afterwards."""
  agents = _sweep("BC")
  fresh = agents.actor.tx.init(member(agents.actor.params, 0))  # e.g. an optimiser reset
  leaves = jax.tree.leaves(fresh)
  assert not any(isinstance(x, jax.core.Tracer) for x in leaves)
  assert jax.tree.structure(fresh) == jax.tree.structure(member(agents.actor.opt_state, 0))
  assert float(fresh[0].hyperparams["learning_rate"]) == 0.0  # the placeholder: rates live in each member's state
  rates = np.asarray(agents.actor.opt_state[0].hyperparams["learning_rate"])
  assert rates.shape == (len(rates),) and len(set(rates.tolist())) > 1  # the swept, per-member rates


def test_a_second_agent_of_the_same_config_does_not_retrace(batch):
  """Optimisers and module definitions are cached per configuration, so the static pytree fields
  of two agents compare equal and the jitted ``update`` traces once."""
  chex.clear_trace_counter()
  step = jax.jit(chex.assert_max_traces(lambda a, b: a.update(b), n=1))
  step(BC.create(jax.random.key(7), O, A, hidden_dims=HIDDEN), batch)
  step(BC.create(jax.random.key(8), O, A, hidden_dims=HIDDEN), batch)


# ----------------------------------------------------------------------------------------------
# Learning on a one-step bandit: one state, two dataset actions, terminals = 1 so Q(s, a) = r.
# ----------------------------------------------------------------------------------------------

GOOD_ACTION = np.array([0.5, 0.5], np.float32)  # reward 1
BAD_ACTION = np.array([-0.5, -0.5], np.float32)  # reward 0
NUM_STEPS = 300


def _bandit_batch() -> Transitions:
  observation = np.array([0.3, -0.2, 0.5], np.float32)
  actions = np.stack([GOOD_ACTION, BAD_ACTION] * (BATCH // 2))
  return Transitions(
      observations=jnp.asarray(np.tile(observation, (BATCH, 1))),
      actions=jnp.asarray(actions),
      rewards=jnp.asarray(np.tile([1.0, 0.0], BATCH // 2), jnp.float32),
      terminals=jnp.ones(BATCH, jnp.float32),
      next_observations=jnp.asarray(np.tile(-observation, (BATCH, 1))),
  )


def _train_on_bandit(name: str):
  data = _bandit_batch()
  agents = _sweep(name)
  for _ in range(NUM_STEPS):
    agents, info = vmapped_update(agents, data)
  assert_finite_scalar_metrics(info, leading=(4,))
  return agents, data


def _policy_means(agents, data) -> np.ndarray:
  """The deterministic action of each member at the bandit's state, ``[4, A]``."""
  return np.asarray(jax.vmap(lambda a: a.eval_actions(data.observations[:1])[0])(agents))


@pytest.fixture(scope="module")
def bandit_bc_means() -> np.ndarray:
  return _policy_means(*_train_on_bandit("BC"))


def test_bc_mean_action_approaches_dataset_mean(bandit_bc_means):
  dataset_mean = np.mean([GOOD_ACTION, BAD_ACTION], axis=0)
  for i in (0, 2):  # actor_lr > 0
    np.testing.assert_allclose(bandit_bc_means[i], dataset_mean, atol=0.1)


def test_iql_learns_bandit_values_and_prefers_the_better_action(bandit_bc_means):
  agents, data = _train_on_bandit("IQL")
  expectiles = np.asarray(agents.expectile)  # [0.5, 0.5, 0.5, 0.9]

  q = jax.vmap(lambda a: a.q_values(data.observations, data.actions))(agents)  # [4, B]
  np.testing.assert_allclose(q, np.broadcast_to(data.rewards, (4, BATCH)), atol=0.1)  # terminal: Q = r
  v = jax.vmap(lambda a: a.value.apply_fn({"params": a.value.params}, data.observations[:1])[0])(agents)
  # V is the τ-expectile of Q over the dataset actions: for Q ∈ {0, 1} with equal mass, exactly τ.
  np.testing.assert_allclose(v, expectiles, atol=0.1)
  assert float(v[3]) > float(v[2]) + 0.2  # V_0.9 > V_0.5, from identical initial networks

  iql_means = _policy_means(agents, data)
  for i in (0, 2):  # actor_lr > 0: advantage weighting prefers the rewarded action; BC does not
    iql_gap = np.linalg.norm(iql_means[i] - GOOD_ACTION)
    bc_gap = np.linalg.norm(bandit_bc_means[i] - GOOD_ACTION)
    assert iql_gap < bc_gap - 0.2, (iql_means[i], bandit_bc_means[i])


@pytest.mark.parametrize("name", ["IQL", "BC", "SAC"])
def test_vmapped_create_calls_no_lapack(name):
  """Several LAPACK custom calls (QR, as behind orthogonal init) in one XLA CPU program can deadlock
  with jaxlib 0.10; a vmapped ``create`` at full width hung that way. Its program must have none."""
  cls = {"IQL": IQL, "BC": BC, "SAC": SAC}[name]
  create = jax.jit(jax.vmap(lambda key: cls.create(key, O, A, hidden_dims=(256, 256))))
  program = create.lower(jax.random.split(jax.random.key(0), 4)).as_text()
  assert "custom_call" not in program


@pytest.mark.parametrize("lecun_init", [False, True])
def test_sac_lecun_init_switch_sets_every_kernels_scale(lecun_init):
  """``SAC.create(lecun_init=True)`` draws every kernel of actor and critics with variance 1 / fan_in
  (flax's default, SBX's SAC's); the default keeps 2 / max(fan_in, fan_out). 256-wide layers, so
  every kernel has enough entries for its variance."""
  agent = SAC.create(jax.random.key(1), O, A, hidden_dims=(256, 256), lecun_init=lecun_init)
  kernels = [
      leaf for path, leaf in jax.tree_util.tree_leaves_with_path((agent.actor.params, agent.critic.params))
      if "kernel" in jax.tree_util.keystr(path)
  ]
  assert len(kernels) == 4 + 3  # actor: 2 hidden, mean and log-std heads; critics: 3 layers, each [E=2, in, out]
  for kernel in kernels:
    fan_in, fan_out = kernel.shape[-2:]
    expected = 1.0 / fan_in if lecun_init else 2.0 / max(fan_in, fan_out)
    assert np.mean(np.asarray(kernel) ** 2) == pytest.approx(expected, rel=0.25), kernel.shape
  _, metrics = agent.update(random_batch())
  assert all(np.isfinite(float(v)) for v in metrics.values())


def test_rebrac_torch_init_draws_every_layer_as_pytorchs_linear():
  """``ReBRAC.create(torch_init=True)`` draws every kernel and bias of actor and critics uniform in
  ±1/√fan_in (PyTorch's ``nn.Linear`` default, d3rlpy's networks'), so kernels have variance
  1 / (3 fan_in) and biases are not zero; the critics' LayerNorms keep scale 1 and offset 0."""
  agent = ReBRAC.create(jax.random.key(1), O, A, hidden_dims=(256, 256), torch_init=True)
  params = {"actor": agent.actor.params, "critic": agent.critic.params}
  layers = {}
  for path, leaf in jax.tree_util.tree_leaves_with_path(params):
    name = jax.tree_util.keystr(path)
    if "Dense" in name:
      layers.setdefault(name.rsplit("[", 1)[0], {})[name.rsplit("'", 2)[-2]] = np.asarray(leaf)
    else:
      assert np.all(leaf == (1.0 if "scale" in name else 0.0)), name
  assert len(layers) == 3 + 3  # actor: 2 hidden and the head; critics: 3 layers, each [E=2, in, out]
  for name, layer in layers.items():
    bound = 1.0 / np.sqrt(layer["kernel"].shape[-2])
    assert np.abs(layer["kernel"]).max() <= bound and np.abs(layer["bias"]).max() <= bound, name
    assert np.mean(layer["kernel"] ** 2) == pytest.approx(bound**2 / 3, rel=0.25), name
    assert np.abs(layer["bias"]).max() > bound / 4, name
  _, metrics = agent.update(random_batch())
  assert all(np.isfinite(float(v)) for v in metrics.values())

