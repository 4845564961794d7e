#!/usr/bin/env bash
# Figure 4: ZO with λ ∈ {0.1, 0.05, 0.01} on the toy loss → test_func/res/lam-<seed>.json, then
# assets/test-func-lam.png with the theory (GD on the smoothed loss) drawn in.
# Overrides: SEEDS="17 18 19", ITERS=100000, DIM=100, LAMS="0.1 0.05 0.01", LOG_POINTS=0, OUT=dir
# Any setting but the paper's (seed 17 included) names its files and figure after it (e.g.
# ITERS=500 → lam-17-T500.json and test_func/res/test-func-lam-T500.png).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PYTHON=${PYTHON:-python}
SEEDS=${SEEDS:-17}
ITERS=${ITERS:-100000}
DIM=${DIM:-100}
LAMS=${LAMS:-0.1 0.05 0.01}
LOG_POINTS=${LOG_POINTS:-0}
OUT=${OUT:-$HERE/res}
# shellcheck disable=SC2206  # LAMS is a list
SETTINGS=(--iters "$ITERS" --dim "$DIM" --lams $LAMS --log-points "$LOG_POINTS")

# shellcheck disable=SC2086  # SEEDS is a list
"$PYTHON" "$HERE/run_toy.py" --out "$OUT" --seeds $SEEDS "${SETTINGS[@]}" --algos
# shellcheck disable=SC2086
"$PYTHON" "$HERE/plot.py" --res "$OUT" --seeds $SEEDS "${SETTINGS[@]}" --figures 4
