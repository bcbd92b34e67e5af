"""The library's error types for bad input, and the exit status a driver gives each.

Every error the library raises because of what a user handed it (a file, a field of a file, a
flag, a hyperparameter) is an :class:`InputError`. Its message is one line: what is wrong, where
(the file, field or flag) and the fix. The drivers in ``experiments/`` print that line and exit
with :attr:`InputError.exit_code`: 2 for a usage error (a flag or setting), 1 for unusable data
(a file, a checkpoint). They subclass ``ValueError``, so code that caught ``ValueError`` before
still catches them.
"""
from __future__ import annotations


class InputError(ValueError):
  """Bad input: a file, field, flag or setting that cannot be used. Exit status 1 (data)."""

  exit_code = 1


class UsageError(InputError):
  """A flag or setting that cannot be used (a hyperparameter out of range, an unknown task id).
  Exit status 2 (usage)."""

  exit_code = 2


class HyperparameterError(UsageError):
  """A hyperparameter outside its valid range, or not finite; the message names the option (or
  flag), the value and the range."""


class DivergenceError(InputError):
  """Training went non-finite where no other run can go on (a single-run job such as dataset
  generation, or every member of a reward ensemble); the message names the step and the metric.
  Exit status 1."""
