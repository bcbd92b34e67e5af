#!/usr/bin/env bash
# Conditional imitation on generated Hopper data: RvS and the Decision Transformer on
# hopper-medium-expert (then the prompt curve), with %BC and IQL beside them. 3 seeds each, one
# program per algorithm; every run resumes where it stopped. The transformer is the paper's at
# CPU size (DT_HPARAMS): the paper's (128 wide, 3 layers, K = 20) makes about 3 updates/s on one
# CPU core; give DT_HPARAMS= (empty) on an accelerator.
#   RUNS=~/runs/cond DATASETS=~/datasets UPDATES=30000 experiments/evidence/conditional_runs.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
RUNS=${RUNS:-runs/conditional}; DATASETS=${DATASETS:-datasets}; UPDATES=${UPDATES:-30000}
DATASET=${DATASET:-hopper-medium-expert-v5}
DT_HPARAMS=${DT_HPARAMS-embed_dim=64,num_layers=2,context_length=10,warmup_steps=2000}
train() {  # train ALGO [flags...]: into $RUNS/<algo>_<dataset>, resuming a partial run
  local algo=$1; shift; local workdir=$RUNS/${algo}_${DATASET}
  [ -f "$workdir/summary.json" ] && return
  local resume=""; [ -d "$workdir/checkpoints" ] && resume="--resume"
  python experiments/train_offline.py --algo=$algo --dataset=$DATASET --dataset_dir=$DATASETS --num_seeds=3 \
    --num_updates=$UPDATES --eval_every=$((UPDATES / 3)) --updates_per_call=$((UPDATES / 30)) --eval_episodes=5 \
    --workdir=$workdir $resume "$@" | tail -n 2
}
train rvs --reward_scaling=none
train dt --reward_scaling=none --batch_size=64 ${DT_HPARAMS:+--hparams=$DT_HPARAMS}
python experiments/evidence/prompt_curve.py --runs=$RUNS/rvs_$DATASET,$RUNS/dt_$DATASET --dataset_dir=$DATASETS \
  --targets=0,500,1000,1500,2000,2500,3000,3600 --out=docs/prompt_curve
train filtered_bc
train iql
