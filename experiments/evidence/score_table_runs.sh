#!/usr/bin/env bash
# Trains every (task, dataset, algorithm) cell of the score table, 3 seeds each in one program.
# Re-running skips finished cells and resumes interrupted ones; settings via the environment:
#   OUT (runs/table), DATASET_DIR (datasets), UPDATES (10000; CQL and DT: CQL_UPDATES, DT_UPDATES,
#   default UPDATES), EVALS (evaluations per run, 4), EVAL_EPISODES (per seed, 5), ALGOS, TASKS, KINDS,
#   DT_HPARAMS (see conditional_runs.sh). The 100k table: UPDATES=100000 CQL_UPDATES=30000 EVALS=5
#   EVAL_EPISODES=10, the settings of reproduce.py's ours side (its runs can stand in for cells).
#   ARCHIVE: copy each finished cell's result files to $ARCHIVE/<algo>/<dataset> (archive.sh).
#   Each cell checkpoints every compiled call (UPDATES / 20), so a stopped cell loses little.
# Then: python experiments/evidence/score_table.py --runs=runs/table --out=docs/score_table --intervals
set -euo pipefail
OUT=${OUT:-runs/table}
DATASET_DIR=${DATASET_DIR:-datasets}
UPDATES=${UPDATES:-10000}
EVALS=${EVALS:-4}
EVAL_EPISODES=${EVAL_EPISODES:-5}
ALGOS=${ALGOS:-"bc filtered_bc awr awac td3_bc iql cql rebrac sac_n edac rvs dt"}
TASKS=${TASKS:-"hopper halfcheetah walker2d"}
KINDS=${KINDS:-"medium medium-replay medium-expert"}
# CQL: the reference code's actor rate (CORL's 3e-5 barely moves the actor in a short run), SAC's
# entropy-temperature rate (at CORL's 3e-5 the temperature is still 0.76 after 10k updates and the
# entropy bonus swamps the scaled rewards) and 4 sampled actions per proposal instead of 10, which
# cuts the critic's work ~3x on a CPU.
# ReBRAC: batch 1024 and the paper's per-dataset BC coefficients (PAPER_COEFFICIENTS), raw rewards;
# SAC-N/EDAC at N = 10; RvS and DT on raw returns, DT at CPU size with the paper's batch 64.
source experiments/evidence/archive.sh
DT_HPARAMS=${DT_HPARAMS-embed_dim=64,num_layers=2,context_length=10,warmup_steps=2000}
declare -A EXTRA=(
  [cql]="--hparams=actor_lr=1e-4,temperature_lr=3e-4,num_sampled_actions=4"
  [rebrac]="--batch_size=1024 --reward_scaling=none"
  [sac_n]="--hparams=num_critics=10" [edac]="--hparams=num_critics=10"
  [rvs]="--reward_scaling=none" [dt]="--reward_scaling=none --batch_size=64 ${DT_HPARAMS:+--hparams=$DT_HPARAMS}"
)
for task in $TASKS; do
  for kind in $KINDS; do
    for algo in $ALGOS; do
      dataset="$task-$kind-v5"
      workdir="$OUT/$algo/$dataset"
      # A cell finished earlier is archived (again) and skipped; an unfinished one is archived only
      # when it finishes, so the checkout never holds a partial cell.
      [ -f "$workdir/summary.json" ] && { archive_run "$workdir" "$algo/$dataset"; continue; }
      resume=""
      [ -d "$workdir/checkpoints" ] && resume="--resume"
      updates=$UPDATES
      [ "$algo" = cql ] && updates=${CQL_UPDATES:-$UPDATES}
      [ "$algo" = dt ] && updates=${DT_UPDATES:-$UPDATES}
      extra=${EXTRA[$algo]:-}
      if [ "$algo" = rebrac ]; then  # the paper's β₁, β₂ for this dataset, where it gives them
        extra="$extra $(python -c 'import sys; from rlkit_jax.agents.rebrac import PAPER_COEFFICIENTS as c
if sys.argv[1] in c: print("--hparams=actor_bc_coef={},critic_bc_coef={}".format(*c[sys.argv[1]]))' "$task-$kind")"
      fi
      per_call=$((updates / 20))  # one compiled call, and one checkpoint
      echo "== $algo $dataset $(date +%T)"
      python experiments/train_offline.py --algo="$algo" --dataset="$dataset" --dataset_dir="$DATASET_DIR" \
        --num_seeds=3 --num_updates="$updates" --eval_every=$((updates / EVALS)) --updates_per_call=$per_call \
        --checkpoint_every=$per_call --eval_episodes="$EVAL_EPISODES" --workdir="$workdir" $resume $extra | tail -n 2
      archive_run "$workdir" "$algo/$dataset"
    done
  done
done
