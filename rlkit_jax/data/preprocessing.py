"""Dataset preprocessing as the offline-RL papers do it: reward scaling (recorded so runs can report
it), Monte Carlo returns-to-go (AWR) and the top-trajectory filter of filtered behaviour cloning."""
from __future__ import annotations

import dataclasses
import math
import numbers

import jax
import numpy as np

from rlkit_jax.data.dataset import Dataset, DatasetError, trajectory_bounds

REWARD_SCALINGS = ("none", "iql_locomotion", "iql_antmaze")


def scale_rewards(dataset: Dataset, scaling: str) -> tuple[Dataset, dict[str, float]]:
  """Rescales rewards for training (evaluation always uses the task's own rewards).

  ``"iql_locomotion"``: ``r · 1000 / (max_return - min_return)`` over the dataset's trajectories
  (IQL reference, D4RL locomotion). ``"iql_antmaze"``: ``r - 1``. ``"none"``: unchanged.

  Args:
    dataset: the loaded dataset.
    scaling: one of :data:`REWARD_SCALINGS`.

  Returns:
    ``(dataset with new rewards, {"reward_scale": a, "reward_shift": b})`` with r' = a·r + b.

  Raises:
    DatasetError: unknown scaling, or all trajectories have the same return (range 0).

  References:
    Kostrikov et al., `IQL <https://arxiv.org/abs/2110.06169>`_, 2021, App. B and the reference
    code's ``normalize`` in ``train_offline.py``.
  """
  if scaling == "none":
    scale, shift = 1.0, 0.0
  elif scaling == "iql_locomotion":
    returns = dataset.episode_returns()
    spread = float(returns.max() - returns.min())
    if not spread > 0:
      raise DatasetError(
          f"{dataset.source}: field 'rewards': every trajectory has the same return, so "
          "'iql_locomotion' scaling is undefined; use --reward_scaling=none"
      )
    scale, shift = 1000.0 / spread, 0.0
  elif scaling == "iql_antmaze":
    scale, shift = 1.0, -1.0
  else:
    raise DatasetError(f"unknown reward scaling {scaling!r}; choose from {REWARD_SCALINGS}")
  rewards = (np.asarray(dataset.transitions.rewards, np.float32) * scale + shift).astype(np.float32)
  transitions = dataset.transitions.replace(rewards=rewards)
  return dataclasses.replace(dataset, transitions=transitions), {"reward_scale": scale, "reward_shift": shift}


def discounted_returns_to_go(rewards: np.ndarray, episode_ends: np.ndarray, *, discount: float) -> np.ndarray:
  r"""Monte Carlo return ``R_t = Σ_{k=t}^{T} γ^{k-t} r_k`` from every step to its trajectory's end.

  The sum stops at the last transition of the trajectory (``episode_ends`` True, or the end of the
  array for a final, partial trajectory), whatever the reason it ended: a time-limit truncation
  therefore *truncates* the sum, with no bootstrap from a value function — the Monte Carlo variant
  of AWR in the lecture (``Σ_{t'=t}^{T} r(s_{t'}, a_{t'})`` regressed by V^{π_β}). Computed in
  float64 and returned as float32.

  Args:
    rewards: r_t, ``[N]`` float, in the units the agent trains on (apply reward scaling first).
    episode_ends: ``[N]`` bool, True where transition t is the last of its trajectory
      (:attr:`rlkit_jax.data.Dataset.episode_ends`).
    discount: γ in [0, 1] (γ = 1 gives the undiscounted reward-to-go of the lecture).

  Returns:
    ``[N]`` float32.

  Raises:
    ValueError: ``rewards`` is not 1-D, ``episode_ends`` has another length, or ``discount`` is
      outside [0, 1].

  References:
    Peng et al., `Advantage-Weighted Regression <https://arxiv.org/abs/1910.00177>`_, 2019,
    Eq. (9)–(10) (Monte Carlo return R^D_{s,a}); Sutton & Barto, 2nd ed., 2018, Eq. (3.8).
  """
  rewards = np.asarray(rewards, np.float64)
  episode_ends = np.asarray(episode_ends, bool)
  if rewards.ndim != 1:
    raise ValueError(f"discounted_returns_to_go: 'rewards' must have shape [N], got {rewards.shape}")
  if episode_ends.shape != rewards.shape:
    raise ValueError(
        f"discounted_returns_to_go: 'episode_ends' must have the shape of 'rewards' {rewards.shape}, "
        f"got {episode_ends.shape}"
    )
  if not 0.0 <= discount <= 1.0:
    raise ValueError(f"discounted_returns_to_go: 'discount' must be in [0, 1], got {discount}")
  import scipy.signal  # imported where used: importing rlkit_jax stays light

  out = np.zeros_like(rewards)
  starts, stops = trajectory_bounds(episode_ends)
  for start, stop in zip(starts, stops):
    # R_t = r_t + γ R_{t+1} on the reversed trajectory is a one-pole IIR filter.
    out[start:stop] = scipy.signal.lfilter([1.0], [1.0, -discount], rewards[start:stop][::-1])[::-1]
  return out.astype(np.float32)


def with_returns_to_go(dataset: Dataset, discount: float) -> Dataset:
  """``dataset`` with ``transitions.returns_to_go`` filled by :func:`discounted_returns_to_go`.

  Call it after reward scaling, so the returns are in the units the agent trains on.

  Args:
    dataset: the loaded (and possibly filtered and rescaled) dataset.
    discount: γ in [0, 1].

  Returns:
    A new :class:`Dataset`; ``transitions.returns_to_go`` is ``[N]`` float32.

  Raises:
    ValueError: see :func:`discounted_returns_to_go`.
  """
  returns = discounted_returns_to_go(dataset.transitions.rewards, dataset.episode_ends, discount=discount)
  return dataclasses.replace(dataset, transitions=dataset.transitions.replace(returns_to_go=returns))


def with_next_actions(dataset: Dataset) -> Dataset:
  """``dataset`` with ``transitions.next_actions`` filled: row t gets the action of row t + 1 of
  its trajectory (split at ``episode_ends``).

  The last row of a trajectory has no next action in the data; it gets its own action. At a
  terminal that value is never used (the target does not bootstrap); at a time-out it stands in
  for the unrecorded next action — D4RL's ``qlearning_dataset``, which ReBRAC's code builds on,
  drops such rows instead.

  Returns:
    A new :class:`Dataset`; ``transitions.next_actions`` has the actions' shape and dtype.
  """
  actions = np.asarray(dataset.transitions.actions)
  next_actions = actions.copy()
  if len(actions) > 1:
    follows = ~np.asarray(dataset.episode_ends[:-1], bool)  # row t + 1 continues row t's trajectory
    next_actions[:-1][follows] = actions[1:][follows]
  return dataclasses.replace(dataset, transitions=dataset.transitions.replace(next_actions=next_actions))


def with_timesteps(dataset: Dataset) -> Dataset:
  """``dataset`` with ``transitions.timesteps`` filled: each row's step index in its trajectory
  (0 at the row after an ``episode_ends`` row, and at row 0), ``[N]`` int32."""
  starts, stops = trajectory_bounds(dataset.episode_ends)
  timesteps = (np.arange(len(dataset.episode_ends)) - np.repeat(starts, stops - starts)).astype(np.int32)
  return dataclasses.replace(dataset, transitions=dataset.transitions.replace(timesteps=timesteps))


def with_episode_lengths(dataset: Dataset) -> Dataset:
  """``dataset`` with ``transitions.episode_lengths`` filled: the length in rows of each row's
  trajectory (trajectories end at ``episode_ends`` rows and at the last row), ``[N]`` int32."""
  starts, stops = trajectory_bounds(dataset.episode_ends)
  lengths = np.repeat(stops - starts, stops - starts).astype(np.int32)
  return dataclasses.replace(dataset, transitions=dataset.transitions.replace(episode_lengths=lengths))


def filter_top_trajectories(dataset: Dataset, fraction: float) -> Dataset:
  r"""Keeps the whole trajectories whose undiscounted return is in the top ``fraction``.

  The data of filtered behaviour cloning ("%BC"): ``D̃ = {τ : r(τ) ≥ η}`` with η chosen so that
  ``⌈fraction · T⌉`` of the T trajectories are kept (at least one). Ties at η are broken in favour
  of the earlier trajectory, so exactly that many are kept. Trajectories keep their order and
  their ``episode_ends``; a final, partial trajectory counts as a trajectory. Any other per-row
  field (e.g. ``returns_to_go``) is filtered along with the transitions.

  Args:
    dataset: the loaded dataset (its rewards in any units: the ranking does not change under a
      positive rescaling).
    fraction: share of trajectories to keep, in (0, 1]; e.g. 0.1 keeps the top 10 %.

  Returns:
    A new :class:`Dataset` with the selected trajectories' transitions.

  Raises:
    ValueError: ``fraction`` is outside (0, 1] (or NaN), or the dataset is empty.

  References:
    Chen et al., `Decision Transformer <https://arxiv.org/abs/2106.01345>`_, 2021, §5 ("%BC");
    Emmons et al., `RvS <https://arxiv.org/abs/2112.10751>`_, 2021 (filtered BC baseline).
  """
  value = float(fraction) if isinstance(fraction, numbers.Real) and not isinstance(fraction, bool) else math.nan
  if not 0.0 < value <= 1.0:
    raise ValueError(
        f"filter_top_trajectories: argument 'fraction' must be in (0, 1] (0.1 keeps the top 10 % of "
        f"trajectories), got {fraction!r}"
    )
  if len(dataset) == 0:
    raise ValueError(f"filter_top_trajectories: {dataset.source}: the dataset has no transitions")
  returns = dataset.episode_returns()
  num_keep = max(1, math.ceil(value * len(returns) - 1e-9))  # 1e-9: 0.1 · 30 is 3.0000000000000004
  kept = np.zeros(len(returns), bool)
  kept[np.argsort(-returns, kind="stable")[:num_keep]] = True
  starts, stops = trajectory_bounds(dataset.episode_ends)
  rows = np.repeat(kept, stops - starts)
  transitions = jax.tree.map(lambda x: np.asarray(x)[rows], dataset.transitions)
  return dataclasses.replace(dataset, transitions=transitions, episode_ends=np.asarray(dataset.episode_ends)[rows])
