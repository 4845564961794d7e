#!/usr/bin/env bash
# First-order (full-batch) SGD prompt fine-tuning with Hessian-trace tracking (the paper's
# flat-gd.sh). Env overrides: TASK, K, SEED, BS (0 = full batch), LR, STEP, EVAL_STEP, MODEL;
# extra arguments go to train.py.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
TASK=${TASK:-SST-2}
K=${K:-32}
SEED=${SEED:-42}
BS=${BS:-0}
LR=${LR:-5e-5}
STEP=${STEP:-100000}
EVAL_STEP=${EVAL_STEP:-1000}
MODEL=${MODEL:-roberta-large}

"${PYTHON:-python}" "$HERE/../train.py" --algo gd --task "$TASK" --k "$K" --seed "$SEED" \
    --batch-size "$BS" --lr "$LR" --steps "$STEP" --eval-steps "$EVAL_STEP" \
    --model "$MODEL" "$@"
