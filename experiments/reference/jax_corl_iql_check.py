r"""One IQL update in rlkit_jax and in JAX-CORL from the same weights on the same batch.

JAX-CORL's ``algos/iql.py`` (nissymori/JAX-CORL) is a single script that imports d4rl, gym and
wandb at the top. This check loads it from a path you give, with those three modules stubbed
(nothing of them is called here), copies our freshly created IQL agent's parameters into its
train states, runs one update of each on the same minibatch of the shipped dataset, and prints
the largest difference of every loss and every updated parameter tree. It also compares the two
reward normalisations on the whole dataset and the two initialisations' weight scales.

Needs the reference's own imports: ``pip install distrax omegaconf pydantic``.

    python experiments/reference/jax_corl_iql_check.py --jax_corl=/path/to/JAX-CORL/algos/iql.py

JAX-CORL's policy mean has no tanh and its V has LayerNorm by default; ``--match_policy`` puts a
tanh on its mean (our policy's form) and the check builds its V without LayerNorm, so that a
difference left over is a difference in the update itself.
"""
from __future__ import annotations

import os
import sys

import jax
import jax.numpy as jnp
import numpy as np
from absl import app, flags

import rlkit_jax as rk
from rlkit_jax.data.preprocessing import scale_rewards

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # experiments/
from reference.jax_corl_side import load_jax_corl  # noqa: E402

_JAX_CORL = flags.DEFINE_string("jax_corl", None, "Path to JAX-CORL's algos/iql.py.", required=True)
_MATCH_POLICY = flags.DEFINE_bool("match_policy", True, "Squash JAX-CORL's policy mean with tanh, as ours does.")
_NUM_UPDATES = flags.DEFINE_integer("num_updates", 100_000, "Run length both actors' cosine schedules decay over.")
_SEED = flags.DEFINE_integer("seed", 0, "Seed of the initial weights and of the minibatch.")


def _transplant(ours, theirs):
  """Our parameter leaves in their tree structure (both trees sort their module names alike)."""
  our_leaves, their_leaves = jax.tree.leaves(ours), jax.tree.leaves(theirs)
  assert [x.shape for x in our_leaves] == [x.shape for x in their_leaves], "parameter layouts differ"
  return jax.tree.unflatten(jax.tree.structure(theirs), our_leaves)


def _max_diff(a, b) -> float:
  return max(float(np.max(np.abs(np.asarray(x) - np.asarray(y)))) for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)))


def _tanh_mean(apply_fn, distrax):
  def apply(params, observations, **kwargs):
    dist = apply_fn(params, observations, **kwargs)
    return distrax.MultivariateNormalDiag(loc=jnp.tanh(dist.loc), scale_diag=dist.scale_diag)

  return apply


def main(_):
  corl = load_jax_corl(_JAX_CORL.value)
  import distrax  # the reference's dependency, present once the module above imported

  dataset = rk.data.load("hopper-medium-replay-v5")
  scaled, scaling = scale_rewards(dataset, "iql_locomotion")
  t = dataset.transitions
  corl_data = corl.Transition(
      observations=t.observations, actions=t.actions, rewards=t.rewards, next_observations=t.next_observations,
      dones=t.terminals, dones_float=dataset.episode_ends.astype(np.float32),
  )
  their_scale = 1.0 / corl.get_normalization(corl_data)
  print(f"reward scale: ours {scaling['reward_scale']:.6f}, JAX-CORL {their_scale:.6f}")

  key = jax.random.key(_SEED.value)
  agent_key, batch_key = jax.random.split(key)
  obs_dim, act_dim = t.observations.shape[1], t.actions.shape[1]
  agent = rk.IQL.create(agent_key, obs_dim, act_dim, actor_decay_steps=_NUM_UPDATES.value)
  config = corl.IQLConfig(max_steps=_NUM_UPDATES.value, layer_norm=False, opt_decay_schedule=True)
  state = corl.create_iql_train_state(
      jax.random.PRNGKey(_SEED.value), jnp.asarray(t.observations[:1]), jnp.asarray(t.actions[:1]), config
  )
  for name, ours in (("actor", agent.actor.params), ("critic", agent.critic.params), ("value", agent.value.params)):
    first = lambda tree: np.asarray(jax.tree.leaves(tree)[1])  # the first Dense kernel
    theirs_first = first(getattr(state, name).params)
    print(f"{name} first-layer kernel std: ours {first(ours).std():.4f}, JAX-CORL orthogonal {theirs_first.std():.4f}")

  actor_apply = _tanh_mean(state.actor.apply_fn, distrax) if _MATCH_POLICY.value else state.actor.apply_fn
  state = state._replace(
      actor=state.actor.replace(apply_fn=actor_apply, params=_transplant({"params": agent.actor.params}, state.actor.params)),
      critic=state.critic.replace(params=_transplant({"params": agent.critic.params}, state.critic.params)),
      target_critic=state.target_critic.replace(params=_transplant({"params": agent.target_critic_params}, state.target_critic.params)),
      value=state.value.replace(params=_transplant({"params": agent.value.params}, state.value.params)),
  )

  batch = rk.data.sample_batch(jax.device_put(scaled.transitions), batch_key, 256)
  corl_batch = corl.Transition(
      observations=batch.observations, actions=batch.actions, rewards=batch.rewards,
      next_observations=batch.next_observations, dones=batch.terminals, dones_float=batch.terminals,
  )
  new_agent, metrics = agent.update(batch)
  state, value_loss = corl.IQL.update_value(state, corl_batch, config)
  state, actor_loss = corl.IQL.update_actor(state, corl_batch, config)
  state, critic_loss = corl.IQL.update_critic(state, corl_batch, config)
  target = corl.target_update(state.critic, state.target_critic, config.tau)

  print(f"value loss:  ours {float(metrics['value_loss']):.6f}, JAX-CORL {float(value_loss):.6f}")
  print(f"actor loss:  ours {float(metrics['actor_loss']):.6f}, JAX-CORL {float(actor_loss):.6f}")
  print(f"critic loss: ours {float(metrics['critic_loss']):.6f}, JAX-CORL {float(critic_loss):.6f}")
  for name, ours, theirs in (
      ("value", new_agent.value.params, state.value.params),
      ("actor", new_agent.actor.params, state.actor.params),
      ("critic", new_agent.critic.params, state.critic.params),
      ("target critic", new_agent.target_critic_params, target.params),
  ):
    print(f"{name} parameters after one update: largest difference {_max_diff(ours, theirs):.2e}")


if __name__ == "__main__":
  app.run(main)
