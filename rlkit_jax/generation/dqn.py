"""The D4RL recipe on discrete-action gymnasium tasks (CartPole-v1, Acrobot-v1): train Double DQN
online with ε-greedy exploration, snapshot its policies, then write random, medium, medium-replay,
expert and medium-expert datasets in D4RL's HDF5 layout with integer actions.

Recipe (after Fu et al., `D4RL <https://arxiv.org/abs/2004.07219>`_, 2020, Sec. 4, and
:mod:`rlkit_jax.generation.sac`), with the differences a value-based, discrete agent needs:

* "random": uniformly random actions (ε = 1). A randomly initialised Q-network's greedy policy
  is close to a constant action, so it is not a random policy the way an untrained SAC actor is.
* behaviour policies: ε-greedy around the snapshot's greedy policy with ``behavior_epsilon``
  (default 0.1), so the data is not deterministic and every action appears in it. Snapshots are
  evaluated with that same ε (the policy that collects the data), as the SAC recipe evaluates
  its stochastic policy.
* "expert": the snapshot with the best evaluation return (the latest of equals), not the final
  one: online DQN on CartPole often collapses late in training ("catastrophic forgetting").
* "medium": the snapshot before the expert whose return is closest to
  ``random + medium_fraction · (expert − random)``: a fraction of the way from the random
  policy's return to the expert's, which also works for Acrobot's negative returns.
* "medium-replay": the replay buffer up to the medium snapshot; "medium-expert": medium then expert.

The DQN training itself is :mod:`rlkit_jax.generation.dqn_training`.

Files: ``actions`` int64 ``[N]``; attributes ``action_space="discrete"``, ``num_actions``,
``behavior_epsilon``, the snapshots' steps and returns, the DQN settings, the seed and the command.
"""
from __future__ import annotations

import inspect
from typing import Any, Callable, Sequence

import jax
import numpy as np

from rlkit_jax.envs import make_env, rollout
from rlkit_jax.generation import recipe
from rlkit_jax.generation.dqn_training import BEHAVIOR_EPSILON, DQNRun, Snapshot, epsilon_greedy_act_fn, train_dqn

__all__ = ["BEHAVIOR_EPSILON", "DQNRun", "Snapshot", "TASK_SETTINGS", "collect", "make_discrete_datasets", "train_dqn"]


# Per-task DQN settings used by make_discrete_datasets unless overridden. Acrobot-v1 with the
# train_dqn defaults reaches ≈ -90 by step 10k with no middling snapshot after step 2k (seed 0),
# so there is no "medium" policy to pick; the smaller, slower setting below passes through
# -390 at 10k steps and ends near -80.
TASK_SETTINGS: dict[str, dict[str, Any]] = {
    "Acrobot-v1": {"hidden_dims": (128, 128), "critic_lr": 1e-3, "tau": 0.005},
}


def collect(
    env_id: str,
    params: Any,
    apply_fn: Callable,
    *,
    epsilon: float,
    num_transitions: int,
    seed: int,
    progress: bool = False,
) -> tuple[dict[str, np.ndarray], np.ndarray]:
  """Rolls out the ε-greedy policy of Q-network ``params`` for exactly ``num_transitions`` steps.

  Episodes run to termination or the time limit; the last one is cut at ``num_transitions`` and
  marked as a time-out. ``epsilon=1`` is the uniform random policy.

  Args:
    env_id: gymnasium id with a ``Discrete`` action space.
    params, apply_fn: the Q-network (``apply_fn({"params": params}, obs [B, O]) -> [B, A]``).
    epsilon: ε of the behaviour policy.
    num_transitions: N.
    seed: seeds the environment and the action sampling.
    progress: show a tqdm bar.

  Returns:
    ``(arrays, episode_returns)``: the D4RL keys with leading axis N (``actions`` int64 ``[N]``),
    and the returns of the complete episodes.
  """
  act = epsilon_greedy_act_fn(apply_fn)
  key = jax.random.key(seed)

  def policy(observation: np.ndarray) -> int:
    nonlocal key
    action, key = act(params, observation, key, epsilon)
    return int(action[0])

  return rollout.rollout(env_id, policy, num_transitions=num_transitions, seed=seed, progress=progress)


def _settings(overrides: dict[str, Any]) -> dict[str, Any]:
  """Every :func:`train_dqn` keyword's effective value (defaults updated by ``overrides``), JSON-able."""
  defaults = {
      name: p.default for name, p in inspect.signature(train_dqn).parameters.items()
      if p.kind is inspect.Parameter.KEYWORD_ONLY and p.default is not inspect.Parameter.empty
  }
  merged = {**defaults, **overrides}
  merged.pop("progress", None)
  return {k: (list(v) if isinstance(v, (tuple, list)) else v) for k, v in merged.items()}


def make_discrete_datasets(
    env_id: str,
    out_dir: str,
    *,
    seed: int,
    num_steps: int,
    num_transitions: int,
    medium_fraction: float = 0.4,
    behavior_epsilon: float = BEHAVIOR_EPSILON,
    kinds: Sequence[str] = recipe.DATASET_KINDS,
    provenance: dict[str, Any] | None = None,
    progress: bool = True,
    **dqn_kwargs,
) -> dict[str, str]:
  """Runs the discrete recipe (module docstring) and writes one HDF5 file per kind into ``out_dir``.

  Args:
    env_id: gymnasium id with a ``Discrete`` action space, e.g. ``"CartPole-v1"``.
    out_dir: output folder; files are named ``<task>-<kind>-<version>.hdf5`` (``cartpole-medium-v1``).
    seed: master seed (DQN training uses it; each rollout a derived seed).
    num_steps: DQN training budget in environment steps.
    num_transitions: size of the random, medium and expert datasets.
    medium_fraction: where "medium" sits between the random and the expert return (0.4).
    behavior_epsilon: ε of the medium / expert behaviour policies (0.1).
    kinds: which of :data:`recipe.DATASET_KINDS` to write.
    provenance: extra file attributes (e.g. the generating command).
    progress: show progress bars.
    **dqn_kwargs: forwarded to :func:`train_dqn`, on top of :data:`TASK_SETTINGS` for ``env_id``.

  Returns:
    ``{kind: path}`` of the files written.

  Raises:
    ValueError: unknown kinds, a non-discrete task, or no snapshot (``num_steps < eval_every``).
  """
  from rlkit_jax import __version__

  unknown = sorted(set(kinds) - set(recipe.DATASET_KINDS))
  if unknown:
    raise ValueError(f"unknown dataset kinds {unknown}; choose from {recipe.DATASET_KINDS}")
  dqn_kwargs = {**TASK_SETTINGS.get(env_id, {}), **dqn_kwargs}
  run = train_dqn(env_id, seed=seed, num_steps=num_steps, behavior_epsilon=behavior_epsilon, progress=progress, **dqn_kwargs)
  if not run.snapshots:
    raise ValueError(f"num_steps={num_steps} is below eval_every: no trained policy snapshot to pick from")
  best = max(s.eval_return for s in run.snapshots)
  expert_index = max(i for i, s in enumerate(run.snapshots) if s.eval_return == best)
  expert = run.snapshots[expert_index]
  target = run.random_return + medium_fraction * (expert.eval_return - run.random_return)
  medium = min(run.snapshots[:expert_index] or [expert], key=lambda s: abs(s.eval_return - target))
  apply_fn = run.agent.critic.apply_fn
  env = make_env(env_id)
  num_actions = int(env.action_space.n)
  env.close()

  base_attrs = {
      "env_id": env_id,
      "seed": seed,
      "action_space": "discrete",
      "num_actions": num_actions,
      "behavior_epsilon": behavior_epsilon,
      "dqn_env_steps": num_steps,
      "dqn_settings": _settings({**dqn_kwargs, "behavior_epsilon": behavior_epsilon}),
      "rlkit_jax_version": __version__,
      "random_eval_return": run.random_return,
      "expert_snapshot_step": expert.step,
      "expert_eval_return": expert.eval_return,
      "medium_snapshot_step": medium.step,
      "medium_eval_return": medium.eval_return,
      "snapshot_returns": {s.step: s.eval_return for s in run.snapshots},
      **(provenance or {}),
  }
  policies = {"random": (run.agent.critic.params, 1.0), "medium": (medium.params, behavior_epsilon),
              "expert": (expert.params, behavior_epsilon)}

  def roll_out(kind: str, rollout_seed: int) -> tuple[dict[str, np.ndarray], np.ndarray, dict[str, Any]]:
    params, epsilon = policies[kind]
    arrays, returns = collect(
        env_id, params, apply_fn, epsilon=epsilon, num_transitions=num_transitions, seed=rollout_seed,
        progress=progress,
    )
    policy = "uniform random actions" if kind == "random" else f"{kind} DQN snapshot, ε-greedy with ε={epsilon}"
    return arrays, returns, {"policy": policy, "policy_epsilon": epsilon}

  return recipe.write_dataset_kinds(
      env_id, out_dir, kinds, roll_out, seed=seed, buffer=run.buffer, medium_step=medium.step,
      replay_policy=f"DQN replay buffer up to step {medium.step} (ε-greedy, decaying ε)", base_attrs=base_attrs,
      kind_attrs={"medium-expert": {"policy_epsilon": behavior_epsilon}},
  )
