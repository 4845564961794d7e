# Sourced by fig2.sh and fig5.sh: data choice and a small parallel job runner.

# The real a5a / w5a when their files are present, else the offline re-split stand-ins.
pick_data() {  # pick_data a5a → prints a5a or a5a-resplit
    if [[ -f "$HERE/data/$1" && -f "$HERE/data/$1.t" ]]; then
        echo "$1"
    else
        echo "$1-resplit"
    fi
}

say_data() {
    if [[ "$1" == *-resplit ]]; then
        echo "data: $1 — offline stand-in (real ${1%-resplit} files missing: bash svm_logreg/prepare_data.sh)"
    else
        echo "data: $1 — the real LIBSVM files"
    fi
}

# run_all CMD... : run the command lines read from stdin, JOBS at a time; fail if any fails.
run_all() {
    # One BLAS thread per run when runs share the cores.
    if (( JOBS > 1 )); then export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}; fi
    xargs -d '\n' -P "$JOBS" -I{} bash -c '{}'
}
