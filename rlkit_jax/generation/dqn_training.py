"""Double DQN trained online for the discrete D4RL recipe (:mod:`rlkit_jax.generation.dqn`): ε-greedy
acting on the host, update chunks through the recipe's device buffer, and an ε-greedy-evaluated
:class:`Snapshot` of the Q-network at every evaluation."""
from __future__ import annotations

import dataclasses
import functools
from typing import Any, Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import tqdm

from rlkit_jax.agents.dqn import DQN, epsilon_greedy
from rlkit_jax.envs import evaluate, make_env, rollout
from rlkit_jax.generation import recipe

BEHAVIOR_EPSILON = 0.1  # ε of the medium / expert behaviour policies (and of the snapshots' evaluation)


@dataclasses.dataclass
class Snapshot:
  """A greedy Q-network saved during training: env steps so far, its parameters, and the mean
  return of its ε-greedy policy (``behavior_epsilon``) over the evaluation episodes."""

  step: int
  params: Any
  eval_return: float


@dataclasses.dataclass
class DQNRun:
  """What :func:`train_dqn` returns: the agent, its snapshots (after each evaluation), the uniform
  random policy's evaluation return, and the whole replay buffer (D4RL keys, NumPy, axis = steps)."""

  agent: DQN
  snapshots: list[Snapshot]
  random_return: float
  buffer: dict[str, np.ndarray]


@functools.lru_cache(maxsize=None)
def epsilon_greedy_act_fn(apply_fn: Callable) -> Callable:
  """Jitted ``(params, observations [B, O], key, ε) -> (actions [B] int32, next key)``."""

  @jax.jit
  def act(params, observations, key, epsilon):
    key, act_key = jax.random.split(key)
    return epsilon_greedy(apply_fn({"params": params}, observations), act_key, epsilon), key

  return act


def _epsilon_schedule(t: int, *, start: float, end: float, decay_steps: int) -> float:
  """Linear decay from ``start`` to ``end`` over ``decay_steps`` steps (Mnih et al. 2015)."""
  return end + (start - end) * max(0.0, 1.0 - t / max(decay_steps, 1))


def train_dqn(
    env_id: str,
    *,
    seed: int,
    num_steps: int,
    start_steps: int = 1_000,
    update_every: int = 250,
    batch_size: int = 64,
    eval_every: int = 2_000,
    eval_episodes: int = 10,
    behavior_epsilon: float = BEHAVIOR_EPSILON,
    epsilon_start: float = 1.0,
    epsilon_end: float = 0.05,
    epsilon_decay_fraction: float = 0.2,
    hidden_dims: Sequence[int] = (256, 256),
    critic_lr: float = 5e-4,
    discount: float = 0.99,
    tau: float = 0.01,
    progress: bool = True,
) -> DQNRun:
  """Trains Double DQN online on a ``Discrete`` task, one update per environment step.

  Acting is on the host (ε-greedy, ε decaying linearly from ``epsilon_start`` to ``epsilon_end``
  over ``epsilon_decay_fraction · num_steps`` steps); every ``update_every`` steps the new
  transitions are copied into a device-resident buffer and that many updates run in one scan.

  Args:
    env_id: gymnasium id with a ``Discrete`` action space, e.g. ``"CartPole-v1"``.
    seed: seeds the agent, the environment, exploration and evaluation.
    num_steps: environment steps (= updates after ``start_steps``).
    start_steps: steps before the first update (ε-greedy with the schedule's ε, ≈ 1).
    update_every: steps between update chunks.
    batch_size: minibatch size.
    eval_every: steps between evaluations, each saving a :class:`Snapshot`.
    eval_episodes: episodes per evaluation.
    behavior_epsilon: ε of the evaluated (data-collecting) policy.
    epsilon_start, epsilon_end, epsilon_decay_fraction: exploration schedule.
    hidden_dims, critic_lr, discount, tau: :meth:`DQN.create` settings (Huber loss, Double DQN).
      The defaults (256×256, 5e-4, 0.99, 0.01; batch 64) reached the 500 cap on CartPole-v1 within
      50k steps in a short comparison against (128×128, 1e-3, τ 0.005) and (batch 128, 3e-4), which
      peaked at 444 and 291 (seed 0).
    progress: show a tqdm bar.

  Returns:
    A :class:`DQNRun`.

  Raises:
    ValueError: the task's action space is not ``Discrete``.
  """
  env = make_env(env_id)
  if not hasattr(env.action_space, "n"):
    env.close()
    raise ValueError(f"{env_id}: DQN dataset generation needs a Discrete action space, got {env.action_space}")
  observation_dim, num_actions = env.observation_space.shape[0], int(env.action_space.n)
  key = jax.random.key(seed)
  key, agent_key, act_key, eval_key = jax.random.split(key, 4)
  agent = DQN.create(
      agent_key, observation_dim, num_actions, hidden_dims=hidden_dims, critic_lr=critic_lr, discount=discount,
      tau=tau, double=True,
  )
  act = epsilon_greedy_act_fn(agent.critic.apply_fn)
  host = rollout.empty_arrays(num_steps, env)
  device_buffer = jax.tree.map(jnp.asarray, recipe.to_transitions(host, 0, num_steps))
  eval_keys = iter(jax.random.split(eval_key, 1 + num_steps // max(eval_every, 1)))

  def evaluate_params(params, epsilon, round_key, eval_seed):
    keys = iter(jax.random.split(round_key, 10_000))  # ≥ the longest episode (500 steps here)
    returns = evaluate(
        lambda obs: np.asarray(act(params, obs, next(keys), epsilon)[0]), env_id, num_envs=eval_episodes,
        seed=eval_seed,
    )
    return float(returns.mean())

  random_return = evaluate_params(agent.critic.params, 1.0, next(eval_keys), seed + 1_000_000)
  snapshots: list[Snapshot] = []
  decay_steps = int(epsilon_decay_fraction * num_steps)
  observation, _ = env.reset(seed=seed)
  metrics: dict[str, float] = {}
  bar = tqdm.tqdm(total=num_steps, desc=f"DQN {env_id}", disable=not progress, mininterval=5)
  for t in range(num_steps):
    epsilon = _epsilon_schedule(t, start=epsilon_start, end=epsilon_end, decay_steps=decay_steps)
    action, act_key = act(agent.critic.params, observation[None].astype(np.float32), act_key, epsilon)
    observation, _, _ = rollout.record_step(env, host, t, observation, int(action[0]))
    if (t + 1) % update_every == 0:
      agent, device_buffer, key, chunk_metrics = recipe.train_chunk(
          agent, device_buffer, host, key, stop=t + 1, update_every=update_every, start_steps=start_steps,
          batch_size=batch_size,
      )
      metrics.update(chunk_metrics)
    if (t + 1) % eval_every == 0:
      params = jax.device_get(agent.critic.params)
      eval_return = evaluate_params(params, behavior_epsilon, next(eval_keys), seed + 1_000_000 + t + 1)
      snapshots.append(Snapshot(t + 1, params, eval_return))
      bar.set_postfix(eval_return=f"{eval_return:.0f}", q=f"{metrics.get('q_data', float('nan')):.1f}", eps=f"{epsilon:.2f}")
    bar.update(1)
  bar.close()
  env.close()
  return DQNRun(agent, snapshots, random_return, host)
