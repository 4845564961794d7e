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
    local py a w spec n seed_flags=("") settings=""
    py=$(printf %q "${PYTHON:-python}")
    JOBS=${JOBS:-2}
    a=$(pick_data a5a); w=$(pick_data w5a)
    say_data "$a"; say_data "$w"
    mapfile -t specs
    if [[ -n ${SEEDS:-} ]]; then  # else the runners' default seed
        seed_flags=()
        for seed in $SEEDS; do seed_flags+=("--seed $seed"); done
    fi
    [[ -z ${STEP:-} ]] || settings+=" --max_iter $STEP"
    [[ -z ${N_PARAMS:-} ]] || settings+=" --n_params $N_PARAMS"
    n=$(( ${#specs[@]} * 2 * ${#seed_flags[@]} ))
    echo "$n runs, $JOBS at a time; one line per finished run:"
    for data in $a $w; do
        for seed in "${seed_flags[@]}"; do
            for spec in "${specs[@]}"; do
                echo "$py $(printf %q "$HERE/${spec%% *}") ${spec#* } --data $data $seed" \
                     "$settings --quiet"
            done
        done
    done | xargs -d '\n' -P "$JOBS" -I{} bash -c '{}'
}

# plot_figures 2 trace-loss: draw these figures from the runs of the same SEEDS, STEP, N_PARAMS,
# SVM_GD_LR and SVM_SAM_LR.
plot_figures() {
    local flags=()
    # shellcheck disable=SC2206  # SEEDS is a list
    [[ -z ${SEEDS:-} ]] || flags+=(--seeds $SEEDS)
    [[ -z ${STEP:-} ]] || flags+=(--max_iter "$STEP")
    [[ -z ${N_PARAMS:-} ]] || flags+=(--n_params "$N_PARAMS")
    [[ -z ${SVM_GD_LR:-} ]] || flags+=(--svm-gd-lr "$SVM_GD_LR")
    [[ -z ${SVM_SAM_LR:-} ]] || flags+=(--svm-sam-lr "$SVM_SAM_LR")
    "${PYTHON:-python}" "$HERE/plot.py" --figures "$@" "${flags[@]}"
}
