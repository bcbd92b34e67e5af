r"""One Decision Transformer update in rlkit_jax and in d3rlpy from the same weights, on the same
trajectory segments.

Our fresh transformer is copied into d3rlpy's ``DecisionTransformer`` (embeddings, the embedding
LayerNorm, every block's LayerNorms, attention projections (flax ``[D, H, D/H]`` kernels → torch
``[D, D]``) and MLP, the final LayerNorm and the action head), B segments of K steps drawn by our
sampler from the shipped hopper-medium-replay file (left-padded at trajectory starts) go to both as
the same arrays, and both take one AdamW step (warm-up, clipping at 0.25). The script prints the
predicted actions' largest difference before the step, the losses and the largest parameter
difference after it, twice: with d3rlpy's own LayerNorm ε (3e-3 in its blocks) and with ours
(GPT-2's 1e-5) set on its side. d3rlpy sums the squared error over action dimensions and divides
by B·K (padding included); ours, as the paper's code, averages over real steps and dimensions, so
its loss is d3rlpy's times B·K / (A · real steps), a constant factor that Adam's first step
(``lr · g / |g|``) does not see.

    python experiments/reference/d3rlpy_dt_check.py [--seed=0 --batch_size=16]

Needs the ``[reference]`` extra.
"""
from __future__ import annotations

import os
import sys
import types

import jax
import jax.numpy as jnp
import numpy as np
from absl import flags

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # experiments/
import cli  # noqa: E402
from reference.d3rlpy_side import require_d3rlpy  # noqa: E402
from reference.update_check import largest_gaps, transplant  # noqa: E402
from rlkit_jax.agents.decision_transformer import DecisionTransformer  # noqa: E402
from rlkit_jax.data import load, preprocessing  # noqa: E402

_SEED = flags.DEFINE_integer("seed", 0, "Seed of the initial weights and the segments.")
_BATCH_SIZE = flags.DEFINE_integer("batch_size", 16, "Segments per batch.", lower_bound=1)
_DATASET = flags.DEFINE_string("dataset", "hopper-medium-replay-v5", "Where the segments come from.")
# Both sides' settings (ours take them as create's arguments); warm-up 1: the first step at the full rate.
SETTINGS = dict(embed_dim=64, num_layers=2, num_heads=2, context_length=10, warmup_steps=1, learning_rate=1e-4,
                weight_decay=1e-4, return_scale=1000.0)


def _projection(params: dict) -> dict:
  """A flax attention projection as a ``[D, D]`` Dense layer: kernel ``[D, H, D/H]`` (query, key,
  value) or ``[H, D/H, D]`` (output) flattened head-major, as torch's ``view(B, T, H, -1)`` splits."""
  kernel = np.asarray(params["kernel"])
  width = int(round(np.sqrt(kernel.size)))
  return {"kernel": kernel.reshape(width, width), "bias": np.asarray(params["bias"]).reshape(-1)}


def _layer_pairs(params: dict, model):
  """``(group, flax params, torch module)`` for every layer of our network and d3rlpy's."""
  table = model._position_encoding._embed.weight  # d3rlpy keeps 2 rows more than the max timestep; ours is [T, D]
  yield "embeddings", params["Embed_0"], types.SimpleNamespace(weight=table[: params["Embed_0"]["embedding"].shape[0]])
  for name, module in (("Dense_0", model._rtg_embed),
                       ("Dense_1", model._encoder._layers[0]), ("Dense_2", model._action_embed),
                       ("LayerNorm_0", model._embed_ln)):
    yield "embeddings", params[name], module
  for i, block in enumerate(model._gpt2._transformer):
    ours = params[f"CausalBlock_{i}"]
    for name, module in (("query", block._attention._q), ("key", block._attention._k), ("value", block._attention._v),
                         ("out", block._attention._proj)):
      yield "attention", _projection(ours["MultiHeadDotProductAttention_0"][name]), module
    for name, module in (("LayerNorm_0", block._layer_norm1), ("LayerNorm_1", block._layer_norm2),
                         ("Dense_1", block._mlp._l1), ("Dense_0", block._mlp._l2)):  # flax names the outer Dense first
      yield "blocks", ours[name], module
  yield "head", params["LayerNorm_1"], model._gpt2._layer_norm
  yield "head", params["Dense_3"], model._output


def main(argv):
  del argv
  d3rlpy = require_d3rlpy()
  import torch  # noqa: PLC0415 (reference extra)

  data = load(_DATASET.value)
  data = preprocessing.with_timesteps(preprocessing.with_returns_to_go(data, discount=1.0))
  observation_dim, action_dim = data.transitions.observations.shape[1], data.transitions.actions.shape[1]
  transitions = jax.tree.map(jnp.asarray, data.transitions)
  for layer_norm_eps in (None, 1e-5):  # d3rlpy's own, then GPT-2's (ours)
    ours = DecisionTransformer.create(jax.random.key(_SEED.value), observation_dim, action_dim, **SETTINGS)
    batch = ours.sample_batch(transitions, jax.random.key(_SEED.value + 1), _BATCH_SIZE.value)
    algo = d3rlpy.algos.DecisionTransformerConfig(
        batch_size=_BATCH_SIZE.value, learning_rate=SETTINGS["learning_rate"], context_size=SETTINGS["context_length"], max_timestep=1000,
        num_heads=SETTINGS["num_heads"], num_layers=SETTINGS["num_layers"], attn_dropout=0.0, resid_dropout=0.0,
        embed_dropout=0.0, activation_type="relu", position_encoding_type=d3rlpy.PositionEncodingType.SIMPLE,
        encoder_factory=d3rlpy.models.VectorEncoderFactory(hidden_units=[SETTINGS["embed_dim"]], exclude_last_activation=True),
        optim_factory=d3rlpy.optimizers.AdamWFactory(
            weight_decay=SETTINGS["weight_decay"], clip_grad_norm=0.25,
            lr_scheduler_factory=d3rlpy.optimizers.WarmupSchedulerFactory(warmup_steps=SETTINGS["warmup_steps"]),
        ),
        reward_scaler=d3rlpy.preprocessing.MultiplyRewardScaler(1.0 / SETTINGS["return_scale"]),
    ).create(device="cpu:0")
    algo.create_impl((observation_dim,), action_dim)
    model = algo.impl.modules.transformer
    if layer_norm_eps is not None:
      for module in model.modules():
        if isinstance(module, torch.nn.LayerNorm):
          module.eps = layer_norm_eps
    params = ours.model.params
    transplant(torch, _layer_pairs(params, model))

    as_np = lambda x: np.array(x, np.float32)  # a writable copy for torch
    mask = as_np(batch.mask)
    theirs_batch = d3rlpy.dataset.TrajectoryMiniBatch(
        observations=as_np(batch.observations), actions=as_np(batch.actions), rewards=np.zeros(mask.shape + (1,), np.float32),
        returns_to_go=as_np(batch.returns)[..., None], terminals=np.zeros(mask.shape + (1,), np.float32),
        timesteps=as_np(batch.timesteps), masks=mask, length=SETTINGS["context_length"],
    )
    model.train()  # the training forward pass (in eval mode d3rlpy drops the last action token)
    with torch.no_grad():
      theirs_actions = model(torch.from_numpy(theirs_batch.observations), torch.from_numpy(theirs_batch.actions),
                             torch.from_numpy(theirs_batch.returns_to_go * (1.0 / SETTINGS["return_scale"])), torch.from_numpy(np.asarray(batch.timesteps, np.int64)),
                             torch.from_numpy(1.0 - mask)).numpy()
    ours_actions = np.asarray(ours._predict(params, batch.returns, batch.observations, batch.actions, batch.timesteps, batch.mask))
    before = float(np.max(np.abs(ours_actions - theirs_actions)[mask.astype(bool)]))
    theirs = algo.update(theirs_batch)
    updated, info = ours.update(batch)
    scale = mask.size / (action_dim * mask.sum())  # ours = d3rlpy's × B·K / (A · real steps)
    gaps = largest_gaps(_layer_pairs(updated.model.params, model))
    label = "d3rlpy's own (3e-3 in blocks)" if layer_norm_eps is None else f"{layer_norm_eps:g}"
    print(f"\n### LayerNorm ε on d3rlpy's side: {label}\n")
    print(f"largest |ours − d3rlpy| of the predicted actions (real steps) before the step: {before:.1e}\n")
    print("| quantity | ours | d3rlpy (× B·K / (A · real steps)) |\n|---|---|---|")
    print(f"| loss | {float(info['actor_loss']):.6f} | {theirs['loss'] * scale:.6f} |")
    print("\nlargest |ours − d3rlpy| after one update: " + ", ".join(f"{name} {value:.1e}" for name, value in gaps.items()))


if __name__ == "__main__":
  cli.run(main)
