"""Reward learning around the objectives: preference data and labellers, query selection, reward
model ensembles.

``rk.rewards.sample_refs`` → ``gather`` → a :class:`Labeller` → ``pairs`` → ``save_preferences``;
``RewardEnsemble.create`` → ``fit`` → ``normalized`` → ``relabel`` / ``save_reward_model``.
"""
from rlkit_jax.rewards.labellers import TEACHERS, Labeller, ModelLabeller, ScriptedTeacher, make_teacher
from rlkit_jax.rewards.preference_data import FORMAT, Preferences, load_preferences, pairs, save_preferences
from rlkit_jax.rewards.query_selection import QUERY_SELECTIONS, query_scores, select_queries
from rlkit_jax.rewards.reward_model import (
    PreferenceArrays,
    RewardEnsemble,
    RewardModelError,
    fit,
    load_reward_model,
    preference_arrays,
    relabel,
    reward_model_metadata,
    save_reward_model,
)
from rlkit_jax.rewards.segments import PreferenceDataError, Queries, episode_lengths, gather, sample_refs, validate_refs

__all__ = [
    "FORMAT",
    "QUERY_SELECTIONS",
    "TEACHERS",
    "Labeller",
    "ModelLabeller",
    "PreferenceArrays",
    "PreferenceDataError",
    "Preferences",
    "Queries",
    "RewardEnsemble",
    "RewardModelError",
    "ScriptedTeacher",
    "episode_lengths",
    "fit",
    "gather",
    "load_preferences",
    "load_reward_model",
    "make_teacher",
    "pairs",
    "preference_arrays",
    "query_scores",
    "relabel",
    "reward_model_metadata",
    "sample_refs",
    "save_preferences",
    "save_reward_model",
    "select_queries",
    "validate_refs",
]
