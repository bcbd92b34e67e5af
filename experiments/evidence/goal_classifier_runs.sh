#!/usr/bin/env bash
# Rewards from success examples (issue: goal classifiers with visited negatives): (a) a classifier
# trained once on D+ and random-policy D-, then frozen; (b) the loop that adds the states the policy
# visits to D-; (c) SAC on the task's reward. 3 seeds per program; then the table (success rate over
# the last 4 evaluations, where episodes ended) and the success-rate curve.
# Re-running resumes unfinished runs. Settings via the environment:
#   OUT (runs/vice), ENV (Reacher-v5), STEPS (30000), EVAL_EVERY (2500), EVAL_EPISODES (10),
#   TASK_REWARD (true: the env's reward; success: the success indicator, for tasks whose own
#   reward is about something else, e.g. Swimmer-v5), CLASSIFIER_KWARGS (extra --reward_kwargs of
#   (a) and (b), e.g. features=0), PNG (docs/goal_classifier_<env>.png).
set -euo pipefail
OUT=${OUT:-runs/vice}
ENV=${ENV:-Reacher-v5}
STEPS=${STEPS:-30000}
EVAL_EVERY=${EVAL_EVERY:-2500}
EVAL_EPISODES=${EVAL_EPISODES:-10}
TASK_REWARD=${TASK_REWARD:-true}
CLASSIFIER_KWARGS=${CLASSIFIER_KWARGS:+,$CLASSIFIER_KWARGS}
PNG=${PNG:-docs/goal_classifier_${ENV}.png}
EXAMPLES="$OUT/success_$ENV.npz"
[ -f "$EXAMPLES" ] || python experiments/make_success_examples.py --env="$ENV" --num_positives=1000 \
  --num_negatives=5000 --seed=0 --out="$EXAMPLES"
source experiments/evidence/resumable_online.sh
run() {  # workdir, then train_online flags
  local workdir=$1; shift
  run_online "$workdir" --env="$ENV" --num_seeds=3 --num_steps="$STEPS" --start_steps=2000 --update_every=500 \
    --eval_every="$EVAL_EVERY" --eval_episodes="$EVAL_EPISODES" "$@"
}
run "$OUT/$ENV/$TASK_REWARD" --reward="$TASK_REWARD"
run "$OUT/$ENV/frozen" --reward=classifier --reward_kwargs="examples=$EXAMPLES,frozen=true,mixup_alpha=1$CLASSIFIER_KWARGS"
run "$OUT/$ENV/loop" --reward=classifier --reward_kwargs="examples=$EXAMPLES,mixup_alpha=1$CLASSIFIER_KWARGS"
python experiments/evidence/goal_classifier_table.py --runs="$OUT/$ENV/frozen,$OUT/$ENV/loop,$OUT/$ENV/$TASK_REWARD" --png="$PNG"
