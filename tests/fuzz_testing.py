"""Helpers shared by the file-loader fuzz tests (``tests/data/test_fuzz_*.py``, ``tests/rewards/test_fuzz_*.py``); no tests here.

The hypothesis settings every fuzz test uses, byte-level damage to a valid file (cut at a random
offset, bytes overwritten) and files that are not of the format at all, and the check every
refused file must pass: the library's own error, a one-line message that names the file.
"""
from __future__ import annotations

import io
import json
import zipfile
from typing import Any, Callable

import hypothesis
import hypothesis.strategies as st
import pytest

from rlkit_jax.errors import InputError


def fuzz(max_examples: int) -> hypothesis.settings:
  """Settings of one fuzz test: ``max_examples`` cases, fixed (derandomized) so a run repeats, no
  deadline (the first case makes a MuJoCo env), files in the function-scoped ``tmp_path``."""
  return hypothesis.settings(
      max_examples=max_examples, deadline=None, derandomize=True, database=None,
      suppress_health_check=[hypothesis.HealthCheck.function_scoped_fixture, hypothesis.HealthCheck.too_slow],
  )


def refused(error_type: type[InputError], path: str, load: Callable[[], Any]) -> InputError:
  """Runs ``load`` and checks it raises ``error_type`` with a one-line message naming ``path``.

  Any other exception escapes and fails the test with its own traceback.
  """
  with pytest.raises(error_type) as info:
    load()
  message = str(info.value)
  assert path in message, f"the message does not name the file: {message}"
  assert "\n" not in message, f"the message is not one line: {message}"
  hypothesis.event("refused")
  return info.value


def loaded(load: Callable[[], Any]) -> Any:
  """``load()``, counted as a file that loaded (the caller checks it is whole)."""
  result = load()
  hypothesis.event("loaded")
  return result


def refused_or_loaded(error_type: type[InputError], path: str, load: Callable[[], Any]) -> Any:
  """``load()``'s result, or None when it raises ``error_type`` (checked as :func:`refused` does):
  for damage a file format may not detect (bytes overwritten inside raw data)."""
  try:
    return loaded(load)
  except error_type as error:
    message = str(error)
    assert path in message and "\n" not in message, message
    hypothesis.event("refused")
    return None


@st.composite
def truncated(draw: st.DrawFn, blob: bytes) -> bytes:
  """``blob`` cut at a random offset in ``[0, len(blob))``: always shorter than the whole."""
  return blob[: draw(st.integers(0, len(blob) - 1))]


@st.composite
def overwritten(draw: st.DrawFn, blob: bytes) -> bytes:
  """``blob`` with 1–8 runs of 1–16 bytes replaced by random ones (same length)."""
  out = bytearray(blob)
  for _ in range(draw(st.integers(1, 8))):
    start = draw(st.integers(0, len(out) - 1))
    run = draw(st.binary(min_size=1, max_size=16))
    out[start:start + len(run)] = run
  return bytes(out[: len(blob)])


def _zip_of(members: dict[str, bytes]) -> bytes:
  buffer = io.BytesIO()
  with zipfile.ZipFile(buffer, "w") as archive:
    for name, payload in members.items():
      archive.writestr(name, payload)
  return buffer.getvalue()


# Bytes that are not the expected file: random, text, other formats, a right signature then junk.
HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
NPY_SIGNATURE = b"\x93NUMPY"
foreign_bytes = st.one_of(
    st.binary(max_size=512),
    st.text(max_size=200).map(lambda s: s.encode("utf-8")),
    st.just(b"<html>404 Not Found</html>"),
    st.just(json.dumps({"observations": [[0.0] * 11]}).encode()),
    st.binary(max_size=256).map(lambda b: HDF5_SIGNATURE + b),
    st.binary(max_size=256).map(lambda b: NPY_SIGNATURE + b),
    st.binary(max_size=64).map(lambda b: b"PK\x03\x04" + b),
    st.dictionaries(st.text("abcxyz", min_size=1, max_size=8), st.binary(max_size=64), max_size=3).map(_zip_of),
)


def write_bytes(path: str, blob: bytes) -> str:
  """Writes ``blob`` to ``path`` (replacing what is there) and returns ``path``."""
  with open(path, "wb") as f:
    f.write(blob)
  return path
