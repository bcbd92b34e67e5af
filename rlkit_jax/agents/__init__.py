"""Agents: immutable pytrees with ``create(...)`` and a pure ``update(batch) -> (agent, metrics)``."""
from rlkit_jax.agents.awac import AWAC
from rlkit_jax.agents.awr import AWR
from rlkit_jax.agents.bc import BC
from rlkit_jax.agents.cql import CQL
from rlkit_jax.agents.decision_transformer import DecisionTransformer
from rlkit_jax.agents.dqn import DQN
from rlkit_jax.agents.iql import IQL
from rlkit_jax.agents.rebrac import ReBRAC
from rlkit_jax.agents.rvs import RvS, RvSG
from rlkit_jax.agents.sac import SAC
from rlkit_jax.agents.sac_n import EDAC, SACN
from rlkit_jax.agents.td3_bc import TD3BC

__all__ = ["AWAC", "AWR", "BC", "CQL", "DQN", "DecisionTransformer", "EDAC", "IQL", "ReBRAC", "RvS", "RvSG", "SAC", "SACN", "TD3BC"]
