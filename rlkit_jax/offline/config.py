"""The offline job's settings: the ``--algo`` choices (:data:`ALGOS`), :class:`OfflineConfig`, and
what the data goes through before an algorithm trains on it (:func:`prepare_dataset`)."""
from __future__ import annotations

import dataclasses
import functools
import inspect
from typing import Any, Mapping, Optional, Sequence

import numpy as np

from rlkit_jax import data as data_lib
from rlkit_jax.agents import AWAC, AWR, BC, CQL, DQN, EDAC, IQL, SACN, TD3BC, DecisionTransformer, ReBRAC, RvS, RvSG
from rlkit_jax.agents.common import agent_options, numeric_hyperparameters
from rlkit_jax.agents.hyperparameters import check_hyperparameters, check_option_value
from rlkit_jax.data import preprocessing
from rlkit_jax.errors import UsageError
from rlkit_jax.offline import data_checks
from rlkit_jax.training import core

DEFAULT_DATASET = "hopper-medium-replay-v5"


@dataclasses.dataclass(frozen=True)
class Algorithm:
  """One ``--algo`` choice: the agent class that trains and what the data goes through first.

  Attributes:
    agent_class: the agent (``create`` and a pure ``update``).
    summary: one line for ``--help`` and error messages.
    filter_trajectories: train on the top ``OfflineConfig.top_fraction`` of trajectories by
      return (filtered BC).
  """

  agent_class: type
  summary: str
  filter_trajectories: bool = False

  @property
  def discrete(self) -> bool:
    return self.agent_class.action_space == "discrete"


ALGOS: dict[str, Algorithm] = {
    "awac": Algorithm(AWAC, "AWAC: TD critic with a' ~ π, advantage-weighted actor (Nair et al. 2020)"),
    "awr": Algorithm(AWR, "AWR: Monte Carlo value, advantage-weighted actor (Peng et al. 2019)"),
    "bc": Algorithm(BC, "behaviour cloning (maximum likelihood)"),
    "cql": Algorithm(CQL, "CQL(H) on SAC, continuous actions (Kumar et al. 2020)"),
    "dqn": Algorithm(DQN, "Double DQN, plus the discrete CQL(H) penalty when cql_alpha > 0 (discrete actions)"),
    "dt": Algorithm(DecisionTransformer, "Decision Transformer: a causal transformer over return, state, action (Chen et al. 2021)"),
    "edac": Algorithm(EDAC, "EDAC: SAC-N plus the ensemble gradient-diversity term (An et al. 2021)"),
    "filtered_bc": Algorithm(BC, "BC on the top --top_fraction of trajectories by return", filter_trajectories=True),
    "iql": Algorithm(IQL, "Implicit Q-learning (Kostrikov et al. 2021)"),
    "rebrac": Algorithm(ReBRAC, "ReBRAC: TD3+BC with LayerNorm critics and actor and critic BC penalties (Tarasov et al. 2023)"),
    "rvs": Algorithm(RvS, "RvS-R: return-conditioned imitation of every transition (Emmons et al. 2021)"),
    "rvs_g": Algorithm(RvSG, "RvS-G: goal-conditioned imitation with hindsight goals, goal datasets only (Emmons et al. 2021)"),
    "sac_n": Algorithm(SACN, "SAC-N: SAC with N critics and the minimum over N (An et al. 2021)"),
    "td3_bc": Algorithm(TD3BC, "TD3+BC (Fujimoto & Gu 2021)"),
}


@dataclasses.dataclass(frozen=True)
class OfflineConfig:
  """Everything that defines an offline run (defaults: IQL's D4RL locomotion settings).

  Attributes:
    algo: a key of :data:`ALGOS`.
    dataset: a dataset name (D4RL or generated) or an HDF5 path; see :func:`rlkit_jax.data.load`.
    seed: run seed; seed i of the run is ``split(key(seed), num_seeds)[i]`` (in every setting).
    num_seeds: S, trained together in one program.
    num_updates: gradient updates per seed.
    batch_size: minibatch size per seed.
    eval_every: updates between evaluations (each also writes a checkpoint).
    checkpoint_every: updates between further checkpoints, for long runs that may be stopped
      between evaluations (a multiple of ``updates_per_call``); None: only at evaluations. It is
      not part of the checkpoint fingerprint, so a run may resume with another value.
    eval_episodes: episodes per seed and evaluation.
    updates_per_call: updates of every run per compiled call (one host round-trip; the progress
      bar refreshes after each); divides ``eval_every`` and ``num_updates``.
    hidden_dims: hidden widths of every network.
    reward_scaling: see :func:`rlkit_jax.data.preprocessing.scale_rewards` (not applied for agents
      that read no reward: BC, %BC, RvS, DT).
    agent_kwargs: fixed options forwarded to ``Agent.create`` (names from
      :func:`rlkit_jax.agents.common.agent_options`: numeric hyperparameters, and static counts
      and switches, cast to the default's type); the rest keep the agent's defaults.
    sweep: name → values; every combination (Cartesian product, H settings) × every seed trains in
      the same program, the values vmapped as leaves of the agents.
    top_fraction: share of trajectories (by return) that filtered BC keeps.
    reward_model: a reward model folder (:func:`rlkit_jax.rewards.save_reward_model`, e.g. from
      ``experiments/learn_reward.py``); if set, the dataset's rewards are replaced by the model's
      normalised reward before reward scaling. Evaluation still reports the task's own return.
      Refused (ValueError) for ``bc``, which never reads a reward.
    env_id: the gymnasium task the dataset was collected on, for a file that names none (see
      :func:`rlkit_jax.data.load`); None: the dataset's own.
  """

  algo: str = "iql"
  dataset: str = DEFAULT_DATASET
  seed: int = 0
  num_seeds: int = 3
  num_updates: int = 60_000
  batch_size: int = 256
  eval_every: int = 10_000
  eval_episodes: int = 5
  updates_per_call: int = 1_000
  checkpoint_every: Optional[int] = None
  hidden_dims: Sequence[int] = (256, 256)
  reward_scaling: str = "iql_locomotion"
  agent_kwargs: Mapping[str, float] = dataclasses.field(default_factory=dict)
  sweep: Mapping[str, Sequence[float]] = dataclasses.field(default_factory=dict)
  top_fraction: float = 0.1
  reward_model: Optional[str] = None
  env_id: Optional[str] = None

  def validate(self) -> None:
    """Raises ValueError naming the flag and the valid choices, before anything is loaded or compiled."""
    if self.algo not in ALGOS:
      choices = "; ".join(f"{name}: {algo.summary}" for name, algo in ALGOS.items())
      raise ValueError(f"--algo={self.algo!r} is not a known algorithm; valid choices: {choices}")
    agent_class = ALGOS[self.algo].agent_class
    options = agent_options(agent_class)
    for name, value in self.agent_kwargs.items():
      if name not in options:
        raise ValueError(f"--hparams: {name!r} is not an option of --algo={self.algo}; valid names: {', '.join(options)}")
      check_hyperparameters(agent_class, {name: value}, flag="--hparams")
      check_option_value(name, options[name], value)
    numeric = numeric_hyperparameters(agent_class)
    for name in self.sweep:
      if name not in numeric:
        static = " (it is static: set it with --hparams, one value per run)" if name in options else ""
        raise ValueError(
            f"--sweep: {name!r} is not a numeric hyperparameter of --algo={self.algo}{static}; valid names: {', '.join(numeric)}"
        )
    for name, values in self.sweep.items():
      if name in self.agent_kwargs:
        raise ValueError(f"--sweep: {name!r} is also fixed by --hparams; give it in one of the two")
      if not values or not all(isinstance(v, (int, float)) for v in values):
        raise ValueError(f"--sweep: {name}={list(values)!r} needs one or more numbers, e.g. {name}=1,5,10")
      check_hyperparameters(agent_class, {name: list(values)}, flag="--sweep")
    for name in ("num_seeds", "num_updates", "batch_size", "eval_every", "eval_episodes", "updates_per_call"):
      if getattr(self, name) <= 0:
        raise ValueError(f"--{name} must be positive, got {getattr(self, name)}")
    if self.eval_every % self.updates_per_call:
      raise ValueError(f"--eval_every={self.eval_every} must be a multiple of --updates_per_call={self.updates_per_call}")
    if self.num_updates % self.updates_per_call:
      raise ValueError(f"--num_updates={self.num_updates} must be a multiple of --updates_per_call={self.updates_per_call}")
    if self.checkpoint_every is not None and (self.checkpoint_every <= 0 or self.checkpoint_every % self.updates_per_call):
      raise ValueError(
          f"--checkpoint_every={self.checkpoint_every} must be a positive multiple of --updates_per_call={self.updates_per_call}"
      )
    if "discount" in self.sweep and getattr(ALGOS[self.algo].agent_class, "needs_returns_to_go", False):
      raise ValueError(f"--sweep: --algo={self.algo} computes Monte Carlo returns once per dataset, so 'discount' cannot be swept")
    if self.reward_model is not None and not (
        getattr(agent_class, "reads_rewards", True) or getattr(agent_class, "conditions_on_returns", False)
    ):
      raise ValueError(
          f"--reward_model has no effect on --algo={self.algo}, which never reads a reward; drop --reward_model "
          "or pick an algorithm that learns from rewards (e.g. --algo=iql)"
      )
    if not 0.0 < self.top_fraction <= 1.0:
      raise ValueError(f"--top_fraction must be in (0, 1], got {self.top_fraction}")

  @property
  def settings(self) -> list[dict[str, float]]:
    """The H sweep settings, in run order (see :func:`rlkit_jax.training.core.sweep_settings`)."""
    return core.sweep_settings(self.sweep)

  def hyperparameters(self) -> dict[str, float | int | bool]:
    """The agent's options as this run sets them (defaults, then ``agent_kwargs`` cast to each
    option's type); swept names hold the first setting's value."""
    options = agent_options(ALGOS[self.algo].agent_class)
    values = {**options, **{name: type(options[name])(value) for name, value in self.agent_kwargs.items()}}
    return {**values, **self.settings[0]}

  def to_json(self) -> dict[str, Any]:
    """JSON form (the checkpoint fingerprint and ``config.json``)."""
    out = dataclasses.asdict(self)
    out["hidden_dims"] = list(self.hidden_dims)
    out["agent_kwargs"] = dict(self.agent_kwargs)
    out["sweep"] = {name: list(values) for name, values in self.sweep.items()}
    return out

  def fingerprint(self) -> dict[str, Any]:
    """The settings a checkpoint must match to be resumed: :meth:`to_json` without
    ``checkpoint_every`` (how often a run saves does not change what it computes)."""
    out = self.to_json()
    del out["checkpoint_every"]
    return out


def with_data_prompt(config: OfflineConfig, episode_returns: np.ndarray) -> OfflineConfig:
  """``config`` with a return-conditioned agent's evaluation prompt ``target_return`` set to the
  data's best episode return (task units), unless the run sets or sweeps it.

  Prompted beyond what the data shows, such a policy leaves the inputs it was trained on: RvS on
  the generated hopper-medium file (best episode 1,185) scores 3.6 with the Decision
  Transformer's Hopper prompt 3,600 and 31.1 with its data's best (docs/conditional_imitation.md).
  The value lands in ``agent_kwargs``, so ``config.json`` and the checkpoint fingerprint record it.
  """
  conditioned = getattr(ALGOS[config.algo].agent_class, "conditions_on_returns", False)
  if not conditioned or "target_return" in config.agent_kwargs or "target_return" in config.sweep or not len(episode_returns):
    return config
  return dataclasses.replace(config, agent_kwargs={**config.agent_kwargs, "target_return": float(np.max(episode_returns))})


def with_task_horizon(config: OfflineConfig, time_limit: Optional[int]) -> OfflineConfig:
  """``config`` with an agent's ``horizon`` H (RvS's ω = R̂ / (H − t), the Decision Transformer's
  timestep table) set to the evaluation task's time limit in steps, unless the run sets or sweeps
  it, the task has none, or it equals the agent's default (1000, the MuJoCo tasks': their runs'
  settings stay as they were). Without it a 600-step maze is conditioned on a 1000-step window,
  and a task longer than 1000 steps would clip DT's timesteps.
  """
  create = ALGOS[config.algo].agent_class.create
  default = inspect.signature(create).parameters.get("horizon")
  if default is None or time_limit is None or int(time_limit) == default.default:
    return config
  if "horizon" in config.agent_kwargs or "horizon" in config.sweep:
    return config
  return dataclasses.replace(config, agent_kwargs={**config.agent_kwargs, "horizon": int(time_limit)})


def create_fn(config: OfflineConfig, observation_dim: int, action_dim: int):
  """``key -> agent``: ``config.algo``'s ``create`` with the run's sizes, widths, schedule length and
  fixed options (the sweep's values are set per run by :func:`rlkit_jax.training.core.create_runs`)."""
  return functools.partial(
      ALGOS[config.algo].agent_class.create,
      observation_dim=observation_dim,
      action_dim=action_dim,
      hidden_dims=tuple(config.hidden_dims),
      actor_decay_steps=config.num_updates,
      **{name: config.hyperparameters()[name] for name in config.agent_kwargs},
  )


def prepare_dataset(config: OfflineConfig, dataset: data_lib.Dataset) -> tuple[data_lib.Dataset, dict[str, float]]:
  """The dataset as ``config.algo`` trains on it: checked, relabelled, filtered, scaled.

  In order: the action space is checked against the algorithm, rewards are replaced by
  ``config.reward_model``'s if one is set, filtered BC keeps its top trajectories, rewards are
  scaled (``config.reward_scaling``, skipped for agents that declare ``reads_rewards = False``:
  BC, RvS, RvS-G, DT; RvS's and DT's undiscounted returns-to-go and timesteps are taken before, in the
  task's units), AWR gets its Monte Carlo returns-to-go, ReBRAC the dataset's
  next actions, and RvS-G its timesteps and episode lengths after the file's ``goal_dim``
  attribute is checked against its own. Evaluation is untouched: it always reports the task's own return.

  Returns:
    ``(prepared dataset, {"reward_scale": a, "reward_shift": b})``.

  Raises:
    UsageError: discrete data for a continuous algorithm or the reverse, naming the valid choices;
      a goal-conditioned algorithm on a file without the goal layout, or with another goal width;
      a return-conditioned one on a trajectory longer than its horizon H.
    DatasetError, RewardModelError: as the preprocessing steps raise them.
  """
  algo = ALGOS[config.algo]
  discrete = data_lib.is_discrete(dataset)
  if discrete != algo.discrete:
    kind = "discrete" if discrete else "continuous"
    fits = sorted(name for name, a in ALGOS.items() if a.discrete == discrete)
    raise UsageError(
        f"--dataset={config.dataset} ({dataset.source}) has {kind} actions but --algo={config.algo} is for "
        f"{'discrete' if algo.discrete else 'continuous'} actions; valid --algo choices for this dataset: {', '.join(fits)}"
    )
  if config.reward_model is not None:
    dataset = relabel_with_reward_model(dataset, config.reward_model)
  if algo.filter_trajectories:
    dataset = preprocessing.filter_top_trajectories(dataset, config.top_fraction)
  if getattr(algo.agent_class, "conditions_on_returns", False):  # in the task's units, as the prompt is
    dataset = preprocessing.with_timesteps(preprocessing.with_returns_to_go(dataset, discount=1.0))
    data_checks.check_horizon(config, dataset)
  if getattr(algo.agent_class, "reads_rewards", True):
    dataset, scaling = preprocessing.scale_rewards(dataset, config.reward_scaling)
  else:  # BC, RvS and DT never read a reward: scaling could only fail (one demonstration) or mislabel the run
    scaling = {"reward_scale": 1.0, "reward_shift": 0.0}
  if getattr(algo.agent_class, "needs_returns_to_go", False):
    dataset = preprocessing.with_returns_to_go(dataset, discount=config.hyperparameters()["discount"])
  if getattr(algo.agent_class, "needs_next_actions", False):
    dataset = preprocessing.with_next_actions(dataset)
  if getattr(algo.agent_class, "conditions_on_goals", False):
    data_checks.check_goal_layout(config, dataset)
    dataset = preprocessing.with_episode_lengths(preprocessing.with_timesteps(dataset))
  return dataset, scaling


def relabel_with_reward_model(dataset: data_lib.Dataset, path: str) -> data_lib.Dataset:
  """``dataset`` with every reward replaced by the reward model's at ``path``.

  Raises:
    RewardModelError: no model there, or one trained for other observation/action sizes.
  """
  from rlkit_jax import rewards  # reward learning is imported only by runs that use it

  transitions = dataset.transitions
  model = rewards.load_reward_model(
      path, observation_dim=transitions.observations.shape[1], action_dim=data_lib.action_dim(dataset)
  )
  relabelled = rewards.relabel(model, transitions.observations, transitions.actions)
  return dataclasses.replace(dataset, transitions=transitions.replace(rewards=relabelled))


