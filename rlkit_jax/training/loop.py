"""Training on your own arrays from your own code: no environment, no files, no driver of ours."""
from __future__ import annotations

from typing import Any, Callable, Mapping, NamedTuple, Optional

import jax
import numpy as np

from rlkit_jax.training import core
from rlkit_jax.data.transitions import Transitions


class TrainResult(NamedTuple):
  """What :func:`train` returns.

  Attributes:
    agents: the trained agents, every leaf with a leading seed axis ``[S, ...]``; seed ``i`` is
      ``jax.tree.map(lambda x: x[i], agents)``.
    metrics: name → ``[C, S]`` float32, each update's metrics averaged over each of the ``C``
      calls (``num_updates / updates_per_call``).
    active: ``[S]`` bool, False for a seed stopped by the non-finite guard: its agent is its
      last finite state.
  """

  agents: Any
  metrics: Mapping[str, np.ndarray]
  active: np.ndarray


def train(
    create_fn: Callable[[jax.Array], Any],
    transitions: Transitions,
    *,
    num_updates: int,
    num_seeds: int = 1,
    seed: int = 0,
    batch_size: int = 256,
    updates_per_call: int = 1_000,
    callback: Optional[Callable[[int, Any, Mapping[str, jax.Array]], None]] = None,
) -> TrainResult:
  """Trains ``num_seeds`` seeds of an agent on ``transitions`` as one compiled program.

  The seeds are vmapped; each call runs ``updates_per_call`` updates of every seed in a
  ``lax.scan``, each update on a minibatch drawn inside the program from the seed's own key. The
  dataset is placed on the device once and shared. This is the training core the offline job
  uses (:mod:`rlkit_jax.training.core`), without its evaluation, files or progress bar.

  Args:
    create_fn: ``key -> agent``, e.g. ``functools.partial(rk.IQL.create, observation_dim=O,
      action_dim=A)``. The agent has a pure ``update(batch) -> (agent, metrics)``.
    transitions: a :class:`~rlkit_jax.data.Transitions` with leading axis ``N`` (e.g.
      ``rk.data.Dataset.from_arrays(...).transitions``, after any reward scaling).
    num_updates: gradient updates per seed, a multiple of ``updates_per_call``.
    num_seeds: S. seed: the run's seed (the same seed gives the same agents).
    batch_size: minibatch size per seed and update.
    updates_per_call: updates per compiled call (one host round-trip).
    callback: ``(step, agents [S, ...], metrics {name: [S]}) -> None`` after every call, for
      evaluation, logging or checkpointing; its return value is ignored.

  Returns:
    A :class:`TrainResult`.

  Raises:
    ValueError: a count that is not positive, or ``num_updates`` not a multiple of ``updates_per_call``.
  """
  for name, value in (("num_updates", num_updates), ("num_seeds", num_seeds), ("batch_size", batch_size),
                      ("updates_per_call", updates_per_call)):
    if value <= 0:
      raise ValueError(f"train: {name} must be positive, got {value}")
  if num_updates % updates_per_call:
    raise ValueError(f"train: num_updates={num_updates} is not a multiple of updates_per_call={updates_per_call}")
  state = core.init_run_state(create_fn, seed=seed, num_seeds=num_seeds)
  state, data = core.place(state, transitions)
  chunk = core.make_train_chunk(batch_size=batch_size, num_updates=updates_per_call)
  history = []
  for _ in range(num_updates // updates_per_call):
    state, metrics = chunk(state, data)
    history.append(metrics)
    if callback is not None:
      callback(int(state.step), state.agents, metrics)
  stacked = {name: np.stack([np.asarray(m[name]) for m in history]) for name in history[0]}
  return TrainResult(state.agents, stacked, np.asarray(state.active))
