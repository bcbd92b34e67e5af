"""Helpers shared by the agent tests (``test_agents.py``, ``test_cql.py``, ``test_awr.py``,
``test_td3_bc.py`` and ``test_offline_agent_checks.py``); no tests here.

The tiny problem sizes, a random batch, tree comparisons that see PRNG keys as their key data
(slicing or comparing typed keys counts as using them under ``jax_debug_key_reuse``), members of a
vmapped agent, and the checks every update must pass (purity, finite scalar metrics).
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from rlkit_jax.agents.awac import AWAC
from rlkit_jax.agents.awr import AWR
from rlkit_jax.agents.rebrac import ReBRAC
from rlkit_jax.agents.td3_bc import TD3BC
from rlkit_jax.data.transitions import Transitions

O, A, BATCH = 3, 2, 16  # observation dim, action dim, batch size
HIDDEN = (8, 8)  # hidden widths: tiny networks (compilation dominates on a CPU)
# One jitted update of agents with a leading member axis (one vmapped create), batch shared.
vmapped_update = jax.jit(jax.vmap(lambda a, b: a.update(b), in_axes=(0, None)))


def random_batch(seed: int = 0, *, returns_to_go: bool = False) -> Transitions:
  """``BATCH`` random transitions from ``np.random.default_rng(seed)``.

  ``observations`` and ``next_observations`` ``[BATCH, O]`` ~ N(0, 1), ``actions`` ``[BATCH, A]``
  ~ U(-1, 1), ``rewards`` ``[BATCH]`` ~ N(0, 1), ``terminals`` ``[BATCH]`` 1.0 with probability 0.2,
  ``next_actions`` ``[BATCH, A]`` ~ U(-1, 1) (ReBRAC reads them); all float32. With
  ``returns_to_go`` (AWR needs them) also ``returns_to_go`` ``[BATCH]`` ~ 5 N(0, 1), drawn last, so
  the other fields are the same either way.
  """
  rng = np.random.default_rng(seed)
  fields = dict(
      observations=jnp.asarray(rng.standard_normal((BATCH, O)), jnp.float32),
      actions=jnp.asarray(rng.uniform(-1.0, 1.0, (BATCH, A)), jnp.float32),
      rewards=jnp.asarray(rng.standard_normal(BATCH), jnp.float32),
      terminals=jnp.asarray(rng.random(BATCH) < 0.2, jnp.float32),
      next_observations=jnp.asarray(rng.standard_normal((BATCH, O)), jnp.float32),
  )
  fields["next_actions"] = jnp.asarray(rng.uniform(-1.0, 1.0, (BATCH, A)), jnp.float32)
  if returns_to_go:
    fields["returns_to_go"] = jnp.asarray(5.0 * rng.standard_normal(BATCH), jnp.float32)
  return Transitions(**fields)


def _is_key(x: Any) -> bool:
  return hasattr(x, "dtype") and jnp.issubdtype(x.dtype, jax.dtypes.prng_key)


def host(x: Any) -> np.ndarray:
  """A host copy of a leaf; a PRNG key becomes its key data (slicing a key array consumes it)."""
  return np.array(jax.random.key_data(x) if _is_key(x) else x)


def leaves(tree: Any) -> list[np.ndarray]:
  """Host copies of every leaf (:func:`host`), to compare trees by value."""
  return [host(x) for x in jax.tree.leaves(tree)]


def assert_trees_equal(a: Any, b: Any, **tolerance: float) -> None:
  """Leaf by leaf: exactly equal, or, given ``rtol``/``atol``, equal within them."""
  for x, y in zip(leaves(a), leaves(b), strict=True):
    if tolerance:
      np.testing.assert_allclose(x, y, **tolerance)
    else:
      np.testing.assert_array_equal(x, y)


def trees_differ(a: Any, b: Any) -> bool:
  """True if any leaf of ``a`` differs from ``b``'s (same structure required)."""
  return any(not np.array_equal(x, y) for x, y in zip(leaves(a), leaves(b), strict=True))


def member(tree: Any, i: int) -> Any:
  """Member ``i`` of a vmapped tree (every leaf has a leading member axis), as a usable tree.

  Leaves are sliced on the device, so their dtypes (weak types included) stay those of the
  vmapped tree and a jitted ``update`` does not re-trace for a member; PRNG keys are sliced as key
  data and wrapped again, which consumes nothing.
  """

  def take(x):
    if _is_key(x):
      return jax.random.wrap_key_data(jax.random.key_data(x)[i])
    return x[i]

  return jax.tree.map(take, tree)


def member_keys(pattern: Sequence[int]) -> jax.Array:
  """Typed keys ``[len(pattern)]``: entry j is key ``pattern[j]`` of ``split(key(1))``, so
  ``[0, 0, 1, 1]`` gives two members per key. Built from raw key data (stacking or indexing typed
  keys counts as consuming them)."""
  key_data = jax.random.key_data(jax.random.split(jax.random.key(1)))
  return jax.random.wrap_key_data(key_data[jnp.asarray(pattern)])


def assert_finite_scalar_metrics(info: dict[str, Any], leading: tuple[int, ...] = ()) -> None:
  """``info`` is not empty and every metric has shape ``leading`` (``()``: a scalar; ``(M,)``: one
  per vmapped member) and is finite."""
  assert info, "no metrics"
  for name, value in info.items():
    assert np.shape(value) == leading, name
    assert np.all(np.isfinite(value)), name


def assert_update_is_pure(
    update: Callable[[Any, Transitions], tuple[Any, dict[str, Any]]],
    agent: Any,
    batch: Transitions,
    trained: Sequence[str],
) -> tuple[Any, Any, dict[str, Any]]:
  """Runs ``update`` on ``agent`` and on its twin and checks the results.

  The twin is the same agent by value with a cloned key: an update that samples consumes
  ``agent.key``, and a second call on it would fail under ``jax_debug_key_reuse``. Checks: both
  calls give the same agent and the same metric names; ``agent`` is untouched; the ``params`` of
  every field named in ``trained`` (e.g. ``("actor", "critic")``) changed; the metrics are finite
  scalars (:func:`assert_finite_scalar_metrics`).

  Returns:
    ``(twin, new_agent, metrics)`` of the first call.
  """
  twin = agent.replace(key=jax.random.clone(agent.key))
  before = leaves(agent)

  new, info = update(agent, batch)
  again, info_again = update(twin, batch)

  assert_trees_equal(new, again)  # same agent, same batch -> same result
  assert info.keys() == info_again.keys()
  for x, y in zip(leaves(agent), before, strict=True):  # the input agent is untouched
    np.testing.assert_array_equal(x, y)
  for field in trained:
    assert trees_differ(getattr(agent, field).params, getattr(new, field).params), field
  assert_finite_scalar_metrics(info)
  return twin, new, info


# Per agent: the TrainStates an update must change, the swept loss hyperparameter and its values.
# Sweep members: keys [k0, k0, k1, k1]; members 0-2 learn, member 3 has the loss hyperparameter at the
# value that turns each of these agents into plain behaviour cloning (β = 0: every weight is 1; α = 0:
# no Q term; ReBRAC's β₁ = 1000: the BC penalty swamps the normalised Q) — the baseline of the
# learning tests, from the same initial networks as member 2.
AGENTS = {
    "AWR": (AWR, ("actor", "value"), "temperature", [3.0, 3.0, 3.0, 0.0]),
    "AWAC": (AWAC, ("actor", "critic"), "temperature", [5.0, 5.0, 5.0, 0.0]),
    "TD3BC": (TD3BC, ("critic",), "alpha", [2.5, 2.5, 2.5, 0.0]),
    "ReBRAC": (ReBRAC, ("critic",), "actor_bc_coef", [0.05, 0.05, 0.05, 1000.0]),
}
FIXED = {
    "AWR": dict(actor_lr=1e-2, value_lr=1e-2),
    "AWAC": dict(actor_lr=1e-2, critic_lr=1e-2, tau=0.1),
    "TD3BC": dict(actor_lr=1e-2, critic_lr=1e-2, tau=0.1),
    "ReBRAC": dict(actor_lr=1e-2, critic_lr=1e-2, tau=0.1),
}
plain_update = jax.jit(lambda a, b: a.update(b))  # one compile per agent type


_PLAIN = {}


def plain_agent(name: str):
  """One plain agent per type (its update is also the per-member reference of the vmap test)."""
  if name not in _PLAIN:
    create = jax.jit(lambda key: AGENTS[name][0].create(key, O, A, hidden_dims=HIDDEN, **FIXED[name]))
    _PLAIN[name] = create(jax.random.key(0))
  return _PLAIN[name]
