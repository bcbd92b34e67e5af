"""The D4RL recipe on gymnasium MuJoCo tasks: train SAC online, then write random, medium,
medium-replay, expert and medium-expert datasets in D4RL's HDF5 layout.

Recipe (Fu et al., `D4RL <https://arxiv.org/abs/2004.07219>`_, 2020, Sec. 4): "random" rolls out
the randomly initialised SAC policy; "expert" the final SAC policy; "medium" the training snapshot whose
evaluation return is closest to ``medium_fraction`` of the expert's; "medium-replay" is the
replay buffer up to that snapshot; "medium-expert" concatenates medium and expert.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import tqdm

from rlkit_jax.agents.sac import SAC
from rlkit_jax.envs import rollout
from rlkit_jax.generation import recipe
from rlkit_jax.distributions import tanh_gaussian_sample
from rlkit_jax.envs import evaluate, make_env



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
  host = rollout.empty_arrays(num_steps, env)
  device_buffer = jax.tree.map(jnp.asarray, recipe.to_transitions(host, 0, num_steps))
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
    observation, _, _ = rollout.record_step(env, host, t, observation, action)
    if (t + 1) % update_every == 0:
      agent, device_buffer, key, chunk_metrics = recipe.train_chunk(
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


def make_d4rl_datasets(
    env_id: str,
    out_dir: str,
    *,
    seed: int,
    num_steps: int,
    num_transitions: int,
    medium_fraction: float = 0.4,
    kinds: Sequence[str] = recipe.DATASET_KINDS,
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
    kinds: which of :data:`recipe.DATASET_KINDS` to write.
    provenance: extra file attributes (e.g. the generating command).
    progress: show progress bars.
    **sac_kwargs: forwarded to :func:`train_sac`.

  Returns:
    ``{kind: path}`` of the files written.
  """
  from rlkit_jax import __version__

  unknown = sorted(set(kinds) - set(recipe.DATASET_KINDS))
  if unknown:
    raise ValueError(f"unknown dataset kinds {unknown}; choose from {recipe.DATASET_KINDS}")
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

  def roll_out(kind: str, rollout_seed: int) -> tuple[dict[str, np.ndarray], np.ndarray, dict[str, Any]]:
    params = policies[kind]
    arrays, returns = rollout.collect(
        env_id, lambda obs, k: stochastic(params, obs, k), num_transitions=num_transitions, seed=rollout_seed,
        progress=progress,
    )
    return arrays, returns, {"policy": f"{kind} SAC policy (stochastic actions)"}

  return recipe.write_dataset_kinds(
      env_id, out_dir, kinds, roll_out, seed=seed, buffer=run.buffer, medium_step=medium.step,
      replay_policy=f"SAC replay buffer up to step {medium.step}", base_attrs=base_attrs,
  )
