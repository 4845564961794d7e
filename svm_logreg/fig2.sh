#!/usr/bin/env bash
# Figure 2: GD vs ZO for the SVM and logistic regression on a5a and w5a (10000 iterations each)
# → res_svm/, res_logreg/, then assets/svm-logreg.png and the trace-vs-loss view
# assets/svm-logreg-trace-loss.png. Uses the real a5a/w5a when present in svm_logreg/data/, else
# the offline re-splits of the shipped a9a/w8a.
# Overrides: SEEDS="29 30", STEP=10000, N_PARAMS=10000, JOBS=2 (runs in parallel), PYTHON=python
# Settings other than the paper's (seed 29 included) name their files after them and draw into
# svm_logreg/res_figures/ (the plot says where): assets/ keeps the paper's figures.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=svm_logreg/runs.sh
source "$HERE/runs.sh"
run_grid <<'SPECS'
svm.py --algo gd --lr 1e-4
svm.py --algo zo --lr 1e-4 --lam 0.05
logreg.py --algo gd --lr 0.01
logreg.py --algo zo --lr 0.01 --lam 0.1
SPECS
plot_figures 2 trace-loss
