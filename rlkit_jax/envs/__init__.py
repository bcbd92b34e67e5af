"""Gymnasium tasks: creation, evaluation vectorised over seeds × episodes, D4RL score normalisation."""
from rlkit_jax.envs.evaluation import evaluate, normalized_score
from rlkit_jax.envs.make import make_env

__all__ = ["evaluate", "make_env", "normalized_score"]
