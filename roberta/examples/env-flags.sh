# Sourced by flat-zo.sh and flat-gd.sh: the paper's launchers' env overrides → train.py flags,
# only those set (train.py holds every default).
env_flags() {
    local pair var
    for pair in TASK:--task K:--k SEED:--seed BS:--batch-size LR:--lr EPS:--eps STEP:--steps \
                EVAL_STEP:--eval-steps MODEL:--model; do
        var=${pair%%:*}
        if [[ -n ${!var:-} ]]; then FLAGS+=("${pair#*:}" "${!var}"); fi
    done
}
