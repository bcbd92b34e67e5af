"""Agents: immutable pytrees with ``create(...)`` and a pure ``update(batch) -> (agent, metrics)``."""
from rlkit_jax.agents.bc import BC
from rlkit_jax.agents.iql import IQL
from rlkit_jax.agents.sac import SAC

__all__ = ["BC", "IQL", "SAC"]
