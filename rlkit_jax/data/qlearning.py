"""D4RL arrays in ``d4rl.qlearning_dataset`` form: one row per transition (s, a, r, s′, done).

References:
  Fu et al., `D4RL <https://arxiv.org/abs/2004.07219>`_, 2020; ``d4rl/__init__.py``
  (``qlearning_dataset``).
"""
from __future__ import annotations

from typing import Mapping

import numpy as np

from rlkit_jax.data.transitions import Transitions


def _timeouts_by_step_count(terminals: np.ndarray, max_episode_steps: int) -> np.ndarray:
  """d4rl's fallback for files without ``timeouts``: its step counter, quirks included."""
  final = np.zeros(len(terminals) - 1, bool)
  step = 0
  for i in range(len(terminals) - 1):
    if step == max_episode_steps - 1:
      final[i], step = True, 0
      continue
    if terminals[i]:
      step = 0
    step += 1
  return final


def qlearning_arrays(arrays: Mapping[str, np.ndarray], *, max_episode_steps: int = 1000) -> tuple[Transitions, np.ndarray]:
  """D4RL arrays → ``(transitions, episode_ends)`` with ``d4rl.qlearning_dataset`` semantics.

  With ``next_observations`` every row is kept (time-outs too: their s' is the real next state, so
  they bootstrap correctly). Without it, as d4rl does: s'_i = s_{i+1}, rows with ``timeouts[i]``
  (or, without ``timeouts``, every ``max_episode_steps``-th step by d4rl's counter) are dropped,
  and so is the last row.

  Args:
    arrays: validated arrays (see :func:`rlkit_jax.data.validation.dataset_from_arrays`): ``observations [N, O]``,
      ``actions [N, A]`` (discrete: int32 ``[N]``), ``rewards [N]`` float32; ``terminals [N]``, optional ``timeouts [N]``
      bool; optional ``next_observations [N, O]`` float32.
    max_episode_steps: the time limit for files without ``timeouts`` (d4rl's default is 1000).

  Returns:
    :class:`Transitions` of NumPy arrays with ``N'`` rows (``terminals`` float32 0/1), and
    ``episode_ends [N']`` bool: terminal, time-out, or ``next_observations[i] != observations[i+1]``;
    the last row always ends.
  """
  observations, terminals = arrays["observations"], arrays["terminals"]
  if "next_observations" in arrays:
    keep = np.arange(len(terminals))
    next_observations = arrays["next_observations"]
    timeouts = arrays.get("timeouts", np.zeros_like(terminals))
  else:
    final = arrays["timeouts"][:-1] if "timeouts" in arrays else _timeouts_by_step_count(terminals, max_episode_steps)
    keep = np.flatnonzero(~final)
    next_observations = observations[keep + 1]
    timeouts = np.zeros(len(terminals), bool)
  transitions = Transitions(
      observations=observations[keep],
      actions=arrays["actions"][keep],
      rewards=arrays["rewards"][keep],
      terminals=terminals[keep].astype(np.float32),
      next_observations=next_observations,
  )
  episode_ends = terminals[keep] | timeouts[keep]
  if keep.size:
    episode_ends[:-1] |= np.any(transitions.next_observations[:-1] != transitions.observations[1:], axis=1)
    episode_ends[-1] = True
  return transitions, episode_ends
