# Sourced by fig1.sh and fig4.sh: the env overrides that are set, as flags of run_toy.py (RUN)
# and of plot.py (PLOT); every default lives in run_toy.py.
RUN=() PLOT=()
for pair in SEEDS:--seeds LAMS:--lams ITERS:--iters DIM:--dim LAM:--lam LOG_POINTS:--log-points; do
    var=${pair%%:*}
    if [[ -n ${!var:-} ]]; then
        # shellcheck disable=SC2206  # SEEDS and LAMS are lists
        RUN+=("${pair#*:}" ${!var}) && PLOT+=("${pair#*:}" ${!var})
    fi
done
if [[ -n ${OUT:-} ]]; then RUN+=(--out "$OUT"); PLOT+=(--res "$OUT"); fi
