"""Every public objective against an independent NumPy reference: values, gradients, stop-gradients,
jit / no-jit, vmap over a leading axis and over a traced hyperparameter, and shape checks.

The references below are written from the papers' formulas in float64 NumPy; they never call the
JAX code. Analytic gradients are of the *mean* loss (what the agents minimise).
"""
from __future__ import annotations

import dataclasses
from typing import Callable, Sequence

import chex
import hypothesis
import hypothesis.extra.numpy as hnp
import hypothesis.strategies as st
import jax
import jax.numpy as jnp
import jax.test_util
import numpy as np
import pytest
from absl.testing import parameterized

import rlkit_jax.objectives as obj

B = 5  # batch
E = 2  # critic-ensemble members
SEEDS = (0, 1, 2)
TRANSFORMS = [pytest.param(lambda f: f, id="nojit"), pytest.param(jax.jit, id="jit")]


# ----------------------------------------------------------------------------------------------
# NumPy references (float64), written from the formulas.
# ----------------------------------------------------------------------------------------------


def _f64(*xs):
  return [np.asarray(x, np.float64) for x in xs]


def np_expectile_weight(u, tau):
  # IQL Eq. (5): L_2^τ(u) = |τ - 1(u < 0)| u², u = target - prediction.
  return np.abs(tau - (u < 0).astype(np.float64))


def np_expectile_loss(p, t, tau):
  p, t = _f64(p, t)
  u = t - p
  return np_expectile_weight(u, tau) * u**2


def np_td_target(r, d, v, gamma):
  r, d, v = _f64(r, d, v)
  return r + gamma * (1.0 - d) * v


def np_squared_td_error(q, y):
  q, y = _f64(q, y)
  return (q - y[None, :]) ** 2


def np_normalize_advantages(a, eps):
  # AWR reference code: (A - mean) / (std + eps), population std.
  (a,) = _f64(a)
  return (a - a.mean()) / (np.sqrt(np.mean((a - a.mean()) ** 2)) + eps)


def np_advantage_weights(a, beta, max_w):
  (a,) = _f64(a)
  return np.minimum(np.exp(beta * a), max_w)


def np_awr_loss(lp, a, beta, max_w):
  (lp,) = _f64(lp)
  return -np_advantage_weights(a, beta, max_w) * lp


def np_sac_actor_loss(lp, q, alpha):
  lp, q = _f64(lp, q)
  return alpha * lp - q


def np_sac_temperature_loss(log_alpha, lp, target_entropy):
  log_alpha, lp = _f64(log_alpha, lp)
  return np.exp(log_alpha) * (-lp - target_entropy)


def np_softmax(x):
  z = np.exp(x - x.max(axis=-1, keepdims=True))
  return z / z.sum(axis=-1, keepdims=True)


def np_cql_discrete_penalty(q, a):
  # CQL(H), Kumar et al. 2020 Eq. (4), discrete: log Σ_a exp Q(s, a) − Q(s, a_data).
  (q,) = _f64(q)
  m = q.max(axis=-1)
  lse = m + np.log(np.exp(q - m[..., None]).sum(axis=-1))
  return lse - q[..., np.arange(len(a)), a]


def g_cql_discrete_q(q, a):
  # d/dQ of the mean over B: (softmax(Q) − onehot(a_data)) / B.
  (q,) = _f64(q)
  return (np_softmax(q) - np.eye(q.shape[-1])[a]) / q.shape[-2]


def np_iql_value_loss(v, tq, tau):
  v, tq = _f64(v, tq)
  return np_expectile_loss(v, tq.min(axis=0), tau)


def np_iql_critic_loss(q, r, d, nv, gamma):
  return np_squared_td_error(q, np_td_target(r, d, nv, gamma))


def np_iql_actor_loss(lp, tq, v, beta, max_w):
  tq, v = _f64(tq, v)
  return np_awr_loss(lp, tq.min(axis=0) - v, beta, max_w)


def np_edac_diversity(g):
  # An et al. 2021, Sec. 4.2 with the authors' normalisation: per sample, the cosine similarity of
  # every ordered pair i != j of the members' action gradients, summed, over (E - 1).
  (g,) = _f64(g)
  num_members, batch = g.shape[:2]
  out = np.zeros(batch)
  for b in range(batch):
    for i in range(num_members):
      for j in range(num_members):
        if i != j:
          gi, gj = g[i, b], g[j, b]
          out[b] += gi @ gj / ((np.linalg.norm(gi) + 1e-10) * (np.linalg.norm(gj) + 1e-10))
  return out / (num_members - 1)


def np_numeric_grad(ref, argnum, h=1e-6):
  """d mean(ref) / d args[argnum] by central differences in float64 (an independent check of a
  gradient too long to derive by hand)."""

  def grad(*args):
    args = [np.asarray(a, np.float64) for a in args]
    x = args[argnum]
    out = np.zeros_like(x)
    for index in np.ndindex(x.shape):
      for sign in (1.0, -1.0):
        shifted = x.copy()
        shifted[index] += sign * h
        out[index] += sign * np.mean(ref(*args[:argnum], shifted, *args[argnum + 1:])) / (2 * h)
    return out

  return grad


def np_rebrac_penalty(pi, a):
  pi, a = _f64(pi, a)
  return np.sum((pi - a) ** 2, axis=-1)


# ----------------------------------------------------------------------------------------------
# Analytic gradients of the mean loss, d mean(L) / d arg.
# ----------------------------------------------------------------------------------------------


def g_expectile_pred(p, t, tau):
  p, t = _f64(p, t)
  u = t - p
  return -2.0 * np_expectile_weight(u, tau) * u / u.size


def g_expectile_target(p, t, tau):
  return -g_expectile_pred(p, t, tau)


def g_sq_td_q(q, y, *_):
  q, y = _f64(q, y)
  return 2.0 * (q - y[None]) / q.size


def g_sq_td_y(q, y, *_):
  q, y = _f64(q, y)
  return -2.0 * (q - y[None]).sum(axis=0) / q.size


# ----------------------------------------------------------------------------------------------
# The table of cases. Every function takes its hyperparameters as trailing *positional* arguments
# so that jit and vmap trace them (a traced hyperparameter must work).
# ----------------------------------------------------------------------------------------------


def _normal(rng, *shape, scale=1.0):
  return (scale * rng.standard_normal(shape)).astype(np.float32)


def _terminals(rng):
  return (rng.random(B) < 0.3).astype(np.float32)


T = 4  # steps per preference segment
K = 4  # segments per ranking


def np_log_sigmoid(x):
  return -np.logaddexp(0.0, -np.asarray(x, np.float64))


def np_sigmoid(x):
  return 1.0 / (1.0 + np.exp(-np.asarray(x, np.float64)))


def np_segment_return(r, g):
  (r,) = _f64(r)
  return np.sum(r * g ** np.arange(r.shape[-1]), axis=-1)


def g_segment_return_discount(r, g):
  # d/dγ Σ_t γ^t r_t = Σ_t t γ^(t-1) r_t, averaged over B.
  (r,) = _f64(r)
  t = np.arange(r.shape[-1])
  return np.mean(np.sum(r * t * g ** np.maximum(t - 1, 0), axis=-1))


def np_bradley_terry_loss(r1, r2, y, m):
  # Christiano et al. 2017, Eq. 1: P(1 ≻ 2) = σ(R¹ − R²); label y = P(first preferred); margin m.
  r1, r2, y = _f64(r1, r2, y)
  return -y * np_log_sigmoid(r1 - r2 - m) - (1.0 - y) * np_log_sigmoid(r2 - r1 - m)


def g_bradley_terry_first(r1, r2, y, m):
  # d/dx −log σ(x) = −(1 − σ(x)).
  r1, r2, y = _f64(r1, r2, y)
  return (-y * (1.0 - np_sigmoid(r1 - r2 - m)) + (1.0 - y) * (1.0 - np_sigmoid(r2 - r1 - m))) / r1.size


def g_bradley_terry_margin(r1, r2, y, m):
  r1, r2, y = _f64(r1, r2, y)
  return np.mean(y * (1.0 - np_sigmoid(r1 - r2 - m)) + (1.0 - y) * (1.0 - np_sigmoid(r2 - r1 - m)))


def _ranking_pairs(k):
  return [(i, j) for i in range(k) for j in range(i + 1, k)]


def np_bradley_terry_ranking_loss(r, ranking, m):
  (r,) = _f64(r)
  out = np.zeros(r.shape[0])
  for b in range(r.shape[0]):
    pairs = _ranking_pairs(r.shape[1])
    out[b] = np.mean([-np_log_sigmoid(r[b, ranking[b, i]] - r[b, ranking[b, j]] - m) for i, j in pairs])
  return out


def g_bradley_terry_ranking(r, ranking, m):
  (r,) = _f64(r)
  grad = np.zeros_like(r)
  pairs = _ranking_pairs(r.shape[1])
  for b in range(r.shape[0]):
    for i, j in pairs:
      w, l = ranking[b, i], ranking[b, j]
      g = -(1.0 - np_sigmoid(r[b, w] - r[b, l] - m)) / len(pairs) / r.shape[0]
      grad[b, w] += g
      grad[b, l] -= g
  return grad


def np_plackett_luce_loss(r, ranking):
  # −log Π_i exp(R_(i)) / Σ_{j≥i} exp(R_(j)), written as an explicit loop over positions.
  (r,) = _f64(r)
  out = np.zeros(r.shape[0])
  for b in range(r.shape[0]):
    ordered = r[b, ranking[b]]
    out[b] = sum(np.log(np.sum(np.exp(ordered[i:]))) - ordered[i] for i in range(len(ordered)))
  return out


def g_plackett_luce(r, ranking):
  (r,) = _f64(r)
  grad = np.zeros_like(r)
  for b in range(r.shape[0]):
    ordered = r[b, ranking[b]]
    for i in range(len(ordered)):
      suffix = np.exp(ordered[i:]) / np.sum(np.exp(ordered[i:]))
      for offset, p in enumerate(suffix):
        grad[b, ranking[b, i + offset]] += p
      grad[b, ranking[b, i]] -= 1.0
  return grad / r.shape[0]


def _preference_labels(rng):
  return rng.choice(np.array([0.0, 0.5, 1.0], np.float32), B)


def _rankings(rng):
  return np.stack([rng.permutation(K) for _ in range(B)]).astype(np.int32)


@dataclasses.dataclass(frozen=True)
class Case:
  name: str
  fn: Callable  # (*data, *hparams) -> per-element loss (JAX)
  ref: Callable  # (*data, *hparams) -> per-element loss (NumPy)
  make_data: Callable[[np.random.Generator], tuple]
  hparams: Sequence[tuple]  # hyperparameter values to test
  grads: dict  # argnum -> analytic d mean / d arg (NumPy), or None for "gradient stopped: zero"
  smooth_argnums: Sequence[int] = ()  # where check_grads applies

  @property
  def num_data(self) -> int:
    return len(self.make_data(np.random.default_rng(0)))


def _penalty_slope(g: np.ndarray, t: float) -> np.ndarray:
  """d (‖g‖ − t)² / d g = 2 (‖g‖ − t) g / ‖g‖, rows of ``g`` ``[B, D]``."""
  norm = np.linalg.norm(g, axis=-1, keepdims=True)
  return 2.0 * (norm - t) * g / norm


CASES = [
    Case(
        "expectile_loss",
        lambda p, t, tau: obj.expectile_loss(p, t, expectile=tau),
        np_expectile_loss,
        lambda rng: (_normal(rng, B), _normal(rng, B)),
        [(0.1,), (0.5,), (0.7,), (0.9,)],
        {0: g_expectile_pred, 1: g_expectile_target},
        smooth_argnums=(0, 1),  # C¹: the weight jumps where u = 0, but u² is 0 there
    ),
    Case(
        "td_target",
        lambda r, d, v, g: obj.td_target(r, d, v, discount=g),
        np_td_target,
        lambda rng: (_normal(rng, B), _terminals(rng), _normal(rng, B)),
        [(0.0,), (0.9,), (0.99,)],
        {0: None, 2: None, 3: None},  # stop_target_gradients=True (default): no gradient anywhere
    ),
    Case(
        "td_target_no_stop",
        lambda r, d, v, g: obj.td_target(r, d, v, discount=g, stop_target_gradients=False),
        np_td_target,
        lambda rng: (_normal(rng, B), _terminals(rng), _normal(rng, B)),
        [(0.0,), (0.9,), (0.99,)],
        {
            0: lambda r, d, v, g: np.full(B, 1.0 / B),
            1: lambda r, d, v, g: -g * np.asarray(v, np.float64) / B,
            2: lambda r, d, v, g: g * (1.0 - np.asarray(d, np.float64)) / B,
            3: lambda r, d, v, g: np.mean((1.0 - np.asarray(d, np.float64)) * v),  # d/dγ
        },
        smooth_argnums=(0, 2),
    ),
    Case(
        "squared_td_error",
        obj.squared_td_error,
        np_squared_td_error,
        lambda rng: (_normal(rng, E, B), _normal(rng, B)),
        [()],
        {0: g_sq_td_q, 1: g_sq_td_y},
        smooth_argnums=(0, 1),
    ),
    Case(
        "bc_loss",
        obj.bc_loss,
        lambda lp: -np.asarray(lp, np.float64),
        lambda rng: (_normal(rng, B, scale=3.0),),
        [()],
        {0: lambda lp: np.full(B, -1.0 / B)},
        smooth_argnums=(0,),
    ),
    Case(
        "advantage_weights",
        lambda a, beta, m: obj.advantage_weights(a, temperature=beta, max_weight=m),
        np_advantage_weights,
        lambda rng: (_normal(rng, B, scale=2.0),),
        [(0.0, 100.0), (1.0, 100.0), (3.0, 100.0), (10.0, 100.0), (3.0, 20.0)],
        {0: None},  # weights carry no gradient
    ),
    Case(
        "normalize_advantages",
        lambda a, eps: obj.normalize_advantages(a, eps=eps),
        np_normalize_advantages,
        lambda rng: (_normal(rng, B, scale=30.0),),
        [(1e-5,), (1.0,)],
        {0: None},  # standardised advantages feed the weights only: gradient stopped
    ),
    Case(
        "advantage_weighted_loss",
        lambda lp, a, beta, m: obj.advantage_weighted_loss(lp, a, temperature=beta, max_weight=m),
        np_awr_loss,
        lambda rng: (_normal(rng, B, scale=3.0), _normal(rng, B, scale=2.0)),
        [(0.0, 100.0), (3.0, 100.0), (10.0, 100.0), (3.0, 20.0)],
        {0: lambda lp, a, beta, m: -np_advantage_weights(a, beta, m) / B, 1: None},
        smooth_argnums=(0,),
    ),
    Case(
        "sac_actor_loss",
        lambda lp, q, alpha: obj.sac_actor_loss(lp, q, alpha=alpha),
        np_sac_actor_loss,
        lambda rng: (_normal(rng, B, scale=3.0), _normal(rng, B)),
        [(0.0,), (0.2,), (1.0,)],
        {
            0: lambda lp, q, alpha: np.full(B, alpha / B),
            1: lambda lp, q, alpha: np.full(B, -1.0 / B),
            2: None,  # α is a constant in the actor loss
        },
        smooth_argnums=(0, 1),
    ),
    Case(
        "sac_temperature_loss",
        lambda la, lp, h: obj.sac_temperature_loss(la, lp, target_entropy=h),
        np_sac_temperature_loss,
        lambda rng: (_normal(rng), _normal(rng, B, scale=3.0)),
        [(-2.0,), (0.0,), (1.5,)],
        {
            0: lambda la, lp, h: np.mean(np_sac_temperature_loss(la, lp, h)),  # d e^x/dx = e^x
            1: None,  # log π is a constant here
        },
        smooth_argnums=(0,),
    ),
    Case(
        "iql_value_loss",
        lambda v, tq, tau: obj.iql_value_loss(v, tq, expectile=tau),
        np_iql_value_loss,
        lambda rng: (_normal(rng, B), _normal(rng, E, B)),
        [(0.1,), (0.5,), (0.7,), (0.9,)],
        {0: lambda v, tq, tau: g_expectile_pred(v, np.min(tq, axis=0), tau), 1: None},
        smooth_argnums=(0,),
    ),
    Case(
        "iql_critic_loss",
        lambda q, r, d, nv, g: obj.iql_critic_loss(q, r, d, nv, discount=g),
        np_iql_critic_loss,
        lambda rng: (_normal(rng, E, B), _normal(rng, B), _terminals(rng), _normal(rng, B)),
        [(0.0,), (0.9,), (0.99,)],
        {
            0: lambda q, r, d, nv, g: g_sq_td_q(q, np_td_target(r, d, nv, g)),
            1: None,  # the whole target is stopped: rewards ...
            3: None,  # ... and V(s')
        },
        smooth_argnums=(0,),
    ),
    Case(
        "iql_actor_loss",
        lambda lp, tq, v, beta, m: obj.iql_actor_loss(lp, tq, v, temperature=beta, max_weight=m),
        np_iql_actor_loss,
        lambda rng: (_normal(rng, B, scale=3.0), _normal(rng, E, B), _normal(rng, B)),
        [(0.0, 100.0), (3.0, 100.0), (10.0, 100.0), (3.0, 20.0)],
        {
            0: lambda lp, tq, v, beta, m: -np_advantage_weights(np.min(tq, 0) - v, beta, m) / B,
            1: None,  # no gradient into the critics ...
            2: None,  # ... nor into V through the weights
        },
        smooth_argnums=(0,),
    ),
    # -- DQN --
    Case(  # Double DQN (van Hasselt et al. 2016, Eq. 4); the max form is tested in tests/agents/test_dqn.py
        "dqn_target",
        lambda r, d, qt, qo, g: obj.dqn_target(r, d, qt, discount=g, next_q_online=qo),
        lambda r, d, qt, qo, g: np_td_target(r, d, np.asarray(qt, np.float64)[np.arange(B), np.argmax(qo, -1)], g),
        lambda rng: (_normal(rng, B), _terminals(rng), _normal(rng, B, 3), _normal(rng, B, 3)),
        [(0.0,), (0.9,), (0.99,)],
        {0: None, 1: None, 2: None, 3: None, 4: None},  # the whole target is stopped
    ),
    # -- policy constraints (TD3+BC) --
    # Fujimoto & Gu 2021 Eq. (3) with the reference code's mean over action dims:
    # L_i = -λ Q_i + mean_A (π_i - a_i)², λ = α / mean_B |Q| held constant. d mean L / dQ = -λ/B,
    # d/dπ = 2(π - a)/(B A) = -d/da, d/dα = -mean(Q) / mean|Q|.
    Case(
        "td3_bc_actor_loss",
        lambda q, pi, a, alpha: obj.td3_bc_actor_loss(q, pi, a, alpha=alpha),
        lambda q, pi, a, alpha: (
            -alpha / np.mean(np.abs(np.float64(q))) * np.float64(q)
            + np.mean((np.float64(pi) - np.float64(a)) ** 2, axis=-1)
        ),
        lambda rng: (_normal(rng, B, scale=3.0), _normal(rng, B, 3, scale=0.5), _normal(rng, B, 3, scale=0.5)),
        [(0.0,), (1.0,), (2.5,)],
        {
            0: lambda q, pi, a, alpha: np.full(B, -alpha / np.mean(np.abs(np.float64(q))) / B),
            1: lambda q, pi, a, alpha: 2.0 * (np.float64(pi) - np.float64(a)) / np.size(pi),
            2: lambda q, pi, a, alpha: -2.0 * (np.float64(pi) - np.float64(a)) / np.size(pi),
            3: lambda q, pi, a, alpha: -np.mean(np.float64(q)) / np.mean(np.abs(np.float64(q))),
        },
        smooth_argnums=(1, 2),  # not Q: finite differences would see the stopped mean|Q|
    ),
    # -- return conditioning (RvS-R): ω = R̂ / max(H − t, 1); d mean ω / dR̂ = 1 / (B max(H − t, 1)) --
    Case(
        "average_reward_to_go",
        lambda rtg, t, horizon: obj.average_reward_to_go(rtg, t, horizon=horizon),
        lambda rtg, t, horizon: np.float64(rtg) / np.maximum(horizon - np.float64(t), 1.0),
        lambda rng: (_normal(rng, B, scale=300.0), rng.integers(0, 1000, B).astype(np.int32)),
        [(1000.0,), (500.0,), (200.0,)],
        {0: lambda rtg, t, horizon: 1.0 / np.maximum(horizon - np.float64(t), 1.0) / B},  # linear: no check_grads
    ),
    # -- Decision Transformer: mask · mean_A (â − a)²; d mean / dâ = mask · 2(â − a) / (A · B · K) --
    Case(
        "sequence_action_error",
        obj.sequence_action_error,
        lambda p, a, m: np.where(m, np.mean((np.float64(p) - np.float64(a)) ** 2, axis=-1), 0.0),
        lambda rng: (_normal(rng, B, 4, 3), _normal(rng, B, 4, 3), rng.random((B, 4)) < 0.7),
        [()],
        {
            0: lambda p, a, m: m[..., None] * 2.0 * (np.float64(p) - np.float64(a)) / (3 * B * 4),
            1: lambda p, a, m: -1.0 * m[..., None] * 2.0 * (np.float64(p) - np.float64(a)) / (3 * B * 4),
        },
        smooth_argnums=(0, 1),
    ),
    # -- critic ensembles (EDAC) and ReBRAC --
    Case(
        "edac_diversity_loss",
        obj.edac_diversity_loss,
        np_edac_diversity,
        lambda rng: (_normal(rng, 3, B, 2),),
        [()],
        {0: np_numeric_grad(np_edac_diversity, 0)},
        smooth_argnums=(0,),
    ),
    # Tarasov et al. 2023, Eq. (2): L = β₁ ‖π − a‖² − Q / mean|Q| (normaliser stopped).
    # d mean L / dQ = −1/(B mean|Q|); d/dπ = 2β₁(π − a)/B = −d/da; d/dβ₁ = mean ‖π − a‖².
    Case(
        "rebrac_actor_loss",
        lambda q, pi, a, beta: obj.rebrac_actor_loss(q, pi, a, actor_bc_coef=beta),
        lambda q, pi, a, beta: beta * np_rebrac_penalty(pi, a) - np.float64(q) / np.mean(np.abs(np.float64(q))),
        lambda rng: (_normal(rng, B, scale=3.0), _normal(rng, B, 3, scale=0.5), _normal(rng, B, 3, scale=0.5)),
        [(0.0,), (0.05,), (1.0,)],
        {
            0: lambda q, pi, a, beta: np.full(B, -1.0 / np.mean(np.abs(np.float64(q))) / B),
            1: lambda q, pi, a, beta: 2.0 * beta * (np.float64(pi) - np.float64(a)) / B,
            2: lambda q, pi, a, beta: -2.0 * beta * (np.float64(pi) - np.float64(a)) / B,
            3: lambda q, pi, a, beta: np.mean(np_rebrac_penalty(pi, a)),
        },
        smooth_argnums=(1, 2),
    ),
    # Eq. (3): v(s') = min Q'(s', ã') − β₂ ‖ã' − a'‖². d/dQ' = 1/B; d/dã' = −2β₂(ã' − a')/B = −d/da'.
    Case(
        "rebrac_next_values",
        lambda q, pi, a, beta: obj.rebrac_next_values(q, pi, a, critic_bc_coef=beta),
        lambda q, pi, a, beta: np.float64(q) - beta * np_rebrac_penalty(pi, a),
        lambda rng: (_normal(rng, B, scale=3.0), _normal(rng, B, 3, scale=0.5), _normal(rng, B, 3, scale=0.5)),
        [(0.0,), (0.5,), (2.0,)],
        {
            0: lambda q, pi, a, beta: np.full(B, 1.0 / B),
            1: lambda q, pi, a, beta: -2.0 * beta * (np.float64(pi) - np.float64(a)) / B,
            2: lambda q, pi, a, beta: 2.0 * beta * (np.float64(pi) - np.float64(a)) / B,
            3: lambda q, pi, a, beta: -np.mean(np_rebrac_penalty(pi, a)),
        },
        smooth_argnums=(0, 1, 2),
    ),
    # -- conservative (CQL) --
    Case(
        "cql_discrete_penalty",
        obj.cql_discrete_penalty,
        np_cql_discrete_penalty,
        lambda rng: (_normal(rng, B, 4, scale=3.0), rng.integers(0, 4, B)),
        [()],
        {0: g_cql_discrete_q},
        smooth_argnums=(0,),
    ),
    Case(
        # Continuous CQL(H), Eq. (4) + App. F: T·log Σ_k exp((Q(s,a_k) − log μ(a_k|s))/T) − Q(s,a_data),
        # no −log K (the reference's convention). Data: Q of K = 6 samples, their log densities, Q(s,a_data).
        "cql_penalty",
        lambda q, ld, qd, t: obj.cql_penalty(q, ld, qd, cql_temperature=t),
        lambda q, ld, qd, t: (
            t * np.logaddexp.reduce((np.asarray(q, np.float64) - ld) / t, axis=-1) - np.asarray(qd, np.float64)
        ),
        lambda rng: (_normal(rng, B, 6, scale=3.0), _normal(rng, B, 6, scale=2.0), _normal(rng, B)),
        [(1.0,), (0.5,), (2.0,)],
        {
            0: lambda q, ld, qd, t: np_softmax((np.asarray(q, np.float64) - ld) / t) / B,  # softmax / B
            1: None,  # the importance weights are constants
            2: lambda q, ld, qd, t: np.full(B, -1.0 / B),
        },
        smooth_argnums=(0, 2),
    ),
    # -- preferences (Bradley-Terry, Plackett-Luce) --
    Case(
        "segment_return",
        lambda r, g: obj.segment_return(r, discount=g),
        np_segment_return,
        lambda rng: (_normal(rng, B, T),),
        [(1.0,), (0.9,), (1.1,)],
        {0: lambda r, g: np.broadcast_to(g ** np.arange(T), (B, T)) / B, 1: g_segment_return_discount},
        smooth_argnums=(0,),
    ),
    Case(
        "segment_return:mean",
        lambda r, g: obj.segment_return(r, discount=g, reduction="mean"),
        lambda r, g: np_segment_return(r, g) / np.sum(g ** np.arange(T)),
        lambda rng: (_normal(rng, B, T),),
        [(1.0,), (0.9,)],
        {0: lambda r, g: np.broadcast_to(g ** np.arange(T) / np.sum(g ** np.arange(T)), (B, T)) / B},
        smooth_argnums=(0,),
    ),
    Case(
        "bradley_terry_loss",
        lambda r1, r2, y, m: obj.bradley_terry_loss(r1, r2, y, margin=m),
        np_bradley_terry_loss,
        lambda rng: (_normal(rng, B, scale=3.0), _normal(rng, B, scale=3.0), _preference_labels(rng)),
        [(0.0,), (0.5,), (2.0,)],
        {
            0: g_bradley_terry_first,
            1: lambda r1, r2, y, m: -g_bradley_terry_first(r1, r2, y, m),
            2: lambda r1, r2, y, m: (np_log_sigmoid(np.float64(r2) - r1 - m) - np_log_sigmoid(np.float64(r1) - r2 - m)) / B,
            3: g_bradley_terry_margin,
        },
        smooth_argnums=(0, 1, 2),
    ),
    Case(
        "bradley_terry_ranking_loss",
        lambda r, ranking, m: obj.bradley_terry_ranking_loss(r, ranking, margin=m),
        np_bradley_terry_ranking_loss,
        lambda rng: (_normal(rng, B, K, scale=2.0), _rankings(rng)),
        [(0.0,), (1.0,)],
        {0: g_bradley_terry_ranking},
        smooth_argnums=(0,),
    ),
    Case(
        "plackett_luce_loss",
        obj.plackett_luce_loss,
        np_plackett_luce_loss,
        lambda rng: (_normal(rng, B, K, scale=2.0), _rankings(rng)),
        [()],
        {0: g_plackett_luce},
        smooth_argnums=(0,),
    ),
    Case(
        "preference_accuracy",
        obj.preference_accuracy,
        lambda r1, r2, y: np.float64(y) * np.heaviside(np.float64(r1) - r2, 0.5)
        + (1.0 - np.float64(y)) * np.heaviside(np.float64(r2) - r1, 0.5),
        lambda rng: (_normal(rng, B), _normal(rng, B), _preference_labels(rng)),
        [()],
        {0: None, 1: None, 2: None},  # an accuracy carries no gradient
    ),
    # -- rewards from examples (goal classifiers, GAIL) --
    Case(
        "sigmoid_cross_entropy",
        obj.sigmoid_cross_entropy,
        lambda l, y: -np.float64(y) * np_log_sigmoid(l) - (1.0 - np.float64(y)) * np_log_sigmoid(-np.float64(l)),
        lambda rng: (_normal(rng, B, scale=3.0), rng.random(B).astype(np.float32)),
        [()],
        {0: lambda l, y: (np_sigmoid(l) - y) / B, 1: lambda l, y: -np.float64(l) / B},
        smooth_argnums=(0, 1),
    ),
    *[
        Case(
            name,
            fn,
            lambda p, n: -0.5 * (np_log_sigmoid(p) + np_log_sigmoid(-np.float64(n))),
            lambda rng: (_normal(rng, B, scale=3.0), _normal(rng, B, scale=3.0)),
            [()],
            {0: lambda p, n: -0.5 * (1.0 - np_sigmoid(p)) / B, 1: lambda p, n: 0.5 * np_sigmoid(n) / B},
            smooth_argnums=(0, 1),
        )
        for name, fn in (("goal_classifier_loss", obj.goal_classifier_loss), ("gail_discriminator_loss", obj.gail_discriminator_loss))
    ],
    *[
        Case(
            f"classifier_reward:{transform}",
            lambda l, transform=transform: obj.classifier_reward(l, transform=transform),
            ref,
            lambda rng: (_normal(rng, B, scale=3.0),),
            [()],
            {0: None},  # a reward is data for the learner: no gradient
        )
        for transform, ref in (
            ("logit", lambda l: np.float64(l)),
            ("log_d", lambda l: np.log(np_sigmoid(l))),
            ("log_d_minus_log_1_minus_d", lambda l: np.log(np_sigmoid(l)) - np.log(1.0 - np_sigmoid(l))),
            ("gail", lambda l: -np.log(1.0 - np_sigmoid(l))),
        )
    ],
    Case(
        # l(x) = x·w + ½‖x‖² has ∇_x l = g = w + x, so the penalty is (‖g‖ − t)² per row and its
        # gradient 2 (‖g‖ − t) g / ‖g‖ in x and in w (summed over rows); t = 0 is ‖g‖².
        "gradient_penalty",
        lambda x, w, t: obj.gradient_penalty(lambda z: z @ w + 0.5 * jnp.sum(z**2, axis=-1), x, target=t),
        lambda x, w, t: (np.linalg.norm(np.float64(x) + np.float64(w), axis=-1) - t) ** 2,
        lambda rng: (_normal(rng, B, 3), _normal(rng, 3)),
        [(0.0,), (1.0,), (2.5,)],
        {
            0: lambda x, w, t: _penalty_slope(np.float64(x) + np.float64(w), t) / B,
            1: lambda x, w, t: np.sum(_penalty_slope(np.float64(x) + np.float64(w), t), axis=0) / B,
        },
        smooth_argnums=(0, 1),
    ),
]

CASE_PARAMS = [pytest.param(c, id=c.name) for c in CASES]
CASE_HPARAM_PARAMS = [pytest.param(c, h, id=f"{c.name}-{h}") for c in CASES for h in c.hparams]


# Not losses: see test_ranking_to_pairs, test_mixup and tests/objectives/test_cql_proposals.py (a sampler).
TESTED_SEPARATELY = {"ranking_to_pairs", "mixup", "cql_proposals"}


def test_every_public_objective_is_covered():
  tested = {c.name.split(":")[0] for c in CASES} - {"td_target_no_stop"}
  assert tested | TESTED_SEPARATELY == set(obj.__all__)


@pytest.mark.parametrize("transform", TRANSFORMS)
@pytest.mark.parametrize("k", [2, 3, 5])
def test_ranking_to_pairs(k, transform):
  """Every (winner, loser) pair of a ranking, as itertools lists them, under jit and vmap."""
  import itertools

  rng = np.random.default_rng(k)
  rankings = np.stack([rng.permutation(k) for _ in range(B)]).astype(np.int32)
  winners, losers = transform(jax.vmap(obj.ranking_to_pairs))(rankings)
  assert winners.shape == losers.shape == (B, k * (k - 1) // 2)
  for row, w, l in zip(rankings, np.asarray(winners), np.asarray(losers)):
    assert list(zip(w, l)) == list(itertools.combinations(row, 2))


def test_plackett_luce_of_two_is_bradley_terry():
  rng = np.random.default_rng(0)
  returns = _normal(rng, B, 2, scale=3.0)
  rankings = np.stack([rng.permutation(2) for _ in range(B)]).astype(np.int32)
  first = np.take_along_axis(returns, rankings, axis=1)
  expected = obj.bradley_terry_loss(first[:, 0], first[:, 1], np.ones(B, np.float32))
  np.testing.assert_allclose(obj.plackett_luce_loss(returns, rankings), expected, rtol=1e-5)


def test_bradley_terry_is_stable_for_large_return_gaps():
  big = np.array([500.0, -500.0], np.float32)
  loss = obj.bradley_terry_loss(big, -big, np.array([0.0, 1.0], np.float32))
  np.testing.assert_allclose(loss, [1000.0, 1000.0], rtol=1e-6)
  grads = jax.grad(lambda r: obj.bradley_terry_loss(r, -big, np.array([0.0, 1.0], np.float32)).sum())(big)
  assert np.all(np.isfinite(grads))


@pytest.mark.parametrize("transform", TRANSFORMS)
@pytest.mark.parametrize("alpha", [0.2, 1.0, 4.0])
def test_mixup(alpha, transform):
  """x̃ = λ x⁺ + (1 − λ) x⁻ with the returned label λ, and λ ~ Beta(α, α) (mean ½, var 1/(4(2α+1)))."""
  rng = np.random.default_rng(0)
  positives, negatives = _normal(rng, 4000, 2), _normal(rng, 4000, 2)
  fn = transform(lambda k, p, n, a: obj.mixup(k, p, n, alpha=a))
  inputs, labels = fn(jax.random.key(0), positives, negatives, alpha)
  lam = np.float64(labels)[:, None]
  np.testing.assert_allclose(inputs, lam * positives + (1.0 - lam) * negatives, rtol=1e-5, atol=1e-5)
  assert np.all((labels >= 0) & (labels <= 1))
  sem = np.sqrt(1.0 / (4 * (2 * alpha + 1)) / len(labels))
  assert abs(float(np.mean(labels)) - 0.5) < 4 * sem
  np.testing.assert_allclose(np.var(np.float64(labels)), 1.0 / (4 * (2 * alpha + 1)), rtol=0.15)
  again, _ = fn(jax.random.key(0), positives, negatives, alpha)
  np.testing.assert_array_equal(again, inputs)
  # vmapped over keys (seeds) and over α (a sweep)
  batched, _ = jax.vmap(lambda k, a: obj.mixup(k, positives[:8], negatives[:8], alpha=a))(
      jax.random.split(jax.random.key(1), 3), jnp.asarray([0.5, 1.0, 2.0])
  )
  assert batched.shape == (3, 8, 2)


def test_classifier_reward_rejects_unknown_transform():
  with pytest.raises(ValueError, match="transform"):
    obj.classifier_reward(np.zeros(3, np.float32), transform="exp")


def test_gradient_penalty_of_a_nonlinear_logit():
  """l(x) = tanh(x·w): ∇_x l = (1 − tanh²(x·w)) w, penalty (1 − tanh²)² ‖w‖²."""
  rng = np.random.default_rng(2)
  x, w = _normal(rng, B, 3), _normal(rng, 3)
  got = jax.jit(lambda x: obj.gradient_penalty(lambda z: jnp.tanh(z @ w), x))(x)
  t = np.tanh(np.float64(x) @ np.float64(w))
  np.testing.assert_allclose(got, (1 - t**2) ** 2 * np.sum(np.float64(w) ** 2), rtol=1e-5)


def test_gradient_penalty_is_finite_at_a_flat_logit():
  """A constant logit has a zero input gradient: the penalty is t², and its parameter gradient is
  finite (the norm's kink at 0 gives NaN without a safe norm)."""
  x = _normal(np.random.default_rng(3), B, 3)
  for t in (0.0, 1.0):
    penalty = lambda w: jnp.mean(obj.gradient_penalty(lambda z: 0.0 * (z @ w) + w[0], x, target=t))
    np.testing.assert_allclose(penalty(jnp.ones(3)), t**2)
    assert np.all(np.isfinite(jax.grad(penalty)(jnp.ones(3))))


def test_segment_return_rejects_unknown_reduction():
  with pytest.raises(ValueError, match="reduction"):
    obj.segment_return(np.zeros((2, 3), np.float32), reduction="max")


@pytest.mark.parametrize("transform", TRANSFORMS)
@pytest.mark.parametrize("case, hparams", CASE_HPARAM_PARAMS)
def test_values_match_numpy(case, hparams, transform):
  fn = transform(case.fn)
  for seed in SEEDS:
    data = case.make_data(np.random.default_rng(seed))
    out = fn(*data, *hparams)
    expected = case.ref(*data, *hparams)
    assert out.shape == expected.shape
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_numpy_inputs_give_float32_jax_arrays(case):
  out = case.fn(*case.make_data(np.random.default_rng(0)), *case.hparams[-1])
  assert isinstance(out, jax.Array), type(out)
  assert out.dtype == jnp.float32


@pytest.mark.parametrize("transform", TRANSFORMS)
@pytest.mark.parametrize("case, hparams", CASE_HPARAM_PARAMS)
def test_gradients_match_analytic(case, hparams, transform):
  """jax.grad of the mean loss against the hand-derived gradient; ``None`` = stopped (zero)."""
  argnums = tuple(sorted(case.grads))
  grad_fn = transform(jax.grad(lambda *args: jnp.mean(case.fn(*args)), argnums=argnums))
  for seed in SEEDS:
    data = case.make_data(np.random.default_rng(seed))
    args = (*data, *(np.float32(h) for h in hparams))
    grads = grad_fn(*args)
    for argnum, got in zip(argnums, grads):
      analytic = case.grads[argnum]
      expected = np.zeros(np.shape(args[argnum])) if analytic is None else analytic(*data, *hparams)
      np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6, err_msg=f"d/d arg{argnum}")


@pytest.mark.parametrize("case", [pytest.param(c, id=c.name) for c in CASES if c.smooth_argnums])
def test_check_grads(case):
  data = case.make_data(np.random.default_rng(3))
  hparams = case.hparams[-1]
  for argnum in case.smooth_argnums:

    def f(x, argnum=argnum):
      args = list(data)
      args[argnum] = x
      return jnp.mean(case.fn(*args, *hparams))

    jax.test_util.check_grads(f, (jnp.asarray(data[argnum]),), order=1, modes=("fwd", "rev"))


@pytest.mark.parametrize("transform", TRANSFORMS)
@pytest.mark.parametrize("case", CASE_PARAMS)
def test_vmap_over_leading_axis(case, transform):
  """A leading batch-of-problems axis on every data argument: row s equals the unbatched answer."""
  hparams = case.hparams[-1]
  samples = [case.make_data(np.random.default_rng(seed)) for seed in SEEDS]
  stacked = [np.stack(parts) for parts in zip(*samples)]
  in_axes = (0,) * case.num_data + (None,) * len(hparams)
  out = transform(jax.vmap(case.fn, in_axes=in_axes))(*stacked, *hparams)
  expected = np.stack([case.ref(*data, *hparams) for data in samples])
  np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("transform", TRANSFORMS)
@pytest.mark.parametrize("case", [pytest.param(c, id=c.name) for c in CASES if c.hparams[0]])
def test_vmap_over_hyperparameters(case, transform):
  """A sweep is a vmap over traced hyperparameters (e.g. expectile τ over [0.1, 0.5, 0.7, 0.9])."""
  data = case.make_data(np.random.default_rng(4))
  hparam_arrays = [np.asarray(column, np.float32) for column in zip(*case.hparams)]
  in_axes = (None,) * case.num_data + (0,) * len(hparam_arrays)
  out = transform(jax.vmap(case.fn, in_axes=in_axes))(*data, *hparam_arrays)
  expected = np.stack([case.ref(*data, *h) for h in case.hparams])
  np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)


# ----------------------------------------------------------------------------------------------
# Sign convention, clipping, and explicit table tests.
# ----------------------------------------------------------------------------------------------


class ExpectileTableTest(chex.TestCase):
  """u = target - prediction; τ weights u > 0 (prediction below target)."""

  @chex.variants(with_jit=True, without_jit=True)
  @parameterized.named_parameters(
      ("tau_0.9", 0.9, [-1.0, 1.0], [0.9, 0.1]),
      ("tau_0.1", 0.1, [-1.0, 1.0], [0.1, 0.9]),
      ("tau_0.5", 0.5, [-1.0, 1.0], [0.5, 0.5]),
      ("tau_0.7_scaled", 0.7, [-2.0, 3.0], [0.7 * 4.0, 0.3 * 9.0]),
      ("zero_residual", 0.9, [0.0, 0.0], [0.0, 0.0]),
  )
  def test_expectile_weights(self, tau, predictions, expected):
    def per_element(p, t):
      return obj.expectile_loss(p, t, expectile=tau)

    fn = self.variant(jax.vmap(per_element))
    np.testing.assert_allclose(fn(jnp.array(predictions), jnp.zeros(2)), expected, rtol=1e-6)

  @chex.variants(with_jit=True, without_jit=True)
  def test_value_loss_pushes_v_up_for_high_expectile(self):
    """With τ = 0.9 a V below its target is pulled up harder than a V above it is pushed down."""
    values = jnp.array([-1.0, 1.0])
    target_q = jnp.zeros((E, 2))
    grad = self.variant(jax.grad(lambda v: jnp.sum(obj.iql_value_loss(v, target_q, expectile=0.9))))(values)
    np.testing.assert_allclose(grad, [-1.8, 0.2], rtol=1e-6)  # d/dv 0.9 (0 - v)² at v=-1; 0.1 v² at v=1


@pytest.mark.parametrize("tau", [0.1, 0.5, 0.7, 0.9])
def test_expectile_minimiser_is_the_numpy_expectile(tau):
  """The minimiser of mean L_τ over a constant prediction is the τ-expectile (found by bisection)."""
  targets = _normal(np.random.default_rng(5), 64, scale=2.0)
  t = targets.astype(np.float64)

  def first_order_condition(v):  # Σ |τ - 1(t < v)| (t - v) = 0 at the expectile
    return np.sum(np_expectile_weight(t - v, tau) * (t - v))

  lo, hi = t.min(), t.max()
  for _ in range(100):
    mid = 0.5 * (lo + hi)
    lo, hi = (mid, hi) if first_order_condition(mid) > 0 else (lo, mid)
  v_star = 0.5 * (lo + hi)

  def mean_loss(v):
    return jnp.mean(obj.expectile_loss(jnp.full_like(targets, v), jnp.asarray(targets), expectile=tau))

  assert abs(float(jax.grad(mean_loss)(jnp.float32(v_star)))) < 1e-4
  for delta in (-0.1, 0.1):
    assert float(mean_loss(v_star + delta)) > float(mean_loss(v_star))
  if tau > 0.5:
    assert v_star > t.mean()
  elif tau < 0.5:
    assert v_star < t.mean()


@pytest.mark.parametrize("transform", TRANSFORMS)
def test_advantage_weights_clip_at_max_weight(transform):
  fn = transform(lambda a, beta, m: obj.advantage_weights(a, temperature=beta, max_weight=m))
  advantages = jnp.array([-1000.0, 0.0, 1.0, 10.0, 1000.0])
  np.testing.assert_allclose(
      fn(advantages, 1.0, 100.0), [0.0, 1.0, np.e, 100.0, 100.0], rtol=1e-6
  )  # exp(1000) overflows to inf; the clip must still give exactly 100
  np.testing.assert_allclose(fn(advantages, 1.0, 20.0), [0.0, 1.0, np.e, 20.0, 20.0], rtol=1e-6)
  # The default clip is IQL's 100.
  np.testing.assert_allclose(obj.advantage_weights(advantages, temperature=1.0)[-1], 100.0)
  # Gradients stay finite (zero) through the clipped, overflowing weights.
  grads = jax.grad(
      lambda lp, a: jnp.sum(obj.advantage_weighted_loss(lp, a, temperature=1.0)), argnums=(0, 1)
  )(jnp.ones(5), advantages)
  np.testing.assert_allclose(grads[0], [-0.0, -1.0, -np.e, -100.0, -100.0], rtol=1e-6)
  np.testing.assert_array_equal(grads[1], np.zeros(5))


@pytest.mark.parametrize("transform", TRANSFORMS)
def test_normalize_advantages_of_equal_advantages_is_zero(transform):
  # ε keeps a batch without spread finite: every advantage is then the mean.
  out = transform(obj.normalize_advantages)(jnp.full(4, 7.0))
  np.testing.assert_array_equal(out, np.zeros(4))


def test_iql_actor_loss_clips_and_uses_min_over_critics():
  log_probs = jnp.array([-1.0, -2.0])
  target_q = jnp.array([[5.0, 100.0], [1.0, 200.0]])  # min over E: [1, 100]
  values = jnp.array([1.0, 0.0])  # advantages [0, 100]
  out = obj.iql_actor_loss(log_probs, target_q, values, temperature=3.0)
  np.testing.assert_allclose(out, [1.0, 200.0], rtol=1e-6)  # -1·(-1), -100·(-2)


def test_td_target_table():
  """Terminals cut the bootstrap; time-outs (terminal 0) keep it."""
  out = obj.td_target(jnp.array([1.0, 1.0]), jnp.array([0.0, 1.0]), jnp.array([10.0, 10.0]), discount=0.9)
  np.testing.assert_allclose(out, [10.0, 1.0], rtol=1e-6)


def test_sac_temperature_loss_raises_alpha_when_entropy_is_low():
  """Entropy below target → d loss / d log α < 0, so gradient descent raises α (and vice versa)."""
  target_entropy = -2.0
  grad_fn = jax.grad(lambda la, lp: jnp.mean(obj.sac_temperature_loss(la, lp, target_entropy=target_entropy)))
  low_entropy_log_probs = jnp.full(4, 5.0)  # entropy estimate -5 < -2
  high_entropy_log_probs = jnp.full(4, -1.0)  # entropy estimate 1 > -2
  assert float(grad_fn(jnp.float32(0.0), low_entropy_log_probs)) < 0
  assert float(grad_fn(jnp.float32(0.0), high_entropy_log_probs)) > 0


# ----------------------------------------------------------------------------------------------
# Shapes and dtypes never broadcast silently.
# ----------------------------------------------------------------------------------------------

_V4 = jnp.zeros(4)
_V1 = jnp.zeros(1)
_COL = jnp.zeros((4, 1))
_Q = jnp.zeros((E, 4))

MISMATCHES = {
    "expectile_size1": lambda: obj.expectile_loss(_V4, _V1, expectile=0.7),
    "expectile_column": lambda: obj.expectile_loss(_V4, _COL, expectile=0.7),
    "expectile_int": lambda: obj.expectile_loss(jnp.zeros(4, jnp.int32), jnp.zeros(4, jnp.int32), expectile=0.7),
    "td_target_size1": lambda: obj.td_target(_V4, _V1, _V4, discount=0.9),
    "td_target_column": lambda: obj.td_target(_V4, _V4, _COL, discount=0.9),
    "squared_td_error_rank": lambda: obj.squared_td_error(_V4, _V4),
    "squared_td_error_size": lambda: obj.squared_td_error(_Q, jnp.zeros(3)),
    "bc_loss_rank": lambda: obj.bc_loss(_COL),
    "advantage_weights_rank": lambda: obj.advantage_weights(_COL, temperature=1.0),
    "normalize_advantages_rank": lambda: obj.normalize_advantages(_COL),
    "normalize_advantages_int": lambda: obj.normalize_advantages(jnp.zeros(4, jnp.int32)),
    "awr_size1": lambda: obj.advantage_weighted_loss(_V4, _V1, temperature=1.0),
    "sac_actor_size1": lambda: obj.sac_actor_loss(_V4, _V1, alpha=0.2),
    "sac_actor_column": lambda: obj.sac_actor_loss(_V4, _COL, alpha=0.2),
    "sac_temperature_rank": lambda: obj.sac_temperature_loss(jnp.zeros(1), _V4, target_entropy=-1.0),
    "iql_value_rank": lambda: obj.iql_value_loss(_V4, _V4, expectile=0.7),
    "iql_value_size": lambda: obj.iql_value_loss(_V4, jnp.zeros((E, 1)), expectile=0.7),
    "iql_critic_size": lambda: obj.iql_critic_loss(_Q, _V4, _V4, _V1, discount=0.9),
    "iql_critic_q_size": lambda: obj.iql_critic_loss(jnp.zeros((E, 3)), _V4, _V4, _V4, discount=0.9),
    "iql_actor_size": lambda: obj.iql_actor_loss(_V1, _Q, _V4, temperature=3.0),
    "edac_rank": lambda: obj.edac_diversity_loss(_Q),
    "edac_one_member": lambda: obj.edac_diversity_loss(jnp.zeros((1, 4, 2))),
    "rebrac_actor_size": lambda: obj.rebrac_actor_loss(_V1, jnp.zeros((4, 2)), jnp.zeros((4, 2)), actor_bc_coef=1.0),
    "rebrac_next_actions": lambda: obj.rebrac_next_values(_V4, jnp.zeros((4, 2)), jnp.zeros((4, 3)), critic_bc_coef=1.0),
}


@pytest.mark.parametrize("transform", TRANSFORMS)
@pytest.mark.parametrize("call", [pytest.param(f, id=k) for k, f in MISMATCHES.items()])
def test_shape_or_dtype_mismatch_raises(call, transform):
  with pytest.raises(AssertionError):
    transform(call)()


def test_edac_diversity_of_aligned_and_opposed_gradients():
  """E members whose gradients all point one way give E (each of the E(E−1) ordered pairs counts
  1, over E − 1); two opposed members give −2 (both ordered pairs count −1); a zero gradient
  counts 0, not NaN."""
  aligned = np.tile(np.array([[[1.0, 2.0]]], np.float32), (4, 3, 1)) * np.arange(1, 5, dtype=np.float32)[:, None, None]
  np.testing.assert_allclose(obj.edac_diversity_loss(aligned), np.full(3, 4.0), rtol=1e-6)
  opposed = np.array([[[1.0, 0.0]], [[-2.0, 0.0]]], np.float32)
  np.testing.assert_allclose(obj.edac_diversity_loss(opposed), [-2.0], rtol=1e-6)
  zero = np.zeros((3, 2, 2), np.float32)
  assert np.all(np.isfinite(jax.grad(lambda g: obj.edac_diversity_loss(g).sum())(zero)))


def test_lower_precision_dtype_preserved():
  p = jnp.array([0.5, -0.5], jnp.bfloat16)
  out = obj.expectile_loss(p, jnp.zeros(2, jnp.bfloat16), expectile=0.9)
  assert out.dtype == jnp.bfloat16
  np.testing.assert_allclose(np.asarray(out, np.float32), [0.025, 0.225], rtol=1e-2)


# ----------------------------------------------------------------------------------------------
# Properties (hypothesis).
# ----------------------------------------------------------------------------------------------

_expectile_jit = jax.jit(lambda p, t, tau: obj.expectile_loss(p, t, expectile=tau))
_finite = st.floats(-100.0, 100.0, width=32, allow_nan=False, allow_infinity=False)
_vectors = hnp.arrays(np.float32, 8, elements=_finite)


@hypothesis.settings(max_examples=30, deadline=None, derandomize=True)
@hypothesis.given(p=_vectors, t=_vectors, tau=st.floats(0.01, 0.99))
def test_expectile_properties(p, t, tau):
  loss = np.asarray(_expectile_jit(p, t, np.float32(tau)))
  u = t.astype(np.float64) - p.astype(np.float64)
  assert np.all(loss >= 0)
  # Swapping prediction and target is the same as τ -> 1 - τ.
  np.testing.assert_allclose(loss, _expectile_jit(t, p, np.float32(1.0 - tau)), rtol=1e-5, atol=1e-4)
  # The loss lies between min(τ, 1-τ) u² and max(τ, 1-τ) u².
  assert np.all(loss <= max(tau, 1 - tau) * u**2 * (1 + 1e-5) + 1e-4)
  assert np.all(loss >= min(tau, 1 - tau) * u**2 * (1 - 1e-5) - 1e-4)


@hypothesis.settings(max_examples=30, deadline=None, derandomize=True)
@hypothesis.given(p=_vectors, t=_vectors)
def test_expectile_half_is_half_squared_error(p, t):
  u = t.astype(np.float64) - p.astype(np.float64)
  np.testing.assert_allclose(_expectile_jit(p, t, np.float32(0.5)), 0.5 * u**2, rtol=1e-5, atol=1e-4)
