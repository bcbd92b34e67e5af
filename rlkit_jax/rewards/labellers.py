"""Labellers: anything that takes pairs of segments and says which is better.

One interface for a script, a person and another model (:class:`Labeller`): called with
:class:`~rlkit_jax.rewards.segments.Queries` of K = 2 segments, it returns one label per pair —
the probability that the first segment is preferred (1, 0, 0.5 for "equally good") or NaN for
"skip". :class:`ScriptedTeacher` implements the simulated teachers of B-Pref from the dataset's
own rewards; :class:`ModelLabeller` turns any scoring model into a labeller (AI feedback);
:class:`rlkit_jax.rewards.terminal.TerminalLabeller` asks a person.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Callable, Protocol

import numpy as np

from rlkit_jax.rewards.segments import Queries


class Labeller(Protocol):
  """Labels pairs of segments.

  ``__call__(queries)`` with ``queries.num_segments == 2`` returns ``[Q]`` float32: 1.0 if the
  first segment is preferred, 0.0 if the second, 0.5 if equally preferable, NaN if skipped.
  ``name`` is written into the preference file's ``labeller`` field.
  """

  name: str

  def __call__(self, queries: Queries) -> np.ndarray:
    ...


def _check_pairs(queries: Queries) -> None:
  if queries.num_segments != 2:
    raise ValueError(f"a labeller labels pairs; these queries have {queries.num_segments} segments (rank them instead)")


@dataclasses.dataclass
class ScriptedTeacher:
  r"""A simulated teacher of B-Pref, vectorised over queries, judging the dataset's own rewards.

  For a pair with true segment returns ``R¹, R²`` (undiscounted sums), in B-Pref's order:

  1. **skip**: if ``max(R¹, R²) < skip · scale`` neither segment shows the task: NaN.
  2. **equal**: if ``|R¹ − R²| < equal · scale``: 0.5.
  3. **myopic**: the teacher compares ``Σ_t γ^{T−1−t} r_t`` (recent steps count more) instead.
  4. **stochastic**: label 1 with probability ``sigmoid(β (R¹_γ − R²_γ))``; β = ∞ is rational
     (label 1 iff ``R¹_γ > R²_γ``, 0.5 at an exact tie).
  5. **mistake**: every strict label is flipped with probability ε.

  ``scale`` is ``return_scale`` if given, else the mean |true segment return| of the queries; B-Pref
  uses the average episode return scaled to the segment length (``T · mean reward``), which
  :meth:`for_rewards` sets. Thresholds of 0 switch skip and equal off.

  Attributes:
    beta: rationality β > 0 (``math.inf``: the oracle's hard labels).
    gamma: myopia γ in (0, 1] (1: not myopic).
    epsilon: mistake probability ε in [0, 1).
    skip: skip threshold as a fraction of ``scale`` (0: never skip).
    equal: equal threshold as a fraction of ``scale`` (0: never equal).
    return_scale: see above, or None.
    seed: seeds the teacher's own NumPy generator (stochastic labels and mistakes).
    name: written into preference files.

  References:
    Lee et al., `B-Pref: Benchmarking Preference-Based RL <https://arxiv.org/abs/2111.03026>`_,
    NeurIPS Datasets and Benchmarks 2021, Sec. 3.2 and Eq. (3).
  """

  beta: float = math.inf
  gamma: float = 1.0
  epsilon: float = 0.0
  skip: float = 0.0
  equal: float = 0.0
  return_scale: float | None = None
  seed: int = 0
  name: str = "oracle"

  def __post_init__(self):
    if not self.beta > 0 or not 0 < self.gamma <= 1 or not 0 <= self.epsilon < 1 or self.skip < 0 or self.equal < 0:
      raise ValueError(
          f"ScriptedTeacher: need beta > 0, 0 < gamma ≤ 1, 0 ≤ epsilon < 1, skip ≥ 0, equal ≥ 0; got beta={self.beta}, "
          f"gamma={self.gamma}, epsilon={self.epsilon}, skip={self.skip}, equal={self.equal}"
      )
    self._rng = np.random.default_rng(self.seed)

  def for_rewards(self, rewards: np.ndarray, segment_length: int) -> "ScriptedTeacher":
    """This teacher with ``return_scale = T · |mean(rewards)|`` (B-Pref's threshold scale)."""
    return dataclasses.replace(self, return_scale=float(segment_length * abs(np.mean(rewards))))

  def _returns(self, rewards: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    rewards = np.asarray(rewards, np.float64)  # [Q, K, T]
    weights = self.gamma ** np.arange(rewards.shape[-1])[::-1]
    return rewards.sum(-1), (rewards * weights).sum(-1)

  def __call__(self, queries: Queries) -> np.ndarray:
    _check_pairs(queries)
    returns, seen = self._returns(queries.rewards)
    delta = seen[:, 0] - seen[:, 1]
    if math.isinf(self.beta):
      labels = np.where(delta > 0, 1.0, np.where(delta < 0, 0.0, 0.5))
    else:
      labels = (self._rng.random(len(delta)) < 1.0 / (1.0 + np.exp(-self.beta * delta))).astype(np.float64)
    flip = self._rng.random(len(delta)) < self.epsilon
    labels = np.where(flip & (labels != 0.5), 1.0 - labels, labels)
    scale = self.return_scale if self.return_scale is not None else float(np.mean(np.abs(returns)))
    labels = np.where(np.abs(returns[:, 0] - returns[:, 1]) < self.equal * scale, 0.5, labels)
    labels = np.where((self.skip > 0) & (returns.max(axis=1) < self.skip * scale), np.nan, labels)  # skip=0: never
    return labels.astype(np.float32)

  def rank(self, queries: Queries) -> np.ndarray:
    """Ranks K segments per query, best first: ``[Q, K]`` int64.

    Rational (β = ∞): by the (myopic) return. Stochastic: a Plackett-Luce sample with scores
    ``β R_γ`` (Gumbel-max: sort ``β R_γ + Gumbel noise``). ``skip``, ``equal`` and ``epsilon`` apply to
    pairs only.
    """
    _, seen = self._returns(queries.rewards)
    scores = seen if math.isinf(self.beta) else self.beta * seen + self._rng.gumbel(size=seen.shape)
    return np.argsort(-scores, axis=-1, kind="stable").astype(np.int64)


# B-Pref's teachers (Lee et al. 2021, Sec. 3.2 and Table 2's default parameters).
TEACHERS: dict[str, dict[str, float]] = {
    "oracle": {},
    "stochastic": {"beta": 1.0},
    "myopic": {"gamma": 0.9},
    "skip": {"skip": 0.1},
    "equal": {"equal": 0.1},
    "mistake": {"epsilon": 0.1},
}


def make_teacher(kind: str, *, seed: int, **overrides: float) -> ScriptedTeacher:
  """The B-Pref teacher ``kind`` (a key of :data:`TEACHERS`), with parameters overridden.

  Raises:
    ValueError: an unknown ``kind``, listing the choices.
  """
  if kind not in TEACHERS:
    raise ValueError(f"unknown teacher {kind!r}; choose one of {sorted(TEACHERS)}")
  params = {**TEACHERS[kind], **overrides}
  label = ",".join(f"{k}={v:g}" for k, v in params.items())
  return ScriptedTeacher(**params, seed=seed, name=f"{kind}({label})" if label else kind)


@dataclasses.dataclass
class ModelLabeller:
  r"""Another model as the labeller (AI feedback, RLAIF): it scores each segment; the higher wins.

  ``score_fn(queries) -> [Q, 2]`` may be anything: a trained reward model's segment returns
  (:meth:`rlkit_jax.rewards.RewardEnsemble.segment_scores`), a critic, a vision-language model
  judging rendered frames against a written description of the task. Labels are hard (β = ∞) or
  sampled from ``sigmoid(β Δ)``; pairs closer than ``equal_margin`` are ties.

  Attributes:
    score_fn: ``Queries -> [Q, 2]`` float scores.
    name: written into preference files (e.g. ``"model:reward_ensemble"``).
    beta: β > 0 or ``math.inf``.
    equal_margin: |Δ| below this is a tie (0.5).
    seed: seeds the sampling when β is finite.

  References:
    Bai et al., `Constitutional AI <https://arxiv.org/abs/2212.08073>`_, 2022 (AI preference
    labels); Lee et al., `RLAIF <https://arxiv.org/abs/2309.00267>`_, 2023.
  """

  score_fn: Callable[[Queries], np.ndarray]
  name: str = "model"
  beta: float = math.inf
  equal_margin: float = 0.0
  seed: int = 0

  def __post_init__(self):
    self._rng = np.random.default_rng(self.seed)

  def __call__(self, queries: Queries) -> np.ndarray:
    _check_pairs(queries)
    scores = np.asarray(self.score_fn(queries), np.float64)
    if scores.shape != (len(queries), 2):
      raise ValueError(f"ModelLabeller {self.name!r}: score_fn must return [Q, 2] = {(len(queries), 2)}, got {scores.shape}")
    delta = scores[:, 0] - scores[:, 1]
    if math.isinf(self.beta):
      labels = np.where(delta > 0, 1.0, np.where(delta < 0, 0.0, 0.5))
    else:
      labels = (self._rng.random(len(delta)) < 1.0 / (1.0 + np.exp(-self.beta * delta))).astype(np.float64)
    return np.where(np.abs(delta) < self.equal_margin, 0.5, labels).astype(np.float32)
