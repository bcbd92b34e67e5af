"""Evaluating many runs at once: every run's deterministic policy in one vector env, and the
offline model-selection signals on a fixed probe of dataset transitions."""
from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from rlkit_jax.envs.evaluation import evaluate


@jax.jit
def _eval_actions(agents: Any, observations: jax.Array) -> jax.Array:
  return jax.vmap(lambda agent, obs: agent.eval_actions(obs))(agents, observations)


def evaluate_agents(agents: Any, env_id: str, *, episodes_per_seed: int, seed: int) -> np.ndarray:
  """Runs ``episodes_per_seed`` episodes of every run's deterministic policy in one vector env.

  Args:
    agents: batched agents ``[R, ...]`` with an ``eval_actions(observations [K, O])`` method
      returning ``[K, A]`` float (continuous) or ``[K]`` int (discrete) actions.
    env_id: gymnasium task.
    episodes_per_seed: K.
    seed: environment seed (use a different one per evaluation round).

  Returns:
    Returns ``[R, K]``, float64.
  """
  num_runs = jax.tree.leaves(agents)[0].shape[0]

  def act_fn(observations: np.ndarray) -> np.ndarray:
    obs = observations.reshape(num_runs, episodes_per_seed, -1)
    actions = np.asarray(_eval_actions(agents, obs))
    return actions.reshape((num_runs * episodes_per_seed,) + actions.shape[2:])

  returns = evaluate(act_fn, env_id, num_envs=num_runs * episodes_per_seed, seed=seed)
  return returns.reshape(num_runs, episodes_per_seed)


@jax.jit
def q_diagnostics(agents: Any, observations: jax.Array, actions: jax.Array) -> dict[str, jax.Array]:
  """Offline model-selection signals: mean Q on dataset actions and on the policy's own actions.

  The CQL workflow (Kumar et al., `A Workflow for Offline Model-Free Robotic RL
  <https://arxiv.org/abs/2109.10813>`_, 2021): a Q on dataset actions that keeps rising while the
  policy's Q runs away above it signals overfitting/overestimation, without rolling out.

  Args:
    agents: batched agents ``[R, ...]`` with ``q_values(observations, actions) -> [N]`` and
      ``eval_actions``.
    observations: a fixed probe set of dataset observations ``[N, O]``.
    actions: their dataset actions ``[N, A]`` (continuous) or ``[N]`` (discrete).

  Returns:
    ``{"q_dataset_actions": [R], "q_policy_actions": [R]}``, in the (scaled) reward units the
    agents were trained on.
  """

  def one(agent):
    q_data = agent.q_values(observations, actions)
    q_policy = agent.q_values(observations, agent.eval_actions(observations))
    return {"q_dataset_actions": jnp.mean(q_data), "q_policy_actions": jnp.mean(q_policy)}

  return jax.vmap(one)(agents)
