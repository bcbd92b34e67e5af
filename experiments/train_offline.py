"""Trains IQL or BC on an offline dataset, every seed in one compiled program.

  python experiments/train_offline.py                      # IQL on the shipped Hopper-v5 data
  python experiments/train_offline.py --algo=bc --dataset=hopper-medium-v5 --num_seeds=3
  python experiments/train_offline.py --workdir=runs/x --resume   # continue a killed run
"""
import json

from absl import app, flags, logging

from rlkit_jax.offline import ALGOS, DEFAULT_DATASET, OfflineConfig, run_offline

_ALGO = flags.DEFINE_enum("algo", "iql", sorted(ALGOS), "Offline RL algorithm.")
_DATASET = flags.DEFINE_string("dataset", DEFAULT_DATASET, "D4RL or generated dataset name, or an HDF5 path.")
_DATASET_DIR = flags.DEFINE_string("dataset_dir", None, "Extra folder holding generated datasets.")
_SEED = flags.DEFINE_integer("seed", 0, "Run seed (seed i of the run derives from it).")
_NUM_SEEDS = flags.DEFINE_integer("num_seeds", 3, "Seeds trained together in one program.")
_NUM_UPDATES = flags.DEFINE_integer("num_updates", 60_000, "Gradient updates per seed.")
_BATCH_SIZE = flags.DEFINE_integer("batch_size", 256, "Minibatch size per seed.")
_EVAL_EVERY = flags.DEFINE_integer("eval_every", 10_000, "Updates between evaluations and checkpoints.")
_EVAL_EPISODES = flags.DEFINE_integer("eval_episodes", 5, "Episodes per seed and evaluation.")
_LOG_EVERY = flags.DEFINE_integer("log_every", 1_000, "Updates per host round-trip.")
_HIDDEN_DIMS = flags.DEFINE_list("hidden_dims", ["256", "256"], "Hidden layer widths.")
_REWARD_SCALING = flags.DEFINE_enum("reward_scaling", "iql_locomotion", ["none", "iql_locomotion", "iql_antmaze"], "Reward preprocessing.")
_WORKDIR = flags.DEFINE_string("workdir", None, "Output folder (default runs/<algo>_<dataset>_seed<seed>).")
_RESUME = flags.DEFINE_bool("resume", False, "Continue from the last checkpoint in --workdir.")
_EXPECTILE = flags.DEFINE_float("expectile", 0.7, "IQL expectile τ.")
_TEMPERATURE = flags.DEFINE_float("temperature", 3.0, "IQL inverse temperature β.")
_DISCOUNT = flags.DEFINE_float("discount", 0.99, "Discount γ.")
_TAU = flags.DEFINE_float("tau", 0.005, "Polyak step of the target critics.")
_ACTOR_LR = flags.DEFINE_float("actor_lr", 3e-4, "Actor learning rate.")
_CRITIC_LR = flags.DEFINE_float("critic_lr", 3e-4, "Critic learning rate (IQL).")
_VALUE_LR = flags.DEFINE_float("value_lr", 3e-4, "Value learning rate (IQL).")


def main(argv):
  del argv
  if not flags.FLAGS["verbosity"].present:
    logging.set_verbosity(logging.WARNING)  # orbax logs every save at INFO; -v 0 brings it back
  if _ALGO.value == "iql":
    agent_kwargs = dict(
        expectile=_EXPECTILE.value, temperature=_TEMPERATURE.value, discount=_DISCOUNT.value, tau=_TAU.value,
        actor_lr=_ACTOR_LR.value, critic_lr=_CRITIC_LR.value, value_lr=_VALUE_LR.value,
    )
  else:
    agent_kwargs = dict(actor_lr=_ACTOR_LR.value)
  config = OfflineConfig(
      algo=_ALGO.value,
      dataset=_DATASET.value,
      seed=_SEED.value,
      num_seeds=_NUM_SEEDS.value,
      num_updates=_NUM_UPDATES.value,
      batch_size=_BATCH_SIZE.value,
      eval_every=_EVAL_EVERY.value,
      eval_episodes=_EVAL_EPISODES.value,
      log_every=_LOG_EVERY.value,
      hidden_dims=tuple(int(h) for h in _HIDDEN_DIMS.value),
      reward_scaling=_REWARD_SCALING.value,
      agent_kwargs=agent_kwargs,
  )
  workdir = _WORKDIR.value or f"runs/{config.algo}_{config.dataset.split('/')[-1].removesuffix('.hdf5')}_seed{config.seed}"
  summary = run_offline(config, workdir, resume=_RESUME.value, dataset_dir=_DATASET_DIR.value)
  print(json.dumps(summary, indent=1))
  print(
      f"{config.algo} on {summary['dataset']}: normalized score {summary['normalized_score_mean']:.1f} ± "
      f"{summary['normalized_score_std']:.1f} over {config.num_seeds} seeds (data: "
      f"{summary['dataset_normalized_score']:.1f}); results in {workdir}"
  )


if __name__ == "__main__":
  app.run(main)
