# Sourced by fig2.sh and fig5.sh: the data choice and the run grid of a figure.
# Env overrides: SEEDS="29 30", STEP=10000, N_PARAMS=10000, JOBS=2 (runs in parallel), PYTHON,
# SVM_GD_LR (the SVM's GD and SAM lr; default: the published figure's, 1e-3 — the authors'
# train_svm.sh runs every algorithm at 1e-4: SVM_GD_LR=1e-4), SVM_SAM_LR (SAM's alone).

# The flags that pass SVM_GD_LR / SVM_SAM_LR on, if set (the defaults are stated once, in
# train.py).
svm_gd_lr() { [[ -n "${SVM_GD_LR:-}" ]] && echo "--lr $SVM_GD_LR" || true; }
svm_sam_lr() {
    local lr=${SVM_SAM_LR:-${SVM_GD_LR:-}}
    [[ -n "$lr" ]] && echo "--lr $lr" || true
}

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

# run_grid: each stdin line is "<script> <flags>" (e.g. "svm.py --algo zo --lam 0.05"); runs it
# on a5a and w5a for every seed, JOBS at a time; fails if any run fails. Each run prints one line
# when it ends (a single write, so parallel runs never interleave).
run_grid() {
    local py seeds=${SEEDS:-29} step=${STEP:-10000} n_params=${N_PARAMS:-10000} a w spec n
    py=$(printf %q "${PYTHON:-python}")
    JOBS=${JOBS:-2}
    a=$(pick_data a5a); w=$(pick_data w5a)
    say_data "$a"; say_data "$w"
    mapfile -t specs
    # shellcheck disable=SC2086  # seeds is a list
    n=$(( ${#specs[@]} * 2 * $(set -- $seeds; echo $#) ))
    echo "$n runs of $step iterations (D = $n_params), $JOBS at a time; one line per finished run:"
    for data in $a $w; do
        for seed in $seeds; do
            for spec in "${specs[@]}"; do
                echo "$py $(printf %q "$HERE/${spec%% *}") ${spec#* } --data $data --seed $seed" \
                     "--max_iter $step --n_params $n_params --quiet"
            done
        done
    done | xargs -d '\n' -P "$JOBS" -I{} bash -c '{}'
}

# plot_figures 2 trace-loss: draw these figures from the runs of the same SEEDS, STEP, N_PARAMS,
# SVM_GD_LR and SVM_SAM_LR.
plot_figures() {
    local lr=()
    [[ -n "${SVM_GD_LR:-}" ]] && lr=(--svm-gd-lr "$SVM_GD_LR")
    [[ -n "${SVM_SAM_LR:-}" ]] && lr+=(--svm-sam-lr "$SVM_SAM_LR")
    # shellcheck disable=SC2086  # SEEDS is a list
    "${PYTHON:-python}" "$HERE/plot.py" --figures "$@" --seeds ${SEEDS:-29} \
        --max_iter "${STEP:-10000}" --n_params "${N_PARAMS:-10000}" "${lr[@]}"
}
