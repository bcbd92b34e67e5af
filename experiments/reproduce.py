r"""Ours and an independent implementation on the same file, budget and evaluation.

    python experiments/reproduce.py --algo=iql --dataset=hopper-medium-replay-v5 \
        --num_updates=100000 --num_seeds=3 --workdir=~/runs/reproduce/iql_hopper-medium-replay-v5

Writes ``<workdir>/ours`` (our job, every seed in one program, exactly as ``train_offline.py``
runs it) and ``<workdir>/d3rlpy/seed<i>`` (d3rlpy 2.x, one seed at a time), each with a
``metrics.csv``, plus ``<workdir>/settings.md``, the side-by-side table of every setting.
Both sides train on the same prepared transitions (our loader's arrays after the algorithm's
preprocessing, terminals and time-outs kept apart) and are evaluated by our vectorised
evaluator with the deterministic policy, on the same episodes (reset seeds) at the same steps,
with the same D4RL-normalised score. ``--resume`` continues a killed run on either side from its
last checkpoint (every evaluation, and every ``--checkpoint_every`` updates where set).
``--side=reference --reference_seeds=1`` runs one reference seed, so seeds can share the cores
as separate processes. ``experiments/reference/reproduction_table.py`` builds the report.
"""
from __future__ import annotations

import os

import numpy as np

from absl import flags, logging

import cli
from flag_parsing import parse_numbers
from reference import d3rlpy_configs, d3rlpy_side, jax_corl_side
from rlkit_jax import data as data_lib
from rlkit_jax.data.preprocessing import REWARD_SCALINGS
from rlkit_jax.envs import evaluate, normalized_score
from rlkit_jax.errors import UsageError
from rlkit_jax.offline import DEFAULT_DATASET, OfflineConfig, prepare_dataset, run_offline, with_dataset_defaults
from rlkit_jax.training.evaluation import evaluation_seed

_ALGO = flags.DEFINE_string("algo", "iql", "Algorithm, on both sides: " + ", ".join(sorted(d3rlpy_configs.ALGOS)) + ".")
_DATASET = flags.DEFINE_string("dataset", DEFAULT_DATASET, "Dataset name or HDF5 path.")
_DATASET_DIR = flags.DEFINE_string("dataset_dir", None, "Extra folder holding generated datasets.")
_ENV_ID = cli.define_env_id()
_NUM_UPDATES = flags.DEFINE_integer("num_updates", 100_000, "Gradient updates per seed, on both sides.")
_NUM_SEEDS = flags.DEFINE_integer("num_seeds", 3, "Seeds on each side.")
_SEED = flags.DEFINE_integer("seed", 0, "Run seed; reference seed i is seeded with seed + i.")
_BATCH_SIZE = flags.DEFINE_integer("batch_size", 256, "Minibatch size, on both sides.")
_EVAL_EVERY = flags.DEFINE_integer("eval_every", 10_000, "Updates between evaluations (and checkpoints).")
_CHECKPOINT_EVERY = flags.DEFINE_integer(
    "checkpoint_every", None, "Updates between further checkpoints on both sides (a stopped run loses at most this many; "
    "changes no result); default: at evaluations only.")
_EVAL_EPISODES = flags.DEFINE_integer("eval_episodes", 10, "Episodes per seed and evaluation.")
_REWARD_SCALING = flags.DEFINE_enum("reward_scaling", "iql_locomotion", list(REWARD_SCALINGS), "Reward preprocessing, both sides.")
_HPARAMS = flags.DEFINE_list("hparams", [], "Our agent's options, name=value, mapped onto the reference's settings.")
_REFERENCE = flags.DEFINE_enum("reference", "d3rlpy", ["d3rlpy", "jax_corl"], "The independent implementation.")
_JAX_CORL = flags.DEFINE_string("jax_corl", None, "--reference=jax_corl: path to JAX-CORL's algos/iql.py.")
_SIDE = flags.DEFINE_enum("side", "both", ["both", "ours", "reference"], "Which side(s) to run in this process.")
_REFERENCE_SEEDS = flags.DEFINE_list("reference_seeds", None, "Reference seed indices to run here (default: all).")
_WORKDIR = flags.DEFINE_string("workdir", None, "Output folder (default runs/reproduce/<algo>_<dataset>).")
_RESUME = flags.DEFINE_bool("resume", False, "Continue the runs in --workdir.")


def _settings_table(config: OfflineConfig, reference: str, rows: list[tuple[str, object, object]]) -> str:
  h = config.hyperparameters()
  shared = [
      ("transitions", "our loader's arrays", "the same arrays"),
      ("reward scaling", config.reward_scaling, "applied to the arrays before hand-over"),
      ("networks", f"MLP {tuple(config.hidden_dims)}, ReLU", f"MLP {tuple(config.hidden_dims)}, ReLU"),
      ("batch size", config.batch_size, config.batch_size),
      ("updates", config.num_updates, config.num_updates),
      *[(name, value, value) for name, value in h.items() if name not in {r[0] for r in rows}
        and name not in ("hidden_dims", "actor_decay_steps", "torch_init")],  # torch_init: the initialisation row
      ("evaluation", f"{config.eval_episodes} episodes/seed, deterministic, every {config.eval_every}",
       "the same episodes through our evaluator"),
  ]
  lines = [f"| setting | ours | {reference} |", "|---|---|---|"]
  lines += [f"| {name} | {ours} | {theirs} |" for name, ours, theirs in shared + list(rows)]
  return "\n".join(lines) + "\n"


def main(argv):
  del argv
  if not flags.FLAGS["verbosity"].present:
    logging.set_verbosity(logging.WARNING)
  config = OfflineConfig(
      algo=_ALGO.value, dataset=_DATASET.value, seed=_SEED.value, num_seeds=_NUM_SEEDS.value,
      num_updates=_NUM_UPDATES.value, batch_size=_BATCH_SIZE.value, eval_every=_EVAL_EVERY.value,
      eval_episodes=_EVAL_EPISODES.value, updates_per_call=min(1_000, _EVAL_EVERY.value), reward_scaling=_REWARD_SCALING.value,
      agent_kwargs=parse_numbers(_HPARAMS.value, example="expectile=0.8,temperature=3"), env_id=_ENV_ID.value,
      checkpoint_every=_CHECKPOINT_EVERY.value,
  )
  config.validate()
  run_reference = _SIDE.value in ("both", "reference")
  if run_reference:  # before any training: a missing extra or algorithm is a one-line error now
    dataset = data_lib.load(config.dataset, dataset_dir=_DATASET_DIR.value, env_id=config.env_id)
    config = with_dataset_defaults(config, dataset)  # the job's prompt and horizon rules, for both sides
    if _REFERENCE.value == "jax_corl":
      if config.checkpoint_every:
        raise UsageError("--reference=jax_corl saves at evaluations only; fix: drop --checkpoint_every, or use --reference=d3rlpy")
      if config.algo not in jax_corl_side.ALGOS:
        raise UsageError(
            f"--reference=jax_corl has IQL and BC (its IQL with beta=0) only, not --algo={config.algo}; fix: --reference=d3rlpy"
        )
      corl = jax_corl_side.load_jax_corl(_JAX_CORL.value)
      rows = jax_corl_side.settings_rows(corl, config.num_updates, config.algo)
    else:
      reference_config, rows = d3rlpy_configs.make_config(
          config.algo, config.hyperparameters(), hidden_dims=config.hidden_dims, batch_size=config.batch_size,
          num_updates=config.num_updates,
      )
  name = config.dataset.split("/")[-1].removesuffix(".hdf5")
  workdir = os.path.expanduser(_WORKDIR.value or f"runs/reproduce/{config.algo}_{name}")
  os.makedirs(workdir, exist_ok=True)
  if _SIDE.value in ("both", "ours"):
    summary = run_offline(config, os.path.join(workdir, "ours"), resume=_RESUME.value, dataset_dir=_DATASET_DIR.value)
    print(f"ours: {summary['normalized_score_mean']:.1f} ± {summary['normalized_score_std']:.1f} ({summary['wall_time_s']:.0f} s)")
  if not run_reference:
    return
  with open(os.path.join(workdir, f"settings_{_REFERENCE.value}.md"), "w") as f:
    f.write(_settings_table(config, _REFERENCE.value, rows))
  prepared, _ = prepare_dataset(config, dataset)
  K = config.eval_episodes
  fingerprint = {**config.fingerprint(), "reference": _REFERENCE.value}

  def episodes(step: int, first_seed: int = 0, num_seeds: int = 1) -> dict:
    # our job's episodes at this step: env copy j of all seeds × episodes is reset with base + j
    return {"env_id": dataset.env_id, "num_envs": num_seeds * K, "seed": evaluation_seed(config.seed, step) + first_seed * K}

  def score(returns):
    return normalized_score(returns, dataset.ref_min_score, dataset.ref_max_score)

  def report(step: int, label: str = "") -> None:
    print(f"{_REFERENCE.value}{label}: {step}/{config.num_updates}", flush=True)

  if _REFERENCE.value == "jax_corl":
    S = config.num_seeds
    rows = jax_corl_side.train(
        corl, prepared, num_seeds=S, seed=config.seed, num_updates=config.num_updates, eval_every=config.eval_every,
        batch_size=config.batch_size, score=score, folder=os.path.join(workdir, "jax_corl"), resume=_RESUME.value, fingerprint=fingerprint,
        evaluate=lambda act_fn, step: evaluate(act_fn, **episodes(step, 0, S)).reshape(S, K), progress=report,
        algo=config.algo,
    )
    finals = [row["normalized_score"] for row in rows[-S:]]
    print(f"jax_corl: {np.mean(finals):.1f} ± {np.std(finals):.1f} ({rows[-1]['train_s']:.0f} s of training)")
    return
  mdp = d3rlpy_side.to_mdp_dataset(prepared)
  seeds = [int(s) for s in _REFERENCE_SEEDS.value] if _REFERENCE_SEEDS.value else range(config.num_seeds)
  for i in seeds:
    rows_i = d3rlpy_side.train_seed(
        reference_config, mdp, seed_index=i, run_seed=config.seed + i, num_updates=config.num_updates,
        eval_every=config.eval_every, batch_size=config.batch_size, score=score,
        evaluate=lambda act_fn, step, i: evaluate(act_fn, **episodes(step, i)),
        folder=os.path.join(workdir, "d3rlpy", f"seed{i}"), resume=_RESUME.value, fingerprint=fingerprint,
        checkpoint_every=config.checkpoint_every,
        progress=lambda step, i=i: report(step, f" seed {i}"), target_return=config.hyperparameters().get("target_return", np.nan),
    )
    print(f"d3rlpy seed {i}: {rows_i[-1]['normalized_score']:.1f} ({rows_i[-1]['train_s']:.0f} s of training)")


if __name__ == "__main__":
  cli.run(main)
