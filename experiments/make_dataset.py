"""Generates D4RL-style datasets on a gymnasium MuJoCo task with the toolkit's own SAC.

  python experiments/make_dataset.py --env=Hopper-v5 --out_dir=datasets --seed=0

writes hopper-{random,medium,medium-replay,expert,medium-expert}-v5.hdf5 with the command, seed,
policy returns and toolkit version as file attributes.
"""
import json
import shlex
import sys

from absl import app, flags, logging

from rlkit_jax.data import generate

_ENV = flags.DEFINE_string("env", "Hopper-v5", "gymnasium MuJoCo task id.")
_OUT_DIR = flags.DEFINE_string("out_dir", "datasets", "Output folder.")
_SEED = flags.DEFINE_integer("seed", 0, "Master seed.")
_NUM_STEPS = flags.DEFINE_integer("num_steps", 200_000, "SAC training budget (environment steps).")
_NUM_TRANSITIONS = flags.DEFINE_integer("num_transitions", 100_000, "Size of random/medium/expert datasets.")
_MEDIUM_FRACTION = flags.DEFINE_float("medium_fraction", 0.4, "Medium policy's target fraction of expert return.")
_START_STEPS = flags.DEFINE_integer("start_steps", 5_000, "Initial uniformly random steps.")
_EVAL_EVERY = flags.DEFINE_integer("eval_every", 10_000, "Steps between SAC evaluations (snapshots).")
_KINDS = flags.DEFINE_list("kinds", list(generate.DATASET_KINDS), "Which datasets to write.")


def main(argv):
  del argv
  if not flags.FLAGS["verbosity"].present:
    logging.set_verbosity(logging.WARNING)  # orbax logs every save at INFO; -v 0 brings it back
  command = "python " + " ".join(shlex.quote(a) for a in sys.argv)
  paths = generate.make_d4rl_datasets(
      _ENV.value,
      _OUT_DIR.value,
      seed=_SEED.value,
      num_steps=_NUM_STEPS.value,
      num_transitions=_NUM_TRANSITIONS.value,
      medium_fraction=_MEDIUM_FRACTION.value,
      kinds=_KINDS.value,
      eval_every=_EVAL_EVERY.value,
      start_steps=_START_STEPS.value,
      provenance={"command": command},
  )
  import h5py

  summary = {}
  for kind, path in paths.items():
    with h5py.File(path, "r") as f:
      summary[kind] = {"path": path, **{k: (v.item() if hasattr(v, "item") else v) for k, v in f.attrs.items()},
                       "num_transitions": int(f["rewards"].shape[0])}
  print(json.dumps(summary, indent=1, default=str))


if __name__ == "__main__":
  app.run(main)
