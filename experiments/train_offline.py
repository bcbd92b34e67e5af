"""Trains an offline RL algorithm on a dataset: every seed and sweep setting in one compiled program.

  python experiments/train_offline.py                      # IQL on the shipped Hopper-v5 data
  python experiments/train_offline.py --algo=cql --dataset=hopper-medium-v5 --hparams=cql_alpha=5
  python experiments/train_offline.py --algo=iql --sweep=expectile=0.6,0.7,0.9 --sweep=actor_lr=1e-4,3e-4
  python experiments/train_offline.py --algo=dqn --dataset=cartpole-medium-replay-v1 --sweep=cql_alpha=0,1
  python experiments/train_offline.py --reward_model=runs/reward_hopper   # IQL on a learned reward
  python experiments/train_offline.py --workdir=runs/x --resume   # continue a killed run

`--hparams` fixes numeric hyperparameters of the algorithm; every `--sweep` multiplies the settings
(Cartesian product), all trained side by side as vmapped leaves of one program.
"""
import json
import sys

from absl import app, flags, logging

import cli
from flag_parsing import number, parse_numbers
from rlkit_jax.agents.common import agent_options
from rlkit_jax.data.preprocessing import REWARD_SCALINGS
from rlkit_jax.offline import ALGOS, OfflineConfig, run_offline

_D = OfflineConfig()  # the flags' defaults are the config's, so the two cannot disagree
_ALGO = flags.DEFINE_string(
    "algo", _D.algo, "Offline RL algorithm; one of: " + "; ".join(f"{k}: {a.summary}" for k, a in ALGOS.items())
)
_DATASET = flags.DEFINE_string("dataset", _D.dataset, "D4RL or generated dataset name, or an HDF5 path.")
_DATASET_DIR = flags.DEFINE_string("dataset_dir", None, "Extra folder holding generated datasets.")
_SEED = flags.DEFINE_integer("seed", _D.seed, "Run seed (seed i of the run derives from it).")
_NUM_SEEDS = flags.DEFINE_integer("num_seeds", _D.num_seeds, "Seeds trained together in one program.")
_NUM_UPDATES = flags.DEFINE_integer("num_updates", _D.num_updates, "Gradient updates per seed.")
_BATCH_SIZE = flags.DEFINE_integer("batch_size", _D.batch_size, "Minibatch size per seed.")
_EVAL_EVERY = flags.DEFINE_integer("eval_every", _D.eval_every, "Updates between evaluations and checkpoints.")
_EVAL_EPISODES = flags.DEFINE_integer("eval_episodes", _D.eval_episodes, "Episodes per seed and evaluation.")
_UPDATES_PER_CALL = flags.DEFINE_integer(
    "updates_per_call", _D.updates_per_call, "Updates of every run per compiled call (one host round-trip)."
)
flags.DEFINE_alias("log_every", "updates_per_call")  # the flag's earlier name
_CHECKPOINT_EVERY = flags.DEFINE_integer(
    "checkpoint_every", _D.checkpoint_every,
    "Updates between further checkpoints (a multiple of --updates_per_call; default: only at evaluations). "
    "A resumed run may change it.",
)
_ENV_ID = cli.define_env_id()
_HIDDEN_DIMS = cli.define_integer_list("hidden_dims", list(_D.hidden_dims), "Hidden layer widths.")
_REWARD_SCALING = flags.DEFINE_enum(
    "reward_scaling", _D.reward_scaling, list(REWARD_SCALINGS), "Reward preprocessing (skipped by bc, filtered_bc, rvs, rvs_g, dt: they read no reward)."
)
_TOP_FRACTION = flags.DEFINE_float("top_fraction", _D.top_fraction, "filtered_bc: share of trajectories (by return) kept.")
_HPARAMS = flags.DEFINE_list(
    "hparams", [], "Fixed agent options, name=value,... (e.g. expectile=0.8,actor_lr=1e-4 or, static, "
    "num_sampled_actions=4); the algorithm's defaults otherwise. --algo=X --hparams=help lists them."
)
_SWEEP = flags.DEFINE_multi_string(
    "sweep", [], "name=v1,v2,... trains every value (× every other --sweep) × every seed in one program."
)
_REWARD_MODEL = flags.DEFINE_string(
    "reward_model", None, "Train on a learned reward: a folder written by experiments/learn_reward.py (the "
    "dataset's rewards are relabelled with it; evaluation still uses the task's reward)."
)
_WORKDIR = flags.DEFINE_string("workdir", None, "Output folder (default runs/<algo>_<dataset>_seed<seed>).")
_RESUME = flags.DEFINE_bool("resume", False, "Continue from the last checkpoint in --workdir.")


def _parse_sweep(items: list[str]) -> dict[str, tuple[float, ...]]:
  out = {}
  for item in items:
    name, sep, values = item.partition("=")
    if not sep or not values:
      raise app.UsageError(f"--sweep: {item!r} is not name=v1,v2,... (e.g. --sweep=cql_alpha=1,5,10)")
    if name.strip() in out:
      raise app.UsageError(f"--sweep: {name.strip()!r} is given twice; list all its values in one --sweep")
    out[name.strip()] = tuple(number("--sweep", item, v) for v in values.split(","))
  return out


def main(argv):
  del argv
  if not flags.FLAGS["verbosity"].present:
    logging.set_verbosity(logging.WARNING)  # orbax logs every save at INFO; -v 0 brings it back
  if _HPARAMS.value == ["help"] and _ALGO.value in ALGOS:
    print(f"options of --algo={_ALGO.value}: numeric ones take --hparams and --sweep, static ones --hparams only")
    for name, value in agent_options(ALGOS[_ALGO.value].agent_class).items():
      print(f"  {name}={value!r}  ({'numeric' if isinstance(value, float) else 'static'})")
    return
  config = OfflineConfig(
      algo=_ALGO.value,
      dataset=_DATASET.value,
      seed=_SEED.value,
      num_seeds=_NUM_SEEDS.value,
      num_updates=_NUM_UPDATES.value,
      batch_size=_BATCH_SIZE.value,
      eval_every=_EVAL_EVERY.value,
      eval_episodes=_EVAL_EPISODES.value,
      updates_per_call=_UPDATES_PER_CALL.value,
      checkpoint_every=_CHECKPOINT_EVERY.value,
      hidden_dims=tuple(_HIDDEN_DIMS.value),
      reward_scaling=_REWARD_SCALING.value,
      agent_kwargs=parse_numbers(_HPARAMS.value, example="expectile=0.8,temperature=3"),
      sweep=_parse_sweep(_SWEEP.value),
      top_fraction=_TOP_FRACTION.value,
      reward_model=_REWARD_MODEL.value,
      env_id=_ENV_ID.value,
  )
  try:
    config.validate()
  except ValueError as e:
    raise app.UsageError(str(e))
  name = config.dataset.split("/")[-1].removesuffix(".hdf5")
  workdir = _WORKDIR.value or f"runs/{config.algo}_{name}_seed{config.seed}"
  summary = run_offline(config, workdir, resume=_RESUME.value, dataset_dir=_DATASET_DIR.value)
  print(json.dumps(summary, indent=1))
  data = f"(data: {summary['dataset_normalized_score']:.1f})"
  for setting in summary["settings"]:
    label = ", ".join(f"{k}={v:g}" for k, v in setting["hyperparameters"].items()) or "defaults"
    finite = sum(x is not None for x in setting["normalized_score_per_seed"])
    if not finite:
      print(f"{config.algo} on {summary['dataset']} [{label}]: every seed diverged, no score")
      continue
    print(
        f"{config.algo} on {summary['dataset']} [{label}]: normalized score {setting['normalized_score_mean']:.1f} ± "
        f"{setting['normalized_score_std']:.1f} over {finite} seeds {data}"
    )
  for event in summary["diverged"]:
    print(event["message"])
  print(f"results in {workdir}")
  if any(setting["normalized_score_mean"] is None for setting in summary["settings"]):
    sys.exit(1)  # no score for a setting: every one of its seeds diverged


if __name__ == "__main__":
  cli.run(main)
