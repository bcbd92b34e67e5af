"""Training many seeds of one agent as one compiled program.

A :class:`RunState` holds ``S`` agents stacked on a leading axis, one data-sampling key per seed
and the update counter. :func:`make_train_chunk` compiles ``num_updates`` updates of every seed
into one program: ``jax.vmap`` over seeds of a ``lax.scan`` over updates, each update drawing its
own minibatch from the device-resident dataset (passed un-batched, so it is shared by all seeds,
never copied per seed). With several devices the seed axis is sharded across them.
"""
from __future__ import annotations

import functools
from typing import Any, Callable

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from rlkit_jax.data.transitions import Transitions, sample_batch
from rlkit_jax.envs.evaluation import evaluate


@flax.struct.dataclass
class RunState:
  """Training state of ``S`` seeds.

  Attributes:
    agents: an agent pytree whose every leaf has a leading seed axis ``[S, ...]``.
    data_keys: typed PRNG keys for minibatch sampling, ``[S]``.
    step: updates done so far, ``[]`` int32.
  """

  agents: Any
  data_keys: jax.Array
  step: jax.Array


def init_run_state(create_fn: Callable[[jax.Array], Any], *, seed: int, num_seeds: int) -> RunState:
  """Creates ``num_seeds`` agents in one vmapped call.

  Args:
    create_fn: ``key -> agent``, e.g. ``functools.partial(IQL.create, observation_dim=11, ...)``.
    seed: the run's seed; seed ``i`` of the run uses ``split(key(seed), S)[i]``, so seeds are
      independent and the same ``seed`` reproduces the run.
    num_seeds: S.
  """

  def init_one(key):
    agent_key, data_key = jax.random.split(key)
    return create_fn(agent_key), data_key

  agents, data_keys = jax.jit(jax.vmap(init_one))(jax.random.split(jax.random.key(seed), num_seeds))
  return RunState(agents=agents, data_keys=data_keys, step=jnp.zeros((), jnp.int32))


def make_train_chunk(*, batch_size: int, num_updates: int) -> Callable[[RunState, Transitions], tuple[RunState, dict]]:
  """Compiles ``num_updates`` updates of every seed into one jitted function.

  Args:
    batch_size: B per update and seed.
    num_updates: updates per call (one host round-trip).

  Returns:
    ``train(state, dataset) -> (state, metrics)``; ``state`` is donated; ``metrics`` maps names
    to ``[S]`` arrays averaged over the chunk. The dataset is a device-resident
    :class:`Transitions` shared by every seed.
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
    return RunState(agents=agents, data_keys=keys, step=state.step + num_updates), metrics

  return train


def place(state: RunState, dataset: Transitions) -> tuple[RunState, Transitions]:
  """Puts the dataset on the device(s) once and, with several devices, shards seeds across them.

  The seed axis is split over a 1-D mesh when ``S`` is a multiple of the device count; the dataset
  is replicated. On one device this is a plain ``device_put``.
  """
  devices = jax.devices()
  num_seeds = jax.tree.leaves(state.agents)[0].shape[0]
  if len(devices) > 1 and num_seeds % len(devices) == 0:
    mesh = Mesh(np.asarray(devices), ("seeds",))
    replicated = NamedSharding(mesh, PartitionSpec())
    by_seed = NamedSharding(mesh, PartitionSpec("seeds"))
    state = RunState(
        agents=jax.device_put(state.agents, by_seed),
        data_keys=jax.device_put(state.data_keys, by_seed),
        step=jax.device_put(state.step, replicated),
    )
    return state, jax.device_put(dataset, replicated)
  return state, jax.device_put(dataset)


@jax.jit
def _eval_actions(agents: Any, observations: jax.Array) -> jax.Array:
  return jax.vmap(lambda agent, obs: agent.eval_actions(obs))(agents, observations)


def evaluate_agents(agents: Any, env_id: str, *, episodes_per_seed: int, seed: int) -> np.ndarray:
  """Runs ``episodes_per_seed`` episodes of every seed's deterministic policy in one vector env.

  Args:
    agents: batched agents ``[S, ...]`` with an ``eval_actions(observations [K, O])`` method.
    env_id: gymnasium task.
    episodes_per_seed: K.
    seed: environment seed (use a different one per evaluation round).

  Returns:
    Returns ``[S, K]``, float64.
  """
  num_seeds = jax.tree.leaves(agents)[0].shape[0]

  def act_fn(observations: np.ndarray) -> np.ndarray:
    obs = observations.reshape(num_seeds, episodes_per_seed, -1)
    return np.asarray(_eval_actions(agents, obs)).reshape(num_seeds * episodes_per_seed, -1)

  returns = evaluate(act_fn, env_id, num_envs=num_seeds * episodes_per_seed, seed=seed)
  return returns.reshape(num_seeds, episodes_per_seed)
