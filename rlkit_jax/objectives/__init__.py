"""Pure objectives: arrays in, per-element losses out. No flax modules, no optimiser state."""
from rlkit_jax.objectives.classifier import (
    classifier_reward,
    gail_discriminator_loss,
    goal_classifier_loss,
    gradient_penalty,
    mixup,
    sigmoid_cross_entropy,
)
from rlkit_jax.objectives.conservative import cql_discrete_penalty, cql_penalty, cql_proposals
from rlkit_jax.objectives.ensemble import edac_diversity_loss, rebrac_actor_loss, rebrac_next_values
from rlkit_jax.objectives.iql import iql_actor_loss, iql_critic_loss, iql_value_loss
from rlkit_jax.objectives.policy import (
    advantage_weighted_loss,
    advantage_weights,
    average_reward_to_go,
    bc_loss,
    normalize_advantages,
    sac_actor_loss,
    sac_temperature_loss,
    sequence_action_error,
    td3_bc_actor_loss,
)
from rlkit_jax.objectives.preference import (
    bradley_terry_loss,
    bradley_terry_ranking_loss,
    plackett_luce_loss,
    preference_accuracy,
    ranking_to_pairs,
    segment_return,
)
from rlkit_jax.objectives.value import dqn_target, expectile_loss, squared_td_error, td_target

__all__ = [
    "advantage_weighted_loss",
    "advantage_weights",
    "average_reward_to_go",
    "bc_loss",
    "bradley_terry_loss",
    "bradley_terry_ranking_loss",
    "classifier_reward",
    "cql_discrete_penalty",
    "cql_penalty",
    "cql_proposals",
    "dqn_target",
    "edac_diversity_loss",
    "expectile_loss",
    "gail_discriminator_loss",
    "goal_classifier_loss",
    "gradient_penalty",
    "iql_actor_loss",
    "iql_critic_loss",
    "iql_value_loss",
    "mixup",
    "normalize_advantages",
    "plackett_luce_loss",
    "preference_accuracy",
    "ranking_to_pairs",
    "rebrac_actor_loss",
    "rebrac_next_values",
    "sac_actor_loss",
    "sac_temperature_loss",
    "segment_return",
    "sequence_action_error",
    "sigmoid_cross_entropy",
    "squared_td_error",
    "td3_bc_actor_loss",
    "td_target",
]
