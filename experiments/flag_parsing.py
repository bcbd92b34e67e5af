"""``name=value`` flag lists shared by the experiment scripts (the library itself reads no flags)."""
from __future__ import annotations

from absl import app


def _pairs(flag: str, items: list[str], example: str):
  for item in items:
    name, sep, value = item.partition("=")
    if not sep:
      raise app.UsageError(f"{flag}: {item!r} is not name=value (e.g. {flag}={example})")
    yield item, name.strip(), value.strip()


def number(flag: str, item: str, text: str) -> float:
  """``text`` as a float, or a usage error naming ``flag`` and ``item``."""
  try:
    return float(text)
  except ValueError:
    raise app.UsageError(f"{flag}: {item!r} has a value that is not a number; write name=value, e.g. discount=0.99")


def parse_numbers(items: list[str], *, flag: str = "--hparams", example: str = "discount=0.99") -> dict[str, float]:
  """``["a=1", "b=0.5"]`` → ``{"a": 1.0, "b": 0.5}``; a usage error for a malformed item."""
  return {name: number(flag, item, value) for item, name, value in _pairs(flag, items, example)}


def scalar(text: str):
  """'3' → 3, '0.5' → 0.5, 'true'/'false' → bool, anything else stays text."""
  if text.lower() in ("true", "false"):
    return text.lower() == "true"
  for cast in (int, float):
    try:
      return cast(text)
    except ValueError:
      pass
  return text


def parse_scalars(items: list[str], *, flag: str, example: str) -> dict:
  """``name=value`` items with :func:`scalar` values."""
  return {name: scalar(value) for _, name, value in _pairs(flag, items, example)}
