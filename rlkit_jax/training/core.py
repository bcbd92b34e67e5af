"""The training core: many seeds and hyperparameter settings of one agent as one compiled program.

A :class:`RunState` holds ``R = H × S`` agents stacked on one leading axis (``H`` sweep settings
× ``S`` seeds, setting-major: :func:`setting_and_seed` maps a run index to its pair), one
data-sampling key per run and the update counter. :func:`update_runs` is the one training step
every job uses: ``jax.vmap`` over runs of a ``lax.scan`` over updates, each update drawing its own
minibatch inside the program, then the non-finite guard. The offline job shares one
device-resident dataset between all runs (passed un-batched, never copied per run); the online
job and dataset generation give each run its own filling replay buffer. With several devices the
run axis is sharded across them (:func:`place`).
"""
from __future__ import annotations

import functools
import itertools
from typing import Any, Callable, Mapping, Sequence

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from rlkit_jax.data.transitions import Transitions, sample_batch
from rlkit_jax.training.divergence import guard_runs


@flax.struct.dataclass
class RunState:
  """Training state of ``R = H × S`` runs (sweep settings × seeds, setting-major).

  Attributes:
    agents: an agent pytree whose every leaf has a leading run axis ``[R, ...]``.
    data_keys: typed PRNG keys for minibatch sampling, ``[R]``.
    step: updates done so far, ``[]`` int32.
    active: ``[R]`` bool, False for a run that diverged (:mod:`rlkit_jax.training.divergence`):
      its agent stays at its last finite state.
  """

  agents: Any
  data_keys: jax.Array
  step: jax.Array
  active: jax.Array


def sweep_settings(sweep: Mapping[str, Sequence[float]] | None) -> list[dict[str, float]]:
  """The Cartesian product of a sweep, in order: ``{"a": [1, 2], "b": [3]}`` → ``[{a: 1, b: 3}, {a: 2, b: 3}]``.

  An empty or None sweep is one setting with no overrides, ``[{}]``.
  """
  sweep = dict(sweep or {})
  names = list(sweep)
  return [dict(zip(names, values)) for values in itertools.product(*(sweep[n] for n in names))]


def setting_and_seed(run: int, num_seeds: int) -> tuple[int, int]:
  """Run index ``r`` on the ``R = H × S`` axis → ``(setting index, seed index)`` (setting-major)."""
  return divmod(int(run), num_seeds)


def create_runs(create_fn: Callable[..., Any], keys: jax.Array, hparams: Mapping[str, jax.Array] | None = None) -> Any:
  """``R`` agents in one vmapped, jitted call: ``create_fn(keys[r], **{k: v[r]})`` for every run.

  Args:
    create_fn: ``(key, **hyperparameters) -> agent``.
    keys: typed PRNG keys ``[R]``, one per run.
    hparams: name → ``[R]`` float32 values (swept hyperparameters), or None.

  Returns:
    The agents, every leaf ``[R, ...]``. Weakly typed leaves (optimisers' step counters) are made
    strong, as a checkpoint restores them, so a resumed run reuses the compiled update programs.
  """

  def strong(x):
    return x if jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key) else jax.lax.convert_element_type(x, x.dtype)

  create = jax.vmap(lambda key, hparams: create_fn(key, **hparams))
  return jax.jit(lambda keys, hparams: jax.tree.map(strong, create(keys, hparams)))(keys, dict(hparams or {}))


def init_run_state(
    create_fn: Callable[..., Any],
    *,
    seed: int,
    num_seeds: int,
    settings: Sequence[Mapping[str, float]] = ({},),
) -> RunState:
  """Creates ``H × S`` agents in one vmapped call.

  Args:
    create_fn: ``(key, **hyperparameters) -> agent``, e.g. ``functools.partial(IQL.create,
      observation_dim=11, action_dim=3)``. Swept hyperparameters arrive as traced ``[]`` float32
      values, so they must be numeric leaves of the agent (learning rates included).
    seed: the run's seed; seed ``i`` uses ``split(key(seed), S)[i]`` in *every* setting (common
      random numbers: settings differ only in their hyperparameters), and the same ``seed``
      reproduces the run.
    num_seeds: S.
    settings: H hyperparameter settings, each a mapping name → value with the same names (see
      :func:`sweep_settings`); default one setting with no overrides.

  Returns:
    A :class:`RunState` whose leaves have leading axis ``R = H × S``, setting-major.

  Raises:
    ValueError: settings with different names, or no settings.
  """
  settings = [dict(s) for s in settings]
  if not settings or any(set(s) != set(settings[0]) for s in settings):
    raise ValueError(f"settings must be a non-empty list of mappings with the same names, got {settings}")
  keys = jax.random.split(jax.random.key(seed), num_seeds)
  # Seed i's key repeated in every setting (deliberately: common random numbers across settings).
  key_data = jax.random.key_data(keys)
  run_keys = jax.random.wrap_key_data(jnp.tile(key_data, (len(settings),) + (1,) * (key_data.ndim - 1)))
  hparams = {
      name: jnp.repeat(jnp.asarray([s[name] for s in settings], jnp.float32), num_seeds) for name in settings[0]
  }

  pairs = jax.vmap(jax.random.split)(run_keys)  # per run: (agent key, data key)
  agents = create_runs(create_fn, pairs[:, 0], hparams)
  data_keys = pairs[:, 1]
  return RunState(
      agents=agents, data_keys=data_keys, step=jnp.zeros((), jnp.int32), active=jnp.ones(len(run_keys), bool)
  )


def scan_updates(agent: Any, key: jax.Array, data: Transitions, size: jax.Array | None, *, batch_size: int,
                 num_updates: int) -> tuple[Any, jax.Array, dict[str, jax.Array]]:
  """``num_updates`` updates of one agent in a ``lax.scan``, each on a minibatch drawn from ``data``
  (uniform transitions, or the agent's own ``sample_batch(data, key, batch_size, size=...)`` where it
  has one: the Decision Transformer's segments).

  Args:
    agent: a pytree with a pure ``update(batch) -> (agent, metrics)``.
    key: a typed PRNG key, carried and split once per update (never reused).
    data: a :class:`Transitions` with leading axis ``N``.
    size: sample only from the first ``size`` rows (a filling replay buffer; may be traced), or
      None for all ``N``.
    batch_size: B. num_updates: the scan's length.

  Returns:
    ``(agent, key, metrics)``: metrics name → ``[]``, each averaged over the updates.
  """

  def body(carry, _):
    # The key is carried, not scanned over as xs: jax_debug_key_reuse's checker rejects keys as
    # scan xs under vmap.
    agent, key = carry
    key, batch_key = jax.random.split(key)
    sample = getattr(agent, "sample_batch", None) or sample_batch  # an agent may sample its own batches (segments)
    agent, metrics = agent.update(sample(data, batch_key, batch_size, size=size))
    return (agent, key), metrics

  (agent, key), metrics = jax.lax.scan(body, (agent, key), None, length=num_updates)
  return agent, key, jax.tree.map(jnp.mean, metrics)


@functools.partial(jax.jit, static_argnames=("batch_size", "num_updates", "data_per_run"), donate_argnums=(0, 1))
def update_runs(
    agents: Any,
    keys: jax.Array,
    active: jax.Array,
    data: Transitions,
    size: jax.Array | None = None,
    *,
    batch_size: int,
    num_updates: int,
    data_per_run: bool = False,
) -> tuple[Any, jax.Array, dict[str, jax.Array], jax.Array]:
  """The training core: ``num_updates`` updates of every run, as one compiled program.

  ``jax.vmap`` over runs of :func:`scan_updates`, then the non-finite guard
  (:func:`rlkit_jax.training.guard_runs`). Every job trains through this function: the offline
  job (one dataset shared by every run), the online job and dataset generation (each run samples
  its own replay buffer).

  Args:
    agents: agent pytree, leaves ``[R, ...]``; donated.
    keys: the runs' sampling keys ``[R]``; donated.
    active: ``[R]`` bool, False for runs stopped by the guard earlier.
    data: :class:`Transitions`, leaves ``[N, ...]`` shared by every run (not copied per run), or
      ``[R, N, ...]`` with ``data_per_run``.
    size: sample from the first ``size`` rows only (``[]`` int, a filling replay), or None for all.
    batch_size: B per update and run. num_updates: updates per call.
    data_per_run: whether ``data`` has the leading run axis.

  Returns:
    ``(agents, keys, metrics, active)``: metrics name → ``[R]`` averaged over the call's updates; a
    run whose metrics or parameters are not finite keeps its agent from before the call and is
    inactive from then on.
  """
  one = functools.partial(scan_updates, batch_size=batch_size, num_updates=num_updates)
  new_agents, new_keys, metrics = jax.vmap(one, in_axes=(0, 0, 0 if data_per_run else None, None))(
      agents, keys, data, size
  )
  (new_agents, new_keys), active = guard_runs(active, (new_agents, new_keys), (agents, keys), metrics)
  return new_agents, new_keys, metrics, active


def make_train_chunk(*, batch_size: int, num_updates: int) -> Callable[[RunState, Transitions], tuple[RunState, dict]]:
  """``train(state, dataset) -> (state, metrics)``: :func:`update_runs` on a :class:`RunState` and
  a device-resident dataset shared by every run.

  Args:
    batch_size: B per update and run.
    num_updates: updates per call (one host round-trip).

  Returns:
    The function; ``state`` is donated; ``metrics`` maps names to ``[R]`` arrays averaged over the
    call; ``state.active`` marks the runs the guard stopped.
  """

  def train(state: RunState, dataset: Transitions):
    agents, keys, metrics, active = update_runs(
        state.agents, state.data_keys, state.active, dataset, batch_size=batch_size, num_updates=num_updates
    )
    return RunState(agents=agents, data_keys=keys, step=state.step + num_updates, active=active), metrics

  return train


def place(state: RunState, dataset: Transitions) -> tuple[RunState, Transitions]:
  """Puts the dataset on the device(s) once and, with several devices, shards runs across them.

  The run axis is split over a 1-D mesh when ``R`` is a multiple of the device count; the dataset
  is replicated. On one device this is a plain ``device_put``.
  """
  devices = jax.devices()
  num_runs = jax.tree.leaves(state.agents)[0].shape[0]
  if len(devices) > 1 and num_runs % len(devices) == 0:
    mesh = Mesh(np.asarray(devices), ("runs",))
    replicated = NamedSharding(mesh, PartitionSpec())
    by_run = NamedSharding(mesh, PartitionSpec("runs"))
    state = RunState(
        agents=jax.device_put(state.agents, by_run),
        data_keys=jax.device_put(state.data_keys, by_run),
        step=jax.device_put(state.step, replicated),
        active=jax.device_put(state.active, by_run),
    )
    return state, jax.device_put(dataset, replicated)
  return state, jax.device_put(dataset)
