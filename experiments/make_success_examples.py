"""Makes success examples (D+) and random-policy states (D−) for a goal-classifier reward (VICE) and
writes them to an ``.npz`` that ``train_online.py --reward=classifier`` reads.

  python experiments/make_success_examples.py --env=Reacher-v5 --out=datasets/success_Reacher-v5.npz
  python experiments/train_online.py --env=Reacher-v5 --reward=classifier \
      --reward_kwargs=examples=datasets/success_Reacher-v5.npz

Recipes and the file format: ``rlkit_jax/rewards/success_examples.py``.
"""
from __future__ import annotations

from absl import app, flags

import cli
from rlkit_jax.rewards.success_examples import make_success_examples, save_examples
from rlkit_jax.rewards.success_tests import SUCCESS_TASKS, success_fn

_ENV = flags.DEFINE_enum("env", "Reacher-v5", list(SUCCESS_TASKS), "Task with a success test and a recipe for success states.")
_NUM_POSITIVES = flags.DEFINE_integer("num_positives", 1000, "Success examples (D+).")
_NUM_NEGATIVES = flags.DEFINE_integer("num_negatives", 5000, "Random-policy states (initial D−); 0 = none.")
_SEED = flags.DEFINE_integer("seed", 0, "Seeds every reset and action.")
_OUT = flags.DEFINE_string("out", None, "Output .npz (default datasets/success_<env>.npz).")


def main(argv):
  del argv
  if _NUM_POSITIVES.value < 1 or _NUM_NEGATIVES.value < 0:
    raise app.UsageError("--num_positives must be ≥ 1 and --num_negatives ≥ 0")
  env_id = _ENV.value
  positives, negatives = make_success_examples(
      env_id, num_positives=_NUM_POSITIVES.value, num_negatives=_NUM_NEGATIVES.value, seed=_SEED.value
  )
  out = _OUT.value or f"datasets/success_{env_id}.npz"
  success = success_fn(env_id)
  metadata = {
      "recipe": "rlkit_jax.rewards.success_examples.make_success_examples", "seed": _SEED.value,
      "positive_success_rate": float(success(positives).mean()),
      "negative_success_rate": float(success(negatives).mean()) if len(negatives) else None,
  }
  save_examples(out, positives, negatives, env_id=env_id, metadata=metadata)
  print(
      f"{env_id}: {len(positives)} positives (success rate {metadata['positive_success_rate']:.3f}), {len(negatives)} "
      f"random-policy negatives (success rate {metadata['negative_success_rate']}) -> {out}"
  )


if __name__ == "__main__":
  cli.run(main)
