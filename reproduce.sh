#!/usr/bin/env bash
# The main CPU job: every CPU figure of the paper from the data shipped in this repo, no network.
# Writes JSON under each experiment folder and PNGs under assets/.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export PYTHON=${PYTHON:-python}

echo "== Figures 1 and 4: toy loss (x^T y - 1)^2/2 =="
bash "$ROOT/test_func/fig1.sh"
bash "$ROOT/test_func/fig4.sh"

echo "== Figures 2 and 5: over-parameterised SVM and logistic regression (a5a, w5a) =="
bash "$ROOT/svm_logreg/fig2.sh"
bash "$ROOT/svm_logreg/fig5.sh"
