"""Reward learning around the objectives: preference data and labellers, query selection, reward
model ensembles; goal classifiers trained on success examples; GAIL discriminators on demonstrations.

``rk.rewards.sample_refs`` → ``gather`` → a :class:`Labeller` → ``pairs`` → ``save_preferences``;
``RewardEnsemble.create`` → ``fit`` → ``normalized`` → ``relabel`` / ``save_reward_model``.
``make_success_examples`` → ``save_examples``; :class:`ClassifierReward` is the online
goal-classifier loop (``train_online.py --reward=classifier``); :class:`DiscriminatorReward` is GAIL
with absorbing states (``--reward=gail``) on demonstrations from :func:`load_demonstrations`;
:class:`SuccessReward` is the success indicator as a sparse reward (``--reward=success``).
"""
from rlkit_jax.rewards.gail import DemonstrationsError, DiscriminatorReward, expert_inputs, load_demonstrations
from rlkit_jax.rewards.classifier_ensemble import ClassifierEnsemble
from rlkit_jax.rewards.goal_classifier import ClassifierReward
from rlkit_jax.rewards.labellers import TEACHERS, Labeller, ModelLabeller, ScriptedTeacher, make_teacher
from rlkit_jax.rewards.preference_data import FORMAT, Preferences, load_preferences, pairs, save_preferences
from rlkit_jax.rewards.query_selection import QUERY_SELECTIONS, query_scores, select_queries
from rlkit_jax.rewards.labelled_queries import PreferenceArrays, preference_arrays
from rlkit_jax.rewards.reward_model import RewardEnsemble, fit, relabel
from rlkit_jax.rewards.reward_model_files import RewardModelError, load_reward_model, reward_model_metadata, save_reward_model
from rlkit_jax.rewards.segments import PreferenceDataError, Queries, episode_lengths, gather, sample_refs, validate_refs
from rlkit_jax.rewards.success_examples import load_examples, make_success_examples, save_examples
from rlkit_jax.rewards.success_tests import SUCCESS_MEASURES, SUCCESS_TESTS, ExamplesError, SuccessReward

__all__ = [
    "ClassifierEnsemble",
    "ClassifierReward",
    "DemonstrationsError",
    "DiscriminatorReward",
    "ExamplesError",
    "FORMAT",
    "Labeller",
    "ModelLabeller",
    "PreferenceArrays",
    "PreferenceDataError",
    "Preferences",
    "QUERY_SELECTIONS",
    "Queries",
    "RewardEnsemble",
    "RewardModelError",
    "SUCCESS_MEASURES",
    "SUCCESS_TESTS",
    "ScriptedTeacher",
    "SuccessReward",
    "TEACHERS",
    "episode_lengths",
    "expert_inputs",
    "fit",
    "gather",
    "load_demonstrations",
    "load_examples",
    "load_preferences",
    "load_reward_model",
    "make_success_examples",
    "make_teacher",
    "pairs",
    "preference_arrays",
    "query_scores",
    "relabel",
    "reward_model_metadata",
    "sample_refs",
    "save_examples",
    "save_preferences",
    "save_reward_model",
    "select_queries",
    "validate_refs",
]
