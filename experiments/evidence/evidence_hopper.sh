#!/usr/bin/env bash
# BC vs IQL on the generated Hopper-v5 medium and medium-replay datasets: 3 seeds, 100k updates.
# Reproduces the table in BUILD_NOTES.md (datasets from experiments/make_dataset.py, see there).
set -euo pipefail
cd "$(dirname "$0")/../.."
for dataset in hopper-medium-replay-v5 hopper-medium-v5; do
  for algo in bc iql; do
    python experiments/train_offline.py --algo=$algo --dataset=$dataset --dataset_dir=datasets \
      --num_seeds=3 --num_updates=100000 --eval_every=20000 --eval_episodes=10 --seed=0 \
      --workdir=runs/evidence/${algo}_${dataset}
  done
done
