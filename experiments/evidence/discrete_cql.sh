#!/usr/bin/env bash
# Offline Double DQN vs Double DQN + discrete CQL on the generated discrete datasets: both settings
# × 3 seeds in one program per dataset (the lecture's DDQN vs DDQN+CQL comparison).
# Datasets: python experiments/make_dataset.py --env=CartPole-v1 --out_dir=datasets (and Acrobot-v1).
set -euo pipefail
OUT=${OUT:-runs/discrete}
for dataset in ${DATASETS:-cartpole-medium-v1 cartpole-medium-replay-v1 acrobot-medium-v1 acrobot-medium-replay-v1}; do
  [ -f "$OUT/$dataset/summary.json" ] && continue
  resume=""
  [ -d "$OUT/$dataset/checkpoints" ] && resume="--resume"
  python experiments/train_offline.py --algo=dqn --dataset="$dataset" --dataset_dir=datasets --sweep=cql_alpha=0,1 \
    --num_seeds=3 --num_updates=20000 --eval_every=5000 --updates_per_call=1000 --eval_episodes=10 --reward_scaling=none \
    --workdir="$OUT/$dataset" $resume | tail -n 3
done
python experiments/evidence/score_table.py --runs="$OUT" --out=docs/discrete_cql
