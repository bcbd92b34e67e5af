"""Fixtures of the agent tests."""
import pytest

from agent_testing import random_batch


@pytest.fixture(scope="module")
def batch():
  """A random continuous batch with returns-to-go (:func:`agent_testing.random_batch`)."""
  return random_batch(returns_to_go=True)
