"""Gymnasium tasks: creation, evaluation vectorised over seeds × episodes, D4RL score normalisation."""
from rlkit_jax.envs.evaluation import evaluate, normalized_score
from rlkit_jax.envs.make import is_discrete_env, make_env

__all__ = ["evaluate", "is_discrete_env", "make_env", "normalized_score"]
