#!/usr/bin/env bash
# Goal-conditioned imitation on a PointMaze goal dataset (D4RL's maze2d recipe): RvS-G (hindsight
# goals) beside BC (the goals the controller was given) and IQL (the sparse reward), 3 seeds each in
# one program; the file is made first if missing. Every run resumes where it stopped; finished runs
# are skipped.
#   RUNS=~/runs/goal DATASETS=~/datasets UPDATES=30000 experiments/evidence/goal_runs.sh
# MAZE picks the task (default PointMaze_Medium-v3), ROWS and NOISE the file's size and action noise,
# WANDER=1 a controller that ignores the episode's goal (hindsight goals are then the only signal);
# ARCHIVE=<checkout>/docs/runs/goal also copies each run's result files there (archive.sh).
set -euo pipefail
cd "$(dirname "$0")/../.."
RUNS=${RUNS:-runs/goal}; DATASETS=${DATASETS:-datasets}; UPDATES=${UPDATES:-30000}
MAZE=${MAZE:-PointMaze_Medium-v3}; ROWS=${ROWS:-300000}; NOISE=${NOISE:-0.5}; ALGOS=${ALGOS:-"rvs_g bc iql"}
WANDER=${WANDER:-0}  # 1: the controller steers to targets of its own (D4RL's maze2d data), not the episode's goal
source experiments/evidence/archive.sh
name=$(echo "$MAZE" | tr '[:upper:]' '[:lower:]' | tr '_' '-')-noise$NOISE; wander=""
[ "$WANDER" = 1 ] && { name=$name-wander; wander=--wander; }
file=$DATASETS/$name.hdf5
if [ ! -f "$file" ]; then
  echo "== make $file $(date +%T)"
  python experiments/make_maze_dataset.py --env=gymnasium_robotics:$MAZE --num_transitions=$ROWS --seed=0 \
    --action_noise=$NOISE $wander --out=$file 2>&1 | tail -n 1
fi
for algo in $ALGOS; do
  workdir=$RUNS/${algo}_$name
  [ -f "$workdir/summary.json" ] && continue
  resume=""; [ -d "$workdir/checkpoints" ] && resume="--resume"
  echo "== $algo $name $(date +%T)"
  python experiments/train_offline.py --algo=$algo --dataset=$file --num_seeds=3 --num_updates=$UPDATES \
    --eval_every=$((UPDATES / 6)) --updates_per_call=$((UPDATES / 30)) --eval_episodes=10 --workdir=$workdir $resume \
    2>&1 | tail -n 2
  archive_run "$workdir" "${algo}_$name"
done
echo "== done $(date +%T)"
