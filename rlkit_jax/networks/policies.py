"""Continuous-action policies. Each returns the parameters of its distribution, not a sample;
:mod:`rlkit_jax.distributions` holds the log-densities and samplers."""
from __future__ import annotations

from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from rlkit_jax.networks.mlp import MLP, default_init, dense


class GaussianPolicy(nn.Module):
  """The IQL reference policy: N(tanh(μ(s)), diag(σ²)) with a state-independent, learned σ.

  The mean is squashed into (-1, 1) but the distribution is not (IQL's ``NormalTanhPolicy`` with
  ``tanh_squash_distribution=False, state_dependent_std=False``), so dataset actions at the
  bounds keep a finite log-likelihood. Evaluation acts with the mean.

  Input observations ``[B, O]``; returns ``(means, log_stds)``, both ``[B, A]``.
  """

  action_dim: int
  hidden_dims: Sequence[int] = (256, 256)
  log_std_min: float = -5.0
  log_std_max: float = 2.0

  @nn.compact
  def __call__(self, observations: jax.Array) -> tuple[jax.Array, jax.Array]:
    features = MLP(self.hidden_dims, activate_final=True)(observations)
    means = jnp.tanh(nn.Dense(self.action_dim, kernel_init=default_init())(features))
    log_stds = self.param("log_stds", nn.initializers.zeros, (self.action_dim,))
    log_stds = jnp.clip(log_stds, self.log_std_min, self.log_std_max)
    return means, jnp.broadcast_to(log_stds, means.shape)


class TanhGaussianPolicy(nn.Module):
  """The SAC policy: a = tanh(u), u ~ N(μ(s), diag(σ(s)²)), with a state-dependent σ.

  Input observations ``[B, O]``; returns the pre-tanh ``(means, log_stds)``, both ``[B, A]``.
  Sample with :func:`rlkit_jax.distributions.tanh_gaussian_sample`; act greedily with tanh(μ).
  ``init_scheme`` is every layer's initialisation scheme (:func:`~rlkit_jax.networks.mlp.layer_init`).
  """

  action_dim: int
  hidden_dims: Sequence[int] = (256, 256)
  log_std_min: float = -10.0
  log_std_max: float = 2.0
  init_scheme: str = "orthogonal"

  @nn.compact
  def __call__(self, observations: jax.Array) -> tuple[jax.Array, jax.Array]:
    features = MLP(self.hidden_dims, activate_final=True, init_scheme=self.init_scheme)(observations)
    means = dense(self.action_dim, features.shape[-1], self.init_scheme)(features)
    log_stds = dense(self.action_dim, features.shape[-1], self.init_scheme)(features)
    return means, jnp.clip(log_stds, self.log_std_min, self.log_std_max)


class DeterministicPolicy(nn.Module):
  """The TD3 / TD3+BC actor: a = tanh(f(s)), a deterministic action in (-1, 1)^A.

  Input observations ``[B, O]``; returns actions ``[B, A]``, float32. ``init_scheme`` is every layer's
  initialisation scheme (:func:`~rlkit_jax.networks.mlp.layer_init`).

  References:
    Fujimoto et al., `TD3 <https://arxiv.org/abs/1802.09477>`_, 2018; Fujimoto & Gu, `TD3+BC
    <https://arxiv.org/abs/2106.06860>`_, 2021 (the same actor, max_action = 1).
  """

  action_dim: int
  hidden_dims: Sequence[int] = (256, 256)
  init_scheme: str = "orthogonal"

  @nn.compact
  def __call__(self, observations: jax.Array) -> jax.Array:
    features = MLP(self.hidden_dims, activate_final=True, init_scheme=self.init_scheme)(observations)
    return jnp.tanh(dense(self.action_dim, features.shape[-1], self.init_scheme)(features))
