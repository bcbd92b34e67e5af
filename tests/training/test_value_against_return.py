"""The critic-against-return diagnostic on a real Hopper-v5 rollout, against a NumPy reference."""
from __future__ import annotations

import jax
import numpy as np
import pytest

from rlkit_jax.agents.td3_bc import TD3BC
from rlkit_jax.training.evaluation import value_against_return


def _reference_returns(rewards, ends, discount):
  out, running = np.zeros(len(rewards)), 0.0
  for t in reversed(range(len(rewards))):
    running = rewards[t] + (0.0 if ends[t] else discount * running)
    out[t] = running
  return out


def test_q_and_returns_along_the_policys_own_rollout():
  agent = TD3BC.create(jax.random.key(0), 11, 3, hidden_dims=(16, 16))
  out = value_against_return(agent, "Hopper-v5", discount=0.9, num_transitions=150, seed=3, reward_scale=2.0, reward_shift=-1.0)
  ends = out["terminals"] | out["timeouts"]
  assert ends[-1] and out["timeouts"][-1] != out["terminals"][-1]  # the last row ends the data
  # The greedy policy acted, and Q is the agent's at its own actions.
  np.testing.assert_allclose(out["actions"], np.asarray(agent.eval_actions(out["observations"])), atol=1e-5)
  np.testing.assert_allclose(out["q"], np.asarray(agent.q_values(out["observations"], out["actions"])), rtol=1e-5, atol=1e-5)
  # Discounted returns in training units, restarting at every episode end.
  np.testing.assert_allclose(out["returns"], _reference_returns(out["rewards"] * 2.0 - 1.0, ends, 0.9), rtol=1e-5, atol=1e-4)
  # A cut episode's last 30 states (⌈3 / (1 − 0.9)⌉) are dropped; a terminated episode keeps all.
  starts = np.flatnonzero(out["episode_starts"])
  expected = np.ones(150, bool)
  for start, end in zip(starts, np.flatnonzero(ends)):
    if out["timeouts"][end]:
      expected[max(start, end - 29):end + 1] = False
  np.testing.assert_array_equal(out["kept"], expected)
  assert out["terminals"].any() and out["kept"][out["terminals"]].all() and not out["kept"][-1]
  assert starts[0] == 0 and np.array_equal(starts[1:], np.flatnonzero(ends[:-1]) + 1)
  complete = [out["rewards"][a:b + 1].sum() for a, b in zip(starts, np.flatnonzero(ends)) if not out["timeouts"][b]]
  np.testing.assert_allclose(out["episode_returns"][:len(complete)], complete, rtol=1e-5)
  again = value_against_return(agent, "Hopper-v5", discount=0.9, num_transitions=150, seed=3, reward_scale=2.0, reward_shift=-1.0)
  np.testing.assert_array_equal(again["returns"], out["returns"])


@pytest.mark.parametrize("discount, num_transitions", [(1.0, 10), (0.9, 0)])
def test_value_against_return_refuses_bad_settings(discount, num_transitions):
  agent = TD3BC.create(jax.random.key(0), 11, 3, hidden_dims=(16,))
  with pytest.raises(ValueError, match="must be in \\[0, 1\\)"):
    value_against_return(agent, "Hopper-v5", discount=discount, num_transitions=num_transitions, seed=0)
