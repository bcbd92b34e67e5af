#!/usr/bin/env bash
# The GPU jobs of the open evidence, as one call of the device tool (one NVIDIA H200, 16 cores, no
# registry there, about 10 minutes a call): the benchmark alone on the GPU first, then side by side
# until LIMIT seconds the JOBS named (default all): gen_walker, Walker2d-v5 datasets at 300k SAC
# steps (issue 15); sac_halfcheetah and sac_hopper, our SAC on HalfCheetah-v5 at 300k and Hopper-v5
# at 200k, 3 seeds each (issue 15); cql_shipped, CQL on the shipped hopper-medium-replay file with
# the 100k table's settings (issue 17); gail, GAIL (one-centred penalty) from 10 demonstrations
# at 300k env steps, 3 seeds (issue 15, item 3; carry the demonstrations, made here with
# make_demonstrations.py --dataset=~/datasets/hopper-expert-v5.hdf5 --num_demos=10
# --out=.devwheels/hopper-expert-v5-10demos.hdf5, or name another file in DEMOS).
# What comes back under $OUT:
#   env.txt        versions, devices, timings of each stage
#   benchmark.txt  experiments/benchmark.py's output (record the figures in BUILD_NOTES.md)
#   results.tgz    every run's metrics.csv, summary.json, config.json and log (no checkpoints)
#   walker.tar.xz.NN  the Walker2d files but medium-expert (over the 64 MiB a call brings back),
#                  or walkerrun.tar.xz.NN, the unfinished generation's run folder, to continue
#                  here with make_dataset.py --resume
# The image there has jax, flax, optax, orbax, chex, h5py and tqdm but no gymnasium or MuJoCo: carry
# their wheels, made here once (python 3.12 there):
#   python3 -m pip download -d .devwheels --no-deps --only-binary=:all: --python-version 3.12 \
#     --platform manylinux_2_28_x86_64 gymnasium==1.4.0 mujoco==4.0.1 mujoco-core==4.0.1 \
#     mujoco-studio==4.0.1 farama-notifications glfw pyopengl
#   echo /.devwheels/ >> .git/info/exclude
# then call run with carry [".devwheels"], timeout_s 595 and the command
#   LIMIT=530 bash experiments/evidence/device_runs.sh
# and, at once after it returns (the machine stays warm 30 s and keeps /tmp/w), fetch medium-expert:
#   cd /tmp/w/datasets && tar cf - *medium-expert*.hdf5 | xz -T0 -4 | split -b 15m -d - $OUT/walkerme.tar.xz.
# Here: tar xzf results.tgz -C ~/runs/device; cat walker*.tar.xz.* | xz -d | tar x -C ~/datasets
# (one pipe per prefix). The same script runs on a CPU with small settings, e.g. LIMIT=400
# GEN_STEPS=10000 GEN_EVAL=5000 GEN_N=2000 HC_STEPS=10000 HOP_STEPS=10000 CQL_UPDATES=200
# BENCH_FLAGS="--seeds=1 --updates=5 --repeats=1 --critics=2" SKIP_INSTALL=1 PY=.venv/bin/python.
set -u
START=$(date +%s); LIMIT=${LIMIT:-530}; OUT=${OUT:?set OUT, the folder results go to}
left() { echo $(( LIMIT - ($(date +%s) - START) )); }
export PYTHONUNBUFFERED=1 XLA_PYTHON_CLIENT_PREALLOCATE=false
W=${W:-/tmp/w}; PY=${PY:-python3}; WHEELS=${WHEELS:-.devwheels}
JOBS=" ${JOBS:-benchmark gen_walker sac_halfcheetah sac_hopper cql_shipped gail} "
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
wanted gen_walker && timeout $T "$PY" experiments/make_dataset.py --env=Walker2d-v5 --out_dir="$W/datasets" --seed=0 \
  --num_steps="${GEN_STEPS:-300000}" --num_transitions="${GEN_N:-100000}" --eval_every="${GEN_EVAL:-5000}" \
  --workdir="$W/gen_walker2d-v5" > "$W/gen_walker.log" 2>&1 &
wanted sac_halfcheetah && timeout $T "$PY" experiments/reference/reproduce_sac.py --env=HalfCheetah-v5 --num_steps="${HC_STEPS:-300000}" \
  --side=ours --update_every=1000 --workdir="$W/sac_halfcheetah-v5" > "$W/sac_halfcheetah.log" 2>&1 &
wanted sac_hopper && timeout $T "$PY" experiments/reference/reproduce_sac.py --env=Hopper-v5 --num_steps="${HOP_STEPS:-200000}" \
  --side=ours --update_every=1000 --workdir="$W/sac_hopper-v5" > "$W/sac_hopper.log" 2>&1 &
wanted gail && timeout $T "$PY" experiments/train_online.py --env=Hopper-v5 --num_seeds=3 \
  --num_steps="${GAIL_STEPS:-300000}" --start_steps="${GAIL_START:-5000}" --eval_every="${GAIL_EVAL:-10000}" --eval_episodes=5 --reward=gail \
  --reward_kwargs="demos=${DEMOS:-$WHEELS/hopper-expert-v5-10demos.hdf5},gradient_penalty_form=one_centred" \
  --workdir="$W/gail_one_centred" > "$W/gail.log" 2>&1 &
wanted cql_shipped && OUT="$W/table100k_shipped" DATASET_DIR=rlkit_jax/assets UPDATES=100000 CQL_UPDATES="${CQL_UPDATES:-30000}" EVALS=5 \
  EVAL_EPISODES=10 TASKS=hopper KINDS=medium-replay ALGOS=cql \
  timeout $T bash experiments/evidence/score_table_runs.sh > "$W/cql.log" 2>&1 &
wait
echo "runs ended at $(( $(date +%s) - START ))s" >> "$OUT/env.txt"
(cd "$W" && tar czf "$OUT/results.tgz" --exclude=checkpoints --exclude=datasets --exclude=snapshots --exclude='*.hdf5' .)
if ls "$W"/datasets/*.hdf5 > /dev/null 2>&1; then
  (cd "$W/datasets" && tar cf - $(ls ./*.hdf5 | grep -v medium-expert) | xz -T0 -4 | split -b 15m -d - "$OUT/walker.tar.xz.")
elif wanted gen_walker; then
  (cd "$W" && tar cf - gen_walker2d-v5 | xz -T0 -4 | split -b 15m -d - "$OUT/walkerrun.tar.xz.")
fi
ls -la "$OUT" "$W/datasets" >> "$OUT/env.txt" 2>&1
echo "packed at $(( $(date +%s) - START ))s" >> "$OUT/env.txt"
