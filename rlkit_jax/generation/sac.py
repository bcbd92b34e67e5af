"""The D4RL recipe on gymnasium MuJoCo tasks: train SAC with the online job, then write random,
medium, medium-replay, expert and medium-expert datasets in D4RL's HDF5 layout.

Recipe (Fu et al., `D4RL <https://arxiv.org/abs/2004.07219>`_, 2020, Sec. 4): "random" rolls out
the randomly initialised SAC policy; "expert" the final SAC policy; "medium" the training snapshot whose
evaluation return is closest to ``medium_fraction`` of the expert's (D4RL's "about 1/3 the
performance of the expert"); "medium-replay" is the
replay buffer up to that snapshot; "medium-expert" concatenates medium and expert.

The SAC run is :func:`rlkit_jax.online.train_online` with one seed on the task's reward, in its own
run folder: it checkpoints and resumes like any online run. At every evaluation a
:class:`SnapshotRecorder` saves the actor's parameters and scores its stochastic policy (the one
that collects the datasets); ``metrics.csv`` holds both the greedy (``return``) and the stochastic
(``stochastic_return``) return of every snapshot.
"""
from __future__ import annotations

import dataclasses
import glob
import os
from typing import Any, Callable, Sequence

import flax.serialization
import jax
import jax.numpy as jnp
import numpy as np

from rlkit_jax.distributions import tanh_gaussian_sample
from rlkit_jax.envs import evaluate, rollout
from rlkit_jax.errors import UsageError
from rlkit_jax.generation import recipe
from rlkit_jax.online.config import OnlineConfig, check_env
from rlkit_jax.online.loop import initial_agents, train_online


@dataclasses.dataclass
class Snapshot:
  """A policy saved during SAC training: env steps so far, actor parameters, and the mean return
  of its stochastic policy (actions sampled, as when collecting data; NaN for the untrained one)."""

  step: int
  actor_params: Any
  eval_return: float


def _stochastic_policy(apply_fn: Callable) -> Callable:
  """``(params, observations [N, O], key) -> actions [N, A]``: a ~ π(·|s), tanh-Gaussian."""

  @jax.jit
  def act(params, observations, key):
    means, log_stds = apply_fn({"params": params}, jnp.asarray(observations, jnp.float32))
    return tanh_gaussian_sample(key, means, log_stds)[0]

  return act


class SnapshotRecorder:
  """The online job's evaluation hook for generation: saves seed 0's actor parameters as
  ``<directory>/step_<step>.msgpack`` (flax serialisation, written atomically) with the mean
  return of its stochastic policy over ``eval_episodes`` episodes, and reports that return as the
  ``stochastic_return`` column.

  Args:
    env_id: the task.
    directory: where snapshots go (created).
    apply_fn: the actor's ``apply_fn``.
    eval_episodes: episodes per score.
    seed: base seed of the scoring episodes and their action samples.
  """

  def __init__(self, env_id: str, directory: str, apply_fn: Callable, *, eval_episodes: int, seed: int):
    self.env_id, self.directory, self.eval_episodes, self.seed = env_id, directory, eval_episodes, seed
    self.policy = _stochastic_policy(apply_fn)
    os.makedirs(directory, exist_ok=True)

  def __call__(self, step: int, agents: Any) -> dict[str, np.ndarray]:
    params = jax.device_get(jax.tree.map(lambda x: x[0], agents.actor.params))
    keys = iter(jax.random.split(jax.random.key(self.seed + step), 100_000))
    returns = evaluate(
        lambda obs: self.policy(params, obs, next(keys)), self.env_id, num_envs=self.eval_episodes,
        seed=self.seed + 1_000_000 + step,
    )
    self.save(Snapshot(step, params, float(returns.mean())))
    return {"stochastic_return": np.array([returns.mean()])}

  def save(self, snapshot: Snapshot) -> None:
    path = os.path.join(self.directory, f"step_{snapshot.step:09d}.msgpack")
    payload = {"step": snapshot.step, "eval_return": snapshot.eval_return, "actor_params": snapshot.actor_params}
    with open(path + ".tmp", "wb") as f:
      f.write(flax.serialization.msgpack_serialize(payload))
    os.replace(path + ".tmp", path)

  def load_all(self, last_step: int) -> list[Snapshot]:
    """The saved snapshots up to ``last_step``, by step (later files belong to a run cut short)."""
    snapshots = []
    for path in sorted(glob.glob(os.path.join(self.directory, "step_*.msgpack"))):
      with open(path, "rb") as f:
        payload = flax.serialization.msgpack_restore(f.read())
      if int(payload["step"]) <= last_step:
        snapshots.append(Snapshot(int(payload["step"]), payload["actor_params"], float(payload["eval_return"])))
    return snapshots


def make_d4rl_datasets(
    env_id: str,
    out_dir: str,
    *,
    seed: int,
    num_steps: int,
    num_transitions: int,
    medium_fraction: float = 1 / 3,
    kinds: Sequence[str] = recipe.DATASET_KINDS,
    provenance: dict[str, Any] | None = None,
    workdir: str | None = None,
    resume: bool = False,
    progress: bool = True,
    **online_settings,
) -> dict[str, str]:
  """Runs the whole recipe and writes one HDF5 file per kind into ``out_dir``.

  Args:
    env_id: gymnasium id, e.g. ``"Hopper-v5"``.
    out_dir: output folder; files are named ``<task>-<kind>-<version>.hdf5``.
    seed: master seed (SAC training uses it; each rollout uses a derived seed).
    num_steps: SAC training budget in environment steps.
    num_transitions: size of the random, medium and expert datasets.
    medium_fraction: "medium" is the snapshot whose stochastic eval return is closest to this
      fraction of the final (expert) policy's; default 1/3, D4RL's (Fu et al. 2020, Sec. 4). Files
      with no ``medium_fraction`` attribute were made with 0.4, the earlier default.
    kinds: which of :data:`recipe.DATASET_KINDS` to write.
    provenance: extra file attributes (e.g. the generating command).
    workdir: the SAC run's folder (checkpoints, ``metrics.csv``, ``snapshots/``); default
      ``<out_dir>/runs/<env_id>-seed<seed>``.
    resume: continue the SAC run in ``workdir`` from its newest checkpoint.
    progress: show progress bars.
    **online_settings: further :class:`~rlkit_jax.online.OnlineConfig` fields (``start_steps``,
      ``update_every``, ``batch_size``, ``eval_every``, ``eval_episodes``, ``hidden_dims``, ...).

  Returns:
    ``{kind: path}`` of the files written.

  Raises:
    ValueError: an unknown kind, ``num_steps`` below ``eval_every``, or a bad online setting.
    CheckpointError: ``workdir`` holds checkpoints and ``resume`` is False.
    DivergenceError: SAC went non-finite (the message names the env step and the metric).
  """
  from rlkit_jax import __version__

  unknown = sorted(set(kinds) - set(recipe.DATASET_KINDS))
  if unknown:
    raise UsageError(f"unknown dataset kinds {unknown}; choose from {', '.join(recipe.DATASET_KINDS)}")
  config = OnlineConfig(env_id=env_id, reward="true", seed=seed, num_seeds=1, num_steps=num_steps, **online_settings)
  config.validate()
  if num_steps < config.eval_every:
    raise UsageError(
        f"--num_steps={num_steps} is below --eval_every={config.eval_every}: no trained policy snapshot to pick "
        "from; raise --num_steps or lower --eval_every"
    )
  workdir = workdir or os.path.join(out_dir, "runs", f"{env_id}-seed{seed}")
  observation_dim, action_dim = check_env(env_id)
  untrained = initial_agents(config, observation_dim, action_dim)
  recorder = SnapshotRecorder(
      env_id, os.path.join(workdir, "snapshots"), untrained.actor.apply_fn, eval_episodes=config.eval_episodes, seed=seed
  )
  recorder.save(Snapshot(0, jax.device_get(jax.tree.map(lambda x: x[0], untrained.actor.params)), float("nan")))
  run = train_online(config, workdir, resume=resume, on_evaluation=recorder, progress=progress)
  snapshots = recorder.load_all(num_steps)
  initial, trained = snapshots[0], snapshots[1:]
  expert = trained[-1]
  target = medium_fraction * expert.eval_return
  medium = min(trained[:-1] or trained, key=lambda s: abs(s.eval_return - target))

  base_attrs = {
      "env_id": env_id,
      "seed": seed,
      "sac_env_steps": num_steps,
      "rlkit_jax_version": __version__,
      "expert_snapshot_step": expert.step,
      "expert_eval_return": expert.eval_return,
      "medium_snapshot_step": medium.step,
      "medium_eval_return": medium.eval_return,
      "medium_fraction": medium_fraction,
      **(provenance or {}),
  }
  policies = {"random": initial.actor_params, "medium": medium.actor_params, "expert": expert.actor_params}

  def roll_out(kind: str, rollout_seed: int) -> tuple[dict[str, np.ndarray], np.ndarray, dict[str, Any]]:
    params = policies[kind]
    arrays, returns = rollout.collect(
        env_id, lambda obs, k: recorder.policy(params, obs, k), num_transitions=num_transitions, seed=rollout_seed,
        progress=progress,
    )
    return arrays, returns, {"policy": f"{kind} SAC policy (stochastic actions)"}

  replay = run.replay  # seed 0's row of the online job's host replay, task rewards
  buffer = {
      "observations": replay.observations[0], "actions": replay.actions[0], "rewards": replay.env_rewards[0],
      "terminals": replay.terminals[0], "timeouts": replay.timeouts[0], "next_observations": replay.next_observations[0],
  }
  return recipe.write_dataset_kinds(
      env_id, out_dir, kinds, roll_out, seed=seed, buffer=buffer, medium_step=medium.step,
      replay_policy=f"SAC replay buffer up to step {medium.step}", base_attrs=base_attrs,
  )
