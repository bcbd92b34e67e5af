"""Reward networks: a Markovian r(s, a) or r(s)."""
from __future__ import annotations

from typing import Optional, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from rlkit_jax.networks.mlp import MLP


class RewardFunction(nn.Module):
  """r(s, a) (or r(s) with ``use_actions=False``): ``[..., O]`` (and ``[..., A]``) → ``[...]``.

  The output goes through ``tanh``, so per-step rewards lie in (−1, 1), as in the reward models
  of PEBBLE and B-Pref (Lee et al. 2021): preferences fix a reward only up to shift and scale, and
  the bound keeps segment returns — the Bradley-Terry logits — from drifting.

  Attributes:
    hidden_dims: hidden widths (B-Pref: three layers of 256).
    use_actions: condition on the action as well as the state.
  """

  hidden_dims: Sequence[int] = (256, 256, 256)
  use_actions: bool = True

  @nn.compact
  def __call__(self, observations: jax.Array, actions: Optional[jax.Array] = None) -> jax.Array:
    x = observations
    if self.use_actions:
      x = jnp.concatenate([observations, actions], axis=-1)
    return jnp.tanh(MLP((*self.hidden_dims, 1))(x)[..., 0])
