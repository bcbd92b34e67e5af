#!/usr/bin/env bash
# GAIL on Hopper-v5: what limits it (issue: online SAC at a reference's level, item 3).
# Phase 1 sweeps the discriminator's regulariser and reward from 10 demonstrations, 3 seeds per
# setting in one program; phase 2 runs the chosen setting (BEST) and BC with 1, 4 and 10
# demonstrations. Every run resumes; finished runs are skipped. Tables go to stdout.
# Settings via the environment:
#   OUT (runs/gail_sweep), STEPS (phase 1 budget, 100000), FINAL_STEPS (phase 2, 300000),
#   PHASES ("1 2"), BEST (a setting name of phase 1, default one_centred), DATASET_DIR (datasets),
#   ORDER (the phase-1 settings to run, in order), DEMOS (phase 2's demonstration counts, in order: "1 4 10").
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-runs/gail_sweep}; STEPS=${STEPS:-100000}; FINAL_STEPS=${FINAL_STEPS:-300000}
PHASES=${PHASES:-"1 2"}; BEST=${BEST:-one_centred}; DATASET_DIR=${DATASET_DIR:-datasets}
# name -> extra --reward_kwargs. The defaults are DAC's one-centred penalty of weight 10, 250
# discriminator steps per 1000 env steps and the reward −log(1 − D). Every name spells its penalty
# out, so a run folder means the same whatever the defaults. (Runs of 2026-12-05 and before, made
# when the zero-centred penalty was the default: their sweep/defaults is zero_centred and their
# sweep/gp1 is zero_centred_gp1.)
declare -A SETTINGS=(
  [zero_centred]="gradient_penalty_form=zero_centred"
  [zero_centred_gp1]="gradient_penalty_form=zero_centred,gradient_penalty=1"
  [one_centred]="gradient_penalty_form=one_centred"
  [one_centred_airl]="gradient_penalty_form=one_centred,transform=log_d_minus_log_1_minus_d"
  [one_centred_1000]="gradient_penalty_form=one_centred,num_steps=1000"
)
ORDER=${ORDER:-"one_centred zero_centred zero_centred_gp1 one_centred_airl one_centred_1000"}; DEMOS=${DEMOS:-"1 4 10"}
source experiments/evidence/resumable_online.sh
demos() {  # demos N: the first N trajectories of hopper-expert-v5
  local file="$OUT/hopper-expert-v5-$1demos.hdf5"
  [ -f "$file" ] || python experiments/make_demonstrations.py --dataset="$DATASET_DIR/hopper-expert-v5.hdf5" \
    --num_demos="$1" --out="$file" >&2
  echo "$file"
}
gail() {  # gail WORKDIR DEMOS STEPS KWARGS
  echo "== $1 $(date +%T)"
  run_online "$1" --env=Hopper-v5 --num_seeds=3 --num_steps="$3" --start_steps=5000 --eval_every=10000 \
    --eval_episodes=5 --reward=gail --reward_kwargs="demos=$2${4:+,$4}"
}
for phase in $PHASES; do
  if [ "$phase" = 1 ]; then
    file=$(demos 10); runs=""
    for name in $ORDER; do gail "$OUT/sweep/$name" "$file" "$STEPS" "${SETTINGS[$name]}"; runs="$runs,$OUT/sweep/$name"; done
    python experiments/evidence/imitation_table.py --demos="$file" --online="${runs#,}" --png="$OUT/sweep.png"
  else
    for n in $DEMOS; do
      file=$(demos $n)
      gail "$OUT/demos$n/gail" "$file" "$FINAL_STEPS" "${SETTINGS[$BEST]}"
      if [ ! -f "$OUT/demos$n/bc/summary.json" ]; then
        resume=""; [ -d "$OUT/demos$n/bc/checkpoints" ] && resume="--resume"
        python experiments/train_offline.py --algo=bc --dataset="$file" --num_seeds=3 --num_updates=20000 \
          --eval_every=5000 --eval_episodes=10 --workdir="$OUT/demos$n/bc" $resume | tail -n 2
      fi
      python experiments/evidence/imitation_table.py --demos="$file" --online="$OUT/demos$n/gail" --bc="$OUT/demos$n/bc"
    done
  fi
done
