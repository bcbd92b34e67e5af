#!/usr/bin/env bash
# GAIL on Hopper-v5 from 10 expert demonstrations (issue: rewards from examples): SAC on the
# discriminator's reward −log(1 − D) with DAC's absorbing states, against behaviour cloning on the
# same demonstrations; 3 seeds per program. Then the table (return as a fraction of the
# demonstrator's) and the learning-curve PNG. Re-running resumes unfinished runs.
# Settings via the environment:
#   OUT (runs/gail), ENV (Hopper-v5), DATASET (hopper-expert-v5), NUM_DEMOS (10), STEPS (100000),
#   BC_UPDATES (20000), ABLATION (0; 1 adds GAIL without absorbing states), GAIL_KWARGS (extra
#   --reward_kwargs of the GAIL runs, e.g. gradient_penalty=1), PNG (docs/gail_<env>.png).
set -euo pipefail
OUT=${OUT:-runs/gail}
ENV=${ENV:-Hopper-v5}
DATASET=${DATASET:-hopper-expert-v5}
NUM_DEMOS=${NUM_DEMOS:-10}
STEPS=${STEPS:-100000}
BC_UPDATES=${BC_UPDATES:-20000}
ABLATION=${ABLATION:-0}
GAIL_KWARGS=${GAIL_KWARGS:+,$GAIL_KWARGS}
PNG=${PNG:-docs/gail_${ENV}.png}
DEMOS="$OUT/$DATASET-${NUM_DEMOS}demos.hdf5"
[ -f "$DEMOS" ] || python experiments/make_demonstrations.py --dataset="$DATASET" --num_demos="$NUM_DEMOS" --out="$DEMOS"
source experiments/evidence/resumable_online.sh
run() {  # workdir, then train_online flags
  local workdir=$1; shift
  run_online "$workdir" --env="$ENV" --num_seeds=3 --num_steps="$STEPS" --start_steps=5000 --eval_every=10000 \
    --eval_episodes=5 "$@"
}
run "$OUT/$ENV/gail" --reward=gail --reward_kwargs="demos=$DEMOS$GAIL_KWARGS"
RUNS="$OUT/$ENV/gail"
if [ "$ABLATION" = 1 ]; then
  run "$OUT/$ENV/gail_no_absorbing" --reward=gail --reward_kwargs="demos=$DEMOS$GAIL_KWARGS,absorbing=false"
  RUNS="$RUNS,$OUT/$ENV/gail_no_absorbing"
fi
if [ ! -f "$OUT/$ENV/bc/summary.json" ]; then
  resume=""
  [ -d "$OUT/$ENV/bc/checkpoints" ] && resume="--resume"
  python experiments/train_offline.py --algo=bc --dataset="$DEMOS" --num_seeds=3 --num_updates="$BC_UPDATES" \
    --eval_every=5000 --eval_episodes=10 --workdir="$OUT/$ENV/bc" $resume | tail -n 2
fi
python experiments/evidence/imitation_table.py --demos="$DEMOS" --online="$RUNS" --bc="$OUT/$ENV/bc" --png="$PNG"
