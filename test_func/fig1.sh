#!/usr/bin/env bash
# Figure 1: GD, ZO (λ = 0.1) and DD on the toy loss → test_func/res/, then assets/test-func.png.
# Overrides: SEEDS="17 18 19", ITERS=100000, DIM=100, LAM=0.1, LOG_POINTS=0, OUT=dir, PYTHON=python
# Any setting but the paper's (seed 17 included) names its files and figure after it (e.g.
# ITERS=500 → GD-17-T500.json and test_func/res/test-func-T500.png): assets/ keeps the paper's.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PYTHON=${PYTHON:-python}
SEEDS=${SEEDS:-17}
ITERS=${ITERS:-100000}
DIM=${DIM:-100}
LAM=${LAM:-0.1}
LOG_POINTS=${LOG_POINTS:-0}
OUT=${OUT:-$HERE/res}
SETTINGS=(--iters "$ITERS" --dim "$DIM" --lam "$LAM" --log-points "$LOG_POINTS" --algos GD ZO DD)

# shellcheck disable=SC2086  # SEEDS is a list
"$PYTHON" "$HERE/run_toy.py" --out "$OUT" --seeds $SEEDS "${SETTINGS[@]}" --lams
# shellcheck disable=SC2086
"$PYTHON" "$HERE/plot.py" --res "$OUT" --seeds $SEEDS "${SETTINGS[@]}" --figures 1
