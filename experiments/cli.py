"""What every driver in experiments/ shares: :func:`run` in place of absl's ``app.run``, which
reports bad input as one line, and the flag types the drivers have in common.

  import cli
  ...
  if __name__ == "__main__":
    cli.run(main)

Bad input ends a driver with ONE line on stderr, ``<script>: <the error's message>`` (what is
wrong, where — file, field or flag — and the fix), and an exit status: 2 for usage (a flag absl
cannot parse such as ``--num_seeds=abc``, ``app.UsageError``, :class:`rlkit_jax.errors.UsageError`:
settings, hyperparameters, unknown task ids), 1 for data (any other
:class:`rlkit_jax.errors.InputError`: a file, a field of a file, a checkpoint). ``--traceback``
(or absl's ``--verbosity=1`` and higher) prints the full traceback instead, with the same status
(for a flag that does not parse, only ``--traceback`` itself counts). Any other exception is a bug
and keeps Python's traceback.
"""
from __future__ import annotations

import os
import sys
import traceback
from typing import Callable, Sequence

from absl import app, flags

from rlkit_jax.errors import InputError

USAGE, DATA = 2, 1  # exit statuses

_MAIN_MODULE = sys.argv[0]  # absl's name for the script's module: flags below are listed in its --help
_TRACEBACK = flags.DEFINE_bool(
    "traceback", False, "On bad input (a flag, setting or file), show the full traceback instead of one line.",
    module_name=_MAIN_MODULE,
)
_TASK_FLAGS: list[str] = []  # flags holding a gymnasium task id, checked before main runs


def one_line(message: object) -> str:
  """The message with its lines joined (a multi-line hint stays on one line)."""
  return " ".join(part.strip() for part in str(message).splitlines() if part.strip())


def exit_status(error: BaseException) -> int | None:
  """2 (usage), 1 (data), or None for an error that is not about bad input."""
  if isinstance(error, (app.UsageError, flags.Error)):
    return USAGE
  if isinstance(error, InputError):
    return error.exit_code
  return None


def _fail(error: BaseException, status: int, *, show_traceback: bool, hint: str = "") -> None:
  if show_traceback:
    traceback.print_exception(error)
  else:
    sys.stderr.write(f"{os.path.basename(sys.argv[0])}: {one_line(error) or type(error).__name__}{hint}\n")
  sys.stderr.flush()
  sys.exit(status)


def _parse_flags(argv: Sequence[str]) -> list[str]:
  """absl's parse, with a flag that does not parse reported as one line (exit status 2)."""
  try:
    return flags.FLAGS(argv)
  except flags.Error as e:
    wanted = any(arg.lstrip("-") in ("traceback", "traceback=true", "traceback=1") for arg in argv[1:])
    _fail(e, USAGE, show_traceback=wanted, hint=" (--helpfull lists every flag, its type and default)")


def _show_traceback() -> bool:
  return _TRACEBACK.value or flags.FLAGS["verbosity"].value >= 1


def run(main: Callable[[list[str]], object]) -> None:
  """``app.run(main)`` with bad input reported as one line and exit status 2 or 1 (module docstring)."""

  def guarded(argv):
    try:
      for name in _TASK_FLAGS:
        if flags.FLAGS[name].value is not None:
          from rlkit_jax.envs.make import check_env_id  # gymnasium's registry

          check_env_id(flags.FLAGS[name].value, where=f"--{name}")
      return main(argv)
    except (app.UsageError, InputError) as e:
      _fail(e, exit_status(e), show_traceback=_show_traceback())

  app.run(guarded, flags_parser=_parse_flags)


# --- Flag types ----------------------------------------------------------------------------------


class _IntegerListParser(flags.ListParser):
  """``"256,256"`` → ``[256, 256]``; a non-integer or a value below ``lower_bound`` does not parse."""

  def __init__(self, lower_bound: int | None, example: str):
    super().__init__()
    self.lower_bound, self.example = lower_bound, example
    self.syntactic_help = "a comma separated list of integers" + (f" ≥ {lower_bound}" if lower_bound is not None else "")

  def parse(self, argument):
    values = []
    for item in super().parse(argument):
      try:
        value = int(item)
      except (TypeError, ValueError):
        raise ValueError(f"{item!r} is not an integer; give integers separated by commas, e.g. {self.example}") from None
      if self.lower_bound is not None and value < self.lower_bound:
        raise ValueError(f"{value} is below {self.lower_bound}; give integers ≥ {self.lower_bound}, e.g. {self.example}")
      values.append(value)
    return values


def define_integer_list(name: str, default: list[int], help: str, *, lower_bound: int | None = 1):
  """A comma-separated list of integers (e.g. ``--hidden_dims=256,256``); absl refuses anything else
  at parse time, naming the flag."""
  example = ",".join(str(v) for v in default) or "1,2"
  return flags.DEFINE(
      _IntegerListParser(lower_bound, example), name, default, help, serializer=flags.CsvListSerializer(","),
      module_name=_MAIN_MODULE,
  )


def task_flag(name: str) -> None:
  """Marks flag ``--name`` as a gymnasium task id: :func:`run` refuses an unknown one (with close
  matches) before ``main`` starts."""
  _TASK_FLAGS.append(name)


def define_env_id(help: str = "") -> flags.FlagHolder:
  """``--env_id``: the gymnasium task of a dataset file that names none (checked by :func:`run`)."""
  holder = flags.DEFINE_string(
      "env_id", None, help or "Gymnasium task the dataset was collected on, for a file that names none (e.g. "
      "Hopper-v5); it must agree with the file's env_id/env attribute.", module_name=_MAIN_MODULE,
  )
  task_flag("env_id")
  return holder
