r"""One update of a TD3-based agent, ReBRAC or TD3+BC, in rlkit_jax and in d3rlpy from the same
weights, on the same batch, with the same target-smoothing noise.

Our fresh agent's actor, critics (ReBRAC's with LayerNorm) and both targets are copied into
d3rlpy's ``ReBRAC`` or ``TD3PlusBC`` (flax ``[in, out]`` kernels → torch ``[out, in]`` weights,
LayerNorm scales → weights), one minibatch of the shipped hopper-medium-replay file with the
dataset's next actions goes to both, and d3rlpy's ``torch.randn`` in the smoothed target returns
the ε our update draws from its key. Both update the actor and the targets on this step
(``policy_delay`` 1: d3rlpy's first actor step comes at its update 0, ours at update
``policy_delay``, so with the default 2 the two run the same schedule one update apart). The
script prints the losses side by side and the largest difference of every updated parameter
group; for ReBRAC twice, with torch's LayerNorm ε (1e-5) and with flax's (1e-6) on the d3rlpy
side, so that what remains in the second is a difference in the update itself.

    python experiments/reference/d3rlpy_td3_check.py --algo=rebrac|td3_bc [--seed=0 --batch_size=256]

Needs the ``[reference]`` extra.
"""
from __future__ import annotations

import os
import sys

import jax
import numpy as np
from absl import flags

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # experiments/
import cli  # noqa: E402
from reference.d3rlpy_side import require_d3rlpy, transition_minibatch  # noqa: E402
from reference.update_check import dense_layers, largest_gaps, minibatch, replaced, transplant  # noqa: E402
from rlkit_jax.agents.rebrac import ReBRAC  # noqa: E402
from rlkit_jax.agents.td3_bc import TD3BC  # noqa: E402

_ALGO = flags.DEFINE_enum("algo", "rebrac", ["rebrac", "td3_bc"], "The agent to check.")
_SEED = flags.DEFINE_integer("seed", 0, "Seed of the initial weights, the minibatch and the noise.")
_BATCH_SIZE = flags.DEFINE_integer("batch_size", 256, "Minibatch size.", lower_bound=1)
_DATASET = flags.DEFINE_string("dataset", "hopper-medium-replay-v5", "Where the minibatch comes from.")
HIDDEN = (256, 256)


def _layer_pairs(ours: ReBRAC | TD3BC, modules):
  """``(group, flax params, torch module)`` for every layer of our actor, critics and their targets
  and its d3rlpy counterpart. d3rlpy's encoders are ``[Linear, ReLU]`` per hidden layer (ReBRAC's
  critics ``[Linear, ReLU, LayerNorm]``), then a head (``_fc``)."""
  for group, params, policy in (("actor", ours.actor.params, modules.policy),
                                ("target actor", ours.target_actor_params, modules.targ_policy)):
    layers = dense_layers(params["MLP_0"]) + [params["Dense_0"]]
    modules_ = [policy._encoder._layers[2 * i] for i in range(len(layers) - 1)] + [policy._fc]
    yield from ((group, layer, module) for layer, module in zip(layers, modules_))
  for group, params, q_funcs in (("critic", ours.critic.params, modules.q_funcs),
                                 ("target critic", ours.target_critic_params, modules.targ_q_funcs)):
    mlp = params["VmapQFunction_0"]["MLP_0"]
    layers = dense_layers(mlp)
    stride = 3 if "LayerNorm_0" in mlp else 2
    for e, q in enumerate(q_funcs):
      member = lambda tree: jax.tree.map(lambda x: x[e], tree)
      for i, layer in enumerate(layers[:-1]):
        yield group, member(layer), q._encoder._layers[stride * i]
        if stride == 3:
          yield group, member(mlp[f"LayerNorm_{i}"]), q._encoder._layers[3 * i + 2]
      yield group, member(layers[-1]), q._fc


def _both(d3rlpy, observation_dim: int, action_dim: int):
  """Our fresh agent (``policy_delay`` 1) and d3rlpy's, with the agent's default settings."""
  key, common = jax.random.key(_SEED.value), dict(batch_size=_BATCH_SIZE.value, gamma=0.99, tau=0.005, n_critics=2,
                                                  target_smoothing_sigma=0.2, target_smoothing_clip=0.5, update_actor_interval=1)
  actor_encoder = d3rlpy.models.VectorEncoderFactory(list(HIDDEN))
  if _ALGO.value == "rebrac":
    return ReBRAC.create(key, observation_dim, action_dim, hidden_dims=HIDDEN, policy_delay=1), d3rlpy.algos.ReBRACConfig(
        actor_learning_rate=1e-3, critic_learning_rate=1e-3, actor_beta=0.05, critic_beta=0.5, **common,
        actor_encoder_factory=actor_encoder,
        critic_encoder_factory=d3rlpy.models.VectorEncoderFactory(list(HIDDEN), use_layer_norm=True),
    )
  return TD3BC.create(key, observation_dim, action_dim, hidden_dims=HIDDEN, policy_delay=1), d3rlpy.algos.TD3PlusBCConfig(
      actor_learning_rate=3e-4, critic_learning_rate=3e-4, alpha=2.5, **common,
      actor_encoder_factory=actor_encoder, critic_encoder_factory=d3rlpy.models.VectorEncoderFactory(list(HIDDEN)),
  )


def main(argv):
  del argv
  d3rlpy = require_d3rlpy()
  import torch  # noqa: PLC0415 (reference extra)

  arrays, rows, batch = minibatch(_DATASET.value, _SEED.value, _BATCH_SIZE.value)
  observation_dim, action_dim = arrays["observations"].shape[1], arrays["actions"].shape[1]
  for layer_norm_eps in (1e-5, 1e-6) if _ALGO.value == "rebrac" else (None,):  # torch's default, then flax's
    ours, config = _both(d3rlpy, observation_dim, action_dim)
    algo = config.create(device="cpu:0")
    algo.create_impl((observation_dim,), action_dim)
    modules = algo.impl.modules
    for module in list(modules.q_funcs.modules()) + list(modules.targ_q_funcs.modules()):
      if isinstance(module, torch.nn.LayerNorm):
        module.eps = layer_norm_eps
    transplant(torch, _layer_pairs(ours, modules))
    # Our update's noise: key → (key, noise_key); ε ~ N(0, I) of shape [B, A].
    _, noise_key = jax.random.split(ours.key)
    noise = torch.from_numpy(np.array(jax.random.normal(noise_key, (_BATCH_SIZE.value, action_dim))))
    with replaced(torch, "randn", lambda *args, **kwargs: noise.clone()):
      theirs = algo.update(transition_minibatch(d3rlpy, arrays, rows))
    updated, info = ours.update(batch)  # jitted
    heading = f"d3rlpy's LayerNorm ε {layer_norm_eps:g}" if layer_norm_eps else "TD3+BC"
    print(f"\n### {heading}\n\n| quantity | ours | d3rlpy |\n|---|---|---|")
    print(f"| critic loss (ours: mean over B of Σ_e; d3rlpy: Σ_e of mean over B) | {float(info['critic_loss']):.6f} | {theirs['critic_loss']:.6f} |")
    print(f"| actor loss | {float(info['actor_loss']):.6f} | {theirs['actor_loss']:.6f} |")
    print("\nlargest |ours − d3rlpy| after one update: " + ", ".join(
        f"{name} {value:.1e}" for name, value in largest_gaps(_layer_pairs(updated, modules)).items()))


if __name__ == "__main__":
  cli.run(main)
