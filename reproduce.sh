#!/usr/bin/env bash
# The main CPU job: every CPU figure of the paper from the data shipped in this repo, no network,
# and the RoBERTa pipeline's CPU demo (needs the roberta extra).
# Writes JSON under each experiment folder, PNGs under assets/, and refreshes the generated tables
# of README.md and docs/ from that JSON (between their <!-- name:start/end --> markers).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export PYTHON=${PYTHON:-python}
# The published figures' runs only: a SEEDS, ITERS, STEP, ... left in the environment would draw
# elsewhere.
unset SEEDS ITERS DIM LAM LAMS LOG_POINTS OUT STEP N_PARAMS EVAL_STEP TRACE_EVERY SVM_GD_LR \
    SVM_SAM_LR
timed() {  # timed CMD...: run it, then say how long it took
    local start=$SECONDS
    "$@"
    echo "-- $(basename "$2") took $(( SECONDS - start )) s"
}

echo "== Figures 1 and 4: toy loss (x^T y - 1)^2/2 =="
timed bash "$ROOT/test_func/fig1.sh"
timed bash "$ROOT/test_func/fig4.sh"
echo "-- the authors' run_toy.py seed 17, for docs/toy.md"
"$PYTHON" "$ROOT/test_func/run_toy.py" --seeds 17

echo "== Figures 2 and 5: over-parameterised SVM and logistic regression (a5a, w5a) =="
timed bash "$ROOT/svm_logreg/fig2.sh"
timed bash "$ROOT/svm_logreg/fig5.sh"
echo "-- the SVM's GD and SAM at the authors' launcher lr 1e-4, for docs/svm_logreg.md"
(
    HERE="$ROOT/svm_logreg"
    # shellcheck source=svm_logreg/runs.sh
    source "$HERE/runs.sh"
    for algo in gd sam; do
        for data in $(pick_data a5a) $(pick_data w5a); do
            "$PYTHON" "$HERE/svm.py" --algo "$algo" --lr 1e-4 --data "$data" --quiet &
        done
        wait
    done
)
echo "-- logistic regression, w5a, ZO: the candidate causes, for docs/svm_logreg.md"
timed "$PYTHON" "$ROOT/svm_logreg/search.py" --rerun --readme "$ROOT/docs/svm_logreg.md"

echo "== RoBERTa on a CPU: the mechanics demo (a random tiny model, not Figure 3) =="
timed bash "$ROOT/roberta/examples/cpu-demo.sh"

echo "== Generated tables, from the JSON: README.md and docs/ =="
TOY=("$PYTHON" "$ROOT/test_func/plot.py")
SVM=("$PYTHON" "$ROOT/svm_logreg/plot.py")
"${TOY[@]}" --compare-published --seeds 13 --summary --readme "$ROOT/README.md"
"${TOY[@]}" --compare-published --seeds 13 --readme "$ROOT/docs/toy.md"
"${TOY[@]}" --compare-published --seeds 17 --summary --readme "$ROOT/docs/toy.md" \
    --marker toy-published-seed17
"${TOY[@]}" --table --seeds 13 17 --readme "$ROOT/docs/toy.md"
"${SVM[@]}" --compare-published --seeds 29 --summary --readme "$ROOT/README.md"
"${SVM[@]}" --compare-published --seeds 29 --readme "$ROOT/docs/svm_logreg.md"
"${SVM[@]}" --compare-published --seeds 29 --svm-gd-lr 1e-4 --summary \
    --readme "$ROOT/docs/svm_logreg.md" --marker svm-published-launcher
"${SVM[@]}" --table --seeds 29 --readme "$ROOT/docs/svm_logreg.md"
"${SVM[@]}" --table --seeds 29 --svm-sam-lr 1e-4 --readme "$ROOT/docs/svm_logreg.md" \
    --marker svm-table-sam-launcher
ROBERTA=("$PYTHON" "$ROOT/roberta/plot.py")
"${ROBERTA[@]}" --runs "$ROOT/roberta/runs/cpu-demo" --table --readme "$ROOT/docs/roberta.md" \
    --marker roberta-demo-table
# Figure 3 needs a GPU: without its runs these tables list the published key points alone.
"${ROBERTA[@]}" --compare-published --summary --readme "$ROOT/README.md"
"${ROBERTA[@]}" --compare-published --readme "$ROOT/docs/roberta.md"
echo "done in $SECONDS s"
