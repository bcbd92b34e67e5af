#!/usr/bin/env bash
# Online SAC, ours against d3rlpy's in the same loop (experiments/reference/reproduce_sac.py):
# Hopper-v5 at 200k env steps, Walker2d-v5 and HalfCheetah-v5 at 300k, 3 seeds a side. Every run
# resumes; finished sides are skipped. Needs the [reference] extra. Settings via the environment:
#   OUT (runs/sac_reference), ENVS ("Hopper-v5 Walker2d-v5 HalfCheetah-v5"), SIDES ("ours reference").
# Then: python experiments/reference/reproduction_table.py --runs=$OUT --out=docs/sac_reference_cells
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-runs/sac_reference}; ENVS=${ENVS:-"Hopper-v5 Walker2d-v5 HalfCheetah-v5"}; SIDES=${SIDES:-"ours reference"}
for env in $ENVS; do
  steps=300000; [ "$env" = Hopper-v5 ] && steps=200000
  cell="$OUT/sac_$(echo "$env" | tr '[:upper:]' '[:lower:]')"
  for side in $SIDES; do
    if [ "$side" = ours ]; then
      [ -f "$cell/ours/summary.json" ] && continue
      resume=""; [ -d "$cell/ours/checkpoints" ] && resume="--resume"
      echo "== ours $env $(date +%T)"
      python experiments/reference/reproduce_sac.py --env="$env" --num_steps=$steps --side=ours --workdir="$cell" $resume | tail -n 1
    else
      for seed in 0 1 2; do
        if [ -f "$cell/d3rlpy/seed$seed/metrics.csv" ] && grep -q "^$steps," "$cell/d3rlpy/seed$seed/metrics.csv"; then continue; fi
        resume=""; [ -f "$cell/d3rlpy/seed$seed/state.pkl" ] && resume="--resume"
        echo "== d3rlpy $env seed $seed $(date +%T)"
        python experiments/reference/reproduce_sac.py --env="$env" --num_steps=$steps --side=reference \
          --reference_seeds=$seed --workdir="$cell" $resume | tail -n 1
      done
    fi
  done
done
