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


def test_decision_transformer_starts_from_the_paper_codes_weights():
  """The paper's code: GPT-2's N(0, 0.02) block kernels with N(0, 0.02/√(2L)) residual projections
  and zero block biases, a N(0, 1) timestep table, PyTorch-default U(±1/√fan_in) token embeddings
  and action head."""
  from rlkit_jax.networks import DecisionTransformerNet

  layers, width, observation_dim, action_dim, context = 3, 128, 11, 3, 4
  net = DecisionTransformerNet(action_dim, embed_dim=width, num_layers=layers, num_heads=1, max_timestep=1000)
  params = net.init(
      jax.random.key(0), np.zeros((1, context)), np.zeros((1, context, observation_dim)),
      np.zeros((1, context, action_dim)), np.zeros((1, context), np.int32), np.ones((1, context), bool),
  )["params"]
  assert np.std(params["Embed_0"]["embedding"]) == pytest.approx(1.0, rel=0.02)
  for name, fan_in in (("Dense_0", 1), ("Dense_1", observation_dim), ("Dense_2", action_dim), ("Dense_3", width)):
    bound = 1.0 / math.sqrt(fan_in)
    for leaf in (params[name]["kernel"], params[name]["bias"]):
      values = np.asarray(leaf)
      assert np.abs(values).max() <= bound, name
      if values.size >= 100:  # the statistics of a large enough draw
        assert np.abs(values).max() > 0.95 * bound, name
        assert np.var(values) == pytest.approx(bound**2 / 3, rel=0.2), name  # U(±b) has variance b²/3
  residual_std = 0.02 / math.sqrt(2 * layers)
  for i in range(layers):
    block = params[f"CausalBlock_{i}"]
    attention = block["MultiHeadDotProductAttention_0"]
    for part, std in (("query", 0.02), ("key", 0.02), ("value", 0.02), ("out", residual_std)):
      assert np.std(attention[part]["kernel"]) == pytest.approx(std, rel=0.1), (i, part)
      assert not np.any(attention[part]["bias"])
    assert np.std(block["Dense_0"]["kernel"]) == pytest.approx(residual_std, rel=0.05)  # [4D, D]: the MLP's output
    assert np.std(block["Dense_1"]["kernel"]) == pytest.approx(0.02, rel=0.05)  # [D, 4D]
    assert not np.any(block["Dense_0"]["bias"]) and not np.any(block["Dense_1"]["bias"])
