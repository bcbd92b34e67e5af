"""State-value and action-value networks."""
from __future__ import annotations

from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from rlkit_jax.networks.mlp import MLP


class ValueFunction(nn.Module):
  """V(s): observations ``[B, O]`` → values ``[B]``."""

  hidden_dims: Sequence[int] = (256, 256)

  @nn.compact
  def __call__(self, observations: jax.Array) -> jax.Array:
    return MLP((*self.hidden_dims, 1))(observations)[..., 0]


class QFunction(nn.Module):
  """Q(s, a): observations ``[B, O]`` and actions ``[B, A]`` → values ``[B]``.

  Wrap in :class:`rlkit_jax.networks.Ensemble` for E critics with output ``[E, B]``.

  Attributes:
    hidden_dims: hidden widths.
    layer_norm: LayerNorm after each hidden layer (see :class:`~rlkit_jax.networks.mlp.MLP`).
    init_scheme: the layers' initialisation scheme (:func:`~rlkit_jax.networks.mlp.layer_init`).
  """

  hidden_dims: Sequence[int] = (256, 256)
  layer_norm: bool = False
  init_scheme: str = "orthogonal"

  @nn.compact
  def __call__(self, observations: jax.Array, actions: jax.Array) -> jax.Array:
    inputs = jnp.concatenate([observations, actions], axis=-1)
    return MLP((*self.hidden_dims, 1), layer_norm=self.layer_norm, init_scheme=self.init_scheme)(inputs)[..., 0]


class DiscreteQFunction(nn.Module):
  """Q(s, ·) over a discrete action set: observations ``[B, O]`` → values ``[B, A]`` (DQN's head).

  One forward pass gives every action's value (Mnih et al., Nature 2015); index it with the
  action ids, or take the max / argmax over the last axis.

  Attributes:
    num_actions: A.
    hidden_dims: hidden widths.
  """

  num_actions: int
  hidden_dims: Sequence[int] = (256, 256)

  @nn.compact
  def __call__(self, observations: jax.Array) -> jax.Array:
    return MLP((*self.hidden_dims, self.num_actions))(observations)
