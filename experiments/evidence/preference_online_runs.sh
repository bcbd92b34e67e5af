#!/usr/bin/env bash
# Online preference-based RL evidence on Hopper-v5: SAC on the task's reward vs SAC on a reward
# learned in the loop from 1000 oracle-labelled pairs (PEBBLE-style), 3 seeds per program, then
# the learning-curve PNG. Re-running resumes unfinished runs. Settings via the environment:
#   OUT (runs/pref/online), STEPS (60000), PNG (docs/preference_online.png).
set -euo pipefail
OUT=${OUT:-runs/pref/online}
STEPS=${STEPS:-60000}
PNG=${PNG:-docs/preference_online.png}
source experiments/evidence/resumable_online.sh
run() {  # workdir, then train_online flags
  local workdir=$1; shift
  run_online "$workdir" --env=Hopper-v5 --num_seeds=3 --num_steps="$STEPS" --eval_every=5000 "$@"
}
run "$OUT/sac_true" --reward=true
run "$OUT/sac_preferences" --reward=preferences --num_queries=1000 --teacher=oracle
python -c "from rlkit_jax.online import plot; plot(['$OUT/sac_true', '$OUT/sac_preferences'], '$PNG', \
labels=['SAC, true reward', 'SAC, learned reward (1000 oracle pairs)'])"
