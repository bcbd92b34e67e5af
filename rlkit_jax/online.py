"""The online-RL job: S seeds of SAC as one compiled program, acting in S gymnasium envs, trained on
the task's reward or on a pluggable, learned one.

``run_online(OnlineConfig(...), workdir)`` is what ``experiments/train_online.py`` calls; it never
reads flags. A run folder holds ``config.json``, ``metrics.csv`` (one row per evaluation and seed),
``summary.json`` and orbax checkpoints under ``checkpoints/``.

The loop (one SAC update per environment step, as Haarnoja et al. 2018 and
:func:`rlkit_jax.data.generate.train_sac`):

1. Every env step, one jitted call vmapped over seeds gives the S actions (uniform in [-1, 1]^A
   for the first ``start_steps`` steps, then a ~ π(·|s), the stochastic tanh-Gaussian policy);
   env i steps on the host and its transition is written into the host arrays (row t of seed i).
2. Every ``update_every`` steps: the reward source sees the replay (:class:`ReplayView`) and may
   learn (:meth:`RewardSource.update`); if it reports a change, every stored transition is
   relabelled, otherwise only the new rows are labelled; the new rows (with their labels) are
   copied into the device buffer; then, once ``start_steps`` are done, ``update_every`` SAC
   updates of every seed run as one ``vmap``-over-seeds of a ``lax.scan``.
3. Every ``eval_every`` steps: every seed's deterministic policy is evaluated on the task's own
   reward, metrics are logged and a checkpoint is written (every ``checkpoint_every`` steps).

``metrics.csv``, one row per evaluation and seed: ``step`` (env steps per seed), ``seed_index``,
``return`` / ``return_std`` (mean / std over ``eval_episodes`` of the deterministic policy's return
on the task's own reward), ``normalized_score`` (D4RL, ``100 · (return − random) / (expert −
random)`` with :func:`rlkit_jax.data.registry.reference_scores`; NaN for tasks without reference
returns, e.g. Pendulum-v1), ``train_return`` (mean task return of the training episodes that ended
since the previous evaluation — since the resume after one; NaN if none) and ``train_episodes``,
``train_success`` (share of those episodes whose last observation passes the task's success test,
:data:`rlkit_jax.rewards.success_examples.SUCCESS_TESTS`, e.g. Reacher-v5's fingertip within 0.02
of the target; NaN for tasks without one),
SAC's chunk-mean update metrics (``actor_loss``, ``alpha``, ``critic_loss``, ``entropy``, ``q_data``;
NaN before ``start_steps``), ``relabels`` (relabellings so far), and ``reward_<name>`` for each
metric the reward source reported (its latest value). Columns a reward source reports late are
added to the file then (earlier rows "nan").

Relabelling every stored transition whenever the reward model changes is PEBBLE's design (Lee et
al., `PEBBLE <https://arxiv.org/abs/2106.05091>`_, 2021, Sec. 4.2): the off-policy agent keeps its
whole replay buffer, consistent with the current reward.

Resume: env episodes do not survive a restart. A resumed run resets every env (with a seed derived
from the run seed, the seed index and the checkpoint step) and marks the last stored row of each
seed as a time-out, so the interrupted episode ends there in the replay. Everything else (agents,
replay, PRNG keys, reward source state) continues exactly; a resumed run is reproducible, but not
identical to an uninterrupted one.
"""
from __future__ import annotations

import csv
import dataclasses
import functools
import importlib
import json
import os
import time
from typing import Any, Callable, Mapping, Optional, Protocol, Sequence

import gymnasium as gym
import jax
import jax.numpy as jnp
import numpy as np
import tqdm

from rlkit_jax.training import core, evaluation, run_folder
from rlkit_jax.agents.common import agent_options
from rlkit_jax.agents.hyperparameters import check_hyperparameters
from rlkit_jax.agents.sac import SAC
from rlkit_jax.checkpoint import CheckpointError, Checkpointer, read_checkpoint
from rlkit_jax.data.registry import reference_scores
from rlkit_jax.data.dataset import DatasetError
from rlkit_jax.data.generate import _empty_arrays, _step
from rlkit_jax.data.transitions import Transitions
from rlkit_jax.distributions import tanh_gaussian_sample
from rlkit_jax.envs.evaluation import normalized_score
from rlkit_jax.envs.make import check_env_id, make_env
from rlkit_jax.rewards.success_examples import SUCCESS_TESTS
from rlkit_jax.training.divergence import DivergenceLog

RELABEL_CHUNK = 50_000  # rows per RewardSource.rewards call when relabelling (bounds memory)
SAC_METRICS = ("critic_loss", "q_data", "actor_loss", "entropy", "alpha")  # what SAC.update reports


# --------------------------------------------------------------------------------------------------
# The reward hook.


@dataclasses.dataclass(frozen=True)
class ReplayView:
  """Read-only view of the first ``size`` = n filled rows of every seed's replay, on the host.

  Arrays are NumPy views into the driver's buffers (not copies, marked non-writeable): read them,
  copy what you keep. Row t of seed i is seed i's t-th environment step.

  Attributes:
    observations: s_t, ``[S, n, O]`` float32.
    actions: a_t, ``[S, n, A]`` float32 in [-1, 1].
    env_rewards: the task's own reward r_t, ``[S, n]`` float32 (always stored, whatever the agent
      trains on: scripted teachers and reward-correlation metrics use it).
    terminals: s_{t+1} is a true termination, ``[S, n]`` bool.
    timeouts: the episode was truncated after row t (time limit, the end of the run, or a resume
      that restarted the env), and not terminal, ``[S, n]`` bool.
    next_observations: s_{t+1}, ``[S, n, O]`` float32 (the true successor, also at an episode end).
    size: n, environment steps so far (the same for every seed).
  """

  observations: np.ndarray
  actions: np.ndarray
  env_rewards: np.ndarray
  terminals: np.ndarray
  timeouts: np.ndarray
  next_observations: np.ndarray
  size: int

  @property
  def episode_ends(self) -> np.ndarray:
    """``[S, n]`` bool: row t is the last of its episode in this view — terminal, time-out, or the
    last filled row n - 1 (the data stops there; that episode may continue in later views).
    A new array on every access."""
    ends = self.terminals | self.timeouts
    if self.size:
      ends[:, -1] = True
    return ends


class RewardSource(Protocol):
  """Where the rewards the agent trains on come from.

  Implementations: :class:`TrueReward` (the task's reward); the success indicator
  (:class:`rlkit_jax.rewards.success_examples.SuccessReward`), preference-learned rewards (PEBBLE,
  Lee et al. 2021), goal classifiers and GAIL discriminators plug in the same way. Register a
  factory in :data:`REWARD_SOURCES` so ``--reward=NAME`` picks it.

  The driver calls :meth:`update` every ``update_every`` env steps, from the first chunk on (also
  during the ``start_steps`` of random actions, so a source can learn from that data), then
  :meth:`rewards` for the rows to label. ``rewards`` is called with n = ``update_every`` (the new
  rows) or n = the relabel chunk (``min(RELABEL_CHUNK, num_steps)`` rounded down to a multiple of
  ``update_every``; the last chunk is zero-padded and the padded rows' outputs discarded), so a
  jitted reward model compiles at most twice. Row i's reward must depend on row i only.

  Attributes:
    name: the registry name, recorded in ``config.json``/``summary.json``.
  """

  name: str

  def update(self, step: int, buffer: ReplayView, key: jax.Array) -> tuple[bool, Mapping[str, Any]]:
    """Called before every update chunk, after the chunk's new transitions are in ``buffer``.

    May learn (query labels, fit a model).

    Args:
      step: environment steps so far (= ``buffer.size``).
      buffer: the replay so far.
      key: a fresh typed PRNG key, never reused by the driver.

    Returns:
      ``(changed, metrics)``. ``changed=True``: the reward function changed, so the driver
      relabels every stored transition. ``metrics``: name → float (the same for every seed) or
      ``[S]`` array (per seed); logged as ``reward_<name>`` columns of ``metrics.csv`` (the latest
      value of each name at each evaluation).
    """
    ...

  def rewards(
      self, observations: np.ndarray, actions: np.ndarray, next_observations: np.ndarray, terminals: np.ndarray
  ) -> Any:
    """``[S, n, O]``, ``[S, n, A]``, ``[S, n, O]`` float32 and ``[S, n]`` bool (s' is a true
    termination; the agent does not bootstrap past it) → ``[S, n]`` rewards (NumPy or JAX array,
    cast to float32) for each seed's transitions; seed i's rows are labelled by seed i's model.

    A terminal row's label is all the agent will ever get after that step, so a source can fold
    the value of what follows a termination into it (the absorbing state of GAIL's discriminator
    reward, :class:`rlkit_jax.rewards.gail.DiscriminatorReward`)."""
    ...

  def state(self) -> Any:
    """A pytree of arrays to checkpoint (``{}`` if stateless); same structure every call."""
    ...

  def restore(self, state: Any) -> None:
    """Loads a pytree returned by :meth:`state` (with arrays restored from a checkpoint)."""
    ...


class TrueReward:
  """The task's own reward: the agent trains on the stored ``env_rewards``.

  The driver copies those for this source (``isinstance`` check) instead of calling
  :meth:`rewards`, since the task's reward is not a function the driver can evaluate on stored
  transitions in general.
  """

  name = "true"

  def update(self, step: int, buffer: ReplayView, key: jax.Array) -> tuple[bool, dict[str, float]]:
    del step, buffer, key
    return False, {}

  def rewards(self, observations, actions, next_observations, terminals):
    raise TypeError("TrueReward.rewards is not callable: the online driver uses the stored env rewards directly")

  def state(self) -> dict:
    return {}

  def restore(self, state: Any) -> None:
    del state


def _true_reward(**unused: Any) -> TrueReward:
  """The task's own reward (plain SAC)."""
  return TrueReward()


# name → factory, or "module:function" imported on first use (avoids import cycles for sources that
# import this module). The driver calls ``factory(config=OnlineConfig, env=gym.Env, observation_dim=O,
# action_dim=A, key=typed PRNG key)`` and expects a RewardSource; factories read their settings from
# ``config.reward_kwargs`` (JSON scalars, set by --reward_kwargs or reward-specific flags) and should
# accept ``**unused`` keywords. ``env`` is seed 0's training env, for its spaces and metadata only (do
# not step or reset it). Add an entry here, e.g. "pebble": "rlkit_jax.rewards.pebble:make_pebble".
REWARD_SOURCES: dict[str, Callable[..., RewardSource] | str] = {
    "true": _true_reward,
    "preferences": "rlkit_jax.rewards.pebble:make_preference_reward",
    "classifier": "rlkit_jax.rewards.goal_classifier:make_classifier_reward",
    "gail": "rlkit_jax.rewards.gail:make_gail_reward",
    "success": "rlkit_jax.rewards.success_examples:make_success_reward",
}


def reward_factory(name: str) -> Callable[..., RewardSource]:
  """The factory registered as ``name`` in :data:`REWARD_SOURCES` (importing a ``"module:function"``).

  Raises:
    ValueError: unknown name (the valid choices are listed).
  """
  if name not in REWARD_SOURCES:
    raise ValueError(f"--reward={name!r} is not a known reward source; valid choices: {', '.join(sorted(REWARD_SOURCES))}")
  factory = REWARD_SOURCES[name]
  if isinstance(factory, str):
    module, attr = factory.split(":")
    factory = getattr(importlib.import_module(module), attr)
  return factory


# --------------------------------------------------------------------------------------------------
# Configuration.


@dataclasses.dataclass(frozen=True)
class OnlineConfig:
  """Everything that defines an online run (defaults: SAC's MuJoCo settings, Haarnoja et al. 2018,
  Table 1: 256×256 networks, batch 256, Adam 3e-4, γ = 0.99, τ = 0.005, automatic entropy tuning).

  Attributes:
    env_id: gymnasium id of a task with a ``Box`` observation and action space.
    reward: a key of :data:`REWARD_SOURCES` (what the agent trains on; evaluation always uses the
      task's own return).
    seed: run seed (≥ 0); seed i's agent key is ``split(key, num_seeds)[i]``, its env is reset with
      a seed derived from ``(seed, i)``.
    num_seeds: S, trained together in one program.
    num_steps: environment steps per seed (= replay capacity; = SAC updates after ``start_steps``).
    start_steps: initial steps with uniformly random actions; updates start at the first chunk
      boundary ≥ ``start_steps``.
    update_every: env steps per host↔device round trip; that many SAC updates run per chunk.
    batch_size: SAC minibatch per seed and update.
    eval_every: env steps between evaluations (and the last step is always evaluated).
    eval_episodes: episodes per seed and evaluation (deterministic policy tanh(μ(s))).
    hidden_dims: hidden widths of actor and critics.
    checkpoint_every: env steps between checkpoints (None: ``eval_every``); the last step is
      always checkpointed.
    agent_kwargs: options of :meth:`SAC.create` (names from
      :func:`rlkit_jax.agents.common.agent_options`), cast to the default's type.
    reward_kwargs: settings of the reward source (JSON scalars), read by its factory.
  """

  env_id: str = "Hopper-v5"
  reward: str = "true"
  seed: int = 0
  num_seeds: int = 3
  num_steps: int = 1_000_000
  start_steps: int = 5_000
  update_every: int = 1_000
  batch_size: int = 256
  eval_every: int = 10_000
  eval_episodes: int = 5
  hidden_dims: Sequence[int] = (256, 256)
  checkpoint_every: Optional[int] = None
  agent_kwargs: Mapping[str, float] = dataclasses.field(default_factory=dict)
  reward_kwargs: Mapping[str, Any] = dataclasses.field(default_factory=dict)

  @property
  def checkpoint_interval(self) -> int:
    return self.eval_every if self.checkpoint_every is None else self.checkpoint_every

  def validate(self, *, check_reward: bool = True) -> None:
    """Raises ValueError naming the flag and the fix, before anything is made or compiled.

    Args:
      check_reward: check ``reward`` against :data:`REWARD_SOURCES` (off when the caller passes
        its own reward source object).
    """
    if check_reward and self.reward not in REWARD_SOURCES:
      raise ValueError(
          f"--reward={self.reward!r} is not a known reward source; valid choices: {', '.join(sorted(REWARD_SOURCES))}"
      )
    for name in ("num_seeds", "num_steps", "update_every", "batch_size", "eval_every", "eval_episodes"):
      if getattr(self, name) <= 0:
        raise ValueError(f"--{name} must be positive, got {getattr(self, name)}")
    if self.seed < 0:
      raise ValueError(f"--seed must be ≥ 0 (it seeds the environments), got {self.seed}")
    if self.start_steps < 0:
      raise ValueError(f"--start_steps must be ≥ 0, got {self.start_steps}")
    if self.checkpoint_every is not None and self.checkpoint_every <= 0:
      raise ValueError(f"checkpoint_every must be positive or None (= eval_every), got {self.checkpoint_every}")
    for name in ("num_steps", "eval_every", "checkpoint_interval"):
      if getattr(self, name) % self.update_every:
        flag = "checkpoint_every" if name == "checkpoint_interval" else name
        raise ValueError(
            f"--{flag}={getattr(self, name)} must be a multiple of --update_every={self.update_every} "
            "(evaluations and checkpoints happen between update chunks)"
        )
    if not self.hidden_dims or any(int(h) <= 0 for h in self.hidden_dims):
      raise ValueError(f"--hidden_dims must be positive widths, e.g. 256,256; got {list(self.hidden_dims)}")
    options = agent_options(SAC)
    for name, value in self.agent_kwargs.items():
      if name not in options:
        raise ValueError(f"--hparams: {name!r} is not an option of SAC; valid names: {', '.join(options)}")
      check_hyperparameters(SAC, {name: value}, flag="--hparams")
      if not isinstance(options[name], float) and value != int(value):
        raise ValueError(f"--hparams: {name} takes an integer, got {value}")
    try:
      json.dumps(dict(self.reward_kwargs))
    except TypeError as e:
      raise ValueError(f"reward_kwargs must hold JSON scalars (numbers, strings, bools): {e}") from e

  def sac_kwargs(self) -> dict[str, Any]:
    """``agent_kwargs`` cast to the type of each :meth:`SAC.create` option's default."""
    options = agent_options(SAC)
    return {name: type(options[name])(value) for name, value in self.agent_kwargs.items()}

  def to_json(self) -> dict[str, Any]:
    """JSON form (the checkpoint fingerprint and ``config.json``)."""
    out = dataclasses.asdict(self)
    out["hidden_dims"] = [int(h) for h in self.hidden_dims]
    out["agent_kwargs"] = dict(self.agent_kwargs)
    out["reward_kwargs"] = dict(self.reward_kwargs)
    return out


def check_env(env_id: str) -> tuple[int, int]:
  """Checks that SAC can run on ``env_id``; returns ``(observation_dim, action_dim)``.

  Raises:
    UnknownTaskError: gymnasium does not know the id (the message lists close matches).
    ValueError: the action space is ``Discrete`` (SAC needs a continuous ``Box``); the spaces are
      not flat ``Box`` spaces.
  """
  env = _make_checked_env(env_id)
  try:
    return env.observation_space.shape[0], env.action_space.shape[0]
  finally:
    env.close()


def _make_checked_env(env_id: str) -> gym.Env:
  check_env_id(env_id, where="--env")
  try:
    env = make_env(env_id)
  except gym.error.Error as e:
    raise ValueError(
        f"--env={env_id!r}: gymnasium cannot make this task ({type(e).__name__}: {e}); use a registered id such as "
        "Hopper-v5 or Pendulum-v1 (gymnasium.pprint_registry() lists them)"
    ) from e
  if isinstance(env.action_space, gym.spaces.Discrete):
    env.close()
    raise ValueError(
        f"--env={env_id}: its action space is {env.action_space}, but SAC needs continuous (Box) actions; "
        "choose a continuous-control task such as Hopper-v5 or Pendulum-v1"
    )
  observation_space = env.observation_space
  if not isinstance(observation_space, gym.spaces.Box) or len(observation_space.shape) != 1 or len(env.action_space.shape) != 1:
    env.close()
    raise ValueError(
        f"--env={env_id}: SAC here needs flat Box observations and actions, got {observation_space} and {env.action_space}"
    )
  return env


def _env_seed(seed: int, index: int, step: int) -> int:
  """Reset seed of env ``index`` starting (or restarting, on resume) at env step ``step``."""
  return int(np.random.SeedSequence([seed, index, step]).generate_state(1)[0])


# --------------------------------------------------------------------------------------------------
# Jitted pieces (module level, so runs of one configuration share compilations).


@functools.partial(jax.jit, static_argnames=("explore",))
def _act(actor: Any, observations: jax.Array, keys: jax.Array, *, explore: bool) -> tuple[jax.Array, jax.Array]:
  """Every seed's exploration action: actors ``[S]``, observations ``[S, O]``, keys ``[S]`` →
  (actions ``[S, A]`` float32 in (-1, 1), next keys ``[S]``); uniform when ``explore``."""

  def one(actor, observation, key):
    key, sample_key = jax.random.split(key)
    means, log_stds = actor.apply_fn({"params": actor.params}, observation[None])
    if explore:
      action = jax.random.uniform(sample_key, means.shape[1:], jnp.float32, -1.0, 1.0)
    else:
      action = tanh_gaussian_sample(sample_key, means, log_stds)[0][0]
    return action, key

  return jax.vmap(one)(actor, observations, keys)


@functools.partial(jax.jit, donate_argnums=(0,))
def _insert_rows(buffer: Transitions, chunk: Transitions, start: jax.Array) -> Transitions:
  """Writes ``chunk`` (leaves ``[S, k, ...]``) into rows ``[start, start + k)`` of ``buffer`` (``[S, N, ...]``)."""
  return jax.tree.map(lambda b, c: jax.lax.dynamic_update_slice_in_dim(b, c, start, 1), buffer, chunk)


# --------------------------------------------------------------------------------------------------
# Host-side helpers.


def _empty_host(num_seeds: int, num_steps: int, env: gym.Env) -> dict[str, np.ndarray]:
  """:func:`rlkit_jax.data.generate._empty_arrays`' layout with a leading seed axis ``[S, N, ...]``;
  ``rewards`` are the task's own."""
  return {k: np.zeros((num_seeds,) + v.shape, v.dtype) for k, v in _empty_arrays(num_steps, env).items()}


def _view(host: Mapping[str, np.ndarray], size: int) -> ReplayView:
  def part(name):
    array = host[name][:, :size]
    array.flags.writeable = False
    return array

  return ReplayView(
      observations=part("observations"),
      actions=part("actions"),
      env_rewards=part("rewards"),
      terminals=part("terminals"),
      timeouts=part("timeouts"),
      next_observations=part("next_observations"),
      size=size,
  )


def _labels(source: RewardSource, host: Mapping[str, np.ndarray], start: int, stop: int, pad_to: int) -> np.ndarray:
  """The rewards ``[S, stop - start]`` float32 of host rows ``[start, stop)`` under ``source``
  (zero-padding the call to ``pad_to`` rows)."""
  if isinstance(source, TrueReward):
    return host["rewards"][:, start:stop].copy()
  n = stop - start
  parts = []
  for name in ("observations", "actions", "next_observations", "terminals"):
    rows = host[name][:, start:stop]
    if pad_to > n:
      rows = np.concatenate([rows, np.zeros((rows.shape[0], pad_to - n) + rows.shape[2:], rows.dtype)], axis=1)
    parts.append(rows)
  out = np.asarray(source.rewards(*parts), dtype=np.float32)
  expected = (parts[0].shape[0], parts[0].shape[1])
  if out.shape != expected:
    raise ValueError(f"reward source {source.name!r}: rewards() returned shape {out.shape}, expected [S, n] = {expected}")
  out = out[:, :n]
  if not np.all(np.isfinite(out)):
    raise ValueError(f"reward source {source.name!r}: rewards() returned non-finite values at env steps {start}..{stop}")
  return out


def _relabel_all(source: RewardSource, host: Mapping[str, np.ndarray], size: int, chunk: int) -> np.ndarray:
  """Rewards ``[S, N]`` float32 of every filled row (zero beyond ``size``), ``chunk`` rows per call."""
  out = np.zeros(host["rewards"].shape, np.float32)
  for start in range(0, size, chunk):
    stop = min(size, start + chunk)
    out[:, start:stop] = _labels(source, host, start, stop, pad_to=chunk)
  return out


def _per_seed(value: Any, num_seeds: int, name: str) -> np.ndarray:
  array = np.asarray(jax.device_get(value), dtype=np.float64)
  if array.ndim == 0:
    return np.full(num_seeds, float(array))
  if array.shape == (num_seeds,):
    return array
  raise ValueError(f"reward source metric {name!r}: expected a float or a [S={num_seeds}] array, got shape {array.shape}")


# --------------------------------------------------------------------------------------------------
# The driver.


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
    progress: bool = True,
) -> dict[str, Any]:
  """Trains S seeds of SAC online as one compiled program; :func:`train_online` without the state.

  Returns:
    The summary also written to ``workdir/summary.json``.
  """
  return train_online(config, workdir, resume=resume, reward_source=reward_source, progress=progress).summary


def train_online(
    config: OnlineConfig,
    workdir: str,
    *,
    resume: bool = False,
    reward_source: Optional[RewardSource] = None,
    progress: bool = True,
) -> OnlineRun:
  """Trains S seeds of SAC (Haarnoja et al. 2018) online, each in its own env, on the rewards of
  a :class:`RewardSource`; logs, checkpoints and resumes (see the module docstring for the loop).

  Args:
    config: the run's settings.
    workdir: output folder (created): ``config.json``, ``metrics.csv``, ``summary.json``,
      ``checkpoints/``.
    resume: continue from the newest checkpoint in ``workdir`` (same settings required); the envs
      restart with a fresh reset (module docstring); rows of ``metrics.csv`` logged after that
      checkpoint are dropped.
    reward_source: use this object instead of building ``config.reward`` from
      :data:`REWARD_SOURCES`; its ``name`` must equal ``config.reward`` (the name recorded).
    progress: show a tqdm bar (env steps; latest mean evaluation return).

  Returns:
    An :class:`OnlineRun`. ``summary``: final evaluation ``return_*`` and ``normalized_score_*``
    (per seed, mean, std over seeds; scores NaN where the task has no D4RL reference returns),
    ``wall_time_s``, ``env_steps_per_s`` (per seed; × S for all envs), ``relabels``, and the keys
    :func:`rlkit_jax.results.load_curves` reads (``algo`` = ``"sac_<reward>"``, ``dataset`` = the
    env id, ``settings``, ``num_seeds``, ``dataset_normalized_score`` = NaN).

  Raises:
    ValueError: a bad setting, an unknown ``--reward``, an env gymnasium cannot make or without a
      continuous action space, a reward source whose name differs from ``config.reward``, or whose
      ``rewards()`` have the wrong shape or non-finite values.
    CheckpointError: ``workdir`` holds checkpoints and ``resume`` is False; a checkpoint of other
      settings, or a corrupt one.
  """
  config.validate(check_reward=reward_source is None)
  if reward_source is not None and reward_source.name != config.reward:
    raise ValueError(
        f"reward_source.name={reward_source.name!r} differs from OnlineConfig.reward={config.reward!r}; "
        f"set OnlineConfig(reward={reward_source.name!r}) so the run folder records what it trained on"
    )
  envs = [_make_checked_env(config.env_id) for _ in range(config.num_seeds)]
  try:
    return _train(config, workdir, envs, resume=resume, reward_source=reward_source, progress=progress)
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
    progress: bool,
) -> OnlineRun:
  num_seeds, num_steps, update_every = config.num_seeds, config.num_steps, config.update_every
  observation_dim, action_dim = envs[0].observation_space.shape[0], envs[0].action_space.shape[0]
  try:
    ref_min, ref_max = reference_scores(config.env_id)
  except DatasetError:
    ref_min = ref_max = float("nan")  # no D4RL reference returns: normalized_score is NaN

  key = jax.random.key(config.seed)
  agent_key, act_key, update_key, reward_key, source_key = jax.random.split(key, 5)
  if reward_source is None:  # first: it reads its input files (demonstrations, examples) before anything compiles
    reward_source = reward_factory(config.reward)(
        config=config, env=envs[0], observation_dim=observation_dim, action_dim=action_dim, key=source_key
    )
  create = functools.partial(
      SAC.create, observation_dim=observation_dim, action_dim=action_dim,
      hidden_dims=tuple(int(h) for h in config.hidden_dims), **config.sac_kwargs(),
  )
  agents = core.create_runs(create, jax.random.split(agent_key, num_seeds))
  act_keys = jax.random.split(act_key, num_seeds)
  update_keys = jax.random.split(update_key, num_seeds)
  relabel_chunk = max(update_every, min(RELABEL_CHUNK, num_steps) // update_every * update_every)
  host = _empty_host(num_seeds, num_steps, envs[0])

  os.makedirs(workdir, exist_ok=True)
  checkpointer = Checkpointer(os.path.join(workdir, "checkpoints"), config.to_json())
  metrics_path = os.path.join(workdir, "metrics.csv")
  step, elapsed_before, relabels = 0, 0.0, 0
  divergence = DivergenceLog(num_seeds)
  labels = np.zeros((num_seeds, num_steps), np.float32)  # the device buffer's rewards, on restore
  reward_metrics: dict[str, np.ndarray] = {}
  saved_step = checkpointer.latest_step()
  if saved_step is not None:
    if not resume:
      raise CheckpointError(
          f"{workdir}: already holds checkpoints (step {saved_step}); pass --resume to continue that run or choose "
          "another --workdir"
      )
    like = functools.partial(_checkpoint_state, agents, act_keys, update_keys, reward_key, reward_source, host, labels)
    step, saved, extra = checkpointer.restore(like)
    agents, act_keys, update_keys, reward_key = saved["agents"], saved["act_keys"], saved["update_keys"], saved["reward_key"]
    divergence = DivergenceLog(num_seeds, extra.get("diverged", []))
    if "reward_source" in saved:
      reward_source.restore(saved["reward_source"])
    for name, array in saved["host"].items():
      host[name][:, :step] = array
    labels[:, :step] = saved["rewards"]
    # The interrupted episodes end here: the envs restart with a fresh reset.
    host["timeouts"][:, step - 1] |= ~host["terminals"][:, step - 1]
    elapsed_before = float(extra.get("elapsed_s", 0.0))
    relabels = int(extra.get("relabels", 0))
    reward_metrics = {k: np.asarray(v, np.float64) for k, v in extra.get("reward_metrics", {}).items()}
    run_folder.truncate_rows(metrics_path, step)
  elif os.path.exists(metrics_path):
    os.remove(metrics_path)  # logs of a run that never reached its first checkpoint
  # Committed to one device either way (restored arrays are), so a resumed run in the same process
  # reuses the compiled programs.
  agents, act_keys, update_keys = jax.device_put((agents, act_keys, update_keys), jax.devices()[0])
  run_folder.write_json(
      os.path.join(workdir, "config.json"),
      {**config.to_json(), "reward_source": reward_source.name, "sac_hyperparameters": {**agent_options(SAC), **config.sac_kwargs()}},
  )

  buffer = Transitions(
      observations=jnp.asarray(host["observations"]),
      actions=jnp.asarray(host["actions"]),
      rewards=jnp.asarray(labels),
      terminals=jnp.asarray(host["terminals"].astype(np.float32)),
      next_observations=jnp.asarray(host["next_observations"]),
  )
  del labels
  seed_rows = [{k: v[i] for k, v in host.items()} for i in range(num_seeds)]  # views, written by _step
  observations = np.stack([env.reset(seed=_env_seed(config.seed, i, step))[0] for i, env in enumerate(envs)])
  episode_returns = np.zeros(num_seeds)
  finished: list[list[float]] = [[] for _ in range(num_seeds)]
  success_test = SUCCESS_TESTS.get(config.env_id)  # judged on an episode's last observation
  successes: list[list[float]] = [[] for _ in range(num_seeds)]
  sac_metrics: dict[str, np.ndarray] = {name: np.full(num_seeds, np.nan) for name in SAC_METRICS}
  start_step, last_returns = step, None
  started = time.time()
  eval_seconds = 0.0
  bar = tqdm.tqdm(
      total=num_steps, initial=step, desc=f"SAC[{reward_source.name}] {config.env_id}", disable=not progress, mininterval=5
  )
  while step < num_steps:
    # Act for one chunk.
    for t in range(step, step + update_every):
      actions, act_keys = _act(agents.actor, jnp.asarray(observations, jnp.float32), act_keys, explore=t < config.start_steps)
      actions = np.asarray(actions)
      for i, env in enumerate(envs):
        observations[i], reward, done = _step(env, seed_rows[i], t, observations[i], actions[i], cut=t == num_steps - 1)
        episode_returns[i] += reward
        if done:
          finished[i].append(float(episode_returns[i]))
          if success_test is not None:
            successes[i].append(float(success_test(seed_rows[i]["next_observations"][t])))
          episode_returns[i] = 0.0
    chunk_start, step = step, step + update_every
    bar.update(update_every)

    # Reward source, labels, device buffer.
    reward_key, key_now = jax.random.split(reward_key)
    changed, new_metrics = reward_source.update(step, _view(host, step), key_now)
    reward_metrics.update({name: _per_seed(v, num_seeds, name) for name, v in new_metrics.items()})
    if changed:  # relabel every stored row (PEBBLE, Lee et al. 2021, Sec. 4.2), the new ones included
      relabels += 1
      all_rewards = _relabel_all(reward_source, host, step, relabel_chunk)
      buffer = buffer.replace(rewards=jnp.asarray(all_rewards))
      chunk_rewards = all_rewards[:, chunk_start:step]
    else:
      chunk_rewards = _labels(reward_source, host, chunk_start, step, pad_to=update_every)
    chunk = Transitions(
        observations=host["observations"][:, chunk_start:step],
        actions=host["actions"][:, chunk_start:step],
        rewards=chunk_rewards,
        terminals=host["terminals"][:, chunk_start:step].astype(np.float32),
        next_observations=host["next_observations"][:, chunk_start:step],
    )
    buffer = _insert_rows(buffer, jax.tree.map(jnp.asarray, chunk), jnp.asarray(chunk_start))

    # SAC updates.
    if step >= config.start_steps:
      agents, update_keys, metrics, active = core.update_runs(
          agents, update_keys, jnp.asarray(divergence.active), buffer, jnp.asarray(step), batch_size=config.batch_size,
          num_updates=update_every, data_per_run=True,
      )
      sac_metrics = {name: np.asarray(value, np.float64) for name, value in jax.device_get(metrics).items()}
      for event in divergence.update(step, jax.device_get(active), sac_metrics):
        bar.write(f"warning: {event.describe(f'seed {event.run}', 'env step')}; it keeps its last finite state")

    # Evaluation, logging, checkpoint.
    if step % config.eval_every == 0 or step == num_steps:
      eval_start = time.time()
      returns = evaluation.evaluate_agents(
          agents, config.env_id, episodes_per_seed=config.eval_episodes, seed=config.seed * 1_000_003 + step
      )
      eval_seconds += time.time() - eval_start
      last_returns = returns.mean(axis=1)
      scores = normalized_score(last_returns, ref_min, ref_max)
      rows = [
          {
              "step": step,
              "seed_index": i,
              "return": float(last_returns[i]),
              "return_std": float(returns[i].std()),
              "normalized_score": float(scores[i]),
              "train_return": float(np.mean(finished[i])) if finished[i] else float("nan"),
              "train_episodes": len(finished[i]),
              "train_success": float(np.mean(successes[i])) if successes[i] else float("nan"),
              **{name: float(v[i]) for name, v in sac_metrics.items()},
              "relabels": relabels,
              **{f"reward_{name}": float(v[i]) for name, v in sorted(reward_metrics.items())},
          }
          for i in range(num_seeds)
          if divergence.active[i]
      ]
      if rows:
        run_folder.append_rows(metrics_path, rows)
      finished = [[] for _ in range(num_seeds)]
      successes = [[] for _ in range(num_seeds)]
      kept = divergence.active
      if kept.any():
        bar.set_postfix(eval_return=f"{last_returns[kept].mean():.1f}", alpha=f"{np.mean(sac_metrics['alpha'][kept]):.3f}")
    if step % config.checkpoint_interval == 0 or step == num_steps:
      state = _checkpoint_state(agents, act_keys, update_keys, reward_key, reward_source, host, buffer.rewards, step)
      extra = {
          "elapsed_s": elapsed_before + time.time() - started,
          "relabels": relabels,
          "reward_metrics": {k: [float(x) for x in v] for k, v in reward_metrics.items()},
          "diverged": divergence.to_json(),
      }
      checkpointer.save(step, state, extra)
  bar.close()
  checkpointer.close()
  wall = elapsed_before + time.time() - started
  if last_returns is None:  # resumed a finished run: report its last logged evaluation
    with open(metrics_path, newline="") as f:
      last_returns = np.full(num_seeds, np.nan)
      for r in csv.DictReader(f):
        if int(r["step"]) == num_steps:
          last_returns[int(r["seed_index"])] = float(r["return"])
  scores = normalized_score(last_returns, ref_min, ref_max)
  steps_done = step - start_step
  run_seconds = time.time() - started
  summary = {
      "algo": f"sac_{reward_source.name}",
      "dataset": config.env_id,
      "env_id": config.env_id,
      "reward": reward_source.name,
      "num_seeds": num_seeds,
      "num_steps": num_steps,
      **run_folder.summarise(last_returns, "return", divergence.active),
      **run_folder.summarise(scores, "normalized_score", divergence.active),
      "settings": [{"hyperparameters": {}, **run_folder.summarise(scores, "normalized_score", divergence.active)}],
      "diverged": [
          {**event.to_json(), "seed_index": event.run, "message": event.describe(f"seed {event.run}", "env step")}
          for event in (divergence.get(i) for i in sorted(divergence.records))
      ],
      "dataset_normalized_score": float("nan"),
      "ref_min_score": ref_min,
      "ref_max_score": ref_max,
      "relabels": relabels,
      "wall_time_s": wall,
      "eval_time_s": eval_seconds,
      "env_steps_per_s": steps_done / run_seconds if steps_done else None,
      "env_steps_per_s_excluding_eval": steps_done / (run_seconds - eval_seconds) if steps_done else None,
  }
  run_folder.write_json(os.path.join(workdir, "summary.json"), summary)
  return OnlineRun(summary=summary, agents=agents, buffer=buffer, replay=_view(host, step), reward_source=reward_source)


def _checkpoint_state(agents, act_keys, update_keys, reward_key, reward_source, host, rewards, step: int) -> dict[str, Any]:
  """The pytree a checkpoint holds: agents, keys, the first ``step`` rows of the host replay and of
  the device buffer's rewards, and the reward source's state (left out when it has no leaves)."""
  state = {
      "agents": agents,
      "act_keys": act_keys,
      "update_keys": update_keys,
      "reward_key": reward_key,
      "host": {name: np.ascontiguousarray(array[:, :step]) for name, array in host.items()},
      "rewards": np.asarray(rewards[:, :step]),
  }
  source_state = reward_source.state()
  if jax.tree.leaves(source_state):
    state["reward_source"] = source_state
  return state


# --------------------------------------------------------------------------------------------------
# Reading run folders back.


def load_metrics(workdir: str, column: str = "return") -> tuple[np.ndarray, np.ndarray]:
  """One logged column of a run folder's ``metrics.csv`` as ``(steps [T] int, values [T, S] float64)``.

  Raises:
    FileNotFoundError: no ``metrics.csv`` (the run never reached an evaluation).
    KeyError: the file has no such column (the message lists the columns).
  """
  path = os.path.join(workdir, "metrics.csv")
  with open(path, newline="") as f:
    rows = list(csv.DictReader(f))
  if rows and column not in rows[0]:
    raise KeyError(f"{path}: no column {column!r}; columns: {', '.join(rows[0])}")
  steps = sorted({int(r["step"]) for r in rows})
  num_seeds = 1 + max((int(r["seed_index"]) for r in rows), default=-1)
  values = np.full((len(steps), num_seeds), np.nan)
  for r in rows:
    values[steps.index(int(r["step"])), int(r["seed_index"])] = float(r[column])
  return np.asarray(steps), values


def load_replay(workdir: str) -> ReplayView:
  """The replay a run folder's newest checkpoint holds — every state the S seeds visited up to that
  step, for inspecting what the policies did (e.g. where episodes ended).

  Returns:
    A :class:`ReplayView` of ``size`` = the checkpoint's step (the whole run once it finished);
    ``env_rewards`` are the task's own, whatever the agent trained on.

  Raises:
    CheckpointError: the folder has no readable checkpoint, or one without a replay.
  """
  step, state, _ = read_checkpoint(os.path.join(workdir, "checkpoints"))
  names = ("observations", "actions", "rewards", "terminals", "timeouts", "next_observations")
  host = state.get("host", {}) if isinstance(state, Mapping) else {}
  missing = [name for name in names if name not in host]
  if missing:
    raise CheckpointError(f"{workdir}: checkpoint {step} holds no replay ({', '.join(missing)} missing); is it an online run folder?")
  host = {name: np.asarray(host[name]) for name in names}
  host["terminals"], host["timeouts"] = host["terminals"].astype(bool), host["timeouts"].astype(bool)
  return _view(host, step)


def plot(
    workdirs: Sequence[str],
    path: str,
    *,
    column: str = "return",
    labels: Optional[Sequence[str]] = None,
    title: Optional[str] = None,
    levels: Optional[Mapping[str, float]] = None,
) -> str:
  """Learning curves of several online run folders in one PNG: ``column`` (default the evaluation
  return on the task's own reward) against env steps, mean ± std over seeds (population std).

  Args:
    workdirs: run folders written by :func:`run_online` (e.g. SAC on a learned reward and SAC on
      the true reward).
    path: the PNG to write.
    column: a ``metrics.csv`` column (``return``, ``normalized_score``, ``train_return``, ...).
    labels: legend entries, one per folder; default ``"SAC, <reward> reward"`` from its
      ``config.json`` (with the folder name appended when two would be equal).
    title: default the env ids.
    levels: label → value of reference levels drawn as dashed horizontal lines (e.g. the
      demonstrator's return and behaviour cloning's, for imitation runs).

  Returns:
    ``path``.
  """
  import matplotlib

  matplotlib.use("Agg")
  import matplotlib.pyplot as plt

  configs = []
  for workdir in workdirs:
    with open(os.path.join(workdir, "config.json")) as f:
      configs.append(json.load(f))
  if labels is None:
    labels = [f"SAC, {c.get('reward_source', c.get('reward'))} reward" for c in configs]
    if len(set(labels)) < len(labels):
      labels = [f"{label} ({os.path.basename(os.path.normpath(w))})" for label, w in zip(labels, workdirs)]
  fig, ax = plt.subplots(figsize=(5.5, 3.8))
  for workdir, label, c in zip(workdirs, labels, configs):
    steps, values = load_metrics(workdir, column)
    mean, std = np.nanmean(values, axis=1), np.nanstd(values, axis=1)
    line = ax.plot(steps, mean, label=f"{label} (n={values.shape[1]})")[0]
    ax.fill_between(steps, mean - std, mean + std, alpha=0.2, color=line.get_color())
  for i, (label, value) in enumerate((levels or {}).items()):
    ax.axhline(value, linestyle=("--", ":", "-.")[i % 3], color="0.3", linewidth=1, label=label)
  ax.set_xlabel("environment steps (per seed)")
  ax.set_ylabel({"return": "evaluation return (task reward)"}.get(column, column))
  ax.set_title(title or ", ".join(sorted({c["env_id"] for c in configs})), fontsize=10)
  ax.legend(fontsize=8)
  fig.tight_layout()
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  fig.savefig(path, dpi=110)
  plt.close(fig)
  return path
