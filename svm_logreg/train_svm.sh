#!/usr/bin/env bash
# One SVM run as the authors' train_svm.sh, with its values (lr 1e-4 for every algorithm; fig2.sh
# and fig5.sh take svm.py's defaults, the published figure's: GD and SAM at 1e-3).
# Env overrides TASK, LR, LAM, ALGO, STEP, SEED; extra arguments go to svm.py (e.g. --wandb).
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
