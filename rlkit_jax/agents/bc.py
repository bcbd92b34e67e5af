"""Behaviour cloning by maximum likelihood, with the same Gaussian policy as IQL."""
from __future__ import annotations

import functools
from typing import Optional, Sequence

import flax.struct
import jax
import jax.numpy as jnp
from flax.training.train_state import TrainState
from jax.typing import ArrayLike

from rlkit_jax import objectives
from rlkit_jax.agents.base import GaussianPolicyMean
from rlkit_jax.agents.common import train_state
from rlkit_jax.data.transitions import Transitions
from rlkit_jax.distributions import diag_gaussian_log_prob
from rlkit_jax.networks import GaussianPolicy
from rlkit_jax.agents.hyperparameters import checked_create


@functools.lru_cache(maxsize=None)
def _policy(action_dim: int, hidden_dims: tuple[int, ...]) -> GaussianPolicy:
  """Cached so agents of one configuration share static fields (one compile)."""
  return GaussianPolicy(action_dim, hidden_dims)


class BC(GaussianPolicyMean, flax.struct.PyTreeNode):
  """Behaviour cloning: maximise log π(a|s) of dataset actions.

  Uses IQL's policy network so the two differ only in their objective (the BC baseline of the IQL
  paper's tables).

  References:
    Fu et al., `D4RL <https://arxiv.org/abs/2004.07219>`_, 2020 (the BC baseline).
  """

  action_space = "continuous"  # class attribute, not a field
  reads_rewards = False  # the offline job skips reward scaling

  actor: TrainState
  key: jax.Array

  @classmethod
  @checked_create
  def create(
      cls,
      key: jax.Array,
      observation_dim: int,
      action_dim: int,
      *,
      hidden_dims: Sequence[int] = (256, 256),
      actor_lr: ArrayLike = 3e-4,
      actor_decay_steps: Optional[int] = None,
  ) -> "BC":
    """Initialises the policy and its optimiser (see :meth:`rlkit_jax.IQL.create` for arguments)."""
    actor_key, key = jax.random.split(key)
    actor_def = _policy(action_dim, tuple(hidden_dims))
    params = actor_def.init(actor_key, jnp.zeros((1, observation_dim), jnp.float32))["params"]
    return cls(actor=train_state(actor_def.apply, params, actor_lr, decay_steps=actor_decay_steps), key=key)

  @jax.jit
  def update(self, batch: Transitions) -> tuple["BC", dict[str, jax.Array]]:
    """One maximum-likelihood step on ``batch``. Returns ``(new_agent, {"actor_loss": []})``."""

    def loss_fn(params):
      means, log_stds = self.actor.apply_fn({"params": params}, batch.observations)
      return jnp.mean(objectives.bc_loss(diag_gaussian_log_prob(batch.actions, means, log_stds)))

    loss, grads = jax.value_and_grad(loss_fn)(self.actor.params)
    return self.replace(actor=self.actor.apply_gradients(grads=grads)), {"actor_loss": loss}
