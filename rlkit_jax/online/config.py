"""The online job's settings (:class:`OnlineConfig`) and the checks on its task."""
from __future__ import annotations

import dataclasses
import json
from typing import Any, Mapping, Optional, Sequence

import gymnasium as gym
import numpy as np

from rlkit_jax.agents.common import agent_options
from rlkit_jax.agents.hyperparameters import check_hyperparameters, check_option_value
from rlkit_jax.agents.sac import SAC
from rlkit_jax.envs.make import check_env_id, make_env
from rlkit_jax.rewards.base import REWARD_SOURCES


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
      check_option_value(name, options[name], value)
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
  env = make_checked_env(env_id)
  try:
    return env.observation_space.shape[0], env.action_space.shape[0]
  finally:
    env.close()


def make_checked_env(env_id: str) -> gym.Env:
  """Makes ``env_id`` for SAC (the caller closes it).

  Raises:
    UnknownTaskError: gymnasium does not know the id.
    ValueError: gymnasium cannot make it, its actions are ``Discrete``, or its spaces are not flat ``Box`` spaces.
  """
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


def env_seed(seed: int, index: int, step: int) -> int:
  """Reset seed of env ``index`` starting (or restarting, on resume) at env step ``step``."""
  return int(np.random.SeedSequence([seed, index, step]).generate_state(1)[0])
