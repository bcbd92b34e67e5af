#!/usr/bin/env bash
# Trains every (task, dataset, algorithm) cell of the score table, 3 seeds each in one program.
# Re-running skips finished cells and resumes interrupted ones; settings via the environment:
#   OUT (runs/table), DATASET_DIR (datasets), UPDATES (10000), ALGOS, TASKS, KINDS.
# Then: python experiments/evidence/score_table.py --runs=runs/table --out=docs/score_table
set -euo pipefail
OUT=${OUT:-runs/table}
DATASET_DIR=${DATASET_DIR:-datasets}
UPDATES=${UPDATES:-10000}
ALGOS=${ALGOS:-"bc filtered_bc td3_bc awac iql cql"}
TASKS=${TASKS:-"hopper halfcheetah walker2d"}
KINDS=${KINDS:-"medium medium-replay medium-expert"}
# CQL: the reference code's actor rate (CORL's 3e-5 barely moves the actor in a short run), SAC's
# entropy-temperature rate (at CORL's 3e-5 the temperature is still 0.76 after 10k updates and the
# entropy bonus swamps the scaled rewards) and 4 sampled actions per proposal instead of 10, which
# cuts the critic's work ~3x on a CPU.
declare -A EXTRA=([cql]="--hparams=actor_lr=1e-4,temperature_lr=3e-4,num_sampled_actions=4")
for task in $TASKS; do
  for kind in $KINDS; do
    for algo in $ALGOS; do
      dataset="$task-$kind-v5"
      workdir="$OUT/$algo/$dataset"
      [ -f "$workdir/summary.json" ] && continue
      resume=""
      [ -d "$workdir/checkpoints" ] && resume="--resume"
      echo "== $algo $dataset $(date +%T)"
      python experiments/train_offline.py --algo="$algo" --dataset="$dataset" --dataset_dir="$DATASET_DIR" \
        --num_seeds=3 --num_updates="$UPDATES" --eval_every=$((UPDATES / 4)) --updates_per_call=$((UPDATES / 20)) \
        --eval_episodes=5 --workdir="$workdir" $resume ${EXTRA[$algo]:-} | tail -n 2
    done
  done
done
