"""rlkit_jax: offline RL and reward learning in JAX.

``import rlkit_jax as rk``: objectives are pure functions (``rk.expectile_loss``), agents are
immutable pytrees (``rk.IQL.create(...)``), datasets load with ``rk.data.load(...)``, and
``rk.runner`` trains many seeds as one compiled program.
"""
from rlkit_jax import data, distributions, envs, networks, objectives, results, runner
from rlkit_jax.agents import AWAC, AWR, BC, CQL, DQN, IQL, SAC, TD3BC
from rlkit_jax.objectives import (
    advantage_weighted_loss,
    advantage_weights,
    bc_loss,
    cql_discrete_penalty,
    cql_penalty,
    dqn_target,
    expectile_loss,
    iql_actor_loss,
    iql_critic_loss,
    iql_value_loss,
    sac_actor_loss,
    sac_temperature_loss,
    squared_td_error,
    td3_bc_actor_loss,
    td_target,
)

__version__ = "0.1.0"

__all__ = [
    "AWAC",
    "AWR",
    "BC",
    "CQL",
    "DQN",
    "IQL",
    "SAC",
    "TD3BC",
    "advantage_weighted_loss",
    "advantage_weights",
    "bc_loss",
    "cql_discrete_penalty",
    "cql_penalty",
    "data",
    "dqn_target",
    "distributions",
    "envs",
    "expectile_loss",
    "iql_actor_loss",
    "iql_critic_loss",
    "iql_value_loss",
    "networks",
    "objectives",
    "results",
    "runner",
    "sac_actor_loss",
    "sac_temperature_loss",
    "squared_td_error",
    "td3_bc_actor_loss",
    "td_target",
]
