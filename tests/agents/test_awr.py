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


def _numpy_weights(agent, batch):
  """min(exp(β Â), 20) in float64 from the updated V (the actor step reads the V just fitted):
  A = R − V(s), Â = (A − mean A) / (std A + 1e-5), the AWR reference code's normalisation."""
  v = np.asarray(agent.value.apply_fn({"params": agent.value.params}, batch.observations), np.float64)
  advantages = np.asarray(batch.returns_to_go, np.float64) - v
  normalised = (advantages - advantages.mean()) / (advantages.std() + 1e-5)
  return np.minimum(np.exp(float(agent.temperature) * normalised), 20.0)


@pytest.mark.parametrize("outlier", [False, True], ids=["plain", "clipped"])
def test_awr_weights_are_normalised_and_clipped(batch, outlier):
  """The weights are min(exp(β Â), 20) with Â the batch-normalised advantages; one return far above
  the rest puts its Â at √(B − 1) ≈ 3.9, so exp(Â) ≈ 48 and the clip at 20 engages."""
  agent = plain_agent(AGENT)
  assert type(agent.normalize_advantages) is bool and agent.normalize_advantages
  np.testing.assert_allclose(agent.max_weight, 20.0)
  if outlier:
    batch = batch.replace(returns_to_go=batch.returns_to_go.at[0].set(1000.0))
  new_agent, info = plain_update(agent.replace(key=jax.random.clone(agent.key)), batch)
  expected = _numpy_weights(new_agent, batch)
  np.testing.assert_allclose(float(info["weight_mean"]), expected.mean(), rtol=1e-4)
  np.testing.assert_allclose(float(info["weight_max"]), expected.max(), rtol=1e-4)
  if outlier:
    assert expected.max() == 20.0
  else:
    assert expected.max() < 20.0
