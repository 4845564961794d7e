#!/usr/bin/env bash
# Figure 4, panel (b) of the published figure: ZO with λ ∈ {0.01, 0.05, 0.1} on the toy loss
# → test_func/res/lam-13.json, then assets/test-func-lam.png, and assets/test-func-theory.png:
# ZO against the path theory predicts (GD on the smoothed loss F).
# Overrides: SEEDS="13 14 15", ITERS=100000, DIM=100, LAMS="0.1 0.05 0.01", LOG_POINTS=0, OUT=dir
# The default seed 13 is the published figure's; SEEDS=17 is the authors' run_toy.py. Any setting
# but the published figure's names its files and figures after it (e.g. SEEDS=17 → lam-17.json
# and test_func/res/test-func-lam-seeds17.png; ITERS=500 → lam-13-T500.json).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PYTHON=${PYTHON:-python}
# shellcheck source=test_func/env-flags.sh
source "$HERE/env-flags.sh"
"$PYTHON" "$HERE/run_toy.py" "${RUN[@]}" --algos
"$PYTHON" "$HERE/plot.py" "${PLOT[@]}" --figures 4 theory
