"""The networks' initialisation against the reference's orthogonal(√2) init."""
from __future__ import annotations

import math

import flax.linen as nn
import jax
import numpy as np
import pytest

from rlkit_jax.networks.mlp import default_init


@pytest.mark.parametrize("shape", [(11, 256), (17, 256), (256, 256), (256, 3), (256, 1), (14, 64)])
def test_default_init_has_the_orthogonal_inits_entry_scale(shape):
  """Orthogonal matrices have unit rows or columns, whichever are fewer: entries of variance
  gain² / max(fan_in, fan_out). A first layer scaled by fan_in alone (11 inputs) is 4.8× too wide."""
  keys = jax.random.split(jax.random.key(0), 8)
  ours = np.stack([np.asarray(default_init()(k, shape)) for k in keys])
  reference = np.stack([np.asarray(nn.initializers.orthogonal(math.sqrt(2.0))(k, shape)) for k in keys])
  expected = 2.0 / max(shape)
  assert np.mean(reference**2) == pytest.approx(expected, rel=0.02)  # the statement about orthogonal matrices
  assert np.mean(ours**2) == pytest.approx(expected, rel=0.1)
  assert np.mean(ours) == pytest.approx(0.0, abs=3 * math.sqrt(expected / ours.size))
