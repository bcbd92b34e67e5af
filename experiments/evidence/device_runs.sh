#!/usr/bin/env bash
# The GPU jobs of the open evidence, as one call of the device tool (one NVIDIA H200, 16 cores, no
# registry there, about 10 minutes a call): the benchmark alone on the GPU first, then side by side
# until LIMIT seconds the JOBS named (default all):
#   table16          ReBRAC, SAC-N, EDAC (N = 10) and the Decision Transformer on the Hopper
#                    medium-replay, medium and medium-expert files at the 100k table's budget, one
#                    algorithm per process (issue 16; carry the files: DATASET_DIR, default
#                    .devwheels/datasets, copies of ~/datasets/hopper-{medium-replay,medium,medium-expert}-v5.hdf5);
#   gail             GAIL (its default, DAC's one-centred penalty) from 10 demonstrations at 300k env
#                    steps, 3 seeds (issue 15, item 3; carry the demonstrations, made here with
#                    make_demonstrations.py --dataset=~/datasets/hopper-expert-v5.hdf5 --num_demos=10
#                    --out=.devwheels/hopper-expert-v5-10demos.hdf5, or name another file in DEMOS);
#   sac_hopper, sac_halfcheetah  our SAC on Hopper-v5 at 200k and HalfCheetah-v5 at 300k, 3 seeds each (issue 15).
# What comes back under $OUT:
#   env.txt        versions, devices, timings of each stage
#   benchmark.txt  experiments/benchmark.py's output (record the figures in BUILD_NOTES.md)
#   results.tgz    every run's metrics.csv, summary.json, config.json and log (no checkpoints)
# The image there has jax, flax, optax, orbax, chex, h5py and tqdm but no gymnasium or MuJoCo: carry
# their wheels, made here once (python 3.12 there):
#   python3 -m pip download -d .devwheels --no-deps --only-binary=:all: --python-version 3.12 \
#     --platform manylinux_2_28_x86_64 gymnasium==1.4.0 mujoco==4.0.1 mujoco-core==4.0.1 \
#     mujoco-studio==4.0.1 farama-notifications glfw pyopengl
#   echo /.devwheels/ >> .git/info/exclude
# then call run with carry [".devwheels"] (wheels 20 MB and the three Hopper files 31 MB fit the
# 64 MiB), timeout_s 595 and the command
#   LIMIT=530 bash experiments/evidence/device_runs.sh
# Here: tar xzf results.tgz -C ~/runs/device. The same script runs on a CPU with small settings,
# e.g. LIMIT=300 TABLE_UPDATES=40 DT_UPDATES=40 TABLE_KINDS=medium-replay DATASET_DIR=~/datasets
# HC_STEPS=3000 HOP_STEPS=3000 GAIL_STEPS=3000 GAIL_START=1000 GAIL_EVAL=1000
# BENCH_FLAGS="--seeds=1 --updates=5 --repeats=1 --critics=2" SKIP_INSTALL=1 PY=.venv/bin/python.
set -u
START=$(date +%s); LIMIT=${LIMIT:-530}; OUT=${OUT:?set OUT, the folder results go to}
left() { echo $(( LIMIT - ($(date +%s) - START) )); }
export PYTHONUNBUFFERED=1 XLA_PYTHON_CLIENT_PREALLOCATE=false
W=${W:-/tmp/w}; PY=${PY:-python3}; WHEELS=${WHEELS:-.devwheels}
JOBS=" ${JOBS:-benchmark table16 gail sac_hopper sac_halfcheetah} "
wanted() { [[ "$JOBS" == *" $1 "* ]]; }
mkdir -p "$W" /tmp/bin
# the evidence scripts call `python`; a wrapper keeps the interpreter's own environment
printf '#!/bin/sh\nexec %s "$@"\n' "$(command -v "$PY")" > /tmp/bin/python; chmod +x /tmp/bin/python
export PATH=/tmp/bin:$PATH PYTHONPATH=$PWD
[ -n "${SKIP_INSTALL:-}" ] || "$PY" -m pip install --no-index --no-deps -q "$WHEELS"/*.whl > "$OUT/install.log" 2>&1
{ nvidia-smi -L; "$PY" -c "import jax, flax, optax, chex, gymnasium, mujoco, h5py; print('jax', jax.__version__, 'flax', flax.__version__, 'optax', optax.__version__, 'chex', chex.__version__, 'gymnasium', gymnasium.__version__, 'mujoco', mujoco.__version__, 'h5py', h5py.__version__, jax.devices())"
  "$PY" -m pip list 2>/dev/null | grep -i -E "^(orbax-checkpoint|tqdm|scipy|absl-py|numpy) "; nproc; } > "$OUT/env.txt" 2>&1
if wanted benchmark; then
  timeout "${BENCH_S:-120}" "$PY" experiments/benchmark.py ${BENCH_FLAGS:---seeds=1,4,16,64} > "$OUT/benchmark.txt" 2>&1
  echo "benchmark rc=$? at $(( $(date +%s) - START ))s" >> "$OUT/env.txt"
fi
T=$(( $(left) - 40 ))
wanted sac_halfcheetah && timeout $T "$PY" experiments/reference/reproduce_sac.py --env=HalfCheetah-v5 --num_steps="${HC_STEPS:-300000}" \
  --side=ours --update_every=1000 --workdir="$W/sac_halfcheetah-v5" > "$W/sac_halfcheetah.log" 2>&1 &
wanted sac_hopper && timeout $T "$PY" experiments/reference/reproduce_sac.py --env=Hopper-v5 --num_steps="${HOP_STEPS:-200000}" \
  --side=ours --update_every=1000 --workdir="$W/sac_hopper-v5" > "$W/sac_hopper.log" 2>&1 &
wanted gail && timeout $T "$PY" experiments/train_online.py --env=Hopper-v5 --num_seeds=3 \
  --num_steps="${GAIL_STEPS:-300000}" --start_steps="${GAIL_START:-5000}" --eval_every="${GAIL_EVAL:-10000}" --eval_episodes=5 --reward=gail \
  --reward_kwargs="demos=${DEMOS:-$WHEELS/hopper-expert-v5-10demos.hdf5}" \
  --workdir="$W/gail_one_centred" > "$W/gail.log" 2>&1 &
for algo in ${TABLE_ALGOS:-rebrac sac_n edac dt}; do
  wanted table16 && OUT="$W/table100k" DATASET_DIR="${DATASET_DIR:-$WHEELS/datasets}" UPDATES="${TABLE_UPDATES:-100000}" EVALS=5 \
    EVAL_EPISODES=10 TASKS=hopper KINDS="${TABLE_KINDS:-medium-replay medium medium-expert}" ALGOS=$algo \
    timeout $T bash experiments/evidence/score_table_runs.sh > "$W/table16_$algo.log" 2>&1 &
done
wait
echo "runs ended at $(( $(date +%s) - START ))s" >> "$OUT/env.txt"
(cd "$W" && tar czf "$OUT/results.tgz" --exclude=checkpoints --exclude='*.hdf5' .)
ls -la "$OUT" >> "$OUT/env.txt" 2>&1
echo "packed at $(( $(date +%s) - START ))s" >> "$OUT/env.txt"
