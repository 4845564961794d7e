#!/usr/bin/env bash
# One SVM run, as the paper's launcher: env overrides TASK, LR, LAM, ALGO, STEP, SEED; any extra
# arguments go to svm.py (e.g. --wandb, --out DIR, --n_params 10000).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
TASK=${TASK:-a5a}
LR=${LR:-1e-4}
LAM=${LAM:-0.05}
ALGO=${ALGO:-zo}
STEP=${STEP:-10000}
SEED=${SEED:-29}

"${PYTHON:-python}" "$HERE/svm.py" --lr "$LR" --lam "$LAM" --algo "$ALGO" --data "$TASK" \
    --max_iter "$STEP" --seed "$SEED" "$@"
