"""The non-finite guard: a run whose loss or parameters went non-finite stops, the others go on.

Every training loop of the library (offline, online, reward models) trains ``R`` runs — seeds,
sweep settings, ensemble members — side by side in one vmapped program. After each chunk of
updates the guard checks, inside the program, that each run's metrics and every floating-point
leaf of its new state are finite (:func:`guard_runs`). A run that fails keeps the state it had
before the chunk, its last finite one, and is inactive from then on: its later chunks are
computed (it stays in the vmapped program) but thrown away, so every checkpoint holds its last
finite state. The host records where it happened (:class:`DivergenceLog`): the first chunk whose
result was not finite, and the names of the metrics that were not.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Any, Mapping, Optional, Sequence

import jax
import jax.numpy as jnp
import numpy as np


def all_finite(tree: Any) -> jax.Array:
  """``[]`` bool: every element of every floating-point leaf of ``tree`` is finite (integer,
  boolean and PRNG-key leaves are ignored)."""
  checks = [jnp.all(jnp.isfinite(x)) for x in jax.tree.leaves(tree) if jnp.issubdtype(jnp.result_type(x), jnp.inexact)]
  return jnp.all(jnp.stack(checks)) if checks else jnp.asarray(True)


def select_runs(keep_new: jax.Array, new: Any, old: Any) -> Any:
  """Per run, ``new`` where ``keep_new`` else ``old``; every leaf has the leading run axis ``[R, ...]``.

  Typed PRNG keys are always taken from ``new``: the old ones were consumed by the chunk (using
  them again is key reuse), and a stopped run's key is never used for anything that is kept.

  Args:
    keep_new: ``[R]`` bool.
    new, old: pytrees of the same structure.
  """

  def pick(a, b):
    if jax.dtypes.issubdtype(a.dtype, jax.dtypes.prng_key):
      return a
    mask = keep_new.reshape(keep_new.shape + (1,) * (jnp.ndim(a) - 1))
    return jnp.where(mask, a, b)

  return jax.tree.map(pick, new, old)


def guard_runs(active: jax.Array, new: Any, old: Any, metrics: Mapping[str, jax.Array]) -> tuple[Any, jax.Array]:
  """The guard, inside a compiled program: keeps each run's new state only if it is still finite.

  Args:
    active: ``[R]`` bool, the runs that have not diverged before this chunk.
    new: the runs' state after the chunk, leaves ``[R, ...]``.
    old: their state before it (same structure).
    metrics: the chunk's metrics, name → ``[R]``.

  Returns:
    ``(state, active)``: ``new`` for runs whose metrics and floating-point leaves are all finite
    and that were active, ``old`` for the others; ``active`` ``[R]`` bool after this chunk.
  """
  finite = jax.vmap(all_finite)(new) & jax.vmap(all_finite)(dict(metrics))
  active = active & finite
  return select_runs(active, new, old), active


@dataclasses.dataclass(frozen=True)
class Divergence:
  """Where one run diverged.

  Attributes:
    run: the run's index on the vmapped axis.
    step: the step count (updates, or env steps for online runs) at the end of the first chunk
      whose result was not finite; the run's state is that of the chunk before.
    metrics: name → value of the chunk's metrics that were not finite; empty when only the
      parameters were.
  """

  run: int
  step: int
  metrics: Mapping[str, float]

  def describe(self, label: str, unit: str = "update") -> str:
    """e.g. ``"seed 2 diverged at update 31,000: critic_loss is inf"``."""
    what = ", ".join(f"{name} is {value}" for name, value in self.metrics.items()) or "the parameters are not finite"
    return f"{label} diverged at {unit} {self.step:,}: {what}"

  def to_json(self) -> dict[str, Any]:
    return {"run": self.run, "step": self.step, "metrics": {k: str(v) for k, v in self.metrics.items()}}


class DivergenceLog:
  """The host's record of which runs diverged, kept in a run's checkpoints and ``summary.json``.

  Args:
    num_runs: R.
    records: earlier records (:meth:`to_json` form), e.g. from a checkpoint being resumed.
  """

  def __init__(self, num_runs: int, records: Sequence[Mapping[str, Any]] = ()):
    self.num_runs = num_runs
    self.records: dict[int, Divergence] = {}
    for r in records:
      metrics = {k: float(v) for k, v in r.get("metrics", {}).items()}
      self.records[int(r["run"])] = Divergence(int(r["run"]), int(r["step"]), metrics)

  @property
  def active(self) -> np.ndarray:
    """``[R]`` bool: the runs that have not diverged."""
    out = np.ones(self.num_runs, bool)
    out[list(self.records)] = False
    return out

  def update(self, step: int, active: Any, metrics: Mapping[str, Any]) -> list[Divergence]:
    """Records the runs that the last chunk turned inactive.

    Args:
      step: the step count at the end of the chunk.
      active: ``[R]`` bool after the chunk (from :func:`guard_runs`).
      metrics: the chunk's metrics, name → ``[R]`` (device arrays are copied to the host only
        when a run diverged).

    Returns:
      The runs newly diverged in this chunk.
    """
    active = np.asarray(active, bool)
    new = []
    for run in np.flatnonzero(~active):
      if int(run) in self.records:
        continue
      bad = {name: float(np.asarray(v)[run]) for name, v in sorted(metrics.items()) if not math.isfinite(float(np.asarray(v)[run]))}
      self.records[int(run)] = Divergence(int(run), int(step), bad)
      new.append(self.records[int(run)])
    return new

  def to_json(self) -> list[dict[str, Any]]:
    return [self.records[r].to_json() for r in sorted(self.records)]

  def get(self, run: int) -> Optional[Divergence]:
    return self.records.get(run)
