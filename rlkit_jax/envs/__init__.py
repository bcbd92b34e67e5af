"""Gymnasium tasks: creation, task-id checks, evaluation vectorised over seeds × episodes, D4RL score normalisation."""
from rlkit_jax.envs.evaluation import evaluate, normalized_score
from rlkit_jax.envs.make import UnknownTaskError, check_env_id, is_discrete_env, known_env_id, make_env

__all__ = [
    "UnknownTaskError", "check_env_id", "evaluate", "is_discrete_env", "known_env_id", "make_env", "normalized_score"
]
