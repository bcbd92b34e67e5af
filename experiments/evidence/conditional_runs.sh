#!/usr/bin/env bash
# Conditional imitation and critic ensembles on generated Hopper data, 3 seeds each in one program;
# every run resumes where it stopped and finished runs are skipped. In order:
#   1. the stitching comparison: RvS, %BC and IQL on medium-expert, medium and medium-replay;
#   2. the Decision Transformer on medium-expert, then the prompt curve of RvS and DT (once, into
#      $RUNS/prompt_curve.{md,json,png}; docs/prompt_curve is the copy of record);
#   3. SAC-N and EDAC at N = 10 beside IQL; 4. DT on medium and medium-replay.
# The transformer is the paper's at CPU size (DT_HPARAMS): the paper's (128 wide, 3 layers, K = 20)
# makes about 3 updates/s on one CPU core; give DT_HPARAMS= (empty) on an accelerator.
#   RUNS=~/runs/cond DATASETS=~/datasets UPDATES=30000 experiments/evidence/conditional_runs.sh
# ARCHIVE=<checkout>/docs/runs/cond also copies each run's result files there (archive.sh).
set -euo pipefail
cd "$(dirname "$0")/../.."
RUNS=${RUNS:-runs/conditional}; DATASETS=${DATASETS:-datasets}; UPDATES=${UPDATES:-30000}
KINDS=${KINDS:-"medium-expert medium medium-replay"}
source experiments/evidence/archive.sh
DT_HPARAMS=${DT_HPARAMS-embed_dim=64,num_layers=2,context_length=10,warmup_steps=2000}
train() {  # train ALGO KIND [flags...]: into $RUNS/<algo>_hopper-<kind>-v5, resuming a partial run
  local algo=$1 dataset=hopper-$2-v5; shift 2; local workdir=$RUNS/${algo}_$dataset
  archive_run "$workdir" "${algo}_$dataset"
  [ -f "$workdir/summary.json" ] && return
  local resume=""; [ -d "$workdir/checkpoints" ] && resume="--resume"
  echo "== $algo $dataset $(date +%T)"
  python experiments/train_offline.py --algo=$algo --dataset=$dataset --dataset_dir=$DATASETS --num_seeds=3 \
    --num_updates=$UPDATES --eval_every=$((UPDATES / 3)) --updates_per_call=$((UPDATES / 30)) --eval_episodes=5 \
    --workdir=$workdir $resume "$@" | tail -n 2
  archive_run "$workdir" "${algo}_$dataset"
}
dt() { train dt "$1" --reward_scaling=none --batch_size=64 ${DT_HPARAMS:+--hparams=$DT_HPARAMS}; }
for kind in $KINDS; do
  train rvs $kind --reward_scaling=none
  train filtered_bc $kind
  train iql $kind
done
dt medium-expert
[ -f "$RUNS/prompt_curve.json" ] || python experiments/evidence/prompt_curve.py \
  --runs=$RUNS/rvs_hopper-medium-expert-v5,$RUNS/dt_hopper-medium-expert-v5 \
  --dataset_dir=$DATASETS --targets=0,500,1000,1500,2000,2500,3000,3600 --out=$RUNS/prompt_curve
for kind in $KINDS; do
  train sac_n $kind --hparams=num_critics=10
  train edac $kind --hparams=num_critics=10
done
for kind in $KINDS; do dt $kind; done
