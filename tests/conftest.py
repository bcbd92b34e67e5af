"""Test-wide JAX settings: silent broadcasting fails, reused PRNG keys fail."""
import jax

jax.config.update("jax_numpy_rank_promotion", "raise")
jax.config.update("jax_debug_key_reuse", True)
