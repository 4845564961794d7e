#!/usr/bin/env bash
# The main CPU job: every CPU figure of the paper from the data shipped in this repo, no network,
# and the RoBERTa pipeline's CPU demo (needs the roberta extra).
# Writes JSON under each experiment folder, PNGs under assets/, and refreshes the results tables
# of README.md from that JSON (between its <!-- toy-table --> and <!-- svm-table --> markers).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export PYTHON=${PYTHON:-python}
# The paper's runs only: a SEEDS, ITERS, STEP, ... left in the environment would draw elsewhere.
unset SEEDS ITERS DIM LAM LAMS LOG_POINTS OUT STEP N_PARAMS EVAL_STEP TRACE_EVERY
timed() {  # timed CMD...: run it, then say how long it took
    local start=$SECONDS
    "$@"
    echo "-- $(basename "$2") took $(( SECONDS - start )) s"
}

echo "== Figures 1 and 4: toy loss (x^T y - 1)^2/2 =="
timed bash "$ROOT/test_func/fig1.sh"
timed bash "$ROOT/test_func/fig4.sh"

echo "== Figures 2 and 5: over-parameterised SVM and logistic regression (a5a, w5a) =="
timed bash "$ROOT/svm_logreg/fig2.sh"
timed bash "$ROOT/svm_logreg/fig5.sh"

echo "== RoBERTa on a CPU: the mechanics demo (a random tiny model, not Figure 3) =="
timed bash "$ROOT/roberta/examples/cpu-demo.sh"

echo "== README results tables, from the JSON =="
"$PYTHON" "$ROOT/test_func/plot.py" --table --seeds 17 --readme "$ROOT/README.md"
"$PYTHON" "$ROOT/svm_logreg/plot.py" --table --seeds 29 --readme "$ROOT/README.md"
echo "done in $SECONDS s"
