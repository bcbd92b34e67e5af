"""rliable's interval estimates as the reports here use them (the ``[reference]`` extra)."""
from __future__ import annotations

import numpy as np


def iqm_intervals(finals: dict[str, np.ndarray], reps: int) -> tuple[dict, dict]:
  """rliable's IQM point estimates and 95% stratified-bootstrap intervals, per key (scores ``[S]``)."""
  from rliable import library as rly  # noqa: PLC0415 (reference extra)
  from rliable import metrics  # noqa: PLC0415

  score_dict = {name: np.asarray(v, np.float64)[:, None] for name, v in finals.items()}  # [runs, 1 task]
  iqm = lambda x: np.array([metrics.aggregate_iqm(x)])
  return rly.get_interval_estimates(score_dict, iqm, reps=reps, random_state=np.random.RandomState(0))
