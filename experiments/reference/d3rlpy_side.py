"""The d3rlpy side of ``experiments/reproduce.py``: the same transitions, settings and evaluation.

d3rlpy (2.x, PyTorch) is an optional extra (``pip install -e ".[reference]"``); ``rlkit_jax``
never imports it. Each seed is one d3rlpy algorithm trained by calling its ``update`` on
minibatches that d3rlpy samples from an ``MDPDataset`` built from our loader's arrays. Every
``eval_every`` updates all seeds are evaluated through our vectorised evaluator, on the episodes
our job uses at that step, and each seed's model, optimiser and RNG states are saved, so a killed
run continues with ``--resume``.
"""
from __future__ import annotations

import contextlib
import csv
import io
import math
import os
import pickle
import random
import time
from typing import Any, Callable

import numpy as np

from rlkit_jax.data import action_dim
from rlkit_jax.data.dataset import Dataset, trajectory_bounds
from rlkit_jax.errors import UsageError

INSTALL = 'pip install -e ".[reference]"'


def require_d3rlpy():
  """Imports d3rlpy, or raises a one-line UsageError saying what to install."""
  try:
    with contextlib.redirect_stderr(io.StringIO()):  # d3rlpy imports the old gym, which prints a notice
      import d3rlpy  # noqa: PLC0415 (optional extra)
  except ImportError as error:
    raise UsageError(f"--reference=d3rlpy needs d3rlpy 2.x and PyTorch ({error}); fix: {INSTALL}") from None
  return d3rlpy


def to_mdp_dataset(dataset: Dataset):
  """Our transitions as a d3rlpy ``MDPDataset`` holding exactly the same transitions.

  d3rlpy reads s' as the next row of an episode, ends an episode at ``terminals | timeouts``, and
  drops the last row of an episode that did not terminate. So a trajectory that ends without a
  termination (a time-out or a break) gets its final s' appended as one extra row (action and
  reward zero, never a transition); a terminated one keeps d3rlpy's zero s', which is masked.
  """
  d3rlpy = require_d3rlpy()
  t = dataset.transitions
  starts, stops = trajectory_bounds(dataset.episode_ends)
  parts: dict[str, list[np.ndarray]] = {k: [] for k in ("observations", "actions", "rewards", "terminals", "timeouts")}
  for start, stop in zip(starts, stops):
    terminated = bool(t.terminals[stop - 1])
    extra = 0 if terminated else 1
    n = stop - start + extra
    observations = t.observations[start:stop]
    actions = t.actions[start:stop]
    rewards = t.rewards[start:stop]
    if extra:
      observations = np.concatenate([observations, t.next_observations[stop - 1 : stop]])
      actions = np.concatenate([actions, np.zeros_like(actions[:1])])
      rewards = np.concatenate([rewards, np.zeros(1, rewards.dtype)])
    ends = np.zeros(n, np.float32)
    ends[-1] = 1.0
    parts["observations"].append(observations)
    parts["actions"].append(actions)
    parts["rewards"].append(rewards)
    parts["terminals"].append(ends if terminated else np.zeros(n, np.float32))
    parts["timeouts"].append(np.zeros(n, np.float32) if terminated else ends)
  arrays = {k: np.concatenate(v) for k, v in parts.items()}
  discrete = np.issubdtype(t.actions.dtype, np.integer)
  return d3rlpy.dataset.MDPDataset(
      observations=arrays["observations"].astype(np.float32),
      actions=arrays["actions"] if discrete else arrays["actions"].astype(np.float32),
      rewards=arrays["rewards"].astype(np.float32),
      terminals=arrays["terminals"],
      timeouts=arrays["timeouts"],
      action_space=d3rlpy.ActionSpace.DISCRETE if discrete else d3rlpy.ActionSpace.CONTINUOUS,
      action_size=action_dim(dataset),
  )


def _encoder(d3rlpy, hidden_dims):
  return d3rlpy.models.VectorEncoderFactory(hidden_units=list(hidden_dims))


def _cosine_adam(d3rlpy, num_updates: int):
  return d3rlpy.optimizers.AdamFactory(lr_scheduler_factory=d3rlpy.optimizers.CosineAnnealingLRFactory(T_max=num_updates))


def _iql(d3rlpy, h: dict[str, Any], *, hidden_dims, batch_size, num_updates):
  config = d3rlpy.algos.IQLConfig(
      actor_learning_rate=h["actor_lr"], critic_learning_rate=h["critic_lr"],
      actor_optim_factory=_cosine_adam(d3rlpy, num_updates),
      actor_encoder_factory=_encoder(d3rlpy, hidden_dims), critic_encoder_factory=_encoder(d3rlpy, hidden_dims),
      value_encoder_factory=_encoder(d3rlpy, hidden_dims), batch_size=batch_size, gamma=h["discount"], tau=h["tau"],
      n_critics=h["num_critics"], expectile=h["expectile"], weight_temp=h["temperature"], max_weight=h["max_weight"],
  )
  table = [
      ("value_lr", h["value_lr"], f"{h['critic_lr']:g} (one Adam over Q and V: critic_learning_rate)"),
      ("update order", "V, actor (new V), Q (new V), target", "Q and V in one step (Q bootstraps the old V), actor (new V), target"),
      ("actor schedule", "cosine to 0 over num_updates", f"CosineAnnealingLR(T_max={num_updates})"),
      ("policy", "N(tanh μ(s), σ), state-independent log σ ∈ [-5, 2]", "same (NormalPolicy, use_std_parameter, log σ ∈ [-5, 2])"),
      _INIT,
  ]
  return config, table


def _bc(d3rlpy, h: dict[str, Any], *, hidden_dims, batch_size, num_updates):
  config = d3rlpy.algos.BCConfig(
      learning_rate=h["actor_lr"], policy_type="stochastic", optim_factory=_cosine_adam(d3rlpy, num_updates),
      encoder_factory=_encoder(d3rlpy, hidden_dims), batch_size=batch_size,
  )
  table = [
      ("objective", "Gaussian log-likelihood", "Gaussian log-likelihood (policy_type='stochastic')"),
      ("actor schedule", "cosine to 0 over num_updates", f"CosineAnnealingLR(T_max={num_updates})"),
      ("policy", "N(tanh μ(s), σ), state-independent log σ ∈ [-5, 2]", "N(tanh μ(s), σ(s)), state-dependent log σ ∈ [-4, 15] (not settable)"),
      ("initialisation", "orthogonal(√2) statistics", "PyTorch default (not expressible in d3rlpy's config)"),
  ]
  return config, table


_INIT = ("initialisation", "orthogonal(√2) statistics", "PyTorch default (not expressible in d3rlpy's config)")


def _td3_bc(d3rlpy, h: dict[str, Any], *, hidden_dims, batch_size, num_updates):
  del num_updates
  config = d3rlpy.algos.TD3PlusBCConfig(
      actor_learning_rate=h["actor_lr"], critic_learning_rate=h["critic_lr"],
      actor_encoder_factory=_encoder(d3rlpy, hidden_dims), critic_encoder_factory=_encoder(d3rlpy, hidden_dims),
      batch_size=batch_size, gamma=h["discount"], tau=h["tau"], n_critics=h["num_critics"],
      target_smoothing_sigma=h["policy_noise"], target_smoothing_clip=h["noise_clip"], alpha=h["alpha"],
      update_actor_interval=h["policy_delay"],
  )
  return config, [("observation normalisation", "none", "none (no observation_scaler)"), _INIT]


def _rebrac(d3rlpy, h: dict[str, Any], *, hidden_dims, batch_size, num_updates):
  del num_updates
  critic_encoder = d3rlpy.models.VectorEncoderFactory(hidden_units=list(hidden_dims), use_layer_norm=bool(h["critic_layer_norm"]))
  config = d3rlpy.algos.ReBRACConfig(
      actor_learning_rate=h["actor_lr"], critic_learning_rate=h["critic_lr"],
      actor_encoder_factory=_encoder(d3rlpy, hidden_dims), critic_encoder_factory=critic_encoder,
      batch_size=batch_size, gamma=h["discount"], tau=h["tau"], n_critics=h["num_critics"],
      target_smoothing_sigma=h["policy_noise"], target_smoothing_clip=h["noise_clip"], actor_beta=h["actor_bc_coef"],
      critic_beta=h["critic_bc_coef"], update_actor_interval=h["policy_delay"],
  )
  return config, [
      ("critic LayerNorm", "Dense → ReLU → LayerNorm" if h["critic_layer_norm"] else "none",
       "the same (use_layer_norm)" if h["critic_layer_norm"] else "none"),
      ("next action at a trajectory's last row", "the row's own action (preprocessing.with_next_actions)",
       "zeros (d3rlpy's episode end; unused at a termination)"),
      _INIT,
  ]


def _dt(d3rlpy, h: dict[str, Any], *, hidden_dims, batch_size, num_updates):
  del hidden_dims, num_updates
  embed = int(h["embed_dim"])
  config = d3rlpy.algos.DecisionTransformerConfig(
      batch_size=batch_size, learning_rate=h["learning_rate"], context_size=int(h["context_length"]),
      max_timestep=int(h["horizon"]), num_heads=int(h["num_heads"]), num_layers=int(h["num_layers"]),
      attn_dropout=0.0, resid_dropout=0.0, embed_dropout=0.0, activation_type="gelu",
      encoder_factory=d3rlpy.models.VectorEncoderFactory(hidden_units=[embed], exclude_last_activation=True),
      optim_factory=d3rlpy.optimizers.AdamWFactory(
          weight_decay=h["weight_decay"], clip_grad_norm=0.25,
          lr_scheduler_factory=d3rlpy.optimizers.WarmupSchedulerFactory(warmup_steps=int(h["warmup_steps"])),
      ),
      reward_scaler=d3rlpy.preprocessing.MultiplyRewardScaler(1.0 / h["return_scale"]),
  )
  return config, [
      ("embeddings", f"linear R̂, s, a → {embed} plus a learned timestep embedding", f"the same (a one-layer encoder of {embed} without activation)"),
      ("dropout", "none", "0 everywhere (d3rlpy's default is 0.1)"),
      ("segments", "K rows inside one trajectory, padded and masked at its start",
       "d3rlpy's sample_trajectory_batch; a trajectory without a termination carries one extra zero-action row (to_mdp_dataset)"),
      ("evaluation prompt", f"R̂₀ = {h['target_return']:g}, minus each reward", "the same (StatefulTransformerWrapper per episode)"),
      _INIT,
  ]


class TransformerPrompt:
  """A d3rlpy ``StatefulTransformerWrapper`` per evaluation episode, driven by our vectorised
  evaluator: called with observations ``[K, O]`` it acts in each episode, and ``observe(rewards
  [K])`` hands each wrapper the reward its next call reports (the prompt drops by it)."""

  def __init__(self, algo, target_return: float):
    self.algo, self.target_return, self.wrappers, self.rewards = algo, float(target_return), None, None

  def __call__(self, observations: np.ndarray) -> np.ndarray:
    if self.wrappers is None:
      self.wrappers = [self.algo.as_stateful_wrapper(target_return=self.target_return) for _ in observations]
      self.rewards = np.zeros(len(observations))
    return np.stack([w.predict(o.astype(np.float32), float(r)) for w, o, r in zip(self.wrappers, observations, self.rewards)])

  def observe(self, rewards: np.ndarray) -> None:
    self.rewards = np.asarray(rewards, np.float64)


def _awac(d3rlpy, h: dict[str, Any], *, hidden_dims, batch_size, num_updates):
  del num_updates
  config = d3rlpy.algos.AWACConfig(
      actor_learning_rate=h["actor_lr"], critic_learning_rate=h["critic_lr"],
      actor_encoder_factory=_encoder(d3rlpy, hidden_dims), critic_encoder_factory=_encoder(d3rlpy, hidden_dims),
      batch_size=batch_size, gamma=h["discount"], tau=h["tau"], n_critics=h["num_critics"], lam=1.0 / h["temperature"] if h["temperature"] else math.inf,
  )
  return config, [
      ("temperature", f"β = {h['temperature']:g}: weight min(exp(βA), {h['max_weight']:g})",
       "λ = 1/β: weight B·softmax_B(A/λ) over the batch, no clip (not settable)"),
      ("V(s) for the advantage", "min-Q of 1 sampled policy action, clipped to [-1, 1]", "min-Q of 1 sampled policy action"),
      _INIT,
  ]


def _cql(d3rlpy, h: dict[str, Any], *, hidden_dims, batch_size, num_updates):
  del num_updates
  lagrange = bool(h["lagrange"])
  config = d3rlpy.algos.CQLConfig(
      actor_learning_rate=h["actor_lr"], critic_learning_rate=h["critic_lr"], temp_learning_rate=h["temperature_lr"],
      alpha_learning_rate=h["critic_lr"] if lagrange else 0.0,
      actor_encoder_factory=_encoder(d3rlpy, hidden_dims), critic_encoder_factory=_encoder(d3rlpy, hidden_dims),
      batch_size=batch_size, gamma=h["discount"], tau=h["tau"], n_critics=h["num_critics"],
      initial_temperature=h["init_temperature"], initial_alpha=1.0, alpha_threshold=h["target_action_gap"],
      conservative_weight=h["cql_alpha"], n_action_samples=h["num_sampled_actions"],
      soft_q_backup=bool(h["backup_entropy"]), max_q_backup=False,
  )
  if h["backup_entropy"]:
    target = ("TD target action", "a′ ~ π(·|s′), minus α log π", "the same (soft_q_backup=True)")
  elif h["mean_backup"]:
    target = ("TD target action", "tanh μ(s′) (mean_backup)", "tanh μ(s′) (soft_q_backup=False)")
  else:
    target = ("TD target action", "a′ ~ π(·|s′), no entropy term",
              "tanh μ(s′) (soft_q_backup=False; a sample without the entropy term is not settable) — differs")
  return config, [
      target,
      ("cql_alpha", h["cql_alpha"], f"conservative_weight={h['cql_alpha']:g} × α, α fixed at 1 (alpha_learning_rate=0)"
       if not lagrange else "conservative_weight × learned α"),
      ("cql_temperature", h["cql_temperature"], "1 (not settable)"),
      ("bc_steps", h["bc_steps"], "0 (not settable)"),
      _INIT,
  ]


def _dqn(d3rlpy, h: dict[str, Any], *, hidden_dims, batch_size, num_updates):
  del num_updates
  common = dict(learning_rate=h["critic_lr"], encoder_factory=_encoder(d3rlpy, hidden_dims), batch_size=batch_size,
                gamma=h["discount"], target_update_interval=round(1.0 / h["tau"]))
  if h["cql_alpha"] > 0:
    config = d3rlpy.algos.DiscreteCQLConfig(alpha=h["cql_alpha"], **common)
  elif h["double"]:
    config = d3rlpy.algos.DoubleDQNConfig(**common)
  else:
    config = d3rlpy.algos.DQNConfig(**common)
  return config, [
      ("target network", f"Polyak τ = {h['tau']:g} every update",
       f"hard copy every {round(1.0 / h['tau'])} updates (1/τ; d3rlpy has no Polyak target for DQN)"),
      ("TD loss", "Huber" if h["huber"] else "squared", "Huber (d3rlpy's only choice)"),
      ("algorithm", "Double DQN" + (f" + discrete CQL (α = {h['cql_alpha']:g})" if h["cql_alpha"] > 0 else ""),
       type(config).__name__.removesuffix("Config")),
      _INIT,
  ]


ALGOS: dict[str, Callable] = {
    "iql": _iql, "bc": _bc, "td3_bc": _td3_bc, "awac": _awac, "cql": _cql, "dqn": _dqn, "rebrac": _rebrac, "dt": _dt,
}


def make_config(algo: str, hyperparameters: dict[str, Any], *, hidden_dims, batch_size: int, num_updates: int):
  """d3rlpy's config for ``algo`` set from our hyperparameters, and the rows no name maps onto.

  Returns ``(config, rows)``, rows ``(setting, ours, d3rlpy)`` for the side-by-side table.

  Raises:
    UsageError: d3rlpy is not installed, or has no counterpart of ``algo`` here.
  """
  d3rlpy = require_d3rlpy()
  if algo not in ALGOS:
    raise UsageError(f"--algo={algo} has no d3rlpy counterpart in reproduce.py; choose one of {', '.join(sorted(ALGOS))}")
  return ALGOS[algo](d3rlpy, hyperparameters, hidden_dims=tuple(hidden_dims), batch_size=batch_size, num_updates=num_updates)


def check_fingerprint(saved: dict[str, Any], fingerprint: dict[str, Any], folder: str) -> None:
  """Refuses to resume a saved reference state made with other settings, naming the first that differs."""
  for name, value in fingerprint.items():
    if saved.get("fingerprint", {}).get(name) != value:
      raise UsageError(
          f"{folder}: the saved run has {name}={saved.get('fingerprint', {}).get(name)!r}, this one {value!r}; "
          "fix: resume with the same settings, or choose another --workdir"
      )


def _set_seed(torch, seed: int) -> None:
  torch.manual_seed(seed)
  np.random.seed(seed)  # d3rlpy samples minibatches with NumPy's global generator
  random.seed(seed)


def _read_rows(path: str, max_step: int) -> list[dict[str, float]]:
  if not os.path.exists(path):
    return []
  with open(path, newline="") as f:
    rows = [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]
  return [{**row, "step": int(row["step"]), "seed_index": int(row["seed_index"])} for row in rows if row["step"] <= max_step]


def write_rows(path: str, rows: list[dict[str, Any]]) -> None:
  """Writes metric rows as ``path`` (CSV) atomically: a kill never leaves half a file."""
  with open(path + ".tmp", "w", newline="") as f:
    writer = csv.DictWriter(f, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
  os.replace(path + ".tmp", path)


def train_seed(
    config, mdp, *, seed_index: int, run_seed: int, num_updates: int, eval_every: int, batch_size: int,
    evaluate: Callable[[Callable[[np.ndarray], np.ndarray], int, int], np.ndarray],
    score: Callable[[np.ndarray], np.ndarray], folder: str, resume: bool, fingerprint: dict[str, Any],
    progress: Callable[[int], None] = lambda step: None, target_return: float = float("nan"),
) -> list[dict[str, Any]]:
  """Trains one seed of the reference in chunks of ``eval_every`` updates, evaluating and saving after each.

  Args:
    config: from :func:`make_config`.
    mdp: from :func:`to_mdp_dataset`.
    seed_index: i, the seed's place in our run (its evaluation episodes are our run i's).
    run_seed: the torch/NumPy seed of this seed (d3rlpy has no key to split).
    evaluate: ``(act_fn, step, seed_index) -> returns [K]``, our evaluator on our episodes.
    score: returns → D4RL-normalised scores.
    folder: where the model, optimiser and RNG states and ``metrics.csv`` go.
    fingerprint: the run's settings; a saved state with other settings is refused.
    resume: continue from the saved state in ``folder``; without it an existing state is refused.
    target_return: a transformer's evaluation prompt R̂₀ (task units).

  Returns:
    The seed's metric rows, one per evaluation.
  """
  import torch  # noqa: PLC0415 (optional extra)

  state_path, model_path, metrics_path = (os.path.join(folder, n) for n in ("state.pkl", "model.pt", "metrics.csv"))
  if os.path.exists(state_path) and not resume:
    raise UsageError(f"{folder} already holds a reference run; fix: pass --resume to continue it, or choose another --workdir")
  torch.set_num_threads(1)
  algo = config.create(device="cpu:0")
  _set_seed(torch, run_seed)
  algo.build_with_dataset(mdp)
  step, elapsed = 0, 0.0
  if resume and os.path.exists(state_path):
    algo.load_model(model_path)
    with open(state_path, "rb") as f:
      state = pickle.load(f)
    check_fingerprint(state, fingerprint, folder)
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    random.setstate(state["random"])
    step, elapsed = state["step"], state["elapsed_s"]
    algo._grad_step = step  # the policy delay of TD3-style updates counts it
  rows = _read_rows(metrics_path, step)
  os.makedirs(folder, exist_ok=True)
  if hasattr(config, "context_size"):  # a transformer: trajectory segments, a prompt per evaluation episode
    sample = lambda n: mdp.sample_trajectory_batch(n, length=config.context_size)
    act = lambda: TransformerPrompt(algo, target_return)
  else:
    sample, act = mdp.sample_transition_batch, lambda: (lambda obs: algo.predict(obs))
  while step < num_updates:
    started = time.time()
    for _ in range(min(eval_every, num_updates - step)):
      algo.update(sample(batch_size))
    step = min(step + eval_every, num_updates)
    elapsed += time.time() - started
    returns = evaluate(act(), step, seed_index)
    rows.append({"step": step, "setting_index": 0, "seed_index": seed_index,
                 "normalized_score": float(score(returns).mean()), "return_mean": float(returns.mean()),
                 "return_std": float(returns.std()), "train_s": elapsed})
    algo.save_model(model_path + ".tmp")
    with open(state_path + ".tmp", "wb") as f:
      pickle.dump({"step": step, "elapsed_s": elapsed, "torch": torch.get_rng_state(), "numpy": np.random.get_state(),
                   "random": random.getstate(), "fingerprint": fingerprint}, f)
    os.replace(model_path + ".tmp", model_path)  # model first: a state always has its model
    os.replace(state_path + ".tmp", state_path)
    write_rows(metrics_path, rows)
    progress(step)
  return rows
