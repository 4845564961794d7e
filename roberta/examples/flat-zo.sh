#!/usr/bin/env bash
# ZO-SGD prompt fine-tuning with Hessian-trace tracking (the paper's flat-zo.sh).
# Env overrides: TASK, K, SEED, BS (0 = full batch), LR, EPS, STEP, EVAL_STEP, MODEL; extra
# arguments go to train.py (e.g. --resume, --wandb, --trace-estimator hutchinson).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
TASK=${TASK:-SST-2}
K=${K:-32}
SEED=${SEED:-42}
BS=${BS:-0}
LR=${LR:-1e-5}
EPS=${EPS:-2e-3}
STEP=${STEP:-100000}
EVAL_STEP=${EVAL_STEP:-1000}
MODEL=${MODEL:-roberta-large}

"${PYTHON:-python}" "$HERE/../train.py" --algo zo --task "$TASK" --k "$K" --seed "$SEED" \
    --batch-size "$BS" --lr "$LR" --eps "$EPS" --steps "$STEP" --eval-steps "$EVAL_STEP" \
    --model "$MODEL" "$@"
