"""AWR (Monte Carlo returns): its own checks (the shared ones are in test_offline_agent_checks.py): its own."""
from __future__ import annotations

import jax
import numpy as np
import pytest

from agent_testing import plain_agent, plain_update

AGENT = "AWR"


def test_awr_needs_returns_to_go(batch):
  with pytest.raises(ValueError, match="returns_to_go"):
    plain_update(plain_agent(AGENT), batch.replace(returns_to_go=None))


def test_awr_weights_are_normalised_and_clipped(batch):
  """With normalised advantages the weights are exp(β Â), Â of zero mean and unit std, clipped at 20."""
  agent = plain_agent(AGENT)
  assert type(agent.normalize_advantages) is bool and agent.normalize_advantages
  np.testing.assert_allclose(agent.max_weight, 20.0)
  _, info = plain_update(agent.replace(key=jax.random.clone(agent.key)), batch)
  assert 0.0 < float(info["weight_mean"]) and float(info["weight_max"]) <= 20.0 + 1e-4
