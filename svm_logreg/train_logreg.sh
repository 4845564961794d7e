#!/usr/bin/env bash
# One logistic-regression run as the authors' train_logreg.sh, with its values (logreg.py's
# defaults too). Env overrides TASK, LR, LAM, ALGO, STEP, SEED; extra arguments go to logreg.py.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
TASK=${TASK:-a5a}
LR=${LR:-0.01}
LAM=${LAM:-0.1}
ALGO=${ALGO:-zo}
STEP=${STEP:-10000}
SEED=${SEED:-29}

"${PYTHON:-python}" "$HERE/logreg.py" --lr "$LR" --lam "$LAM" --algo "$ALGO" --data "$TASK" \
    --max_iter "$STEP" --seed "$SEED" "$@"
