"""The D4RL recipe on gymnasium MuJoCo tasks: train SAC online, then write random, medium,
medium-replay, expert and medium-expert datasets in D4RL's HDF5 layout.

Recipe (Fu et al., `D4RL <https://arxiv.org/abs/2004.07219>`_, 2020, Sec. 4): "random" rolls out
the randomly initialised SAC policy; "expert" the final SAC policy; "medium" the training snapshot whose
evaluation return is closest to ``medium_fraction`` of the expert's; "medium-replay" is the
replay buffer up to that snapshot; "medium-expert" concatenates medium and expert.
"""
from __future__ import annotations

import dataclasses
import functools
import math
import os
from typing import Any, Callable, Mapping, Sequence

import gymnasium as gym
import jax
import jax.numpy as jnp
import numpy as np
import tqdm

from rlkit_jax.agents.sac import SAC
from rlkit_jax.data.registry import GENERATED_KINDS
from rlkit_jax.data.dataset import episode_returns
from rlkit_jax.data.hdf5 import write_d4rl_hdf5
from rlkit_jax.data.transitions import Transitions
from rlkit_jax.distributions import tanh_gaussian_sample
from rlkit_jax.envs import evaluate, make_env
from rlkit_jax.errors import DivergenceError
from rlkit_jax.training import core

DATASET_KINDS = GENERATED_KINDS  # random, medium, medium-replay, expert, medium-expert


@dataclasses.dataclass
class Snapshot:
  """A policy saved during SAC training: env steps so far, actor parameters, and the mean return
  of its stochastic policy (actions sampled, as when collecting data)."""

  step: int
  actor_params: Any
  eval_return: float


@dataclasses.dataclass
class SACRun:
  """What :func:`train_sac` returns: the agent, its snapshots (the first is the untrained, random
  policy at step 0) and the whole replay buffer (D4RL keys, NumPy arrays, leading axis = steps)."""

  agent: SAC
  snapshots: list[Snapshot]
  buffer: dict[str, np.ndarray]


def _policy_fn(agent: SAC, deterministic: bool) -> Callable:
  apply = agent.actor.apply_fn

  @jax.jit
  def act(params, observations, key):
    means, log_stds = apply({"params": params}, observations)
    if deterministic:
      return jnp.tanh(means)
    return tanh_gaussian_sample(key, means, log_stds)[0]

  return act


@functools.partial(jax.jit, donate_argnums=(0,))
def _insert(buffer: Transitions, chunk: Transitions, start: jax.Array) -> Transitions:
  return jax.tree.map(lambda b, c: jax.lax.dynamic_update_slice_in_dim(b, c, start, 0), buffer, chunk)


def _empty_arrays(num_transitions: int, env: gym.Env) -> dict[str, np.ndarray]:
  """Zeroed D4RL-layout arrays for ``env``'s spaces, leading axis N = ``num_transitions``.

  ``observations`` and ``next_observations`` float32 ``[N, O]``; ``actions`` float32 ``[N, A]`` for a
  ``Box`` action space, int64 indices ``[N]`` for a ``Discrete`` one; ``rewards`` float32 ``[N]``;
  ``terminals`` and ``timeouts`` bool ``[N]``.
  """
  observation_dim = env.observation_space.shape[0]
  if isinstance(env.action_space, gym.spaces.Discrete):
    actions = np.zeros((num_transitions,), np.int64)
  else:
    actions = np.zeros((num_transitions, env.action_space.shape[0]), np.float32)
  return {
      "observations": np.zeros((num_transitions, observation_dim), np.float32),
      "actions": actions,
      "rewards": np.zeros((num_transitions,), np.float32),
      "terminals": np.zeros((num_transitions,), bool),
      "timeouts": np.zeros((num_transitions,), bool),
      "next_observations": np.zeros((num_transitions, observation_dim), np.float32),
  }


def _to_transitions(arrays: dict[str, np.ndarray], start: int, stop: int) -> Transitions:
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


def _step(
    env: gym.Env, arrays: dict[str, np.ndarray], t: int, observation: np.ndarray, action: Any, *, cut: bool = False
) -> tuple[np.ndarray, float, bool]:
  """Takes ``action`` in ``env`` from ``observation``, writes the transition into row ``t`` of
  ``arrays`` (:func:`_empty_arrays` layout) and resets ``env`` when the episode ends.

  ``timeouts[t]`` is set when the step is not terminal and either the time limit truncated the
  episode or ``cut`` (the data stops at this step).

  Returns:
    ``(observation, reward, done)``: the observation to act on next (the reset one after an
    episode end), the step's reward, and whether the episode ended (terminated or truncated).
  """
  next_observation, reward, terminated, truncated, _ = env.step(action)
  arrays["observations"][t], arrays["actions"][t] = observation, action
  arrays["rewards"][t], arrays["next_observations"][t] = reward, next_observation
  arrays["terminals"][t] = terminated
  arrays["timeouts"][t] = (truncated or cut) and not terminated
  done = terminated or truncated
  if done:
    next_observation, _ = env.reset()
  return next_observation, reward, done


def _train_chunk(
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
  from its first ``stop`` rows (the online training step of :func:`train_sac` and
  :func:`rlkit_jax.data.generate_discrete.train_dqn`).

  Args:
    agent: an agent with a jittable ``update(batch) -> (agent, metrics)`` (SAC, DQN).
    device_buffer: :class:`Transitions` on the device, leading axis = the run's env steps; donated.
    host: the run's host arrays (:func:`_empty_arrays` layout) the new rows are copied from.
    key: the updates' sampling key, carried and split once per update.
    stop: environment steps so far.
    update_every, start_steps, batch_size: as in :func:`train_sac`.

  Returns:
    ``(agent, device_buffer, key, metrics)``; ``metrics`` are the chunk's mean update metrics as
    floats, empty when no update ran.

  Raises:
    DivergenceError: the agent's metrics or parameters went non-finite in this chunk.
  """
  start = stop - update_every
  chunk = jax.tree.map(jnp.asarray, _to_transitions(host, start, stop))
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


def _rollout(
    env_id: str, policy: Callable[[np.ndarray], Any], *, num_transitions: int, seed: int, progress: bool
) -> tuple[dict[str, np.ndarray], np.ndarray]:
  """Rolls out ``policy`` for exactly ``num_transitions`` steps in D4RL's layout (the loop behind
  :func:`collect` and :func:`rlkit_jax.data.generate_discrete.collect`).

  Episodes run to termination or the task's time limit; the last one is cut at
  ``num_transitions`` and marked as a time-out.

  Args:
    env_id: gymnasium id.
    policy: ``observation [1, O] float32 -> action`` (float32 ``[A]``, or an integer index for a
      ``Discrete`` task), called once per step, in order; it keeps its own random key.
    num_transitions: N.
    seed: seeds the environment's first reset.
    progress: show a tqdm bar.

  Returns:
    ``(arrays, episode_returns)``: :func:`_empty_arrays`' keys with leading axis N, and the
    returns ``[E]`` of the E complete episodes.
  """
  env = make_env(env_id)
  arrays = _empty_arrays(num_transitions, env)
  returns, episode_return = [], 0.0
  observation, _ = env.reset(seed=seed)
  for t in tqdm.trange(num_transitions, desc=f"collect {env_id}", disable=not progress, mininterval=5):
    action = policy(observation[None].astype(np.float32))
    observation, reward, done = _step(env, arrays, t, observation, action, cut=t == num_transitions - 1)
    episode_return += reward
    if done:
      returns.append(episode_return)
      episode_return = 0.0
  env.close()
  return arrays, np.asarray(returns)


def train_sac(
    env_id: str,
    *,
    seed: int,
    num_steps: int,
    start_steps: int = 5_000,
    update_every: int = 1_000,
    batch_size: int = 256,
    eval_every: int = 10_000,
    eval_episodes: int = 5,
    hidden_dims: Sequence[int] = (256, 256),
    progress: bool = True,
) -> SACRun:
  """Trains SAC online on ``env_id`` with one update per environment step.

  Acting is on the host; every ``update_every`` steps the new transitions are copied into a
  device-resident buffer and that many updates run in one ``lax.scan``.

  Args:
    env_id: gymnasium id, e.g. ``"Hopper-v5"``.
    seed: seeds the agent, the environment and the evaluation.
    num_steps: environment steps (= gradient updates after ``start_steps``).
    start_steps: initial steps with uniformly random actions.
    update_every: steps between update chunks.
    batch_size: SAC minibatch size.
    eval_every: steps between evaluations of the stochastic policy (the one that collects the
      datasets), each saving a :class:`Snapshot`.
    eval_episodes: episodes per evaluation.
    hidden_dims: hidden widths of actor and critics.
    progress: show a tqdm bar.

  Returns:
    A :class:`SACRun`.
  """
  env = make_env(env_id)
  observation_dim = env.observation_space.shape[0]
  action_dim = env.action_space.shape[0]
  key = jax.random.key(seed)
  key, agent_key = jax.random.split(key)
  agent = SAC.create(agent_key, observation_dim, action_dim, hidden_dims=hidden_dims)
  sample = _policy_fn(agent, deterministic=False)
  host = _empty_arrays(num_steps, env)
  device_buffer = jax.tree.map(jnp.asarray, _to_transitions(host, 0, num_steps))
  snapshots = [Snapshot(0, jax.device_get(agent.actor.params), float("nan"))]  # the random policy
  rng = np.random.default_rng(seed)
  observation, _ = env.reset(seed=seed)
  metrics: dict[str, float] = {}
  bar = tqdm.tqdm(total=num_steps, desc=f"SAC {env_id}", disable=not progress, mininterval=5)
  for t in range(num_steps):
    if t < start_steps:
      action = rng.uniform(-1.0, 1.0, action_dim).astype(np.float32)
    else:
      key, act_key = jax.random.split(key)
      action = np.asarray(sample(agent.actor.params, observation[None].astype(np.float32), act_key)[0])
    observation, _, _ = _step(env, host, t, observation, action)
    if (t + 1) % update_every == 0:
      agent, device_buffer, key, chunk_metrics = _train_chunk(
          agent, device_buffer, host, key, stop=t + 1, update_every=update_every, start_steps=start_steps,
          batch_size=batch_size,
      )
      metrics.update(chunk_metrics)
    if (t + 1) % eval_every == 0:
      params = agent.actor.params
      key, eval_key = jax.random.split(key)
      eval_keys = iter(jax.random.split(eval_key, 100_000))
      returns = evaluate(
          lambda obs: sample(params, obs, next(eval_keys)), env_id, num_envs=eval_episodes, seed=seed + 1_000_000 + t
      )
      snapshots.append(Snapshot(t + 1, jax.device_get(params), float(returns.mean())))
      bar.set_postfix(eval_return=f"{returns.mean():.0f}", alpha=f"{metrics.get('alpha', 1.0):.3f}")
    bar.update(1)
  bar.close()
  env.close()
  return SACRun(agent, snapshots, host)


def collect(
    env_id: str,
    act_fn: Callable[[np.ndarray, jax.Array], np.ndarray],
    *,
    num_transitions: int,
    seed: int,
    progress: bool = False,
) -> tuple[dict[str, np.ndarray], np.ndarray]:
  """Rolls out ``act_fn`` for exactly ``num_transitions`` steps in D4RL's layout.

  Episodes run to termination or the task's time limit; the last one is cut at
  ``num_transitions`` and marked as a time-out.

  Args:
    env_id: gymnasium id.
    act_fn: ``(observation [1, O], key) -> action [1, A]``.
    num_transitions: N.
    seed: seeds the environment and the action sampling.
    progress: show a tqdm bar.

  Returns:
    ``(arrays, episode_returns)``: the D4RL keys with leading axis N, and the returns of the
    complete episodes.
  """
  key = jax.random.key(seed)

  def policy(observation: np.ndarray) -> np.ndarray:
    nonlocal key
    key, act_key = jax.random.split(key)
    return np.asarray(act_fn(observation, act_key)[0])

  return _rollout(env_id, policy, num_transitions=num_transitions, seed=seed, progress=progress)


def dataset_name(env_id: str, kind: str) -> str:
  """``("Hopper-v5", "medium-replay")`` → ``"hopper-medium-replay-v5"`` (D4RL's naming)."""
  task, version = env_id.rsplit("-", 1)
  return f"{task.lower()}-{kind}-{version}"


def make_d4rl_datasets(
    env_id: str,
    out_dir: str,
    *,
    seed: int,
    num_steps: int,
    num_transitions: int,
    medium_fraction: float = 0.4,
    kinds: Sequence[str] = DATASET_KINDS,
    provenance: dict[str, Any] | None = None,
    progress: bool = True,
    **sac_kwargs,
) -> dict[str, str]:
  """Runs the whole recipe and writes one HDF5 file per kind into ``out_dir``.

  Args:
    env_id: gymnasium id, e.g. ``"Hopper-v5"``.
    out_dir: output folder; files are named ``<task>-<kind>-<version>.hdf5``.
    seed: master seed (SAC training uses it; each rollout uses a derived seed).
    num_steps: SAC training budget in environment steps.
    num_transitions: size of the random, medium and expert datasets.
    medium_fraction: "medium" is the snapshot whose eval return is closest to this fraction of
      the final (expert) policy's.
    kinds: which of :data:`DATASET_KINDS` to write.
    provenance: extra file attributes (e.g. the generating command).
    progress: show progress bars.
    **sac_kwargs: forwarded to :func:`train_sac`.

  Returns:
    ``{kind: path}`` of the files written.
  """
  from rlkit_jax import __version__

  unknown = sorted(set(kinds) - set(DATASET_KINDS))
  if unknown:
    raise ValueError(f"unknown dataset kinds {unknown}; choose from {DATASET_KINDS}")
  run = train_sac(env_id, seed=seed, num_steps=num_steps, progress=progress, **sac_kwargs)
  initial, trained = run.snapshots[0], run.snapshots[1:]
  if not trained:
    raise ValueError(f"num_steps={num_steps} is below eval_every: no trained policy snapshot to pick from")
  expert = trained[-1]
  target = medium_fraction * expert.eval_return
  medium = min(trained[:-1] or trained, key=lambda s: abs(s.eval_return - target))
  stochastic = _policy_fn(run.agent, deterministic=False)

  base_attrs = {
      "env_id": env_id,
      "seed": seed,
      "sac_env_steps": num_steps,
      "rlkit_jax_version": __version__,
      "expert_snapshot_step": expert.step,
      "expert_eval_return": expert.eval_return,
      "medium_snapshot_step": medium.step,
      "medium_eval_return": medium.eval_return,
      **(provenance or {}),
  }
  policies = {"random": initial.actor_params, "medium": medium.actor_params, "expert": expert.actor_params}

  def rollout(kind: str, rollout_seed: int) -> tuple[dict[str, np.ndarray], np.ndarray, dict[str, Any]]:
    params = policies[kind]
    arrays, returns = collect(
        env_id, lambda obs, k: stochastic(params, obs, k), num_transitions=num_transitions, seed=rollout_seed,
        progress=progress,
    )
    return arrays, returns, {"policy": f"{kind} SAC policy (stochastic actions)"}

  return write_dataset_kinds(
      env_id, out_dir, kinds, rollout, seed=seed, buffer=run.buffer, medium_step=medium.step,
      replay_policy=f"SAC replay buffer up to step {medium.step}", base_attrs=base_attrs,
  )


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
  part of the recipe after training, shared by :func:`make_d4rl_datasets` and
  :func:`rlkit_jax.data.generate_discrete.make_discrete_datasets`.

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
      axis N (:func:`collect`), the returns ``[E]`` of the complete episodes, and the kind's
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

