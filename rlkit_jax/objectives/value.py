"""Value-learning objectives: expectile regression and temporal-difference targets (incl. (Double) DQN).

Shape letters: ``B`` batch, ``E`` ensemble members. Every loss returns per-element values; the
caller reduces (``jnp.mean``). All inputs are floating point and must have exactly the shapes
stated: nothing broadcasts.
"""
from __future__ import annotations

import chex
import jax
import jax.numpy as jnp
from jax.typing import ArrayLike


def expectile_loss(predictions: ArrayLike, targets: ArrayLike, *, expectile: ArrayLike) -> jax.Array:
  r"""Asymmetric squared loss whose minimiser is the ``expectile`` of ``targets``.

  With ``u = targets - predictions`` the loss is ``|τ - 1(u < 0)| · u²``: residuals where the
  prediction is *below* the target (u > 0) get weight τ, those above get ``1 - τ``. With τ > 0.5
  the minimiser moves towards the upper expectile, which is how IQL's V(s) tracks the best
  in-distribution actions. τ = 0.5 gives ``0.5 · u²``.

  Args:
    predictions: the regressed quantity, e.g. V(s); any shape ``[...]``, float.
    targets: what it is regressed on, e.g. Q(s, a); same shape and dtype as ``predictions``.
      Gradients flow into both; stop them in the caller where a target must stay fixed.
    expectile: τ in (0, 1), a Python float or a traced scalar (so sweeps can vmap it).

  Returns:
    The per-element loss, shape ``[...]``; float32 for float32 inputs (a traced float32 τ
    promotes lower-precision inputs to float32).

  Raises:
    AssertionError (chex) at trace time if shapes or dtypes differ.

  References:
    Newey & Powell, `Asymmetric Least Squares Estimation and Testing`, Econometrica 1987.
    Kostrikov et al., `Offline Reinforcement Learning with Implicit Q-Learning
    <https://arxiv.org/abs/2110.06169>`_, 2021, Eq. (5).
  """
  chex.assert_equal_shape([predictions, targets])
  chex.assert_type([predictions, targets], float)
  u = jnp.asarray(targets) - jnp.asarray(predictions)
  weight = jnp.where(u < 0, 1.0 - expectile, expectile)
  return weight * jnp.square(u)


def td_target(
    rewards: ArrayLike,
    terminals: ArrayLike,
    next_values: ArrayLike,
    *,
    discount: ArrayLike,
    stop_target_gradients: bool = True,
) -> jax.Array:
  r"""One-step bootstrapped target ``r + γ (1 - terminal) v(s')``.

  ``terminals`` marks true environment terminations only: a time-limit truncation is *not* a
  terminal and must bootstrap (D4RL keeps the two apart as ``terminals`` and ``timeouts``).

  Args:
    rewards: r_t, shape ``[B]``, float.
    terminals: 1.0 where s' is terminal, else 0.0; shape ``[B]``, float.
    next_values: the bootstrap value of s' (V(s'), min_E Q'(s', a'), or a soft value), ``[B]``.
    discount: γ in [0, 1], Python float or traced scalar.
    stop_target_gradients: if True (default) no gradient flows through the target.

  Returns:
    The target, shape ``[B]``.

  References:
    Sutton & Barto, `Reinforcement Learning: An Introduction`, 2nd ed., 2018, Eq. (6.2).
  """
  chex.assert_equal_shape([rewards, terminals, next_values])
  chex.assert_type([rewards, terminals, next_values], float)
  rewards, terminals, next_values = (jnp.asarray(x) for x in (rewards, terminals, next_values))
  target = rewards + discount * (1.0 - terminals) * next_values
  return jax.lax.stop_gradient(target) if stop_target_gradients else target


def squared_td_error(q_values: ArrayLike, targets: ArrayLike) -> jax.Array:
  r"""Per-member squared TD error ``(Q_e(s, a) - y)²`` for a critic ensemble.

  Args:
    q_values: Q_e(s, a) for each member, shape ``[E, B]``.
    targets: the shared target y, shape ``[B]`` (usually from :func:`td_target`, gradient
      stopped).

  Returns:
    Shape ``[E, B]``. Sum over E and average over B for the usual double-Q critic loss.

  References:
    Mnih et al., `Human-level control through deep RL`, Nature 2015 (squared TD error);
    Fujimoto et al., `Addressing Function Approximation Error in Actor-Critic Methods
    <https://arxiv.org/abs/1802.09477>`_, 2018 (one target shared by both critics).
  """
  chex.assert_rank([q_values, targets], [2, 1])
  chex.assert_equal_shape_suffix([q_values, targets], 1)
  chex.assert_type([q_values, targets], float)
  return jnp.square(jnp.asarray(q_values) - jnp.asarray(targets)[None])


def dqn_target(
    rewards: ArrayLike,
    terminals: ArrayLike,
    next_q_target: ArrayLike,
    *,
    discount: ArrayLike,
    next_q_online: ArrayLike | None = None,
) -> jax.Array:
  r"""The (Double) DQN bootstrap target over a discrete action set, gradient stopped.

  * ``next_q_online`` given (Double DQN): ``y = r + γ (1 - d) Q_target(s', argmax_a Q_online(s', a))``;
    the online network picks the action and the target network values it, which removes most of
    the max operator's overestimation.
  * ``next_q_online`` None (DQN): ``y = r + γ (1 - d) max_a Q_target(s', a)``.

  ``terminals`` marks true terminations only (a time-limit truncation bootstraps). Ties in the
  argmax go to the lowest action index (``jnp.argmax``).

  Args:
    rewards: r, ``[B]`` float.
    terminals: d, 1.0 where s' is terminal else 0.0, ``[B]`` float.
    next_q_target: Q_target(s', ·) of the target network, ``[B, A]`` float.
    discount: γ in [0, 1], Python float or traced scalar (vmappable).
    next_q_online: Q_online(s', ·) of the online network, ``[B, A]`` float, or None for the
      plain DQN max.

  Returns:
    The target y, ``[B]`` float, with no gradient into any argument.

  Raises:
    AssertionError (chex) at trace time on wrong ranks, shapes or non-float dtypes.

  References:
    Mnih et al., `Human-level control through deep reinforcement learning`, Nature 2015 (DQN
    target, Methods Eq. 2 / Algorithm 1). van Hasselt, Guez & Silver, `Deep Reinforcement Learning
    with Double Q-learning <https://arxiv.org/abs/1509.06461>`_, AAAI 2016, Eq. (4).
  """
  chex.assert_rank([rewards, terminals, next_q_target], [1, 1, 2])
  chex.assert_equal_shape([rewards, terminals])
  chex.assert_axis_dimension(next_q_target, 0, jnp.shape(rewards)[0])
  chex.assert_type([rewards, terminals, next_q_target], float)
  next_q_target = jnp.asarray(next_q_target)
  if next_q_online is None:
    next_values = jnp.max(next_q_target, axis=-1)
  else:
    chex.assert_equal_shape([next_q_online, next_q_target])
    chex.assert_type(next_q_online, float)
    best = jnp.argmax(jnp.asarray(next_q_online), axis=-1)
    next_values = jnp.take_along_axis(next_q_target, best[:, None], axis=-1)[:, 0]
  return td_target(rewards, terminals, next_values, discount=discount)
