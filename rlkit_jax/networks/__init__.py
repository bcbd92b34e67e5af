"""Flax (linen) networks: MLP, ensembles with a leading axis E, critics and policies."""
from rlkit_jax.networks.critics import DiscreteQFunction, QFunction, ValueFunction
from rlkit_jax.networks.mlp import MLP, Ensemble, default_init
from rlkit_jax.networks.policies import DeterministicPolicy, GaussianPolicy, TanhGaussianPolicy

__all__ = ["MLP", "DeterministicPolicy", "DiscreteQFunction", "Ensemble", "GaussianPolicy", "QFunction", "TanhGaussianPolicy", "ValueFunction", "default_init"]
