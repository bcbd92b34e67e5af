"""The Decision Transformer's network: a GPT-style causal transformer over (return, state, action)
tokens, built from flax modules.

Initial weights are those of the paper's code, which builds its blocks from HuggingFace's GPT-2
and the rest from PyTorch modules: every block kernel N(0, 0.02), the two residual projections of
each block (attention output, MLP output) N(0, 0.02 / √(2L)) for L blocks, block biases 0 (GPT-2's
scheme); the timestep table N(0, 1) (PyTorch's ``nn.Embedding``); the token embeddings and the
action head U(±1/√fan_in) for kernels and biases (PyTorch's ``nn.Linear``); LayerNorms 1 and 0.
"""
from __future__ import annotations

import math

import flax.linen as nn
import jax
import jax.numpy as jnp


# GPT-2's LayerNorm ε (``layer_norm_epsilon``), which the paper's code inherits; flax's default is 1e-6.
LAYER_NORM_EPSILON = 1e-5
GPT2_INIT_STD = 0.02  # GPT-2's ``initializer_range``


def _torch_linear(features: int, fan_in: int) -> nn.Dense:
  """A Dense layer initialised as PyTorch's ``nn.Linear``: kernel and bias U(±1/√fan_in)."""
  bound = 1.0 / math.sqrt(fan_in)
  return nn.Dense(
      features, kernel_init=nn.initializers.variance_scaling(1.0 / 3.0, "fan_in", "uniform"),
      bias_init=lambda key, shape, dtype=jnp.float32: jax.random.uniform(key, shape, dtype, -bound, bound),
  )


class CausalBlock(nn.Module):
  """GPT-2's pre-LayerNorm block: ``x + MHA(LN(x))`` then ``x + MLP(LN(x))`` (ReLU, 4× width: the
  paper's Gym nonlinearity, Chen et al. 2021, Table 8).

  Input ``[B, T, D]`` and a boolean attention mask ``[B, 1, T, T]`` (True = may attend).
  Kernels start at N(0, 0.02), the two residual projections at N(0, 0.02 / √(2 ``num_layers``))
  (GPT-2's scheme; ``num_layers`` is the network's block count).
  """

  num_heads: int
  num_layers: int = 1

  @nn.compact
  def __call__(self, x: jax.Array, mask: jax.Array) -> jax.Array:
    width = x.shape[-1]
    kernel = nn.initializers.normal(GPT2_INIT_STD)
    residual = nn.initializers.normal(GPT2_INIT_STD / math.sqrt(2 * self.num_layers))
    normed = nn.LayerNorm(epsilon=LAYER_NORM_EPSILON)(x)
    attention = nn.MultiHeadDotProductAttention(
        num_heads=self.num_heads, qkv_features=width, kernel_init=kernel, out_kernel_init=residual
    )
    x = x + attention(normed, mask=mask)
    project = nn.Dense(width, kernel_init=residual)  # made first, so named Dense_0 as in earlier checkpoints
    return x + project(nn.relu(nn.Dense(4 * width, kernel_init=kernel)(nn.LayerNorm(epsilon=LAYER_NORM_EPSILON)(x))))


class DecisionTransformerNet(nn.Module):
  """Actions predicted from a context of K steps (Chen et al. 2021, Sec. 3 and Fig. 1).

  Each step t contributes three tokens, R̂_t, s_t, a_t, each embedded by its own linear layer plus a
  learned embedding of the timestep; the 3K tokens (in that order) pass a LayerNorm,
  ``num_layers`` causal blocks and GPT-2's final LayerNorm, and the state token's output predicts
  a_t = tanh(Linear(h)). A step's action token is never seen by its own prediction (causality),
  so the actions fed at the last position may be anything.

  Attributes:
    action_dim: A.
    embed_dim: D (128 in the paper's MuJoCo runs).
    num_layers: blocks (3). num_heads: attention heads (1).
    max_timestep: size of the timestep embedding table; timesteps are clipped into it.

  Call with ``returns [B, K]`` (scaled returns to go), ``observations [B, K, O]``, ``actions
  [B, K, A]``, ``timesteps [B, K]`` int and ``mask [B, K]`` bool (False = padding); returns
  predicted actions ``[B, K, A]`` in (−1, 1).
  """

  action_dim: int
  embed_dim: int = 128
  num_layers: int = 3
  num_heads: int = 1
  max_timestep: int = 1000

  @nn.compact
  def __call__(self, returns, observations, actions, timesteps, mask):
    batch, context = returns.shape
    time = nn.Embed(self.max_timestep, self.embed_dim, embedding_init=nn.initializers.normal(1.0))(
        jnp.clip(timesteps, 0, self.max_timestep - 1)
    )
    tokens = jnp.stack(
        [
            _torch_linear(self.embed_dim, 1)(returns[..., None]) + time,
            _torch_linear(self.embed_dim, observations.shape[-1])(observations) + time,
            _torch_linear(self.embed_dim, actions.shape[-1])(actions) + time,
        ],
        axis=2,
    ).reshape(batch, 3 * context, self.embed_dim)  # R̂_1, s_1, a_1, R̂_2, ...
    token_mask = jnp.repeat(mask, 3, axis=1)  # [B, 3K]
    attention = nn.combine_masks(
        nn.make_causal_mask(token_mask, dtype=jnp.bool_), nn.make_attention_mask(token_mask, token_mask, dtype=jnp.bool_)
    )
    x = nn.LayerNorm(epsilon=LAYER_NORM_EPSILON)(tokens)
    for _ in range(self.num_layers):
      x = CausalBlock(self.num_heads, self.num_layers)(x, attention)
    x = nn.LayerNorm(epsilon=LAYER_NORM_EPSILON)(x)  # GPT-2's ln_f
    state_outputs = x.reshape(batch, context, 3, self.embed_dim)[:, :, 1]
    return jnp.tanh(_torch_linear(self.action_dim, self.embed_dim)(state_outputs))
