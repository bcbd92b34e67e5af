"""Generates D4RL-style datasets on a gymnasium task with the toolkit's own agents.

  python experiments/make_dataset.py --env=Hopper-v5 --out_dir=datasets --seed=0

writes hopper-{random,medium,medium-replay,expert,medium-expert}-v5.hdf5 (SAC, continuous actions)
with the command, seed, policy returns and toolkit version as file attributes. A task with a
Discrete action space uses Double DQN and the discrete recipe (rlkit_jax.generation.dqn):

  python experiments/make_dataset.py --env=CartPole-v1 --out_dir=datasets

writes cartpole-{random,medium,medium-replay,expert,medium-expert}-v1.hdf5 with int64 actions.
Flags left unset take the recipe's own defaults (the discrete recipe's are in brackets).

SAC generation is an online run in its own folder (--workdir, default <out_dir>/runs/<env>-seed<seed>):
a killed generation continues from its last checkpoint with the same command and --resume.
"""
import json
import shlex
import sys

from absl import app, flags, logging

import cli
from rlkit_jax import generation

_ENV = flags.DEFINE_string("env", "Hopper-v5", "gymnasium task id (MuJoCo Box tasks: SAC; Discrete tasks: DQN).")
_OUT_DIR = flags.DEFINE_string("out_dir", "datasets", "Output folder.")
_SEED = flags.DEFINE_integer("seed", 0, "Master seed.")
_NUM_STEPS = flags.DEFINE_integer("num_steps", 200_000, "SAC [DQN: 50_000] training budget (environment steps).")
_NUM_TRANSITIONS = flags.DEFINE_integer("num_transitions", 100_000, "Size of random/medium/expert datasets [50_000].")
_MEDIUM_FRACTION = flags.DEFINE_float(
    "medium_fraction", None,
    "Medium policy's target fraction of the expert's return (default 1/3, D4RL's) [of the way from random to expert, 0.4].",
)
_START_STEPS = flags.DEFINE_integer("start_steps", 5_000, "Initial uniformly random steps [DQN: steps before updates, 1_000].")
_EVAL_EVERY = flags.DEFINE_integer("eval_every", 10_000, "Steps between evaluations (snapshots) [2_000].")
_BEHAVIOR_EPSILON = flags.DEFINE_float("behavior_epsilon", 0.1, "Discrete tasks: ε of the medium/expert behaviour policies.")
_UPDATE_EVERY = flags.DEFINE_integer(
    "update_every", 1_000, "SAC: env steps per update chunk (eval_every and num_steps must be multiples of it)."
)
_WORKDIR = flags.DEFINE_string("workdir", None, "SAC: the training run's folder [default: <out_dir>/runs/<env>-seed<seed>].")
_RESUME = flags.DEFINE_bool("resume", False, "SAC: continue the training run in --workdir from its last checkpoint.")
_KINDS = flags.DEFINE_list("kinds", list(generation.DATASET_KINDS), "Which datasets to write.")
cli.task_flag("env")
flags.register_validator(
    "kinds", lambda kinds: set(kinds) <= set(generation.DATASET_KINDS),
    f"unknown dataset kind; choose from {','.join(generation.DATASET_KINDS)}",
)

# The discrete recipe's defaults for flags left unset (a few minutes per task on one CPU core).
_DISCRETE_DEFAULTS = {
    "num_steps": 50_000, "num_transitions": 50_000, "start_steps": 1_000, "eval_every": 2_000, "medium_fraction": 0.4,
}


def main(argv):
  del argv
  if not flags.FLAGS["verbosity"].present:
    logging.set_verbosity(logging.WARNING)  # orbax logs every save at INFO; -v 0 brings it back
  command = "python " + " ".join(shlex.quote(a) for a in sys.argv)
  from rlkit_jax.envs import is_discrete_env

  if is_discrete_env(_ENV.value):
    if _RESUME.value or _WORKDIR.value:
      raise app.UsageError(
          f"--resume and --workdir apply to SAC generation; {_ENV.value} is a Discrete task (DQN generation "
          "takes minutes and restarts) — drop them"
      )

    value = lambda name: flags.FLAGS[name].value if flags.FLAGS[name].present else _DISCRETE_DEFAULTS[name]
    paths = generation.make_discrete_datasets(
        _ENV.value,
        _OUT_DIR.value,
        seed=_SEED.value,
        num_steps=value("num_steps"),
        num_transitions=value("num_transitions"),
        medium_fraction=value("medium_fraction"),
        behavior_epsilon=_BEHAVIOR_EPSILON.value,
        kinds=_KINDS.value,
        eval_every=value("eval_every"),
        start_steps=value("start_steps"),
        provenance={"command": command},
    )
  else:
    paths = generation.make_d4rl_datasets(
        _ENV.value,
        _OUT_DIR.value,
        seed=_SEED.value,
        num_steps=_NUM_STEPS.value,
        num_transitions=_NUM_TRANSITIONS.value,
        **({} if _MEDIUM_FRACTION.value is None else {"medium_fraction": _MEDIUM_FRACTION.value}),
        kinds=_KINDS.value,
        eval_every=_EVAL_EVERY.value,
        start_steps=_START_STEPS.value,
        update_every=_UPDATE_EVERY.value,
        workdir=_WORKDIR.value,
        resume=_RESUME.value,
        provenance={"command": command},
    )
  import h5py

  from rlkit_jax.data import load

  summary = {}
  for kind, path in paths.items():
    with h5py.File(path, "r") as f:
      summary[kind] = {"path": path, **{k: (v.item() if hasattr(v, "item") else v) for k, v in f.attrs.items()},
                       "num_transitions": int(f["rewards"].shape[0])}
    summary[kind]["digest"] = load(path).digest()  # what training on the file sees (Dataset.digest)
  print(json.dumps(summary, indent=1, default=str))


if __name__ == "__main__":
  cli.run(main)
