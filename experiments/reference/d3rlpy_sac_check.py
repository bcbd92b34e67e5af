r"""One SAC update in rlkit_jax and in d3rlpy from the same weights, on the same batch, with the same
noise.

Our freshly created SAC's actor and critics are copied into d3rlpy's ``SAC`` (flax kernels
``[in, out]`` → torch weights ``[out, in]``), a minibatch of the shipped hopper-medium-replay
file goes to both, and d3rlpy's Gaussian draws are replaced by the ε our update draws from its
keys (the next-state action first, then the actor's). The script prints every loss side by side
and the largest difference of every updated parameter group. What is left is a difference in the
update itself; d3rlpy's temperature step comes before its actor loss, which then uses the new α
(ours uses the α of the step's start), so the actor loss differs by that factor alone.

    python experiments/reference/d3rlpy_sac_check.py [--seed=0 --batch_size=256]

Needs the ``[reference]`` extra.
"""
from __future__ import annotations

import os
import sys

import jax
import jax.numpy as jnp
import numpy as np
from absl import flags

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # experiments/
import cli  # noqa: E402
from reference.d3rlpy_side import require_d3rlpy, transition_minibatch  # noqa: E402
from reference.update_check import dense_layers, largest_gaps, minibatch, replaced, transplant  # noqa: E402
from rlkit_jax.agents.sac import SAC  # noqa: E402

_SEED = flags.DEFINE_integer("seed", 0, "Seed of the initial weights, the minibatch and the noise.")
_BATCH_SIZE = flags.DEFINE_integer("batch_size", 256, "Minibatch size.", lower_bound=1)
_DATASET = flags.DEFINE_string("dataset", "hopper-medium-replay-v5", "Where the minibatch comes from.")


def _layer_pairs(ours: SAC, modules):
  """``(group, flax Dense params, torch Linear)`` for every layer of our actor, critics and target
  critics and its d3rlpy counterpart (hidden layers, then heads; ensemble members one by one)."""
  actor = ours.actor.params
  policy = modules.policy
  actor_layers = dense_layers(actor["MLP_0"]) + [actor["Dense_0"], actor["Dense_1"]]  # hidden, mean head, log σ head
  actor_linears = [policy._encoder._layers[2 * i] for i in range(len(actor_layers) - 2)] + [policy._mu, policy._logstd]
  for layer, linear in zip(actor_layers, actor_linears):
    yield "actor", layer, linear
  for group, params, q_funcs in (("critic", ours.critic.params, modules.q_funcs),
                                 ("target critic", ours.target_critic_params, modules.targ_q_funcs)):
    layers = dense_layers(params["VmapQFunction_0"]["MLP_0"])
    for e, q in enumerate(q_funcs):
      linears = [q._encoder._layers[2 * i] for i in range(len(layers) - 1)] + [q._fc]
      for layer, linear in zip(layers, linears):
        yield group, jax.tree.map(lambda x: x[e], layer), linear


def _differences(ours: SAC, modules) -> dict[str, float]:
  """Largest |ours − d3rlpy| per parameter group after both updates."""
  worst = largest_gaps(_layer_pairs(ours, modules))
  worst["log α"] = abs(float(ours.log_alpha.params["log_alpha"]) - float(modules.log_temp._parameter.detach().numpy().ravel()[0]))
  return worst


def main(argv):
  del argv
  d3rlpy = require_d3rlpy()
  import torch  # noqa: PLC0415 (reference extra)

  arrays, rows, batch = minibatch(_DATASET.value, _SEED.value, _BATCH_SIZE.value)
  observation_dim, action_dim = arrays["observations"].shape[1], arrays["actions"].shape[1]

  # Twice: as configured, then with the temperature all but frozen on both sides, where the actor losses
  # use the same α and so must agree (Adam's first step moves every weight by about its rate, so
  # a different α can flip the direction of weights whose gradient is near 0).
  for temperature_lr in (3e-4, 1e-12):  # ours refuses a rate of 0; 1e-12 leaves α at 1 to float precision
    ours = SAC.create(jax.random.key(_SEED.value), observation_dim, action_dim, temperature_lr=temperature_lr)
    encoder = d3rlpy.models.encoders.VectorEncoderFactory([256, 256])
    algo = d3rlpy.algos.SACConfig(
        actor_learning_rate=3e-4, critic_learning_rate=3e-4, temp_learning_rate=temperature_lr,
        batch_size=_BATCH_SIZE.value, gamma=0.99, tau=0.005, n_critics=2, initial_temperature=1.0,
        actor_encoder_factory=encoder, critic_encoder_factory=encoder,
    ).create(device="cpu:0")
    algo.create_impl((observation_dim,), action_dim)
    transplant(torch, _layer_pairs(ours, algo.impl.modules))
    # Our update's noise: key → (key, next_key, actor_key); ε ~ N(0, I) of shape [B, A] from each.
    _, next_key, actor_key = jax.random.split(ours.key, 3)
    draws = iter([np.array(jax.random.normal(k, (_BATCH_SIZE.value, action_dim), jnp.float32)) for k in (next_key, actor_key)])
    rsample = lambda self, sample_shape=torch.Size(): self.loc + self.scale * torch.from_numpy(next(draws))
    with replaced(torch.distributions.Normal, "rsample", rsample):
      theirs = algo.update(transition_minibatch(d3rlpy, arrays, rows))
    updated, info = ours.update(batch)  # SAC.update is jitted
    print(f"\n### temperature learning rate {temperature_lr:g}\n\n| quantity | ours | d3rlpy |\n|---|---|---|")
    print(f"| critic loss | {float(info['critic_loss']):.6f} | {theirs['critic_loss']:.6f} |")
    print(f"| actor loss | {float(info['actor_loss']):.6f} | {theirs['actor_loss']:.6f} |")
    print(f"| α after the step | {float(jnp.exp(updated.log_alpha.params['log_alpha'])):.6f} | {theirs['temp']:.6f} |")
    print("\nlargest |ours − d3rlpy| after one update: " + ", ".join(
        f"{name} {value:.1e}" for name, value in _differences(updated, algo.impl.modules).items()))


if __name__ == "__main__":
  cli.run(main)
