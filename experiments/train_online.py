"""Trains SAC online: every seed in one compiled program, each in its own env, on the task's reward or
on a learned one (``--reward``). Evaluation always uses the task's own return.

  python experiments/train_online.py --env=Pendulum-v1 --num_steps=20000 --start_steps=1000 --eval_every=2000
  python experiments/train_online.py --env=Hopper-v5 --num_steps=300000 --num_seeds=3   # SAC, true reward
  python experiments/train_online.py --env=Hopper-v5 --hparams=discount=0.98,init_temperature=0.1
  python experiments/train_online.py --env=Hopper-v5 --reward=preferences --num_queries=1000 --teacher=oracle
  python experiments/train_online.py --env=Reacher-v5 --reward=classifier --reward_kwargs=examples=PATH.npz
  python experiments/train_online.py --env=Hopper-v5 --reward=gail --reward_kwargs=demos=PATH.hdf5
  python experiments/train_online.py --env=Hopper-v5 --reward=NAME --reward_kwargs=key=value
  python experiments/train_online.py --workdir=runs/x --resume   # continue a killed run (envs restart)

Comparing runs (e.g. a learned reward against the true one)::

  python -c "from rlkit_jax.results import plot_online; plot_online(['runs/a', 'runs/b'], 'compare.png')"

`--reward` picks a source from ``rlkit_jax.rewards.base.REWARD_SOURCES``; its settings come from
``--reward_kwargs`` (or from reward-specific flags added to ``_reward_kwargs`` below), stored in
``OnlineConfig.reward_kwargs``.
"""
import json
import sys

from absl import app, flags, logging

import cli
from flag_parsing import parse_numbers, parse_scalars
from rlkit_jax.agents.common import agent_options
from rlkit_jax.agents.sac import SAC
from rlkit_jax.online import OnlineConfig, check_env, run_online
from rlkit_jax.rewards.base import REWARD_SOURCES
from rlkit_jax.rewards.labellers import TEACHERS
from rlkit_jax.rewards.query_selection import QUERY_SELECTIONS

_D = OnlineConfig()  # the flag defaults are the library's

_ENV = flags.DEFINE_string("env", _D.env_id, "Gymnasium task with continuous (Box) actions, e.g. Hopper-v5, Pendulum-v1.")
_REWARD = flags.DEFINE_string(
    "reward", _D.reward, "What the agent trains on; one of: " + ", ".join(sorted(REWARD_SOURCES)) + " (true = the task's reward)."
)
_SEED = flags.DEFINE_integer("seed", _D.seed, "Run seed (≥ 0; seed i of the run derives from it).")
_NUM_SEEDS = flags.DEFINE_integer("num_seeds", _D.num_seeds, "Seeds trained together in one program, one env each.")
_NUM_STEPS = flags.DEFINE_integer("num_steps", _D.num_steps, "Environment steps per seed (= replay capacity).")
_START_STEPS = flags.DEFINE_integer("start_steps", _D.start_steps, "Initial steps with uniformly random actions.")
_UPDATE_EVERY = flags.DEFINE_integer(
    "update_every", _D.update_every, "Env steps per host-device round trip; that many SAC updates per chunk."
)
_BATCH_SIZE = flags.DEFINE_integer("batch_size", _D.batch_size, "SAC minibatch size per seed.")
_EVAL_EVERY = flags.DEFINE_integer("eval_every", _D.eval_every, "Env steps between evaluations (and checkpoints).")
_EVAL_EPISODES = flags.DEFINE_integer("eval_episodes", _D.eval_episodes, "Episodes per seed and evaluation.")
_CHECKPOINT_EVERY = flags.DEFINE_integer("checkpoint_every", None, "Env steps between checkpoints (default --eval_every).")
_HIDDEN_DIMS = cli.define_integer_list("hidden_dims", list(_D.hidden_dims), "Hidden layer widths.")
_HPARAMS = flags.DEFINE_list(
    "hparams", [], "SAC options, name=value,... (e.g. discount=0.98,actor_lr=1e-4); --hparams=help lists them."
)
_REWARD_KWARGS = flags.DEFINE_list(
    "reward_kwargs", [], "Settings of the --reward source, name=value,... (numbers, true/false or text)."
)
_WORKDIR = flags.DEFINE_string("workdir", None, "Output folder (default runs/online_<reward>_<env>_seed<seed>).")
_RESUME = flags.DEFINE_bool("resume", False, "Continue from the last checkpoint in --workdir.")


# --reward=preferences (rlkit_jax.rewards.pebble.PreferenceReward)
_NUM_QUERIES = flags.DEFINE_integer("num_queries", 1000, "--reward=preferences: labelled pairs per seed over the run.")
_TEACHER = flags.DEFINE_enum("teacher", "oracle", list(TEACHERS), "--reward=preferences: B-Pref scripted teacher.")
_QUERY_EVERY = flags.DEFINE_integer("query_every", 5000, "--reward=preferences: env steps between labelling rounds.")
_SEGMENT_LENGTH = flags.DEFINE_integer("segment_length", 25, "--reward=preferences: steps per segment.")
_SELECTION = flags.DEFINE_enum(
    "selection", "disagreement", list(QUERY_SELECTIONS), "--reward=preferences: how rounds after the first choose pairs."
)


def _reward_kwargs() -> dict:
  """The reward source's settings: its flags (for --reward=preferences), then --reward_kwargs."""
  out = {}
  if _REWARD.value == "preferences":
    out = {
        "num_queries": _NUM_QUERIES.value, "teacher": _TEACHER.value, "query_every": _QUERY_EVERY.value,
        "segment_length": _SEGMENT_LENGTH.value, "selection": _SELECTION.value,
    }
  return {**out, **parse_scalars(_REWARD_KWARGS.value, flag="--reward_kwargs", example="num_queries=100")}


def main(argv):
  del argv
  if not flags.FLAGS["verbosity"].present:
    logging.set_verbosity(logging.WARNING)  # orbax logs every save at INFO; -v 0 brings it back
  if _HPARAMS.value == ["help"]:
    print("options of SAC (--hparams=name=value,...):")
    for name, value in agent_options(SAC).items():
      print(f"  {name}={value!r}")
    return
  config = OnlineConfig(
      env_id=_ENV.value,
      reward=_REWARD.value,
      seed=_SEED.value,
      num_seeds=_NUM_SEEDS.value,
      num_steps=_NUM_STEPS.value,
      start_steps=_START_STEPS.value,
      update_every=_UPDATE_EVERY.value,
      batch_size=_BATCH_SIZE.value,
      eval_every=_EVAL_EVERY.value,
      eval_episodes=_EVAL_EPISODES.value,
      hidden_dims=tuple(_HIDDEN_DIMS.value),
      checkpoint_every=_CHECKPOINT_EVERY.value,
      agent_kwargs=parse_numbers(_HPARAMS.value, example="discount=0.98,actor_lr=1e-4"),
      reward_kwargs=_reward_kwargs(),
  )
  try:
    config.validate()
    check_env(config.env_id)
  except ValueError as e:
    raise app.UsageError(str(e))
  workdir = _WORKDIR.value or f"runs/online_{config.reward}_{config.env_id}_seed{config.seed}"
  summary = run_online(config, workdir, resume=_RESUME.value)
  print(json.dumps(summary, indent=1))
  run = f"SAC[{config.reward} reward] on {config.env_id}"
  kept = sum(x is not None for x in summary["return_per_seed"])
  if kept:
    score = ""
    if summary["normalized_score_mean"] == summary["normalized_score_mean"]:  # not NaN
      score = f", normalized score {summary['normalized_score_mean']:.1f} ± {summary['normalized_score_std']:.1f}"
    print(
        f"{run}: return {summary['return_mean']:.1f} ± {summary['return_std']:.1f}{score} over {kept} seeds after "
        f"{config.num_steps} env steps"
    )
  else:
    print(f"{run}: every seed diverged, no return")
  for event in summary["diverged"]:
    print(event["message"])
  print(f"results in {workdir}")
  if not kept:
    sys.exit(1)


if __name__ == "__main__":
  cli.run(main)
