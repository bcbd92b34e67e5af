"""rlkit_jax: offline RL and reward learning in JAX.

``import rlkit_jax as rk``: objectives are pure functions (``rk.expectile_loss``), agents are
immutable pytrees (``rk.IQL.create(...)``), datasets load with ``rk.data.load(...)``, and
``rk.training`` trains many seeds as one compiled program; ``rk.rewards`` learns rewards from
preferences (``rk.bradley_terry_loss`` and friends are the objectives).
"""
import importlib

from rlkit_jax import data, distributions, networks, objectives
from rlkit_jax.agents import AWAC, AWR, BC, CQL, DQN, IQL, SAC, TD3BC
from rlkit_jax.objectives import (
    advantage_weighted_loss,
    advantage_weights,
    bc_loss,
    bradley_terry_loss,
    bradley_terry_ranking_loss,
    classifier_reward,
    cql_discrete_penalty,
    cql_penalty,
    dqn_target,
    expectile_loss,
    gail_discriminator_loss,
    goal_classifier_loss,
    gradient_penalty,
    iql_actor_loss,
    iql_critic_loss,
    iql_value_loss,
    mixup,
    normalize_advantages,
    plackett_luce_loss,
    preference_accuracy,
    ranking_to_pairs,
    sac_actor_loss,
    sac_temperature_loss,
    segment_return,
    sigmoid_cross_entropy,
    squared_td_error,
    td3_bc_actor_loss,
    td_target,
)

__version__ = "0.1.0"

# Imported on first use (``rk.envs``, ``rk.rewards``...): they bring gymnasium, orbax, scipy and
# matplotlib, which a user of the objectives and agents alone does not need.
_LAZY_MODULES = ("checkpoint", "envs", "generation", "offline", "online", "results", "rewards", "training")


def __getattr__(name: str):
  if name in _LAZY_MODULES:
    module = importlib.import_module(f"rlkit_jax.{name}")
    globals()[name] = module
    return module
  raise AttributeError(f"module 'rlkit_jax' has no attribute {name!r}")

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
    "bradley_terry_loss",
    "bradley_terry_ranking_loss",
    "classifier_reward",
    "cql_discrete_penalty",
    "cql_penalty",
    "data",
    "distributions",
    "dqn_target",
    "envs",
    "expectile_loss",
    "gail_discriminator_loss",
    "goal_classifier_loss",
    "gradient_penalty",
    "iql_actor_loss",
    "iql_critic_loss",
    "iql_value_loss",
    "mixup",
    "networks",
    "normalize_advantages",
    "objectives",
    "plackett_luce_loss",
    "preference_accuracy",
    "ranking_to_pairs",
    "results",
    "rewards",
    "sac_actor_loss",
    "sac_temperature_loss",
    "segment_return",
    "sigmoid_cross_entropy",
    "squared_td_error",
    "td3_bc_actor_loss",
    "td_target",
]
