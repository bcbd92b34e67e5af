"""rlkit_jax: offline RL and reward learning in JAX.

``import rlkit_jax as rk``: objectives are pure functions (``rk.expectile_loss``), agents are
immutable pytrees (``rk.IQL.create(...)``), datasets load with ``rk.data.load(...)``, and
``rk.runner`` trains many seeds as one compiled program.
"""
from rlkit_jax import data, distributions, envs, networks, objectives, runner
from rlkit_jax.agents import BC, IQL, SAC
from rlkit_jax.objectives import (
    advantage_weighted_loss,
    advantage_weights,
    bc_loss,
    expectile_loss,
    iql_actor_loss,
    iql_critic_loss,
    iql_value_loss,
    sac_actor_loss,
    sac_temperature_loss,
    squared_td_error,
    td_target,
)

__version__ = "0.1.0"

__all__ = [
    "BC",
    "IQL",
    "SAC",
    "advantage_weighted_loss",
    "advantage_weights",
    "bc_loss",
    "data",
    "distributions",
    "envs",
    "expectile_loss",
    "iql_actor_loss",
    "iql_critic_loss",
    "iql_value_loss",
    "networks",
    "objectives",
    "runner",
    "sac_actor_loss",
    "sac_temperature_loss",
    "squared_td_error",
    "td_target",
]
