"""RvS (Emmons et al. 2021): conditional imitation — a Gaussian policy π(a | s, ω) trained by
maximum likelihood on every transition, conditioned on the outcome ω it led to (RvS-R: the average
reward to go; RvS-G: a goal reached later); at evaluation it is told the outcome to reach."""
from __future__ import annotations

import functools
from typing import Optional, Sequence

import flax.struct
import jax
import jax.numpy as jnp
from flax.training.train_state import TrainState
from jax.typing import ArrayLike

from rlkit_jax import objectives
from rlkit_jax.agents.bc import BC
from rlkit_jax.agents.common import train_state
from rlkit_jax.agents.hyperparameters import POSITIVE, REAL, checked_create
from rlkit_jax.data.transitions import Transitions
from rlkit_jax.distributions import diag_gaussian_log_prob
from rlkit_jax.networks import GaussianPolicy


@functools.lru_cache(maxsize=None)
def _policy(action_dim: int, hidden_dims: tuple[int, ...]) -> GaussianPolicy:
  """Cached so agents of one configuration share static fields (one compile)."""
  return GaussianPolicy(action_dim, hidden_dims)


class RvS(flax.struct.PyTreeNode):
  r"""Reward-conditioned policy (RvS-R, upside-down RL): maximise log π(a | s, ω) over the whole
  dataset, with ω = :func:`~rlkit_jax.objectives.average_reward_to_go` of the transition's own
  return to go (``batch.returns_to_go``, undiscounted, task units, and ``batch.timesteps``; the
  offline job fills both before any reward scaling).

  Nothing is filtered out (unlike %BC): bad trajectories teach what "bad" looks like, and the prompt
  selects. It imitates; it cannot stitch trajectories into a better one than the data holds
  (the lecture, §10.2). The policy is IQL's Gaussian network on the input ``[s, ω / ω_scale]``.

  Evaluation is a prompt: episode i starts with R̂_0 = ``target_return`` (a leaf: sweepable, and
  replaceable on a trained agent) and decrements it by each reward received
  (:func:`rlkit_jax.training.evaluation.evaluate_agents` does this for any agent with
  :meth:`conditioned_actions`). Step sizes are constant (``actor_decay_steps`` is ignored).

  References:
    Emmons et al., `RvS: What is Essential for Offline RL via Supervised Learning?
    <https://arxiv.org/abs/2112.10751>`_, ICLR 2022 (RvS-R; MLP policy, Adam 1e-3); Srivastava et al.,
    `Training Agents using Upside-Down Reinforcement Learning <https://arxiv.org/abs/1912.02877>`_, 2019.
  """

  action_space = "continuous"
  hyperparameter_ranges = {"horizon": POSITIVE, "outcome_scale": POSITIVE, "target_return": REAL}
  needs_returns_to_go = False
  conditions_on_returns = True  # the offline job fills returns_to_go (γ = 1, task units) and timesteps
  reads_rewards = False  # the offline job skips reward scaling

  actor: TrainState
  key: jax.Array
  target_return: jax.Array  # R̂_0 of the evaluation prompt, [] float32, task units
  outcome_scale: jax.Array  # ω is divided by it before entering the network, [] float32
  horizon: int = flax.struct.field(pytree_node=False, default=1000)

  @classmethod
  @checked_create
  def create(
      cls,
      key: jax.Array,
      observation_dim: int,
      action_dim: int,
      *,
      hidden_dims: Sequence[int] = (256, 256),
      actor_lr: ArrayLike = 1e-3,
      target_return: ArrayLike = 3600.0,
      outcome_scale: ArrayLike = 1.0,
      horizon: int = 1000,
      actor_decay_steps: Optional[int] = None,
  ) -> "RvS":
    """Initialises the policy and its optimiser.

    Args:
      key: a typed PRNG key.
      observation_dim, action_dim: O and A.
      hidden_dims: hidden widths (the paper: 1024, 1024).
      actor_lr: Adam step size (1e-3, the paper's).
      target_return: the evaluation prompt R̂_0, task units (3600: the Decision Transformer's Hopper
        prompt; set it per task and keep it within the data's returns — the offline job sets it to
        the data's best episode return, :func:`rlkit_jax.offline.with_data_prompt`).
      outcome_scale: ω's unit for the network (1: Hopper's rewards are about 1–4 per step).
      horizon: H, the task's time limit in steps (static; the offline job sets it from the task,
        :func:`rlkit_jax.offline.with_task_horizon`).
      actor_decay_steps: ignored (constant step size).
    """
    del actor_decay_steps
    actor_key, key = jax.random.split(key)
    actor_def = _policy(action_dim, tuple(hidden_dims))
    params = actor_def.init(actor_key, jnp.zeros((1, observation_dim + 1), jnp.float32))["params"]
    scalar = lambda x: jnp.asarray(x, jnp.float32)
    return cls(
        actor=train_state(actor_def.apply, params, actor_lr), key=key, target_return=scalar(target_return),
        outcome_scale=scalar(outcome_scale), horizon=int(horizon),
    )

  def _inputs(self, observations: jax.Array, outcomes: jax.Array) -> jax.Array:
    return jnp.concatenate([observations, (outcomes / self.outcome_scale)[:, None]], axis=-1)

  def conditioned_actions(self, observations: jax.Array, outcomes: jax.Array) -> jax.Array:
    """The policy mean for outcome ω: observations ``[B, O]``, ω ``[B]`` → actions ``[B, A]`` in [−1, 1]."""
    return self.actor.apply_fn({"params": self.actor.params}, self._inputs(observations, outcomes))[0]

  def eval_actions(self, observations: jax.Array) -> jax.Array:
    """The first step's actions under the prompt (ω = ``target_return`` / H): ``[B, O]`` → ``[B, A]``.
    Whole episodes go through :func:`rlkit_jax.training.evaluation.evaluate_agents`, which
    decrements the prompt."""
    outcomes = jnp.full(observations.shape[:1], self.target_return / self.horizon)
    return self.conditioned_actions(observations, outcomes)

  @jax.jit
  def update(self, batch: Transitions) -> tuple["RvS", dict[str, jax.Array]]:
    """One maximum-likelihood step on ``batch`` (which needs ``returns_to_go`` and ``timesteps``).

    Returns ``(new_agent, {"actor_loss", "outcome_mean"})``.
    """
    if batch.returns_to_go is None or batch.timesteps is None:
      raise ValueError(
          "RvS.update needs batch.returns_to_go (undiscounted) and batch.timesteps; fill them with "
          "rlkit_jax.data.preprocessing.with_returns_to_go(dataset, discount=1.0) and with_timesteps"
      )
    outcomes = objectives.average_reward_to_go(batch.returns_to_go, batch.timesteps, horizon=self.horizon)

    def loss_fn(params):
      means, log_stds = self.actor.apply_fn({"params": params}, self._inputs(batch.observations, outcomes))
      return jnp.mean(objectives.bc_loss(diag_gaussian_log_prob(batch.actions, means, log_stds)))

    loss, grads = jax.value_and_grad(loss_fn)(self.actor.params)
    return self.replace(actor=self.actor.apply_gradients(grads=grads)), {"actor_loss": loss, "outcome_mean": jnp.mean(outcomes)}


def hindsight_goal_batch(data: Transitions, key: jax.Array, batch_size: int, goal_dim: int, *, size=None) -> Transitions:
  """B transitions, each with its desired goal replaced by a goal it went on to achieve, inside jit.

  GCSL's hindsight sampling (Ghosh et al. 2021, as the RvS code samples it): a row is drawn
  uniformly, then two times i, j uniformly in its trajectory of length L (i in [0, L − 2], j in
  [0, L − 1]); the transition at min(i, j) gets as goal the achieved goal at max(i, j). Drawing
  the row (not the trajectory) uniformly weights trajectories by their length, the same for the
  equal-length episodes of a maze dataset.

  Args:
    data: a dataset in the goal layout (observations ``[N, 2G + S]`` = ``[achieved_goal,
      desired_goal, state]``, see :func:`rlkit_jax.envs.make.make_env`) with ``timesteps`` and
      ``episode_lengths`` filled.
    key: a PRNG key, consumed. batch_size: B. goal_dim: G (static).
    size: draw rows from the first ``size`` only (their trajectories must end before it).

  Returns:
    :class:`Transitions` ``[B, ...]`` whose observations' columns ``[G, 2G)`` hold the hindsight goal.

  Raises:
    ValueError: ``data.timesteps`` or ``data.episode_lengths`` is missing (naming the fix).
  """
  if data.timesteps is None or data.episode_lengths is None:
    raise ValueError(
        "hindsight goals need data.timesteps and data.episode_lengths; fill them with "
        "rlkit_jax.data.preprocessing.with_timesteps(dataset) and with_episode_lengths"
    )
  row_key, time_key = jax.random.split(key)
  rows = jax.random.randint(row_key, (batch_size,), 0, data.rewards.shape[0] if size is None else size)
  starts, lengths = rows - jnp.take(data.timesteps, rows), jnp.take(data.episode_lengths, rows)
  u = jax.random.uniform(time_key, (2, batch_size))
  first, second = jnp.floor(u[0] * (lengths - 1)).astype(jnp.int32), jnp.floor(u[1] * lengths).astype(jnp.int32)
  now, later = starts + jnp.minimum(first, second), starts + jnp.maximum(first, second)
  batch = jax.tree.map(lambda x: jnp.take(x, now, axis=0), data)
  goals = jnp.take(data.observations, later, axis=0)[:, :goal_dim]
  return batch.replace(observations=batch.observations.at[:, goal_dim:2 * goal_dim].set(goals))


class RvSG(BC):
  r"""Goal-conditioned RvS (RvS-G): maximise log π(a | s, g) with g a goal the transition's own
  trajectory reached later (:func:`hindsight_goal_batch`): behaviour cloning on hindsight batches.
  Rewards are never read.

  Observations are in the goal layout ``[achieved_goal (G), desired_goal (G), state]`` of
  :func:`rlkit_jax.envs.make.make_env`, so the network's input is the observation with its
  desired-goal columns set to the hindsight goal in training and to the task's goal at
  evaluation (the observation as the task gives it). The policy is IQL's Gaussian network.

  References:
    Emmons et al., `RvS: What is Essential for Offline RL via Supervised Learning?
    <https://arxiv.org/abs/2112.10751>`_, ICLR 2022 (RvS-G, Sec. 3; hindsight sampling as in its
    code's ``D4RLIterableDataset``); Ghosh et al., `Learning to Reach Goals via Iterated Supervised
    Learning <https://arxiv.org/abs/1912.06088>`_, ICLR 2021.
  """

  action_space = "continuous"
  hyperparameter_ranges = {"goal_dim": POSITIVE}
  conditions_on_goals = True  # the offline job fills timesteps and episode_lengths, and checks the file's goal_dim
  reads_rewards = False  # the offline job skips reward scaling

  goal_dim: int = flax.struct.field(pytree_node=False, default=2)

  @classmethod
  @checked_create
  def create(
      cls,
      key: jax.Array,
      observation_dim: int,
      action_dim: int,
      *,
      hidden_dims: Sequence[int] = (256, 256),
      actor_lr: ArrayLike = 1e-3,
      goal_dim: int = 2,
      actor_decay_steps: Optional[int] = None,
  ) -> "RvSG":
    """Initialises the policy and its optimiser.

    Args:
      key: a typed PRNG key.
      observation_dim: O = 2G + S (the goal layout). action_dim: A.
      hidden_dims: hidden widths (the paper: 1024, 1024).
      actor_lr: Adam step size (1e-3, the paper's).
      goal_dim: G, the width of a goal (2: a maze's (x, y); static).
      actor_decay_steps: ignored (constant step size).

    Raises:
      ValueError: ``observation_dim`` leaves no state columns after the two goals.
    """
    del actor_decay_steps
    if observation_dim <= 2 * goal_dim:
      raise ValueError(
          f"RvSG: observation_dim={observation_dim} has no room for [achieved_goal, desired_goal, state] with "
          f"goal_dim={goal_dim}; goal datasets store 2 * goal_dim + state columns (fix: --hparams=goal_dim=<G>)"
      )
    agent = super().create(key, observation_dim, action_dim, hidden_dims=hidden_dims, actor_lr=actor_lr)  # constant step size
    return agent.replace(goal_dim=int(goal_dim))

  def sample_batch(self, data: Transitions, key: jax.Array, batch_size: int, *, size=None) -> Transitions:
    """The training core's batches: :func:`hindsight_goal_batch` with this agent's G."""
    return hindsight_goal_batch(data, key, batch_size, self.goal_dim, size=size)

  @jax.jit
  def update(self, batch: Transitions) -> tuple["RvSG", dict[str, jax.Array]]:
    """One maximum-likelihood step on a hindsight batch (:meth:`BC.update`).

    Returns ``(new_agent, {"actor_loss", "goal_distance"})``: the batch's mean Euclidean distance
    from the achieved to the hindsight goal, in the task's units.
    """
    g = self.goal_dim
    agent, metrics = BC.update(self, batch)
    distance = jnp.linalg.norm(batch.observations[:, g:2 * g] - batch.observations[:, :g], axis=-1)
    return agent, {**metrics, "goal_distance": jnp.mean(distance)}
