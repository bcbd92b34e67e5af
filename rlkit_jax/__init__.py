"""rlkit_jax: offline RL and reward learning in JAX.

``import rlkit_jax as rk``; objectives are pure functions (``rk.expectile_loss``), agents are
pytrees (``rk.IQL.create(...)``), datasets load with ``rk.data.load(...)``.
"""
__version__ = "0.1.0"
