#!/usr/bin/env bash
# Offline preference-based RL evidence: per dataset, reward models from 100 / 500 / 2000 oracle
# pairs, then IQL on each learned reward, IQL on the true reward and BC, 3 seeds per program.
# Re-running skips finished steps and resumes interrupted runs; settings via the environment:
#   OUT (runs/pref), DATASET_DIR (datasets), UPDATES (30000), TASKS, QUERIES.
# Then: python experiments/evidence/preference_table.py --runs=$OUT
set -euo pipefail
OUT=${OUT:-runs/pref}
DATASET_DIR=${DATASET_DIR:-datasets}
UPDATES=${UPDATES:-30000}
TASKS=${TASKS:-"hopper walker2d"}
QUERIES=${QUERIES:-"100 500 2000"}
train() {  # workdir, then train_offline flags
  local workdir=$1; shift
  [ -f "$workdir/summary.json" ] && return
  local resume=""
  [ -d "$workdir/checkpoints" ] && resume="--resume"
  echo "== $workdir $(date +%T)"
  python experiments/train_offline.py --dataset_dir="$DATASET_DIR" --num_seeds=3 --num_updates="$UPDATES" \
    --eval_every=$((UPDATES / 6)) --eval_episodes=5 --workdir="$workdir" $resume "$@" | tail -n 2
}
for task in $TASKS; do
  dataset="$task-medium-replay-v5"
  for q in $QUERIES; do
    model="$OUT/$task-mr/reward_q$q"
    [ -f "$model/metrics.json" ] || python experiments/learn_reward.py --dataset="$dataset" \
      --dataset_dir="$DATASET_DIR" --num_queries="$q" --teacher=oracle --seed=0 --out="$model" | tail -n 1
    train "$OUT/$task-mr/iql_q$q" --algo=iql --dataset="$dataset" --reward_model="$model"
  done
  train "$OUT/$task-mr/iql_true" --algo=iql --dataset="$dataset"
  train "$OUT/$task-mr/bc_true" --algo=bc --dataset="$dataset"
done
