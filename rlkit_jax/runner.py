"""Training many seeds and hyperparameter settings of one agent as one compiled program.

A :class:`RunState` holds ``R = H × S`` agents stacked on one leading axis (``H`` sweep settings
× ``S`` seeds, setting-major: run ``r`` is setting ``r // S``, seed ``r % S``), one data-sampling
key per run and the update counter. :func:`make_train_chunk` compiles ``num_updates`` updates of every seed
into one program: ``jax.vmap`` over runs of a ``lax.scan`` over updates, each update drawing its
own minibatch from the device-resident dataset (passed un-batched, so it is shared by all runs,
never copied per run). With several devices the run axis is sharded across them.
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
from rlkit_jax.envs.evaluation import evaluate
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

  def init_one(key, hparams):
    agent_key, data_key = jax.random.split(key)
    return create_fn(agent_key, **hparams), data_key

  agents, data_keys = jax.jit(jax.vmap(init_one))(run_keys, hparams)
  return RunState(
      agents=agents, data_keys=data_keys, step=jnp.zeros((), jnp.int32), active=jnp.ones(len(run_keys), bool)
  )


def make_train_chunk(*, batch_size: int, num_updates: int) -> Callable[[RunState, Transitions], tuple[RunState, dict]]:
  """Compiles ``num_updates`` updates of every run (seed × setting) into one jitted function.

  Args:
    batch_size: B per update and seed.
    num_updates: updates per call (one host round-trip).

  Returns:
    ``train(state, dataset) -> (state, metrics)``; ``state`` is donated; ``metrics`` maps names
    to ``[R]`` arrays averaged over the chunk. The dataset is a device-resident
    :class:`Transitions` shared by every run. The non-finite guard
    (:func:`rlkit_jax.training.guard_runs`) runs after the chunk: a run whose metrics or
    parameters are not finite keeps its agent from before the chunk and is marked
    inactive in ``state.active``; the other runs are unaffected.
  """

  def one_seed(agent, key, dataset):
    def body(carry, _):
      agent, key = carry
      key, batch_key = jax.random.split(key)
      agent, metrics = agent.update(sample_batch(dataset, batch_key, batch_size))
      return (agent, key), metrics

    (agent, key), metrics = jax.lax.scan(body, (agent, key), None, length=num_updates)
    return agent, key, jax.tree.map(jnp.mean, metrics)

  @functools.partial(jax.jit, donate_argnums=(0,))
  def train(state: RunState, dataset: Transitions):
    agents, keys, metrics = jax.vmap(one_seed, in_axes=(0, 0, None))(state.agents, state.data_keys, dataset)
    (agents, keys), active = guard_runs(state.active, (agents, keys), (state.agents, state.data_keys), metrics)
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


@jax.jit
def _eval_actions(agents: Any, observations: jax.Array) -> jax.Array:
  return jax.vmap(lambda agent, obs: agent.eval_actions(obs))(agents, observations)


def evaluate_agents(agents: Any, env_id: str, *, episodes_per_seed: int, seed: int) -> np.ndarray:
  """Runs ``episodes_per_seed`` episodes of every run's deterministic policy in one vector env.

  Args:
    agents: batched agents ``[R, ...]`` with an ``eval_actions(observations [K, O])`` method
      returning ``[K, A]`` float (continuous) or ``[K]`` int (discrete) actions.
    env_id: gymnasium task.
    episodes_per_seed: K.
    seed: environment seed (use a different one per evaluation round).

  Returns:
    Returns ``[R, K]``, float64.
  """
  num_runs = jax.tree.leaves(agents)[0].shape[0]

  def act_fn(observations: np.ndarray) -> np.ndarray:
    obs = observations.reshape(num_runs, episodes_per_seed, -1)
    actions = np.asarray(_eval_actions(agents, obs))
    return actions.reshape((num_runs * episodes_per_seed,) + actions.shape[2:])

  returns = evaluate(act_fn, env_id, num_envs=num_runs * episodes_per_seed, seed=seed)
  return returns.reshape(num_runs, episodes_per_seed)


@jax.jit
def q_diagnostics(agents: Any, observations: jax.Array, actions: jax.Array) -> dict[str, jax.Array]:
  """Offline model-selection signals: mean Q on dataset actions and on the policy's own actions.

  The CQL workflow (Kumar et al., `A Workflow for Offline Model-Free Robotic RL
  <https://arxiv.org/abs/2109.10813>`_, 2021): a Q on dataset actions that keeps rising while the
  policy's Q runs away above it signals overfitting/overestimation, without rolling out.

  Args:
    agents: batched agents ``[R, ...]`` with ``q_values(observations, actions) -> [N]`` and
      ``eval_actions``.
    observations: a fixed probe set of dataset observations ``[N, O]``.
    actions: their dataset actions ``[N, A]`` (continuous) or ``[N]`` (discrete).

  Returns:
    ``{"q_dataset_actions": [R], "q_policy_actions": [R]}``, in the (scaled) reward units the
    agents were trained on.
  """

  def one(agent):
    q_data = agent.q_values(observations, actions)
    q_policy = agent.q_values(observations, agent.eval_actions(observations))
    return {"q_dataset_actions": jnp.mean(q_data), "q_policy_actions": jnp.mean(q_policy)}

  return jax.vmap(one)(agents)
