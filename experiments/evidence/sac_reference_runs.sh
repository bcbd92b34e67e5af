#!/usr/bin/env bash
# Online SAC, ours against d3rlpy's in the same loop and SBX's in its own (experiments/reference/reproduce_sac.py):
# Hopper-v5 at 200k env steps, Walker2d-v5 and HalfCheetah-v5 at 300k, 3 seeds a side. Every run
# resumes; finished sides are skipped. Needs the [reference] extra. Settings via the environment:
#   OUT (runs/sac_reference), ENVS ("Hopper-v5 Walker2d-v5 HalfCheetah-v5"), SIDES ("ours reference sbx";
#   also sbx_chunked: SBX updating in our loop's chunks; ours_lecun: ours with SBX's initialisation;
#   sbx_ours_init: SBX with our initialisation),
#   UPDATE_EVERY (1000: env steps per chunk of as many updates, ours, d3rlpy's and sbx_chunked's; cells
#   of another value get the suffix _update<N>; SBX updates after every step, in SB3's loop).
# Then: python experiments/reference/reproduction_table.py --runs=$OUT --step_name='env steps' --out=docs/sac_reference_cells
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-runs/sac_reference}; ENVS=${ENVS:-"Hopper-v5 Walker2d-v5 HalfCheetah-v5"}; SIDES=${SIDES:-"ours reference sbx"}
UPDATE_EVERY=${UPDATE_EVERY:-1000}; suffix=""; [ "$UPDATE_EVERY" != 1000 ] && suffix=_update$UPDATE_EVERY
for env in $ENVS; do
  steps=300000; [ "$env" = Hopper-v5 ] && steps=200000
  cell="$OUT/sac_$(echo "$env" | tr '[:upper:]' '[:lower:]')$suffix"; common=(--env="$env" --num_steps=$steps --update_every=$UPDATE_EVERY --workdir="$cell")
  for side in $SIDES; do
    if [ "$side" = ours ] || [ "$side" = ours_lecun ]; then
      [ -f "$cell/$side/summary.json" ] && continue
      resume=""; [ -d "$cell/$side/checkpoints" ] && resume="--resume"
      echo "== $side $env $(date +%T)"
      python experiments/reference/reproduce_sac.py "${common[@]}" --side=$side $resume | tail -n 1
    else
      folder=d3rlpy; [ "$side" != reference ] && folder=$side
      for seed in 0 1 2; do
        if [ -f "$cell/$folder/seed$seed/metrics.csv" ] && grep -q "^$steps," "$cell/$folder/seed$seed/metrics.csv"; then continue; fi
        resume=""; [ -f "$cell/$folder/seed$seed/state.pkl" ] && resume="--resume"
        echo "== $folder $env seed $seed $(date +%T)"
        python experiments/reference/reproduce_sac.py "${common[@]}" --side=$side --reference_seeds=$seed $resume | tail -n 1
      done
    fi
  done
done
