"""Learns a reward model from preference labels on an offline dataset and measures it against the
dataset's true reward.

  python experiments/learn_reward.py                        # 500 oracle pairs on the shipped Hopper-v5 data
  python experiments/learn_reward.py --dataset=walker2d-medium-replay-v5 --num_queries=2000 --teacher=mistake
  python experiments/learn_reward.py --selection=disagreement --num_rounds=5
  python experiments/learn_reward.py --preferences=prefs_alice.json   # labels from a person (label_preferences.py)

Writes to --out: the reward model (params/ + reward_model.json), preferences.json (the labelled
pairs) and metrics.json (held-out preference accuracy on 1000 fresh oracle-labelled pairs;
Pearson and Spearman correlation of learned vs true reward per step and per episode). Then:

  python experiments/train_offline.py --algo=iql --reward_model=<out>
"""
from __future__ import annotations

import json
import os

from absl import app, flags

import cli
from rlkit_jax import data as data_lib
from rlkit_jax.offline import DEFAULT_DATASET
from rlkit_jax.rewards import (
    QUERY_SELECTIONS,
    TEACHERS,
    load_preferences,
    make_teacher,
    save_preferences,
    save_reward_model,
)
from rlkit_jax.rewards.learning import RewardLearningConfig, create_model, evaluate_reward, fit_preferences, learn_reward

_DATASET = flags.DEFINE_string("dataset", DEFAULT_DATASET, "Dataset name or HDF5 path whose segments are compared.")
_DATASET_DIR = flags.DEFINE_string("dataset_dir", None, "Extra folder holding generated datasets.")
_ENV_ID = cli.define_env_id()
_NUM_QUERIES = flags.DEFINE_integer("num_queries", 500, "Pairs the teacher labels.")
_TEACHER = flags.DEFINE_enum("teacher", "oracle", list(TEACHERS), "B-Pref scripted teacher (Lee et al. 2021).")
_PREFERENCES = flags.DEFINE_string("preferences", None, "Train on this preference file instead of asking --teacher.")
_SELECTION = flags.DEFINE_enum("selection", "uniform", list(QUERY_SELECTIONS), "How later rounds choose pairs.")
_NUM_ROUNDS = flags.DEFINE_integer("num_rounds", 1, "Labelling rounds (the first is uniform).")
_SEGMENT_LENGTH = flags.DEFINE_integer("segment_length", 50, "Steps per segment.")
_ENSEMBLE_SIZE = flags.DEFINE_integer("ensemble_size", 3, "Reward models in the ensemble.")
_HIDDEN_DIMS = cli.define_integer_list("hidden_dims", [256, 256, 256], "Reward network widths.")
_NUM_EPOCHS = flags.DEFINE_integer("num_epochs", 50, "Passes over the labelled pairs (at least 200 steps).")
_BATCH_SIZE = flags.DEFINE_integer("batch_size", 64, "Pairs per member and step.")
_USE_ACTIONS = flags.DEFINE_bool("use_actions", True, "Learn r(s, a); --nouse_actions learns r(s).")
_SEED = flags.DEFINE_integer("seed", 0, "Seeds the pairs, the teacher and the ensemble.")
_OUT = flags.DEFINE_string("out", None, "Output folder (default runs/reward_<dataset>_<teacher>_q<num_queries>_seed<seed>).")


def main(argv):
  del argv
  if _NUM_ROUNDS.value < 1 or _NUM_ROUNDS.value > _NUM_QUERIES.value:
    raise app.UsageError(f"--num_rounds must be in [1, --num_queries={_NUM_QUERIES.value}], got {_NUM_ROUNDS.value}")
  dataset = data_lib.load(_DATASET.value, dataset_dir=_DATASET_DIR.value, env_id=_ENV_ID.value)
  if data_lib.is_discrete(dataset):
    raise app.UsageError(f"--dataset={_DATASET.value}: reward models here take continuous actions; this dataset's are discrete")
  config = RewardLearningConfig(
      num_queries=_NUM_QUERIES.value, segment_length=_SEGMENT_LENGTH.value, selection=_SELECTION.value,
      num_rounds=_NUM_ROUNDS.value, ensemble_size=_ENSEMBLE_SIZE.value,
      hidden_dims=tuple(_HIDDEN_DIMS.value), batch_size=_BATCH_SIZE.value,
      num_epochs=_NUM_EPOCHS.value, use_actions=_USE_ACTIONS.value, seed=_SEED.value,
  )
  source = os.path.basename(_PREFERENCES.value).removesuffix(".json") if _PREFERENCES.value else _TEACHER.value
  out = _OUT.value or f"runs/reward_{dataset.name}_{source}_q{config.num_queries}_seed{config.seed}"
  observation_dim = dataset.transitions.observations.shape[1]
  action_dim = data_lib.action_dim(dataset)
  if _PREFERENCES.value:
    prefs = load_preferences(_PREFERENCES.value, dataset=dataset)
    model = create_model(config, observation_dim, action_dim)
    model, train_metrics = fit_preferences(model, dataset, prefs, config)
    model = model.normalized(dataset.transitions.observations, dataset.transitions.actions)
  else:
    teacher = make_teacher(_TEACHER.value, seed=config.seed).for_rewards(dataset.transitions.rewards, config.segment_length)
    model, prefs, train_metrics = learn_reward(dataset, config, teacher)
  metrics = {**train_metrics, **evaluate_reward(model, dataset, segment_length=config.segment_length, seed=config.seed + 1_000)}
  metrics["num_labelled"] = len(prefs)
  os.makedirs(out, exist_ok=True)
  save_preferences(os.path.join(out, "preferences.json"), prefs)
  provenance = {"dataset": dataset.name, "dataset_source": dataset.source, "labeller": prefs.labeller, "config": {
      **config.__dict__, "hidden_dims": list(config.hidden_dims)}, "metrics": metrics}
  save_reward_model(out, model, observation_dim=observation_dim, action_dim=action_dim, hidden_dims=config.hidden_dims, extra=provenance)
  with open(os.path.join(out, "metrics.json"), "w") as f:
    json.dump(metrics, f, indent=1)
  print(json.dumps(metrics, indent=1))
  print(
      f"reward model on {dataset.name} from {len(prefs)} pairs ({prefs.labeller}): held-out accuracy "
      f"{metrics['heldout_accuracy']:.3f}, Pearson {metrics['pearson_step']:.3f}, Spearman {metrics['spearman_step']:.3f} "
      f"(per step); saved to {out}"
  )


if __name__ == "__main__":
  cli.run(main)
