"""Which pairs to ask about: uniform, ensemble disagreement, or entropy of the predicted preference.

From a pool of M candidate pairs (B-Pref draws ``M = 10 × N`` uniformly), pick the N that the
labels will teach the most. ``disagreement`` and ``entropy`` need the reward ensemble's segment
returns of the candidates, ``[E, M, 2]``.
"""
from __future__ import annotations

import numpy as np

QUERY_SELECTIONS = ("uniform", "disagreement", "entropy")


def preference_probabilities(returns: np.ndarray) -> np.ndarray:
  """Each member's P(first ≻ second) = sigmoid(R¹ − R²): ``[E, M, 2]`` → ``[E, M]`` float64."""
  returns = np.asarray(returns, np.float64)
  return 1.0 / (1.0 + np.exp(-(returns[..., 0] - returns[..., 1])))


def query_scores(method: str, returns: np.ndarray) -> np.ndarray:
  """How informative each candidate is (higher is better): ``[E, M, 2]`` → ``[M]`` float64.

  ``disagreement``: the standard deviation over members of P(first ≻ second) (Christiano et al.
  2017, Sec. 2.2.4; B-Pref's ``disagreement`` sampling). ``entropy``: the binary entropy of the
  ensemble-mean P (B-Pref's ``entropy`` sampling uses the same uncertainty, Lee et al. 2021,
  Sec. 4). ``uniform``: all zeros.

  Raises:
    ValueError: an unknown ``method``, or ``returns`` not ``[E, M, 2]``.
  """
  if method not in QUERY_SELECTIONS:
    raise ValueError(f"unknown query selection {method!r}; choose one of {QUERY_SELECTIONS}")
  returns = np.asarray(returns)
  if returns.ndim != 3 or returns.shape[-1] != 2:
    raise ValueError(f"query_scores: returns must be [E, M, 2] (members, candidates, pair), got {returns.shape}")
  if method == "uniform":
    return np.zeros(returns.shape[1])
  p = preference_probabilities(returns)
  if method == "disagreement":
    return p.std(axis=0)
  mean = np.clip(p.mean(axis=0), 1e-12, 1.0 - 1e-12)
  return -(mean * np.log(mean) + (1.0 - mean) * np.log(1.0 - mean))


def select_queries(method: str, num_queries: int, *, rng: np.random.Generator, returns: np.ndarray | None = None, num_candidates: int | None = None) -> np.ndarray:
  """Indices of the ``num_queries`` candidates to ask about.

  Args:
    method: one of :data:`QUERY_SELECTIONS`.
    num_queries: N.
    rng: host generator (uniform sampling, tie-breaking), consumed.
    returns: ensemble segment returns of the candidates ``[E, M, 2]`` (needed unless uniform).
    num_candidates: M, when ``returns`` is not given.

  Returns:
    ``[N]`` int64, distinct, in ``[0, M)``.

  Raises:
    ValueError: N > M, or ``returns`` missing for a model-based method.
  """
  if returns is None:
    if method != "uniform":
      raise ValueError(f"query selection {method!r} needs the ensemble's returns of the candidates")
    total = num_candidates
  else:
    total = np.asarray(returns).shape[1]
  if total is None or num_queries > total:
    raise ValueError(f"select_queries: asked for {num_queries} queries from {total} candidates")
  if method == "uniform":
    return rng.choice(total, num_queries, replace=False).astype(np.int64)
  scores = query_scores(method, returns)
  order = np.lexsort((rng.random(total), -scores))  # highest score first, random among equals
  return order[:num_queries].astype(np.int64)
