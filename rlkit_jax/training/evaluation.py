"""Evaluating many runs at once: every run's deterministic policy in one vector env, and the
offline model-selection signals on a fixed probe of dataset transitions; and, for one agent, its
critic's value along its own rollout against the return that followed."""
from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from rlkit_jax.data.preprocessing import discounted_returns_to_go
from rlkit_jax.envs.evaluation import evaluate
from rlkit_jax.envs.rollout import rollout


@jax.jit
def _eval_actions(agents: Any, observations: jax.Array) -> jax.Array:
  return jax.vmap(lambda agent, obs: agent.eval_actions(obs))(agents, observations)


@jax.jit
def _conditioned_actions(agents: Any, observations: jax.Array, outcomes: jax.Array) -> jax.Array:
  return jax.vmap(lambda agent, obs, out: agent.conditioned_actions(obs, out))(agents, observations, outcomes)


class ReturnPrompt:
  """The act function of return-conditioned agents (RvS) in one vector env: each episode starts
  with its run's prompt R̂_0 = ``agents.target_return`` and, after every step, R̂ drops by the
  reward received and t grows by one; the policy sees ω = R̂ / (H − t)
  (:func:`rlkit_jax.objectives.average_reward_to_go`).

  Args:
    agents: batched agents ``[R, ...]`` with ``conditioned_actions``, ``target_return`` ``[R]`` and
      a static ``horizon``.
    episodes_per_seed: K (episode i of the vector env belongs to run ``i // K``).
  """

  def __init__(self, agents: Any, episodes_per_seed: int):
    self.agents, self.episodes = agents, episodes_per_seed
    self.num_runs = jax.tree.leaves(agents)[0].shape[0]
    self.remaining = np.repeat(np.asarray(agents.target_return, np.float64), episodes_per_seed)
    self.steps = np.zeros_like(self.remaining)

  def __call__(self, observations: np.ndarray) -> np.ndarray:
    outcomes = self.remaining / np.maximum(self.agents.horizon - self.steps, 1.0)
    shape = (self.num_runs, self.episodes)
    actions = np.asarray(_conditioned_actions(
        self.agents, observations.reshape(shape + (-1,)), jnp.asarray(outcomes.reshape(shape), jnp.float32)
    ))
    return actions.reshape((self.num_runs * self.episodes,) + actions.shape[2:])

  def observe(self, rewards: np.ndarray) -> None:
    self.remaining -= rewards
    self.steps += 1


@jax.jit
def _context_actions(agents: Any, returns, observations, actions, timesteps, mask) -> jax.Array:
  return jax.vmap(lambda agent, *context: agent.act_in_context(*context))(agents, returns, observations, actions, timesteps, mask)


class ContextPrompt(ReturnPrompt):
  """The act function of sequence agents (the Decision Transformer) in one vector env: as
  :class:`ReturnPrompt`, and each episode keeps its last K (R̂, s, a, t) steps, left-padded at the
  start; the agent acts on that window (``act_in_context``).

  Args:
    agents: batched agents ``[R, ...]`` with ``act_in_context``, ``target_return`` ``[R]`` and
      static ``context_length`` and ``action_dim``.
    episodes_per_seed: K episodes per run.
  """

  def __init__(self, agents: Any, episodes_per_seed: int):
    super().__init__(agents, episodes_per_seed)
    m, k = len(self.remaining), agents.context_length
    self.returns = np.zeros((m, k), np.float32)
    self.observations: np.ndarray | None = None  # [M, K, O], made at the first call
    self.actions = np.zeros((m, k, agents.action_dim), np.float32)
    self.timesteps = np.zeros((m, k), np.int32)
    self.mask = np.zeros((m, k), bool)

  def __call__(self, observations: np.ndarray) -> np.ndarray:
    m, k = self.mask.shape
    if self.observations is None:
      self.observations = np.zeros((m, k, observations.shape[-1]), np.float32)
    for window in (self.returns, self.observations, self.actions, self.timesteps, self.mask):
      window[:, :-1] = window[:, 1:].copy()  # drop the oldest step
    self.returns[:, -1], self.observations[:, -1], self.actions[:, -1] = self.remaining, observations, 0.0
    self.timesteps[:, -1], self.mask[:, -1] = self.steps, True
    shape = (self.num_runs, self.episodes)
    split = lambda x: jnp.asarray(x.reshape(shape + x.shape[1:]))
    actions = np.asarray(_context_actions(
        self.agents, split(self.returns), split(self.observations), split(self.actions), split(self.timesteps), split(self.mask)
    )).reshape(m, -1)
    self.actions[:, -1] = actions
    return actions


def evaluation_seed(run_seed: int, step: int) -> int:
  """The vector env's base seed for the evaluation at ``step`` of a job seeded ``run_seed`` (the
  offline and online jobs): env copy j — run ``j // K``, episode ``j % K`` — resets with it + j. A
  reference side that plays run i's episodes starts at it + i·K."""
  return run_seed * 1_000_003 + step


def evaluate_agents(
    agents: Any, env_id: str, *, episodes_per_seed: int, seed: int, with_success: bool = False,
    max_episode_steps: int | None = None,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
  """Runs ``episodes_per_seed`` episodes of every run's deterministic policy in one vector env.

  Args:
    agents: batched agents ``[R, ...]`` with an ``eval_actions(observations [K, O])`` method
      returning ``[K, A]`` float (continuous) or ``[K]`` int (discrete) actions; agents with a
      ``conditioned_actions`` method (RvS) act through a :class:`ReturnPrompt` instead, and
      agents with ``act_in_context`` (the Decision Transformer) through a :class:`ContextPrompt`.
    env_id: gymnasium task.
    episodes_per_seed: K.
    seed: environment seed (use a different one per evaluation round).
    with_success: also report each episode's success (:func:`rlkit_jax.envs.evaluation.evaluate`).
    max_episode_steps: override the task's time limit (None keeps it).

  Returns:
    Returns ``[R, K]``, float64; with ``with_success``, ``(returns, successes)``, successes
    ``[R, K]`` float64 (1.0 or 0.0, all NaN for a task that reports none).
  """
  num_runs = jax.tree.leaves(agents)[0].shape[0]

  def greedy(observations: np.ndarray) -> np.ndarray:
    obs = observations.reshape(num_runs, episodes_per_seed, -1)
    actions = np.asarray(_eval_actions(agents, obs))
    return actions.reshape((num_runs * episodes_per_seed,) + actions.shape[2:])

  if hasattr(agents, "act_in_context"):
    act_fn = ContextPrompt(agents, episodes_per_seed)
  elif hasattr(agents, "conditioned_actions"):
    act_fn = ReturnPrompt(agents, episodes_per_seed)
  else:
    act_fn = greedy

  out = evaluate(
      act_fn, env_id, num_envs=num_runs * episodes_per_seed, seed=seed, with_success=with_success,
      max_episode_steps=max_episode_steps,
  )
  if with_success:
    return tuple(x.reshape(num_runs, episodes_per_seed) for x in out)
  return out.reshape(num_runs, episodes_per_seed)


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


def return_range(rewards: np.ndarray, discount: float) -> tuple[float, float]:
  """``(low, high)``: the range no discounted return of these rewards can leave, whatever the policy,
  ``[min(r, 0), max(r, 0)] / (1 − γ)`` (an episode's end bootstraps 0). A critic whose mean Q on the
  data's own actions (:func:`q_diagnostics`) is outside it is overestimating without bound.

  Args:
    rewards: the rewards the agents were trained on (after scaling), ``[N]``.
    discount: γ in [0, 1).
  """
  rewards = np.asarray(rewards, dtype=np.float64)
  return min(float(rewards.min()), 0.0) / (1.0 - discount), max(float(rewards.max()), 0.0) / (1.0 - discount)


# One trace for every agent of a structure (the seeds of a run), not one per call.
_greedy = jax.jit(lambda agent, observations: agent.eval_actions(observations))
_q_values = jax.jit(lambda agent, observations, actions: agent.q_values(observations, actions))


def value_against_return(
    agent: Any, env_id: str, *, discount: float, num_transitions: int, seed: int, reward_scale: float = 1.0,
    reward_shift: float = 0.0,
) -> dict[str, np.ndarray]:
  """One agent's ``Q(s, π(s))`` at the states its greedy policy visits, against the discounted return
  that actually followed each: the measure of overestimation of Fujimoto et al., `Addressing Function
  Approximation Error in Actor-Critic Methods <https://arxiv.org/abs/1802.09477>`_, ICML 2018,
  Sec. 4.1 and Fig. 1 (there averaged over states of the policy's own episodes, as here).

  The policy runs for ``num_transitions`` steps (episodes to termination or the task's time limit,
  the last one cut). The return is ``Σ_k γ^k r'_{t+k}`` to the episode's end with ``r' = reward_scale ·
  r + reward_shift``, the units the critic was trained in. A termination ends the sum exactly (the
  critic bootstraps 0 there); a time-limit or data cut truncates it, so the cut episode's states
  within ``⌈3 / (1 − γ)⌉`` steps of the cut are not ``kept`` (their return misses up to γ^{3/(1−γ)} ≈ 5%
  of a constant-reward tail). Where the backup adds the entropy bonus (SAC, SAC-N, EDAC; CQL with
  ``backup_entropy``) Q is a soft value: it also counts the discounted ``α·H`` of the steps ahead,
  which the return here leaves out.

  Args:
    agent: one (unbatched) agent with ``eval_actions(observations [N, O]) -> [N, A]`` and
      ``q_values(observations [N, O], actions [N, A]) -> [N]`` (the value the table's Q columns
      report: the minimum over the critics where the agent uses one).
    env_id: the gymnasium task. discount: γ in [0, 1), the agent's. num_transitions: N steps.
    seed: the environment's first reset. reward_scale, reward_shift: as the run's ``config.json``
      records them (:func:`rlkit_jax.data.preprocessing.scale_rewards`).

  Returns:
    The rollout's rows (:func:`rlkit_jax.envs.rollout.empty_arrays`: ``observations``, ``actions``,
    ``rewards`` in the task's units, ``terminals``, ``timeouts``, ``next_observations``) and
    ``q`` ``[N]``, ``returns`` ``[N]`` (float32, training units), ``kept`` ``[N]`` bool (the states
    that count), ``episode_starts`` ``[N]`` bool and ``episode_returns`` ``[E]`` (the task's own
    undiscounted return of each complete episode).

  Raises:
    ValueError: ``discount`` outside [0, 1), or ``num_transitions`` < 1.
  """
  if not 0.0 <= discount < 1.0 or num_transitions < 1:
    raise ValueError(f"value_against_return: discount={discount} must be in [0, 1) and num_transitions={num_transitions} ≥ 1")
  arrays, episode_returns = rollout(
      env_id, lambda obs: np.asarray(_greedy(agent, obs)[0]), num_transitions=num_transitions, seed=seed, progress=False
  )
  ends = arrays["terminals"] | arrays["timeouts"]  # the rollout's last row is one of the two
  returns = discounted_returns_to_go(arrays["rewards"] * reward_scale + reward_shift, ends, discount=discount)
  horizon = int(np.ceil(np.round(3.0 / (1.0 - discount), 6)))  # 3 / (1 − 0.99) is 300.0000000000003 in floats
  starts = np.concatenate([[True], ends[:-1]])
  episode_start = np.maximum.accumulate(np.where(starts, np.arange(num_transitions), 0))
  kept = np.ones(num_transitions, bool)
  for end in np.flatnonzero(arrays["timeouts"]):  # the cut episode's last states only
    kept[max(end + 1 - horizon, episode_start[end]):end + 1] = False
  q = _q_values(agent, jnp.asarray(arrays["observations"]), jnp.asarray(arrays["actions"]))  # the actions it took
  return {**arrays, "q": np.asarray(q, np.float32), "returns": returns, "kept": kept, "episode_starts": starts,
          "episode_returns": episode_returns}
