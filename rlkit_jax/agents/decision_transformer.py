"""The Decision Transformer (Chen et al. 2021): conditional imitation with a causal transformer over
the last K (return to go, state, action) steps; trained on trajectory segments sampled inside the
compiled program, prompted with a target return at evaluation."""
from __future__ import annotations

import functools
from typing import Optional, Sequence

import flax.struct
import jax
import jax.numpy as jnp
import optax
from flax.training.train_state import TrainState
from jax.typing import ArrayLike

from rlkit_jax import objectives
from rlkit_jax.agents.hyperparameters import NON_NEGATIVE, POSITIVE, REAL, checked_create
from rlkit_jax.data.transitions import Transitions
from rlkit_jax.networks import DecisionTransformerNet


@flax.struct.dataclass
class Segments:
  """B windows of K consecutive steps of one trajectory each, left-padded where the trajectory
  began less than K steps before the window's last step.

  Attributes:
    returns: undiscounted returns to go R̂_t, ``[B, K]`` float32, task units (0 at padding).
    observations: ``[B, K, O]``. actions: ``[B, K, A]``. timesteps: ``[B, K]`` int32.
    mask: ``[B, K]`` bool, False at padding.
  """

  returns: jax.Array
  observations: jax.Array
  actions: jax.Array
  timesteps: jax.Array
  mask: jax.Array


def sample_segments(data: Transitions, key: jax.Array, batch_size: int, context_length: int, *, size=None) -> Segments:
  """Windows ending at uniformly drawn rows, inside jit. ``data`` needs ``returns_to_go`` and
  ``timesteps`` (row t's trajectory starts at row t − timesteps[t]); ``size`` limits the rows."""
  high = data.rewards.shape[0] if size is None else size
  ends = jax.random.randint(key, (batch_size,), 0, high)
  rows = ends[:, None] - (context_length - 1) + jnp.arange(context_length)[None, :]  # [B, K]
  mask = rows >= (ends - data.timesteps[ends])[:, None]
  rows = jnp.where(mask, rows, 0)
  take = lambda x: jnp.where(mask.reshape(mask.shape + (1,) * (x.ndim - 1)), x[rows], 0)
  return Segments(
      returns=take(data.returns_to_go), observations=take(data.observations), actions=take(data.actions),
      timesteps=take(data.timesteps).astype(jnp.int32), mask=mask,
  )


@functools.lru_cache(maxsize=None)
def _optimizer(warmup_steps: int) -> optax.GradientTransformation:
  """AdamW with the rate and decay in the state (sweepable leaves), gradient clipping at 0.25 and a
  linear warm-up over ``warmup_steps`` (the paper's MuJoCo settings); cached per warm-up."""
  warmup = optax.linear_schedule(1.0 / max(warmup_steps, 1), 1.0, max(warmup_steps, 1))
  return optax.chain(
      optax.clip_by_global_norm(0.25),
      optax.inject_hyperparams(optax.adamw)(learning_rate=0.0, weight_decay=0.0),
      optax.scale_by_schedule(warmup),
  )


@functools.lru_cache(maxsize=None)
def _network(action_dim: int, embed_dim: int, num_layers: int, num_heads: int, horizon: int) -> DecisionTransformerNet:
  return DecisionTransformerNet(action_dim, embed_dim, num_layers, num_heads, max_timestep=horizon)


class DecisionTransformer(flax.struct.PyTreeNode):
  r"""Decision Transformer: minimise the masked squared error of the actions predicted from the
  K-step context (:func:`~rlkit_jax.objectives.sequence_action_error`), returns to go divided by
  ``return_scale``. Dropout is left out (the update stays a deterministic function of its batch).

  The training core samples its batches with :meth:`sample_batch` (segments, not transitions).
  Evaluation keeps each episode's last K steps, starts the return to go at ``target_return`` and
  lowers it by every reward received (:class:`rlkit_jax.training.evaluation.ContextPrompt`).

  References:
    Chen et al., `Decision Transformer: Reinforcement Learning via Sequence Modeling
    <https://arxiv.org/abs/2106.01345>`_, NeurIPS 2021, Sec. 3, Algorithm 1 and App. A (MuJoCo: K =
    20, 128-wide embeddings, 3 layers, 1 head, AdamW 1e-4 with decay 1e-4, 10k warm-up steps,
    batch 64, returns divided by 1000, Hopper prompt 3600).
  """

  action_space = "continuous"
  hyperparameter_ranges = {
      "return_scale": POSITIVE, "learning_rate": POSITIVE, "weight_decay": NON_NEGATIVE, "target_return": REAL,
  }
  needs_returns_to_go = False
  conditions_on_returns = True  # the offline job fills returns_to_go (γ = 1, task units) and timesteps
  reads_rewards = False  # the offline job skips reward scaling

  model: TrainState
  key: jax.Array
  target_return: jax.Array  # R̂_0 of the evaluation prompt, [] float32, task units
  return_scale: jax.Array  # returns to go are divided by it, [] float32
  action_dim: int = flax.struct.field(pytree_node=False, default=1)
  context_length: int = flax.struct.field(pytree_node=False, default=20)
  horizon: int = flax.struct.field(pytree_node=False, default=1000)

  @classmethod
  @checked_create
  def create(
      cls,
      key: jax.Array,
      observation_dim: int,
      action_dim: int,
      *,
      hidden_dims: Sequence[int] = (),
      embed_dim: int = 128,
      num_layers: int = 3,
      num_heads: int = 1,
      context_length: int = 20,
      learning_rate: ArrayLike = 1e-4,
      weight_decay: ArrayLike = 1e-4,
      warmup_steps: int = 10_000,
      target_return: ArrayLike = 3600.0,
      return_scale: ArrayLike = 1000.0,
      horizon: int = 1000,
      actor_decay_steps: Optional[int] = None,
  ) -> "DecisionTransformer":
    """Initialises the transformer and its optimiser (defaults: the paper's MuJoCo settings).

    Args:
      key: a typed PRNG key.
      observation_dim, action_dim: O and A.
      hidden_dims: ignored (the width is ``embed_dim``).
      embed_dim, num_layers, num_heads: the network (static).
      context_length: K (static).
      learning_rate, weight_decay: AdamW's (leaves: sweepable). warmup_steps: linear warm-up (static).
      target_return: the evaluation prompt, task units (the offline job sets it to the data's best
        episode return, :func:`rlkit_jax.offline.with_data_prompt`). return_scale: divisor of returns to go.
      horizon: the task's time limit, the size of the timestep embedding (static; the offline job
        sets it from the task, :func:`rlkit_jax.offline.with_task_horizon`).
      actor_decay_steps: ignored (warm-up, then a constant rate).
    """
    del hidden_dims, actor_decay_steps
    model_key, key = jax.random.split(key)
    net = _network(action_dim, int(embed_dim), int(num_layers), int(num_heads), int(horizon))
    k = int(context_length)
    params = net.init(
        model_key, jnp.zeros((1, k)), jnp.zeros((1, k, observation_dim)), jnp.zeros((1, k, action_dim)),
        jnp.zeros((1, k), jnp.int32), jnp.ones((1, k), bool),
    )["params"]
    model = TrainState.create(apply_fn=net.apply, params=params, tx=_optimizer(int(warmup_steps)))
    opt_state = optax.tree_utils.tree_set(
        model.opt_state, learning_rate=jnp.asarray(learning_rate, jnp.float32), weight_decay=jnp.asarray(weight_decay, jnp.float32)
    )
    scalar = lambda x: jnp.asarray(x, jnp.float32)
    return cls(
        model=model.replace(opt_state=opt_state), key=key, target_return=scalar(target_return),
        return_scale=scalar(return_scale), action_dim=int(action_dim), context_length=k, horizon=int(horizon),
    )

  def sample_batch(self, data: Transitions, key: jax.Array, batch_size: int, *, size=None) -> Segments:
    """The training core's sampler for this agent: :func:`sample_segments` with K = ``context_length``."""
    return sample_segments(data, key, batch_size, self.context_length, size=size)

  def _predict(self, params, returns, observations, actions, timesteps, mask):
    return self.model.apply_fn({"params": params}, returns / self.return_scale, observations, actions, timesteps, mask)

  def act_in_context(self, returns, observations, actions, timesteps, mask) -> jax.Array:
    """The action for the last step of each context: ``returns [M, K]`` (task units),
    ``observations [M, K, O]``, ``actions [M, K, A]`` (the last one unused), ``timesteps [M, K]``,
    ``mask [M, K]`` → ``[M, A]`` in (−1, 1)."""
    return self._predict(self.model.params, returns, observations, actions, timesteps, mask)[:, -1]

  def eval_actions(self, observations: jax.Array) -> jax.Array:
    """The first step's actions under the prompt (a one-step context): ``[B, O]`` → ``[B, A]``."""
    b, k = observations.shape[0], self.context_length
    mask = jnp.zeros((b, k), bool).at[:, -1].set(True)
    obs = jnp.zeros((b, k) + observations.shape[1:], observations.dtype).at[:, -1].set(observations)
    returns = jnp.zeros((b, k)).at[:, -1].set(self.target_return)
    actions = jnp.zeros((b, k, self.action_dim))
    return self.act_in_context(returns, obs, actions, jnp.zeros((b, k), jnp.int32), mask)

  @jax.jit
  def update(self, batch: Segments) -> tuple["DecisionTransformer", dict[str, jax.Array]]:
    """One AdamW step on the masked action error of ``batch``. Returns ``(agent, {"actor_loss"})``."""

    def loss_fn(params):
      predicted = self._predict(params, batch.returns, batch.observations, batch.actions, batch.timesteps, batch.mask)
      errors = objectives.sequence_action_error(predicted, batch.actions, batch.mask)
      return jnp.sum(errors) / jnp.maximum(jnp.sum(batch.mask), 1)

    loss, grads = jax.value_and_grad(loss_fn)(self.model.params)
    return self.replace(model=self.model.apply_gradients(grads=grads)), {"actor_loss": loss}
