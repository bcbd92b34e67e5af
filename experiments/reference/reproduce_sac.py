"""Online SAC against d3rlpy's SAC on the same task, with the same loop, settings and evaluation.

  python experiments/reference/reproduce_sac.py --env=Hopper-v5 --num_steps=200000 --side=ours \\
      --workdir=~/runs/sac_reference/sac_hopper-v5
  python experiments/reference/reproduce_sac.py --env=Hopper-v5 --num_steps=200000 --side=reference \\
      --reference_seeds=0 --workdir=~/runs/sac_reference/sac_hopper-v5        # one process per seed

Ours is the online job (``rlkit_jax.online.train_online``, S seeds in one program) into
``<workdir>/ours``. The reference side runs d3rlpy's ``SAC`` (its networks, losses, optimisers and
temperature) inside *this* script's loop, which is the online job's: the same uniform start steps,
``update_every`` env steps then as many updates on minibatches drawn uniformly from everything
stored, time-outs bootstrapped and terminations not (d3rlpy's own ``fit_online`` treats both
differently and cannot resume), evaluation of the greedy policy through our evaluator on the
episodes our seed i uses at that step. So what differs between the sides is the algorithm. Each
reference seed saves its model, buffer and RNG states at every evaluation into
``<workdir>/d3rlpy/seed<i>`` and continues with ``--resume`` (its env restarts, as ours does).

``--side=sbx`` is independent end to end: SBX's SAC (Stable Baselines' JAX SAC) in SB3's own loop,
one update per env step, with the same settings and evaluation, into ``<workdir>/sbx/seed<i>``
(:mod:`reference.sbx_side`). ``--side=sbx_chunked`` is the same with our loop's chunks
(``update_every`` env steps, then as many updates; SB3's ``train_freq`` and ``gradient_steps``), into
``<workdir>/sbx_chunked/seed<i>``: SBX against SBX then measures what the chunking does.
``--side=ours_lecun`` is ours with SBX's network initialisation (``SAC.create(lecun_init=True)``:
flax's LeCun-normal kernels), into ``<workdir>/ours_lecun``: ours against ours then measures what
the initialisation does. ``--side=sbx_ours_init`` is the mirror: per-step SBX started from our
initial-weight distribution (``sbx_side.init_like_ours``), into ``<workdir>/sbx_ours_init/seed<i>``.
"""
from __future__ import annotations

import functools
import os
import random
import sys
import time

import numpy as np
from absl import app, flags, logging

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # experiments/
import cli  # noqa: E402
from reference.d3rlpy_side import load_checkpoint, require_d3rlpy, save_checkpoint, transition_minibatch, write_rows  # noqa: E402
from reference.sbx_side import train_sbx_seed  # noqa: E402
from rlkit_jax.data.registry import reference_scores  # noqa: E402
from rlkit_jax.envs import evaluate, make_env  # noqa: E402
from rlkit_jax.envs.evaluation import normalized_score  # noqa: E402
from rlkit_jax.data.dataset import DatasetError  # noqa: E402
from rlkit_jax.errors import UsageError  # noqa: E402
from rlkit_jax.online import OnlineConfig, check_env, run_online  # noqa: E402
from rlkit_jax.training.evaluation import evaluation_seed  # noqa: E402

_ENV = flags.DEFINE_string("env", "Hopper-v5", "gymnasium task (continuous actions).")
_NUM_STEPS = flags.DEFINE_integer("num_steps", 200_000, "Environment steps per seed.")
_NUM_SEEDS = flags.DEFINE_integer("num_seeds", 3, "Seeds (ours: in one program; the reference: --reference_seeds).")
_SEED = flags.DEFINE_integer("seed", 0, "Run seed.")
_SIDE = flags.DEFINE_enum(
    "side", "ours", ["ours", "ours_lecun", "reference", "sbx", "sbx_chunked", "sbx_ours_init"],
    "Which side to train: ours, ours with SBX's LeCun-normal initialisation (ours_lecun), d3rlpy's SAC in our "
    "loop (reference), SBX's SAC in its own loop, one update per env step (sbx), SBX's SAC updating in our "
    "loop's chunks of --update_every (sbx_chunked), or SBX's SAC started from our initialisation (sbx_ours_init).",
)
_REFERENCE_SEEDS = cli.define_integer_list(
    "reference_seeds", [0], "Reference seed indices to train (one process each is best).", lower_bound=0
)
_START_STEPS = flags.DEFINE_integer("start_steps", 5_000, "Uniformly random steps before the first update.")
_UPDATE_EVERY = flags.DEFINE_integer("update_every", 1_000, "Env steps per chunk of as many updates (ours, d3rlpy and sbx_chunked; sbx updates every step).")
_EVAL_EVERY = flags.DEFINE_integer("eval_every", 10_000, "Env steps between evaluations.")
_EVAL_EPISODES = flags.DEFINE_integer("eval_episodes", 10, "Episodes per seed and evaluation.")
_WORKDIR = flags.DEFINE_string("workdir", None, "Cell folder: ours/ and d3rlpy/seed<i>/ go inside.", required=True)
_RESUME = flags.DEFINE_bool("resume", False, "Continue saved runs.")


def _config() -> OnlineConfig:
  return OnlineConfig(
      env_id=_ENV.value, seed=_SEED.value, num_seeds=_NUM_SEEDS.value, num_steps=_NUM_STEPS.value,
      start_steps=_START_STEPS.value, update_every=_UPDATE_EVERY.value, eval_every=_EVAL_EVERY.value,
      eval_episodes=_EVAL_EPISODES.value, agent_kwargs={"lecun_init": 1} if _SIDE.value == "ours_lecun" else {},
  )


def _reference_scores(env_id: str) -> tuple[float, float]:
  """D4RL's random and expert returns of the task (NaN where it has none: scores are then NaN)."""
  try:
    return reference_scores(env_id)
  except DatasetError:
    return float("nan"), float("nan")


def evaluation_row(config: OnlineConfig, seed_index: int, act, step: int, train_s: float) -> dict:
  """One ``metrics.csv`` row of reference seed i: ``act`` (observations ``[K, O]`` → actions) on the
  episodes our job gives seed i at ``step`` (it evaluates S × K envs from one base seed)."""
  ref_min, ref_max = _reference_scores(config.env_id)
  base = evaluation_seed(config.seed, step) + seed_index * config.eval_episodes
  returns = evaluate(act, config.env_id, num_envs=config.eval_episodes, seed=base)
  return {"step": step, "seed_index": seed_index, "return": float(returns.mean()), "return_std": float(returns.std()),
          "normalized_score": float(normalized_score(returns.mean(), ref_min, ref_max)), "train_s": train_s}


def _d3rlpy_sac(d3rlpy, config: OnlineConfig):
  """d3rlpy's SAC with the online job's settings (SAC's MuJoCo defaults; target entropy −|A| in both)."""
  encoder = d3rlpy.models.encoders.VectorEncoderFactory(list(config.hidden_dims))
  return d3rlpy.algos.SACConfig(
      actor_learning_rate=3e-4, critic_learning_rate=3e-4, temp_learning_rate=3e-4, batch_size=config.batch_size,
      gamma=0.99, tau=0.005, n_critics=2, initial_temperature=1.0, actor_encoder_factory=encoder,
      critic_encoder_factory=encoder,
  )


def train_reference_seed(config: OnlineConfig, seed_index: int, folder: str, resume: bool) -> None:
  """One reference seed: the online job's loop around d3rlpy's SAC; saves at every evaluation."""
  d3rlpy = require_d3rlpy()
  import torch  # noqa: PLC0415 (optional extra)

  torch.set_num_threads(1)
  env = make_env(config.env_id)
  obs_dim, act_dim, n = env.observation_space.shape[0], env.action_space.shape[0], config.num_steps
  run_seed = config.seed * 1000 + seed_index
  state_path, metrics_path = os.path.join(folder, "state.pkl"), os.path.join(folder, "metrics.csv")
  if os.path.exists(state_path) and not resume:
    raise UsageError(f"{folder} already holds a reference run; fix: pass --resume to continue it, or choose another --workdir")
  torch.manual_seed(run_seed)
  np.random.seed(run_seed)
  random.seed(run_seed)
  rng = np.random.default_rng(run_seed)
  algo = _d3rlpy_sac(d3rlpy, config).create(device="cpu:0")
  algo.build_with_env(env)
  buffer = {
      "observations": np.zeros((n, obs_dim), np.float32), "actions": np.zeros((n, act_dim), np.float32),
      "rewards": np.zeros(n, np.float32), "terminals": np.zeros(n, np.float32),
      "next_observations": np.zeros((n, obs_dim), np.float32),
  }
  fingerprint = {**config.to_json(), "seed_index": seed_index}
  step, elapsed, rows = 0, 0.0, []
  if resume and os.path.exists(state_path):
    saved, path = load_checkpoint(folder, fingerprint)
    algo.load_model(path("model.pt"))
    step, elapsed, rows, rng = saved["step"], saved["elapsed_s"], saved["rows"], saved["rng"]
    torch.set_rng_state(saved["torch"])
    np.random.set_state(saved["numpy"])
    with np.load(os.path.join(folder, "buffer.npz")) as stored:  # saved before the state: it may hold more rows
      for name in buffer:
        buffer[name][:step] = stored[name][:step]
  os.makedirs(folder, exist_ok=True)
  observation, _ = env.reset(seed=int(rng.integers(2**31)))
  started = time.time()
  while step < n:
    for t in range(step, step + config.update_every):
      if t < config.start_steps:
        action = rng.uniform(-1.0, 1.0, act_dim).astype(np.float32)
      else:
        action = np.asarray(algo.sample_action(observation[None].astype(np.float32))[0], np.float32)
      next_observation, reward, terminated, truncated, _ = env.step(action)
      buffer["observations"][t], buffer["actions"][t], buffer["rewards"][t] = observation, action, reward
      buffer["terminals"][t], buffer["next_observations"][t] = float(terminated), next_observation
      observation = next_observation
      if terminated or truncated:
        observation, _ = env.reset(seed=int(rng.integers(2**31)))
    step += config.update_every
    if step >= config.start_steps:
      for _ in range(config.update_every):
        algo.update(transition_minibatch(d3rlpy, buffer, np.random.randint(0, step, config.batch_size)))
    if step % config.eval_every == 0 or step == n:
      now = elapsed + time.time() - started
      rows.append(evaluation_row(config, seed_index, lambda obs: algo.predict(obs.astype(np.float32)), step, now))
      write_rows(metrics_path, rows)
      np.savez(os.path.join(folder, "buffer.npz.tmp.npz"), **{k: v[:step] for k, v in buffer.items()})
      os.replace(os.path.join(folder, "buffer.npz.tmp.npz"), os.path.join(folder, "buffer.npz"))
      save_checkpoint(folder, step, {"fingerprint": fingerprint, "elapsed_s": now, "rows": rows, "rng": rng,
                                     "torch": torch.get_rng_state(), "numpy": np.random.get_state()}, {"model.pt": algo.save_model})
      print(f"d3rlpy SAC seed {seed_index}: step {step:,}, return {rows[-1]['return']:.0f}", flush=True)
  env.close()


def main(argv):
  del argv
  if not flags.FLAGS["verbosity"].present:
    logging.set_verbosity(logging.WARNING)  # orbax logs every save at INFO
  config = _config()
  try:  # one line for a bad setting or a task SAC cannot run, on every side
    config.validate()
    check_env(config.env_id)
  except ValueError as e:
    raise app.UsageError(str(e)) from None
  workdir = os.path.expanduser(_WORKDIR.value)
  if _SIDE.value in ("ours", "ours_lecun"):
    summary = run_online(config, os.path.join(workdir, _SIDE.value), resume=_RESUME.value)
    print(f"{_SIDE.value}: return {summary['return_mean']:.0f} ± {summary['return_std']:.0f} over {config.num_seeds} seeds")
    return
  if _SIDE.value in ("sbx", "sbx_chunked", "sbx_ours_init"):
    for seed_index in _REFERENCE_SEEDS.value:
      train_sbx_seed(config, seed_index, os.path.join(workdir, _SIDE.value, f"seed{seed_index}"), _RESUME.value,
                     evaluation_row=functools.partial(evaluation_row, config, seed_index),
                     chunked=_SIDE.value == "sbx_chunked", ours_init=_SIDE.value == "sbx_ours_init")
    return
  for seed_index in _REFERENCE_SEEDS.value:
    train_reference_seed(config, seed_index, os.path.join(workdir, "d3rlpy", f"seed{seed_index}"), _RESUME.value)


if __name__ == "__main__":
  cli.run(main)
