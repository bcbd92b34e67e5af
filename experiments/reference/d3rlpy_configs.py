"""d3rlpy's counterpart of each of our offline algorithms, set from our hyperparameters, with a row
for every setting the two libraries express differently (``reproduce.py`` writes them as the
side-by-side settings table). d3rlpy is the optional ``[reference]`` extra.
"""
from __future__ import annotations

import math
from typing import Any, Callable

from reference.d3rlpy_side import require_d3rlpy
from rlkit_jax.errors import UsageError


_INIT = ("initialisation", "orthogonal(√2) statistics", "PyTorch default (not expressible in d3rlpy's config)")


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
      _INIT,
  ]
  return config, table


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
      ("initialisation", "PyTorch default (torch_init)", "PyTorch default") if h.get("torch_init") else _INIT,
  ]


def _dt(d3rlpy, h: dict[str, Any], *, hidden_dims, batch_size, num_updates):
  del hidden_dims, num_updates
  embed = int(h["embed_dim"])
  config = d3rlpy.algos.DecisionTransformerConfig(
      batch_size=batch_size, learning_rate=h["learning_rate"], context_size=int(h["context_length"]),
      max_timestep=int(h["horizon"]), num_heads=int(h["num_heads"]), num_layers=int(h["num_layers"]),
      attn_dropout=0.0, resid_dropout=0.0, embed_dropout=0.0, activation_type="relu",
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
      ("LayerNorm ε", "1e-5 (GPT-2's, the paper's code)", "3e-3 in the blocks and the final norm, 1e-5 at the embeddings (not settable)"),
      ("segments", "K rows inside one trajectory, padded and masked at its start",
       "d3rlpy's sample_trajectory_batch; a trajectory without a termination carries one extra zero-action row (to_mdp_dataset)"),
      ("evaluation prompt", f"R̂₀ = {h['target_return']:g}, minus each reward", "the same (StatefulTransformerWrapper per episode)"),
      ("loss", "squared action error summed over real positions, divided by their count",
       "squared action error averaged over B·K positions, padding included"),
      ("initialisation", "the paper's code: GPT-2's N(0, 0.02) blocks with N(0, 0.02/√(2L)) residual projections, "
       "timestep table N(0, 1), PyTorch's default for the embeddings and the head",
       "GPT-2's N(0, 0.02) for the blocks and the timestep table, PyTorch's default for the embeddings and the head"),
  ]


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
