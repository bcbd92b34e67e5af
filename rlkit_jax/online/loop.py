"""The online-RL job: S seeds of SAC as one compiled program, acting in S gymnasium envs, trained on
the task's reward or on a pluggable, learned one.

``run_online(OnlineConfig(...), workdir)`` is what ``experiments/train_online.py`` calls; it never
reads flags. A run folder holds ``config.json``, ``metrics.csv`` (one row per evaluation and seed),
``summary.json`` and orbax checkpoints under ``checkpoints/``.

The loop (one SAC update per environment step, as Haarnoja et al. 2018; dataset generation,
:func:`rlkit_jax.generation.sac.make_d4rl_datasets`, is this job with a snapshot hook):

1. Every env step, one jitted call vmapped over seeds gives the S actions (uniform in [-1, 1]^A
   for the first ``start_steps`` steps, then a ~ π(·|s), the stochastic tanh-Gaussian policy);
   env i steps on the host and its transition is written into the host arrays (row t of seed i).
2. Every ``update_every`` steps: the reward source sees the replay (:class:`ReplayView`) and may
   learn (:meth:`RewardSource.update`); if it reports a change, every stored transition is
   relabelled, otherwise only the new rows are labelled; the new rows (with their labels) are
   copied into the device buffer; then, once ``start_steps`` are done, ``update_every`` SAC
   updates of every seed run as one ``vmap``-over-seeds of a ``lax.scan``.
3. Every ``eval_every`` steps: every seed's deterministic policy is evaluated on the task's own
   reward, the caller's ``on_evaluation`` hook (if any) adds its columns, metrics are logged and a
   checkpoint is written (every ``checkpoint_every`` steps). When every seed has diverged the job
   stops with :class:`~rlkit_jax.errors.DivergenceError`.

``metrics.csv`` and ``summary.json`` are described in :mod:`rlkit_jax.online.report`.

Relabelling every stored transition whenever the reward model changes is PEBBLE's design (Lee et
al., `PEBBLE <https://arxiv.org/abs/2106.05091>`_, 2021, Sec. 4.2): the off-policy agent keeps its
whole replay buffer, consistent with the current reward.

Resume: a checkpoint holds the agents, replay, PRNG keys and reward source state, and beside it
the envs mid-episode (:mod:`rlkit_jax.online.env_state`), so a resumed run on one of gymnasium's
MuJoCo tasks goes on exactly as the uninterrupted one would have (same replay, same metrics, same
agents). Where the envs cannot be put back (other tasks, or a run folder from before env states
were saved), the resumed run resets every env (with a seed derived from the run seed, the seed
index and the checkpoint step) and marks the last stored row of each seed as a time-out, so the
interrupted episode ends there in the replay: reproducible, but not identical to an uninterrupted run.
"""
from __future__ import annotations

import dataclasses
import functools
import os
import time
from typing import Any, Callable, Mapping, Optional

import gymnasium as gym
import jax
import jax.numpy as jnp
import numpy as np
import tqdm

from rlkit_jax.agents.common import agent_options
from rlkit_jax.agents.sac import SAC
from rlkit_jax.checkpoint import Checkpointer
from rlkit_jax.data.dataset import DatasetError
from rlkit_jax.data.registry import reference_scores
from rlkit_jax.data.transitions import Transitions
from rlkit_jax.envs.evaluation import normalized_score
from rlkit_jax.errors import DivergenceError
from rlkit_jax.online import acting, env_state, replay, report
from rlkit_jax.online import resume as resume_lib
from rlkit_jax.online.config import OnlineConfig, env_seed, make_checked_env
from rlkit_jax.rewards.base import ReplayView, RewardSource, reward_factory, reward_settings
from rlkit_jax.rewards.success_tests import SUCCESS_TESTS
from rlkit_jax.training import core, evaluation, run_folder

SAC_METRICS = ("critic_loss", "q_data", "actor_loss", "entropy", "alpha")  # what SAC.update reports

EvaluationHook = Callable[[int, SAC], Mapping[str, np.ndarray]]
"""``(env step, agents [S, ...]) -> {column: values [S]}``: called at every evaluation of the
online job, after the agents' own; its columns are added to that evaluation's ``metrics.csv`` rows."""


def initial_agents(config: OnlineConfig, observation_dim: int, action_dim: int) -> SAC:
  """The S untrained SAC agents (leaves ``[S, ...]``) a fresh run of ``config`` starts from: the
  same for the same config, every call (the job's first key split, then one key per seed)."""
  agent_key = jax.random.split(jax.random.key(config.seed), 5)[0]
  create = functools.partial(
      SAC.create, observation_dim=observation_dim, action_dim=action_dim,
      hidden_dims=tuple(int(h) for h in config.hidden_dims), **config.sac_kwargs(),
  )
  return core.create_runs(create, jax.random.split(agent_key, config.num_seeds))


@dataclasses.dataclass
class OnlineRun:
  """What :func:`train_online` returns.

  Attributes:
    summary: the dict written to ``summary.json``.
    agents: the final SAC agents, every leaf ``[S, ...]``.
    buffer: the device replay buffer, :class:`Transitions` ``[S, num_steps, ...]`` whose
      ``rewards`` are the reward source's labels (the task's for :class:`TrueReward`).
    replay: the host replay (:class:`ReplayView`, task rewards in ``env_rewards``).
    reward_source: the reward source, in its final state.
  """

  summary: dict[str, Any]
  agents: SAC
  buffer: Transitions
  replay: ReplayView
  reward_source: RewardSource


def run_online(
    config: OnlineConfig,
    workdir: str,
    *,
    resume: bool = False,
    reward_source: Optional[RewardSource] = None,
    on_evaluation: Optional[EvaluationHook] = None,
    progress: bool = True,
) -> dict[str, Any]:
  """Trains S seeds of SAC online as one compiled program; :func:`train_online` without the state.

  Returns:
    The summary also written to ``workdir/summary.json``.
  """
  return train_online(
      config, workdir, resume=resume, reward_source=reward_source, on_evaluation=on_evaluation, progress=progress
  ).summary


def train_online(
    config: OnlineConfig,
    workdir: str,
    *,
    resume: bool = False,
    reward_source: Optional[RewardSource] = None,
    on_evaluation: Optional[EvaluationHook] = None,
    progress: bool = True,
) -> OnlineRun:
  """Trains S seeds of SAC (Haarnoja et al. 2018) online, each in its own env, on the rewards of
  a :class:`RewardSource`; logs, checkpoints and resumes (see the module docstring for the loop).

  Args:
    config: the run's settings.
    workdir: output folder (created): ``config.json``, ``metrics.csv``, ``summary.json``,
      ``checkpoints/``, ``env_states/``.
    resume: continue from the newest checkpoint in ``workdir`` (same settings required); the envs
      of gymnasium's MuJoCo tasks continue their episodes, others restart (module docstring); rows of
      ``metrics.csv`` logged after that checkpoint are dropped.
    reward_source: use this object instead of building ``config.reward`` from
      :data:`REWARD_SOURCES`; its ``name`` must equal ``config.reward`` (the name recorded).
    on_evaluation: an :data:`EvaluationHook` whose columns join the ``metrics.csv`` rows.
    progress: show a tqdm bar (env steps; latest mean evaluation return).

  Returns:
    An :class:`OnlineRun`; its ``summary`` is :func:`rlkit_jax.online.report.summary`'s.

  Raises:
    ValueError: a bad setting, an unknown ``--reward``, an env gymnasium cannot make or without a
      continuous action space, a reward source whose name differs from ``config.reward``, or whose
      ``rewards()`` have the wrong shape or non-finite values.
    CheckpointError: ``workdir`` holds checkpoints and ``resume`` is False; a checkpoint of other
      settings, or a corrupt one.
    DivergenceError: every seed went non-finite (the message names the step and the metrics).
  """
  config.validate(check_reward=reward_source is None)
  if reward_source is not None and reward_source.name != config.reward:
    raise ValueError(
        f"reward_source.name={reward_source.name!r} differs from OnlineConfig.reward={config.reward!r}; "
        f"set OnlineConfig(reward={reward_source.name!r}) so the run folder records what it trained on"
    )
  envs = [make_checked_env(config.env_id) for _ in range(config.num_seeds)]
  try:
    return _train(
        config, workdir, envs, resume=resume, reward_source=reward_source, on_evaluation=on_evaluation, progress=progress
    )
  finally:
    for env in envs:
      env.close()


def _train(
    config: OnlineConfig,
    workdir: str,
    envs: list[gym.Env],
    *,
    resume: bool,
    reward_source: Optional[RewardSource],
    on_evaluation: Optional[EvaluationHook],
    progress: bool,
) -> OnlineRun:
  num_seeds, num_steps, update_every = config.num_seeds, config.num_steps, config.update_every
  observation_dim, action_dim = envs[0].observation_space.shape[0], envs[0].action_space.shape[0]
  try:
    ref_min, ref_max = reference_scores(config.env_id)
  except DatasetError:
    ref_min = ref_max = float("nan")  # no D4RL reference returns: normalized_score is NaN

  key = jax.random.key(config.seed)
  _, act_key, update_key, reward_key, source_key = jax.random.split(key, 5)  # the first: initial_agents
  if reward_source is None:  # first: it reads its input files (demonstrations, examples) before anything compiles
    reward_source = reward_factory(config.reward)(
        config=config, env=envs[0], observation_dim=observation_dim, action_dim=action_dim, key=source_key
    )
  agents = initial_agents(config, observation_dim, action_dim)
  act_keys = jax.random.split(act_key, num_seeds)
  update_keys = jax.random.split(update_key, num_seeds)
  relabel_chunk = max(update_every, min(replay.RELABEL_CHUNK, num_steps) // update_every * update_every)
  host = replay.empty_host(num_seeds, num_steps, envs[0])

  os.makedirs(workdir, exist_ok=True)
  checkpointer = Checkpointer(os.path.join(workdir, "checkpoints"), config.to_json())
  metrics_path = os.path.join(workdir, "metrics.csv")
  labels = np.zeros((num_seeds, num_steps), np.float32)  # the device buffer's rewards, on restore
  step, saved, restored = resume_lib.restore_or_start(
      checkpointer, workdir, metrics_path, resume=resume, agents=agents, act_keys=act_keys, update_keys=update_keys,
      reward_key=reward_key, reward_source=reward_source, host=host, labels=labels,
  )
  agents, act_keys, update_keys, reward_key = (saved[k] for k in ("agents", "act_keys", "update_keys", "reward_key"))
  elapsed_before, relabels, reward_metrics, divergence = (
      restored.elapsed_s, restored.relabels, restored.reward_metrics, restored.divergence
  )
  # Committed to one device either way (restored arrays are), so a resumed run in the same process
  # reuses the compiled programs.
  agents, act_keys, update_keys = jax.device_put((agents, act_keys, update_keys), jax.devices()[0])
  if step:  # continuing from a checkpoint: under the settings it began with
    run_folder.check_recorded(os.path.join(workdir, "config.json"), "reward_settings", reward_settings(reward_source))
  run_folder.write_json(
      os.path.join(workdir, "config.json"),
      {
          **config.to_json(), "reward_source": reward_source.name, "reward_settings": reward_settings(reward_source),
          "sac_hyperparameters": {**agent_options(SAC), **config.sac_kwargs()},
      },
  )

  observations = np.stack([env.reset(seed=env_seed(config.seed, i, step))[0] for i, env in enumerate(envs)])
  episodes = acting.EpisodeLog.empty(num_seeds, SUCCESS_TESTS.get(config.env_id))
  if step and not env_state.load(workdir, step, envs, observations, episodes):  # the envs restart
    resume_lib.end_interrupted_episodes(host, step)
  buffer = replay.transitions(host, labels, 0, num_steps)
  del labels
  seed_rows = [{k: v[i] for k, v in host.items()} for i in range(num_seeds)]  # views, written by acting.act_chunk
  sac_metrics: dict[str, np.ndarray] = {name: np.full(num_seeds, np.nan) for name in SAC_METRICS}
  start_step, last_returns = step, None
  started = time.time()
  eval_seconds = 0.0
  bar = tqdm.tqdm(
      total=num_steps, initial=step, desc=f"SAC[{reward_source.name}] {config.env_id}", disable=not progress, mininterval=5
  )
  while step < num_steps:
    # Act for one chunk.
    act_keys = acting.act_chunk(
        envs, agents.actor, observations, act_keys, seed_rows, episodes, start=step, stop=step + update_every,
        explore_until=config.start_steps, last_step=num_steps - 1,
    )
    chunk_start, step = step, step + update_every
    bar.update(update_every)

    # Reward source, labels, device buffer.
    reward_key, key_now = jax.random.split(reward_key)
    changed, new_metrics = reward_source.update(step, replay.view(host, step), key_now)
    reward_metrics.update({name: replay.per_seed(v, num_seeds, name) for name, v in new_metrics.items()})
    if changed:  # relabel every stored row (PEBBLE, Lee et al. 2021, Sec. 4.2), the new ones included
      relabels += 1
      all_rewards = replay.relabel_all(reward_source, host, step, relabel_chunk)
      buffer = buffer.replace(rewards=jnp.asarray(all_rewards))
      chunk_rewards = all_rewards[:, chunk_start:step]
    else:
      chunk_rewards = replay.label_rows(reward_source, host, chunk_start, step, pad_to=update_every)
    buffer = replay.insert_rows(buffer, replay.transitions(host, chunk_rewards, chunk_start, step), jnp.asarray(chunk_start))

    # SAC updates.
    if step >= config.start_steps:
      agents, update_keys, metrics, active = core.update_runs(
          agents, update_keys, jnp.asarray(divergence.active), buffer, jnp.asarray(step), batch_size=config.batch_size,
          num_updates=update_every, data_per_run=True,
      )
      sac_metrics = {name: np.asarray(value, np.float64) for name, value in jax.device_get(metrics).items()}
      for event in divergence.update(step, jax.device_get(active), sac_metrics):
        bar.write(f"warning: {event.describe(f'seed {event.run}', 'env step')}; it keeps its last finite state")
      if not divergence.active.any():
        event = max((divergence.get(i) for i in divergence.records), key=lambda e: e.step)
        raise DivergenceError(
            f"{event.describe('SAC' if num_seeds == 1 else f'seed {event.run}, the last of {num_seeds},', 'env step')}; "
            "the run stops here — fix: lower the learning rates (--hparams=critic_lr=...), or change the seed"
        )

    # Evaluation, logging, checkpoint.
    if step % config.eval_every == 0 or step == num_steps:
      eval_start = time.time()
      returns = evaluation.evaluate_agents(
          agents, config.env_id, episodes_per_seed=config.eval_episodes, seed=evaluation.evaluation_seed(config.seed, step)
      )
      eval_seconds += time.time() - eval_start
      last_returns = returns.mean(axis=1)
      scores = normalized_score(last_returns, ref_min, ref_max)
      hooked = {name: np.asarray(v, np.float64) for name, v in (on_evaluation(step, agents) if on_evaluation else {}).items()}
      finished, successes = episodes.take()
      rows = report.evaluation_rows(
          step, returns, scores, finished, successes, sac_metrics, relabels, reward_metrics, hooked, divergence.active
      )
      if rows:
        run_folder.append_rows(metrics_path, rows)
      kept = divergence.active
      if kept.any():
        bar.set_postfix(eval_return=f"{last_returns[kept].mean():.1f}", alpha=f"{np.mean(sac_metrics['alpha'][kept]):.3f}")
    if step % config.checkpoint_interval == 0 or step == num_steps:
      state = resume_lib.checkpoint_state(agents, act_keys, update_keys, reward_key, reward_source, host, buffer.rewards, step)
      saved_progress = resume_lib.Progress(elapsed_before + time.time() - started, relabels, reward_metrics, divergence)
      checkpointer.save(step, state, saved_progress.to_json())
      env_state.save(workdir, step, envs, observations, episodes, keep=checkpointer.all_steps())
  bar.close()
  checkpointer.close()
  if last_returns is None:  # resumed a finished run: report its last logged evaluation
    last_returns = report.logged_returns(metrics_path, num_steps, num_seeds)
  steps_done, run_seconds = step - start_step, time.time() - started
  summary = report.summary(
      config, reward_source.name, last_returns, normalized_score(last_returns, ref_min, ref_max), divergence,
      ref_min=ref_min, ref_max=ref_max, relabels=relabels, wall_time_s=elapsed_before + run_seconds,
      eval_time_s=eval_seconds, steps_per_s=steps_done / run_seconds if steps_done else None,
      steps_per_s_excluding_eval=steps_done / (run_seconds - eval_seconds) if steps_done else None,
  )
  run_folder.write_json(os.path.join(workdir, "summary.json"), summary)
  return OnlineRun(summary=summary, agents=agents, buffer=buffer, replay=replay.view(host, step), reward_source=reward_source)

