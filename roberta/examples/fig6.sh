#!/usr/bin/env bash
# Figure 6 (complementary runs): seed variance of Figure 3's SST-2 K = 32 setting over LM-BFF's
# five split seeds, ZO and GD; the plot draws the mean and a min–max band.
# Env overrides: SEEDS, TASK, K, STEP, EVAL_STEP, MODEL; extra arguments go to train.py.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SEEDS=${SEEDS:-13 21 42 87 100}
for seed in $SEEDS; do
    SEED=$seed bash "$HERE/flat-zo.sh" "$@"
    SEED=$seed bash "$HERE/flat-gd.sh" "$@"
done
"${PYTHON:-python}" "$HERE/../plot.py" --out "$HERE/../../assets/roberta-seeds.png"
