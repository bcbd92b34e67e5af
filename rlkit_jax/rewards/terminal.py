"""A person at a terminal as a :class:`~rlkit_jax.rewards.labellers.Labeller`.

For each pair, :class:`TerminalLabeller` renders both segments into one side-by-side GIF
(:mod:`rlkit_jax.rewards.render`; needs an OpenGL backend, e.g. ``MUJOCO_GL=egl``), prints its
path for the person to open, and asks which segment is better. ``experiments/label_preferences.py``
drives it one pair at a time and saves after every answer, so a session can be quit and resumed.
"""
from __future__ import annotations

import dataclasses
import os
from typing import Callable

import numpy as np

from rlkit_jax.rewards.render import render_segment, write_side_by_side
from rlkit_jax.rewards.segments import Queries

PROMPT = "Which is better? 1 / 2 / = (equal) / s (skip) / q (quit): "
# Answer → label: P(first segment preferred); NaN = skipped.
ANSWERS: dict[str, float] = {"1": 1.0, "2": 0.0, "=": 0.5, "s": float("nan")}


def query_filename(refs: np.ndarray) -> str:
  """``query_<episode>-<start>-<length>_<episode>-<start>-<length>.gif`` for one query's refs ``[2, 3]``."""
  return "query_" + "_".join("-".join(str(int(v)) for v in segment) for segment in np.asarray(refs)) + ".gif"


@dataclasses.dataclass
class TerminalLabeller:
  """Asks a person which of two rendered segments is better.

  Called with pairs (``queries.num_segments == 2``, ``queries.env_id`` one of
  :data:`rlkit_jax.rewards.render.SUPPORTED_TASKS`), it returns ``[Q]`` float32 labels: answer "1"
  → 1.0 (first preferred), "2" → 0.0, "=" → 0.5 (equally good), "s" → NaN (skip). Any other
  answer is asked again. "q" (or end of input, Ctrl-D) stops: that pair and every later one get
  NaN without being rendered or asked, and ``stopped`` becomes True, so later calls return NaN
  at once. The GIF of pair q is ``video_dir/query_<refs>.gif`` (:func:`query_filename`).

  Attributes:
    video_dir: where the GIFs go (created).
    person: the person's name; ``labeller.name`` is ``"human:<person>"``.
    input_fn, print_fn: the terminal (tests inject scripted answers).
    render_fn: ``(env_id, observations [T, O], *, width, height) -> [T, H, W, 3] uint8``.
    width, height: frame size of each half in pixels.
    fps: playback speed of the GIF.
    stopped: set once the person quits.

  Raises (from ``__call__``):
    ValueError: queries that are not pairs, or without ``env_id``.
    RenderError: no OpenGL backend (see :mod:`rlkit_jax.rewards.render`).
  """

  video_dir: str
  person: str = "anonymous"
  input_fn: Callable[[str], str] = input
  print_fn: Callable[..., None] = print
  render_fn: Callable[..., np.ndarray] = render_segment
  width: int = 320
  height: int = 240
  fps: float = 30
  stopped: bool = False

  @property
  def name(self) -> str:
    """``"human:<person>"``, written into the preference file's ``labeller`` field."""
    return f"human:{self.person}"

  def _ask(self) -> float | None:
    """The label for one answer, or None on quit."""
    while True:
      try:
        answer = self.input_fn(PROMPT).strip().lower()
      except EOFError:
        return None
      if answer == "q":
        return None
      if answer in ANSWERS:
        return ANSWERS[answer]
      self.print_fn(f"Please answer 1, 2, =, s or q (got {answer!r}).")

  def __call__(self, queries: Queries) -> np.ndarray:
    if queries.num_segments != 2:
      raise ValueError(f"TerminalLabeller labels pairs; these queries have {queries.num_segments} segments")
    if queries.env_id is None:
      raise ValueError("TerminalLabeller: the queries have no env_id (their dataset names no gymnasium task), so they cannot be rendered")
    labels = np.full(len(queries), np.nan, np.float32)
    for q in range(len(queries)):
      if self.stopped:
        break
      path = os.path.join(self.video_dir, query_filename(queries.refs[q]))
      frames = [
          self.render_fn(queries.env_id, queries.observations[q, k], width=self.width, height=self.height) for k in range(2)
      ]
      write_side_by_side(path, frames[0], frames[1], fps=self.fps)
      self.print_fn(f"Open {path} (left: 1, right: 2)")
      label = self._ask()
      if label is None:
        self.stopped = True
      else:
        labels[q] = label
    return labels
