"""Labels pairs of dataset segments into a preference file, resumably.

A person at a terminal (renders each pair to a side-by-side GIF; needs MUJOCO_GL=egl or osmesa
on a machine without a display):

  python experiments/label_preferences.py --labeller=terminal --name=alice --num_queries=50 \
      --out=prefs_alice.json

A B-Pref scripted teacher (any key of rlkit_jax.rewards.labellers.TEACHERS) or a trained reward
model labels every pair in one call:

  python experiments/label_preferences.py --labeller=oracle --num_queries=500 --out=prefs_oracle.json
  python experiments/label_preferences.py --labeller=model --reward_model=runs/reward --out=prefs_model.json

The pairs are drawn from --seed alone, so the same flags plan the same pairs. If --out exists,
only planned pairs not yet in it (labelled or skipped) are asked, and the file is rewritten
(atomically) after every answer: quit with "q" or Ctrl-C and run the same command to go on.
"""
from __future__ import annotations

import os
from typing import Any, Callable

import numpy as np
from absl import flags, logging

import cli
from rlkit_jax.rewards.labellers import TEACHERS
from rlkit_jax.rewards.labelling_session import label, make_labeller

DEFAULT_DATASET = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "rlkit_jax", "assets", "hopper-medium-replay-v5.hdf5")

_DATASET = flags.DEFINE_string("dataset", DEFAULT_DATASET, "Dataset name or file (rlkit_jax.data.load) the segments come from.")
_ENV_ID = cli.define_env_id()
_NUM_QUERIES = flags.DEFINE_integer("num_queries", 20, "Pairs in the plan (drawn from --seed).")
_SEGMENT_LENGTH = flags.DEFINE_integer("segment_length", 50, "Steps per segment.")
_SEED = flags.DEFINE_integer("seed", 0, "Seeds the plan of pairs (and a stochastic teacher).")
_OUT = flags.DEFINE_string("out", "preferences.json", "Preference file to write; resumed if it exists.")
_VIDEO_DIR = flags.DEFINE_string("video_dir", None, "Folder for the GIFs of --labeller=terminal (default: <out>_videos).")
_LABELLER = flags.DEFINE_string("labeller", "terminal", f"terminal, model, or a teacher: {', '.join(TEACHERS)}.")
_NAME = flags.DEFINE_string("name", "anonymous", "The person's name (--labeller=terminal), stored as human:<name>.")
_REWARD_MODEL = flags.DEFINE_string("reward_model", None, "Saved reward model (--labeller=model).")


def run(
    *,
    dataset: str = DEFAULT_DATASET,
    env_id: str | None = None,
    num_queries: int = 20,
    segment_length: int = 50,
    seed: int = 0,
    out: str = "preferences.json",
    video_dir: str | None = None,
    labeller: str = "terminal",
    name: str = "anonymous",
    reward_model: str | None = None,
    input_fn: Callable[[str], str] = input,
    print_fn: Callable[..., None] = print,
    render_fn: Callable[..., np.ndarray] | None = None,
    loaded: Any = None,
) -> dict[str, int]:
  """The script with its flags as arguments (``loaded``: the already loaded ``dataset``, for tests)."""
  from rlkit_jax.data import load

  data = loaded if loaded is not None else load(dataset, env_id=env_id)
  video_dir = video_dir or os.path.splitext(out)[0] + "_videos"
  chosen = make_labeller(
      labeller, dataset=data, segment_length=segment_length, seed=seed, video_dir=video_dir, person=name,
      reward_model=reward_model, input_fn=input_fn, print_fn=print_fn, render_fn=render_fn,
  )
  return label(
      data, dataset, chosen, num_queries=num_queries, segment_length=segment_length, seed=seed, out=out,
      one_at_a_time=labeller == "terminal", print_fn=print_fn,
  )


def main(argv):
  del argv
  if not flags.FLAGS["verbosity"].present:
    logging.set_verbosity(logging.WARNING)  # PyOpenGL logs its optional modules at INFO
  try:
    run(
        dataset=_DATASET.value, env_id=_ENV_ID.value, num_queries=_NUM_QUERIES.value,
        segment_length=_SEGMENT_LENGTH.value, seed=_SEED.value,
        out=_OUT.value, video_dir=_VIDEO_DIR.value, labeller=_LABELLER.value, name=_NAME.value,
        reward_model=_REWARD_MODEL.value,
    )
  except KeyboardInterrupt:
    print(f"\ninterrupted; every answer given so far is in {_OUT.value} (run the same command to resume)")


if __name__ == "__main__":
  cli.run(main)
