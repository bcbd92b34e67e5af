"""rliable's interval estimates as the reports here use them (the ``[reference]`` extra).

Scores are D4RL-normalised (0 = random, 100 = expert). Intervals are 95% stratified-bootstrap
confidence intervals (Agarwal et al., `Deep RL at the Edge of the Statistical Precipice
<https://arxiv.org/abs/2108.13264>`_, NeurIPS 2021), computed by rliable.
"""
from __future__ import annotations

import contextlib

import numpy as np

from rlkit_jax.errors import UsageError

_MISSING = "this report needs rliable: pip install -e '.[reference]' (or drop the flag that asks for intervals)"


def _rliable():
  try:
    from rliable import library, metrics, plot_utils  # noqa: PLC0415 (reference extra)
  except ImportError as e:
    raise UsageError(_MISSING) from e
  return library, metrics, plot_utils


@contextlib.contextmanager
def _global_numpy_seed(seed: int):
  """Seeds NumPy's global generator inside the block and restores its state after it.

  rliable's ``StratifiedBootstrap.update_indices`` (rliable 1.2) draws its resamples with
  ``np.random.choice``, NumPy's global generator, and not from the ``random_state`` it is given, so
  without this the same scores give other intervals on every call.
  """
  state = np.random.get_state()
  np.random.seed(seed)
  try:
    yield
  finally:
    np.random.set_state(state)


def _interval_estimates(library, score_dict: dict[str, np.ndarray], func, reps: int) -> tuple[dict, dict]:
  """``library.get_interval_estimates`` one key at a time from the same seed: an entry's interval
  depends on its own scores only, not on the other entries of the report or on earlier calls."""
  points, bands = {}, {}
  for name, scores in score_dict.items():
    with _global_numpy_seed(0):
      point, band = library.get_interval_estimates({name: scores}, func, reps=reps)  # its random_state is unused
    points.update(point)
    bands.update(band)
  return points, bands


def iqm_intervals(finals: dict[str, np.ndarray], reps: int) -> tuple[dict, dict]:
  """rliable's IQM point estimates and 95% stratified-bootstrap intervals, per key (scores ``[S]``)."""
  library, metrics, _ = _rliable()
  score_dict = {name: np.asarray(v, np.float64)[:, None] for name, v in finals.items()}  # [runs, 1 task]
  iqm = lambda x: np.array([metrics.aggregate_iqm(x)])
  return _interval_estimates(library, score_dict, iqm, reps)


def iqm_interval(scores: np.ndarray, reps: int = 2000) -> tuple[float, float, float]:
  """``(IQM, low, high)`` of one set of scores ``[S]``: :func:`iqm_intervals` for a single entry."""
  point, interval = iqm_intervals({"x": scores}, reps=reps)
  return float(point["x"][0]), float(interval["x"][0, 0]), float(interval["x"][1, 0])


def aggregate_intervals(scores: dict[str, np.ndarray], reps: int) -> tuple[dict, dict]:
  """IQM and mean over runs × tasks with 95% stratified-bootstrap intervals (strata = tasks).

  Args:
    scores: algorithm → ``[runs, tasks]`` normalised scores, the same tasks in every entry.
    reps: bootstrap resamples.

  Returns:
    ``(points, intervals)``: algorithm → ``[2]`` (IQM, mean) and ``[2, 2]`` (low/high × metric).
  """
  library, metrics, _ = _rliable()
  aggregate = lambda x: np.array([metrics.aggregate_iqm(x), metrics.aggregate_mean(x)])
  score_dict = {name: np.asarray(v, np.float64) for name, v in scores.items()}
  return _interval_estimates(library, score_dict, aggregate, reps)


def plot_aggregates(points: dict, intervals: dict, path: str) -> None:
  """rliable's interval-estimate plot of :func:`aggregate_intervals` (IQM and mean), as a PNG."""
  _, _, plot_utils = _rliable()
  fig, _ = plot_utils.plot_interval_estimates(
      points, intervals, metric_names=["IQM", "Mean"], algorithms=list(points), xlabel="normalized score",
      subfigure_width=3.6, row_height=0.45, xlabel_y_coordinate=-0.25,
  )
  fig.savefig(path, dpi=110, bbox_inches="tight")


def plot_performance_profiles(scores: dict[str, np.ndarray], path: str, reps: int, *, max_score: float = 120.0) -> None:
  """rliable's score distributions (fraction of runs above τ, with bootstrap bands) as a PNG.

  Args:
    scores: as :func:`aggregate_intervals`.
    path: the PNG to write.
    reps: bootstrap resamples for the bands.
    max_score: right end of the τ axis (normalised score).
  """
  library, _, plot_utils = _rliable()
  import matplotlib.pyplot as plt  # noqa: PLC0415

  thresholds = np.linspace(0.0, max_score, 61)
  score_dict = {name: np.asarray(v, np.float64) for name, v in scores.items()}
  with _global_numpy_seed(0):
    profiles, cis = library.create_performance_profile(score_dict, thresholds, reps=reps)
  fig, ax = plt.subplots(figsize=(6.0, 3.6))
  plot_utils.plot_performance_profiles(profiles, thresholds, performance_profile_cis=cis, xlabel=r"normalized score $\tau$", ax=ax)
  ax.legend(fontsize=8, loc="upper right")  # the profile lines carry the algorithm names
  fig.savefig(path, dpi=110, bbox_inches="tight")
  plt.close(fig)
