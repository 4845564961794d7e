#!/usr/bin/env bash
# Figure 5, the complementary runs: SAM (radius = the launchers' λ) and ZO at the smaller λ the
# paper's text reports (SVM 0.005, logistic regression 0.01), on a5a and w5a → res_svm/,
# res_logreg/, then assets/svm-logreg-extra.png (GD and ZO of Figure 2 drawn too when present)
# and the trace-vs-loss view with every run.
# Overrides: SEEDS="29 30", STEP=10000, N_PARAMS=10000, JOBS=2 (runs in parallel), PYTHON=python
# Settings other than the paper's (seed 29 included) draw into svm_logreg/res_figures/.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=svm_logreg/runs.sh
source "$HERE/runs.sh"
run_grid <<'SPECS'
svm.py --algo sam --lr 1e-4 --lam 0.05
svm.py --algo zo --lr 1e-4 --lam 0.005
logreg.py --algo sam --lr 0.01 --lam 0.1
logreg.py --algo zo --lr 0.01 --lam 0.01
SPECS
plot_figures 5 trace-loss
