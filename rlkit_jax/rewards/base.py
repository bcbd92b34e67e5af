"""The reward hook of the online job: where the rewards an agent trains on come from.

:class:`RewardSource` is the protocol (learn from the replay, label transitions, checkpoint its
state); :class:`ReplayView` is what a source sees of the replay; :class:`TrueReward` is the task's
own reward; :data:`REWARD_SOURCES` maps ``--reward`` names to factories. The online job
(:mod:`rlkit_jax.online`) calls a source; the sources of this package (preferences, goal
classifiers, GAIL, success examples) implement it.
"""
from __future__ import annotations

import dataclasses
import importlib
from typing import Any, Callable, Mapping, Protocol

import jax
import numpy as np


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
  (:class:`rlkit_jax.rewards.success_tests.SuccessReward`), preference-learned rewards (PEBBLE,
  Lee et al. 2021), goal classifiers and GAIL discriminators plug in the same way. Register a
  factory in :data:`REWARD_SOURCES` so ``--reward=NAME`` picks it.

  The driver calls :meth:`update` every ``update_every`` env steps, from the first chunk on (also
  during the ``start_steps`` of random actions, so a source can learn from that data), then
  :meth:`rewards` for the rows to label. ``rewards`` is called with n = ``update_every`` (the new
  rows) or n = the relabel chunk (``min(RELABEL_CHUNK, num_steps)`` rounded down to a multiple of
  ``update_every``; the last chunk is zero-padded and the padded rows' outputs discarded), so a
  jitted reward model compiles at most twice. Row i's reward must depend on row i only.

  A source may also define ``settings() -> dict``: its options as resolved, defaults included
  (JSON values); the run's ``config.json`` records them as ``reward_settings``
  (:func:`reward_settings`).

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


# name → factory, or "module:function" imported on first use (a source's module loads only when
# it is chosen). The driver calls ``factory(config=OnlineConfig, env=gym.Env, observation_dim=O,
# action_dim=A, key=typed PRNG key)`` and expects a RewardSource; factories read their settings from
# ``config.reward_kwargs`` (JSON scalars, set by --reward_kwargs or reward-specific flags) and should
# accept ``**unused`` keywords. ``env`` is seed 0's training env, for its spaces and metadata only (do
# not step or reset it). Add an entry here, e.g. "pebble": "rlkit_jax.rewards.pebble:make_pebble".
REWARD_SOURCES: dict[str, Callable[..., RewardSource] | str] = {
    "true": _true_reward,
    "preferences": "rlkit_jax.rewards.pebble:make_preference_reward",
    "classifier": "rlkit_jax.rewards.goal_classifier:make_classifier_reward",
    "gail": "rlkit_jax.rewards.gail:make_gail_reward",
    "success": "rlkit_jax.rewards.success_tests:make_success_reward",
}


def reward_settings(source: RewardSource) -> dict[str, Any]:
  """``source.settings()`` where the source defines it, else ``{}`` (its options are all in ``reward_kwargs``)."""
  settings = getattr(source, "settings", None)
  return dict(settings()) if callable(settings) else {}


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


_INT_LISTS = ("hidden_dims", "features")  # written "256-256" (or one number) in --reward_kwargs


_INT_LISTS = ("hidden_dims", "features")  # written "256-256" (or one number) in --reward_kwargs


def host_rng(key: jax.Array) -> np.random.Generator:
  """A NumPy generator seeded by a typed JAX key's data, for a reward source's host-side sampling
  (deterministic given the key; the key itself is consumed)."""
  return np.random.default_rng(np.asarray(jax.random.key_data(key)).ravel())


def parse_reward_kwargs(reward: str, reward_kwargs: Mapping[str, Any], types: Mapping[str, type]) -> dict[str, Any]:
  """Checks ``--reward_kwargs`` of ``--reward=<reward>`` against ``types`` (name → type) and returns
  them as a new dict, with ``hidden_dims`` / ``features`` written ``"256-256"`` (or one number)
  parsed to a tuple of ints.

  Raises:
    ValueError: an unknown name (the valid ones are listed) or a value of the wrong type.
  """
  kwargs = dict(reward_kwargs)
  unknown = sorted(set(kwargs) - set(types))
  if unknown:
    raise ValueError(f"--reward={reward}: unknown reward_kwargs {unknown}; valid names: {', '.join(types)}")
  for name, value in kwargs.items():
    want = types[name]
    ok = isinstance(value, want) and not (want is int and isinstance(value, bool))
    ok |= want is float and isinstance(value, int) and not isinstance(value, bool)  # 1 for 1.0
    ok |= name in _INT_LISTS and isinstance(value, int) and not isinstance(value, bool)  # one: hidden_dims=64
    if not ok:
      raise ValueError(f"--reward_kwargs: {name}={value!r} must be a {want.__name__}")
  for name in _INT_LISTS:
    if name in kwargs:
      try:
        kwargs[name] = tuple(int(h) for h in str(kwargs[name]).split("-"))
      except ValueError:
        raise ValueError(f"--reward_kwargs: {name}={kwargs[name]!r}: write integers joined by '-', e.g. 256-256")
  return kwargs
