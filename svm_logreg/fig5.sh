#!/usr/bin/env bash
# Figure 5, the complementary runs: SAM (radius = the launchers' λ) and ZO at the smaller λ the
# paper's text reports (SVM 0.005, logistic regression 0.01), on a5a and w5a → res_svm/,
# res_logreg/, then assets/svm-logreg-extra.png (GD and ZO of Figure 2 drawn too when present).
# Overrides: SEEDS="29 30", STEP=10000, N_PARAMS=10000, JOBS=2 (runs in parallel), PYTHON=python
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=svm_logreg/runs.sh
source "$HERE/runs.sh"
PY=$(printf %q "${PYTHON:-python}")
SEEDS=${SEEDS:-29}
STEP=${STEP:-10000}
N_PARAMS=${N_PARAMS:-10000}
JOBS=${JOBS:-2}

A=$(pick_data a5a); W=$(pick_data w5a)
say_data "$A"; say_data "$W"
for data in $A $W; do
    for seed in $SEEDS; do
        common="--data $data --seed $seed --max_iter $STEP --n_params $N_PARAMS --quiet"
        echo "$PY $(printf %q "$HERE/svm.py") --algo sam --lr 1e-4 --lam 0.05 $common"
        echo "$PY $(printf %q "$HERE/svm.py") --algo zo --lr 1e-4 --lam 0.005 $common"
        echo "$PY $(printf %q "$HERE/logreg.py") --algo sam --lr 0.01 --lam 0.1 $common"
        echo "$PY $(printf %q "$HERE/logreg.py") --algo zo --lr 0.01 --lam 0.01 $common"
    done
done | run_all
"${PYTHON:-python}" "$HERE/plot.py"
