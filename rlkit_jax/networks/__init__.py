"""Flax (linen) networks: MLP, ensembles with a leading axis E, critics, policies, and the
Decision Transformer's causal transformer."""
from rlkit_jax.networks.critics import DiscreteQFunction, QFunction, ValueFunction
from rlkit_jax.networks.mlp import MLP, Ensemble, default_init
from rlkit_jax.networks.policies import DeterministicPolicy, GaussianPolicy, TanhGaussianPolicy
from rlkit_jax.networks.reward import RewardFunction
from rlkit_jax.networks.transformer import CausalBlock, DecisionTransformerNet

__all__ = ["MLP", "CausalBlock", "DecisionTransformerNet", "DeterministicPolicy", "DiscreteQFunction", "Ensemble", "GaussianPolicy", "QFunction", "RewardFunction", "TanhGaussianPolicy", "ValueFunction", "default_init"]
