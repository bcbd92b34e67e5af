"""Valid ranges of the agents' hyperparameters, checked before anything compiles.

Every agent class declares ``hyperparameter_ranges``: option name → :class:`Range`. Options of
``create`` that it does not name fall back on the field's conventions (:func:`range_of`: every
``*_lr`` is a step size > 0). :func:`check_hyperparameters` refuses a value outside its range and,
for every numeric option, a value that is not finite; ``create`` runs it on every call (through
:func:`checked_create`), and the jobs run it on ``--hparams`` and on every ``--sweep`` value
before they load data, so a bad value never reaches a compiled program.

Values that are traced (inside ``jit``/``vmap``, e.g. the swept leaves of a vmapped ``create``)
cannot be inspected and are left to the job that chose them.
"""
from __future__ import annotations

import dataclasses
import functools
import inspect
import math
from typing import Any, Callable, Mapping, Optional

import jax
import numpy as np

from rlkit_jax.errors import HyperparameterError


@dataclasses.dataclass(frozen=True)
class Range:
  """An interval of valid values; ``low_open``/``high_open`` exclude the end point.

  ``str(Range(0, 1, low_open=True, high_open=True))`` is ``"(0, 1)"``; an infinite end is written
  ``inf`` and is always open.
  """

  low: float = -math.inf
  high: float = math.inf
  low_open: bool = False
  high_open: bool = False

  def __contains__(self, value: float) -> bool:
    above = value > self.low if self.low_open else value >= self.low
    below = value < self.high if self.high_open else value <= self.high
    return above and below

  def __str__(self) -> str:
    left = "(" if self.low_open or self.low == -math.inf else "["
    right = ")" if self.high_open or self.high == math.inf else "]"
    return f"{left}{self.low:g}, {self.high:g}{right}"


OPEN_UNIT = Range(0.0, 1.0, low_open=True, high_open=True)  # expectile τ
UNIT = Range(0.0, 1.0)  # discount γ, probabilities
POLYAK = Range(0.0, 1.0, low_open=True)  # Polyak τ: 1 copies the online network every update
POSITIVE = Range(0.0, math.inf, low_open=True)  # step sizes, divisors, initial temperatures
NON_NEGATIVE = Range(0.0, math.inf)  # inverse temperatures β, penalty weights α, noise scales
AT_LEAST_ONE = Range(1.0, math.inf)  # counts: critics, sampled actions, policy delay
REAL = Range()  # any finite value (targets that may be negative)

COMMON_RANGES: dict[str, Range] = {"discount": UNIT, "tau": POLYAK, "num_critics": AT_LEAST_ONE}


def range_of(agent_cls: type, name: str) -> Optional[Range]:
  """The valid range of option ``name`` of ``agent_cls.create``: the class's own
  ``hyperparameter_ranges``, else :data:`COMMON_RANGES`, else ``(0, inf)`` for a ``*_lr``; None
  if no range is declared (the value then only has to be finite)."""
  declared = getattr(agent_cls, "hyperparameter_ranges", {})
  if name in declared:
    return declared[name]
  if name in COMMON_RANGES:
    return COMMON_RANGES[name]
  return POSITIVE if name.endswith("_lr") else None


def _concrete(value: Any) -> Optional[np.ndarray]:
  """``value`` as a float64 array, or None when it cannot be read (traced, or not numeric)."""
  if value is None or isinstance(value, jax.core.Tracer):
    return None
  if isinstance(value, (bool, np.bool_)):
    return None  # switches have no range
  try:
    array = np.asarray(value, dtype=np.float64)
  except (TypeError, ValueError):
    return None
  return array


def check_hyperparameters(agent_cls: type, values: Mapping[str, Any], *, flag: Optional[str] = None) -> None:
  """Refuses a hyperparameter outside its valid range, or a numeric one that is not finite.

  Args:
    agent_cls: the agent class (its ``hyperparameter_ranges`` and ``create`` signature).
    values: option name → value: Python numbers, NumPy or concrete JAX arrays (every element is
      checked); traced values and booleans are skipped.
    flag: the flag the values came from (``"--hparams"``, ``"--sweep"``), named in the error;
      None names ``<Agent>.create``.

  Raises:
    HyperparameterError: one line naming the flag (or ``create``), the option, the value and the
      valid range.
  """
  where = flag or f"{agent_cls.__name__}.create"
  for name, value in values.items():
    array = _concrete(value)
    if array is None:
      continue
    valid = range_of(agent_cls, name)
    for x in array.reshape(-1):
      if not math.isfinite(x):
        span = f" in {valid}" if valid else ""
        raise HyperparameterError(f"{where}: {name}={x:g} is not a finite number; fix: choose a finite value{span}")
      if valid is not None and x not in valid:
        raise HyperparameterError(
            f"{where}: {name}={x:g} is outside {agent_cls.__name__}'s valid range {valid}; fix: choose a value in {valid}"
        )


def check_option_value(name: str, default: float | int | bool, value: float, *, flag: str = "--hparams") -> None:
  """Refuses ``value`` for an option whose ``default`` is an int (a count: it must be whole) or a
  bool (a switch: it must be 0 or 1); float options take any value (their range is
  :func:`check_hyperparameters`').

  Raises:
    ValueError: one line naming the flag, the option and the value.
  """
  switch = isinstance(default, bool)
  if (switch and value not in (0, 1)) or (not isinstance(default, float) and value != int(value)):
    raise ValueError(f"{flag}: {name} takes an integer{' (0 or 1)' if switch else ''}, got {value}")


def checked_create(create: Callable[..., Any]) -> Callable[..., Any]:
  """Decorates an agent's ``create(cls, key, ...)`` so that every call first runs
  :func:`check_hyperparameters` on its keyword options (given and defaulted). Apply it under
  ``@classmethod``; ``inspect.signature`` still sees the wrapped signature."""
  signature = inspect.signature(create)
  options = [p.name for p in signature.parameters.values() if p.kind is inspect.Parameter.KEYWORD_ONLY]

  @functools.wraps(create)
  def wrapper(cls, *args, **kwargs):
    bound = signature.bind(cls, *args, **kwargs)
    check_hyperparameters(cls, {name: bound.arguments[name] for name in options if name in bound.arguments})
    return create(cls, *args, **kwargs)

  return wrapper
