"""The SBX reference side of ``reproduce_sac.py``: Stable Baselines' JAX SAC (``sbx-rl``) in its own
training loop, evaluated through our evaluator.

Unlike the d3rlpy side, which runs inside our loop, this side is independent end to end: SB3's
off-policy loop as SAC is usually run (uniform actions before ``learning_starts``, then one update
after every env step; its replay buffer bootstraps through time-outs), sbx's networks, losses and
temperature. So ours (``update_every`` env steps, then as many updates) against this side also
measures what our loop's chunking costs. The settings are ours: 256×256 networks, Adam 3e-4,
batch 256, τ 0.005, γ 0.99, target entropy −|A|, the same number of uniform start steps. Its
greedy policy is evaluated every ``eval_every`` env steps (after that step, before its update) on
the episodes our seed i uses at that step; at every evaluation the model and replay buffer are
saved, and ``resume`` continues from there (the env restarts, as ours does on resume).

With ``ours_init`` the SBX model starts from the toolkit's initial-weight distribution instead of
flax's LeCun normal (:func:`init_like_ours`): the mirror of ``--side=ours_lecun``.
"""
from __future__ import annotations

import os
import time
from typing import Any, Callable

import jax

from reference.d3rlpy_side import load_checkpoint, save_checkpoint, write_rows
from rlkit_jax.envs import make_env
from rlkit_jax.errors import UsageError
from rlkit_jax.networks.mlp import default_init

INSTALL = "pip install -e '.[reference]' (it includes sbx-rl and stable-baselines3)"


def require_sbx():
  """Imports ``sbx`` and ``stable_baselines3``, or raises a one-line UsageError saying what to install."""
  try:
    import sbx  # noqa: PLC0415 (optional extra)
    from stable_baselines3.common.callbacks import BaseCallback  # noqa: PLC0415
  except ImportError as error:
    raise UsageError(f"--side=sbx needs sbx-rl and stable-baselines3 ({error}); fix: {INSTALL}") from None
  return sbx, BaseCallback


def sbx_settings(config, *, chunked: bool = False) -> dict[str, Any]:
  """``sbx.SAC``'s keyword arguments for the online job's ``config``: one update after every env step
  (SAC's loop), or with ``chunked`` ``config.update_every`` env steps then as many updates, as our
  loop does (SB3's ``train_freq`` and ``gradient_steps``); everything else sbx's defaults, which are
  SAC's: two critics, automatic temperature from 1.0, target entropy −|A|."""
  every = config.update_every if chunked else 1
  return dict(
      learning_rate=3e-4, buffer_size=config.num_steps, learning_starts=config.start_steps,
      batch_size=config.batch_size, tau=0.005, gamma=0.99, train_freq=every, gradient_steps=every,
      ent_coef="auto", target_entropy="auto",
      policy_kwargs={"net_arch": [int(h) for h in config.hidden_dims]},
  )


def init_like_ours(model, seed: int) -> None:
  """Redraws every kernel of an ``sbx.SAC`` model's actor and critics from the toolkit's initialiser
  (:func:`rlkit_jax.networks.mlp.default_init`: variance 2 / max(fan_in, fan_out), every layer,
  output layers included, as ours draws them); biases stay at zero, the target critics copy the
  new critics, and the optimiser states (zero moments) and temperature are untouched.

  SBX's critic ensemble stacks its members' kernels ``[E, fan_in, fan_out]``; each member gets its
  own ``[fan_in, fan_out]`` draw, as our ``Ensemble`` does. ``seed`` picks the draws.
  """
  init = default_init()

  def redraw(params, key):
    leaves, treedef = jax.tree_util.tree_flatten_with_path(params)
    new = []
    for (path, leaf), leaf_key in zip(leaves, jax.random.split(key, len(leaves))):
      if path[-1].key == "kernel":
        members = leaf if leaf.ndim == 3 else leaf[None]  # [E, fan_in, fan_out]; the actor's as E = 1
        draw = lambda k: init(k, members.shape[1:], leaf.dtype)  # noqa: E731
        leaf = jax.vmap(draw)(jax.random.split(leaf_key, members.shape[0])).reshape(leaf.shape)
      new.append(leaf)
    return jax.tree_util.tree_unflatten(treedef, new)

  policy = model.policy
  actor_key, critic_key = jax.random.split(jax.random.key(seed))
  policy.actor_state = policy.actor_state.replace(params=redraw(policy.actor_state.params, actor_key))
  critic_params = redraw(policy.qf_state.params, critic_key)
  policy.qf_state = policy.qf_state.replace(params=critic_params, target_params=critic_params)


def train_sbx_seed(
    config, seed_index: int, folder: str, resume: bool, *, evaluation_row: Callable[[Callable, int, float], dict[str, Any]],
    chunked: bool = False, ours_init: bool = False,
) -> None:
  """One SBX seed to ``config.num_steps`` env steps; ``folder`` gets ``metrics.csv`` (the d3rlpy
  side's columns), ``model.zip``, ``buffer.pkl`` and ``state.pkl``.

  Args:
    evaluation_row: ``(act, step, train_s) -> row``, our evaluator on our seed i's episodes
      (``reproduce_sac.evaluation_row``).
    chunked: update in chunks of ``config.update_every`` as our loop does (:func:`sbx_settings`).
    ours_init: start from the toolkit's initial-weight distribution (:func:`init_like_ours`).

  Raises:
    UsageError: sbx is not installed; ``folder`` holds a run and ``resume`` is False, or a run of
      other settings.
  """
  sbx, base_callback = require_sbx()
  state_path, metrics_path = os.path.join(folder, "state.pkl"), os.path.join(folder, "metrics.csv")
  if os.path.exists(state_path) and not resume:
    raise UsageError(f"{folder} already holds an sbx run; fix: pass --resume to continue it, or choose another --workdir")
  fingerprint = {**config.to_json(), "seed_index": seed_index, "sbx": sbx.__version__}
  if not chunked:
    del fingerprint["update_every"]  # not a setting of the per-step side
  if ours_init:
    fingerprint["init"] = "ours"
  run_seed = config.seed * 1000 + seed_index
  env = make_env(config.env_id)
  rows, elapsed = [], 0.0
  if resume and os.path.exists(state_path):
    saved, path = load_checkpoint(folder, fingerprint)
    rows, elapsed = saved["rows"], saved["elapsed_s"]
    model = sbx.SAC.load(path("model.zip"), env=env)
    model.load_replay_buffer(path("buffer.pkl"))
  else:
    model = sbx.SAC("MlpPolicy", env, seed=run_seed, **sbx_settings(config, chunked=chunked))
    if ours_init:
      init_like_ours(model, run_seed)
  os.makedirs(folder, exist_ok=True)
  started = time.time()

  class Evaluate(base_callback):
    """Every ``eval_every`` env steps: our evaluator on the greedy policy, then a save."""

    def _on_step(self) -> bool:
      step = self.model.num_timesteps
      if step % config.eval_every and step != config.num_steps:
        return True
      now = elapsed + time.time() - started
      rows.append(evaluation_row(lambda obs: self.model.predict(obs, deterministic=True)[0], step, now))
      write_rows(metrics_path, rows)
      save_checkpoint(folder, step, {"fingerprint": fingerprint, "rows": rows, "elapsed_s": now},
                      {"model.zip": self.model.save, "buffer.pkl": self.model.save_replay_buffer})
      print(f"sbx SAC seed {seed_index}: step {step:,}, return {rows[-1]['return']:.0f}", flush=True)
      return True

  remaining = config.num_steps - model.num_timesteps
  if remaining > 0:
    model.learn(total_timesteps=remaining, callback=Evaluate(), reset_num_timesteps=False)
  env.close()
