"""What every continuous agent repeats, written once: acting greedily with its actor and reading
its critic ensemble. Mixins with methods only (no fields), listed before
``flax.struct.PyTreeNode`` in an agent's bases; they expect an ``actor`` and a ``critic``
:class:`~flax.training.train_state.TrainState`."""
from __future__ import annotations

import jax
import jax.numpy as jnp


class GaussianPolicyMean:
  """``eval_actions`` for a policy whose network returns ``(mean, log_std)`` with a squashed mean
  (IQL's Gaussian policy, used by IQL, BC, AWR and AWAC)."""

  def eval_actions(self, observations: jax.Array) -> jax.Array:
    """Deterministic actions (the policy mean): observations ``[B, O]`` → ``[B, A]`` in [−1, 1]."""
    return self.actor.apply_fn({"params": self.actor.params}, observations)[0]


class TanhGaussianPolicyMean:
  """``eval_actions`` for a tanh-squashed Gaussian policy whose network returns the unsquashed
  ``(μ, log σ)`` (SAC, CQL)."""

  def eval_actions(self, observations: jax.Array) -> jax.Array:
    """Greedy actions tanh(μ(s)): observations ``[B, O]`` → actions ``[B, A]`` in (−1, 1)."""
    means, _ = self.actor.apply_fn({"params": self.actor.params}, observations)
    return jnp.tanh(means)


class MinCriticEnsemble:
  """``q_values`` for a critic ensemble that returns ``[E, B]``."""

  def q_values(self, observations: jax.Array, actions: jax.Array) -> jax.Array:
    """min_e Q_e(s, a) of the online critics: ``[B, O]``, ``[B, A]`` → ``[B]``."""
    return jnp.min(self.critic.apply_fn({"params": self.critic.params}, observations, actions), axis=0)
