"""The D4RL recipe's shared parts (Fu et al., `D4RL <https://arxiv.org/abs/2004.07219>`_, 2020,
Sec. 4): the in-process online training step of the DQN generator (:func:`train_chunk`, on the
training core; the SAC generator is the online job itself) and the writing of the dataset kinds
from a trained run (:func:`write_dataset_kinds`), which both generators share.
"""
from __future__ import annotations

import functools
import math
import os
from typing import Any, Callable, Mapping, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from rlkit_jax.data.dataset import episode_returns
from rlkit_jax.data.hdf5 import write_d4rl_hdf5
from rlkit_jax.data.registry import GENERATED_KINDS
from rlkit_jax.data.transitions import Transitions
from rlkit_jax.errors import DivergenceError
from rlkit_jax.training import core

DATASET_KINDS = GENERATED_KINDS  # random, medium, medium-replay, expert, medium-expert


@functools.partial(jax.jit, donate_argnums=(0,))
def _insert(buffer: Transitions, chunk: Transitions, start: jax.Array) -> Transitions:
  return jax.tree.map(lambda b, c: jax.lax.dynamic_update_slice_in_dim(b, c, start, 0), buffer, chunk)


def to_transitions(arrays: dict[str, np.ndarray], start: int, stop: int) -> Transitions:
  """Rows ``[start, stop)`` of D4RL-layout ``arrays`` as :class:`Transitions`: ``terminals`` as float32,
  integer action indices as int32 (the discrete agents' dtype), float actions as they are."""
  actions = arrays["actions"][start:stop]
  return Transitions(
      observations=arrays["observations"][start:stop],
      actions=actions.astype(np.int32) if np.issubdtype(actions.dtype, np.integer) else actions,
      rewards=arrays["rewards"][start:stop],
      terminals=arrays["terminals"][start:stop].astype(np.float32),
      next_observations=arrays["next_observations"][start:stop],
  )


def train_chunk(
    agent: Any,
    device_buffer: Transitions,
    host: dict[str, np.ndarray],
    key: jax.Array,
    *,
    stop: int,
    update_every: int,
    start_steps: int,
    batch_size: int,
) -> tuple[Any, Transitions, jax.Array, dict[str, float]]:
  """Copies the host rows ``[stop - update_every, stop)`` into the device-resident buffer and, once
  ``stop >= start_steps``, runs ``update_every`` updates on minibatches of ``batch_size`` sampled
  from its first ``stop`` rows (the online training step of :func:`rlkit_jax.generation.dqn_training.train_dqn`).

  Args:
    agent: an agent with a jittable ``update(batch) -> (agent, metrics)`` (DQN).
    device_buffer: :class:`Transitions` on the device, leading axis = the run's env steps; donated.
    host: the run's host arrays (:func:`rlkit_jax.envs.rollout.empty_arrays` layout) the new rows are copied from.
    key: the updates' sampling key, carried and split once per update.
    stop: environment steps so far.
    update_every, start_steps, batch_size: as in :func:`rlkit_jax.generation.dqn_training.train_dqn`.

  Returns:
    ``(agent, device_buffer, key, metrics)``; ``metrics`` are the chunk's mean update metrics as
    floats, empty when no update ran.

  Raises:
    DivergenceError: the agent's metrics or parameters went non-finite in this chunk.
  """
  start = stop - update_every
  chunk = jax.tree.map(jnp.asarray, to_transitions(host, start, stop))
  device_buffer = _insert(device_buffer, chunk, jnp.asarray(start))
  if stop < start_steps:
    return agent, device_buffer, key, {}
  # The training core with one run: a leading run axis of 1 on the agent and its key.
  agents, keys, metrics, active = core.update_runs(
      jax.tree.map(lambda x: jnp.expand_dims(x, 0), agent), key[None], jnp.ones(1, bool), device_buffer, jnp.asarray(stop),
      batch_size=batch_size, num_updates=update_every,
  )
  agent, key = jax.tree.map(lambda x: x[0], (agents, keys))
  metrics = {k: float(v[0]) for k, v in metrics.items()}
  if not bool(active[0]):  # the non-finite guard of a single-run job
    bad = ", ".join(f"{k} is {v}" for k, v in sorted(metrics.items()) if not math.isfinite(v)) or "parameters not finite"
    raise DivergenceError(
        f"{type(agent).__name__} diverged at env step {stop:,}: {bad}; generation stops here — fix: lower the "
        "learning rates, or change the seed"
    )
  return agent, device_buffer, key, metrics


def dataset_name(env_id: str, kind: str) -> str:
  """``("Hopper-v5", "medium-replay")`` → ``"hopper-medium-replay-v5"`` (D4RL's naming)."""
  task, version = env_id.rsplit("-", 1)
  return f"{task.lower()}-{kind}-{version}"


def write_dataset_kinds(
    env_id: str,
    out_dir: str,
    kinds: Sequence[str],
    rollout: Callable[[str, int], tuple[dict[str, np.ndarray], np.ndarray, dict[str, Any]]],
    *,
    seed: int,
    buffer: Mapping[str, np.ndarray],
    medium_step: int,
    replay_policy: str,
    base_attrs: Mapping[str, Any],
    kind_attrs: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, str]:
  """Makes the requested dataset kinds from a trained run and writes one HDF5 file per kind: the
  part of the recipe after training, shared by :func:`rlkit_jax.generation.sac.make_d4rl_datasets` and
  :func:`rlkit_jax.generation.dqn.make_discrete_datasets`.

  * "random", "medium", "expert": ``rollout(kind, seed + 100 * i)`` with i = 1, 2, 3 in that
    order, called only for the kinds needed ("medium" and "expert" also for "medium-expert").
  * "medium-replay": a copy of the first ``medium_step`` rows of ``buffer``; its last row is marked
    a time-out unless it is terminal, so the cut-off buffer ends a trajectory.
  * "medium-expert": medium's rows then expert's (2N), and their episode returns together.

  File attributes, later ones overriding earlier: ``base_attrs``; the kind's own (``policy``:
  the rollout's attrs, ``replay_policy``, or "medium then expert"); ``kind_attrs[kind]``;
  ``dataset_kind``; ``episode_return_mean`` and ``episode_return_std`` over the complete episodes
  (NaN when there is none) and ``num_episodes``.

  Args:
    env_id: gymnasium id; names the files ``<task>-<kind>-<version>.hdf5`` (:func:`dataset_name`).
    out_dir: output folder (created if missing).
    kinds: the kinds to write, in order; already checked against :data:`DATASET_KINDS`.
    rollout: ``(kind, seed) -> (arrays, episode_returns, attrs)``: D4RL-layout arrays with leading
      axis N (:func:`rlkit_jax.envs.rollout.collect`), the returns ``[E]`` of the complete episodes, and the kind's
      attributes (at least ``policy``).
    seed: master seed the rollout seeds derive from.
    buffer: the training run's replay buffer, D4RL keys, leading axis = environment steps; not
      modified.
    medium_step: environment steps of the medium snapshot, where "medium-replay" is cut.
    replay_policy: the ``policy`` attribute of "medium-replay".
    base_attrs: attributes of every file (provenance, settings, snapshot steps and returns).
    kind_attrs: extra attributes per kind, e.g. ``{"medium-expert": {"policy_epsilon": 0.1}}``.

  Returns:
    ``{kind: path}`` of the files written.
  """
  made: dict[str, tuple[dict[str, np.ndarray], np.ndarray, dict[str, Any]]] = {}
  for offset, kind in enumerate(("random", "medium", "expert")):
    if kind in kinds or (kind in ("medium", "expert") and "medium-expert" in kinds):
      made[kind] = rollout(kind, seed + 100 * (offset + 1))
  if "medium-replay" in kinds:
    arrays = {k: v[:medium_step].copy() for k, v in buffer.items()}
    arrays["timeouts"][-1] |= ~arrays["terminals"][-1]
    returns = episode_returns(arrays["rewards"], arrays["terminals"] | arrays["timeouts"])
    made["medium-replay"] = (arrays, returns, {"policy": replay_policy})
  if "medium-expert" in kinds:
    (m, mr, _), (e, er, _) = made["medium"], made["expert"]
    arrays = {k: np.concatenate([m[k], e[k]]) for k in m}
    made["medium-expert"] = (arrays, np.concatenate([mr, er]), {"policy": "medium then expert"})

  paths = {}
  for kind in kinds:
    arrays, returns, attrs = made[kind]
    path = os.path.join(out_dir, dataset_name(env_id, kind) + ".hdf5")
    write_d4rl_hdf5(
        path,
        arrays,
        {
            **base_attrs,
            **attrs,
            **(kind_attrs or {}).get(kind, {}),
            "dataset_kind": kind,
            "episode_return_mean": float(returns.mean()) if returns.size else float("nan"),
            "episode_return_std": float(returns.std()) if returns.size else float("nan"),
            "num_episodes": int(returns.size),
        },
    )
    paths[kind] = path
  return paths
