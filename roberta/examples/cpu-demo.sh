#!/usr/bin/env bash
# Figure 3's protocol on a CPU, as a mechanics demo: SST-2 K = 32, ZO and GD, the Hessian-trace
# estimate and the test accuracy, on `--model tiny-random` (a small random RoBERTa built locally:
# no GPU, no download). Under a minute on two cores. Its curves show that the pipeline runs end to
# end, not the paper's result: the model is random and tiny.
# Env overrides: STEP, EVAL_STEP, TRACE_EVERY, OUT; extra arguments go to every train.py call.
# With any of them the figure goes to $OUT/cpu-demo.png; assets/ keeps the default demo's.
# One torch thread unless OMP_NUM_THREADS says otherwise: GD's logged numbers depend on the
# thread count, so the committed figure reproduces on any machine, and one thread is not slowed
# by other work on the machine; on an idle machine two are faster (docs/precision-and-performance.md).
set -euo pipefail
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
ROBERTA=$ROOT/roberta
PY=${PYTHON:-python}
STEP=${STEP:-300}
EVAL_STEP=${EVAL_STEP:-100}
TRACE_EVERY=${TRACE_EVERY:-50}
OUT=${OUT:-$ROBERTA/runs/cpu-demo}
# Larger steps than the paper's (1e-5 / 5e-5 suit a pre-trained model, not a random one), so that
# a few hundred steps move the loss.
for algo in zo gd; do
    if [[ $algo == zo ]]; then lr=1e-3; else lr=1e-2; fi
    echo "cpu-demo: ${algo^^}, $STEP steps on tiny-random (lr $lr) ..."
    "$PY" "$ROBERTA/train.py" --model tiny-random --task SST-2 --k 32 --seed 42 --algo "$algo" \
        --lr "$lr" --steps "$STEP" --eval-steps "$EVAL_STEP" --trace-every "$TRACE_EVERY" \
        --trace-samples 20 --device cpu --out "$OUT/SST-2-k32-$algo" --overwrite "$@"
done
# Only the default demo draws into assets/; any override draws beside its runs.
FIG=$ROOT/assets/roberta-cpu-demo.png
if [[ $STEP != 300 || $EVAL_STEP != 100 || $TRACE_EVERY != 50 || $# -gt 0 \
      || $OUT != "$ROBERTA/runs/cpu-demo" ]]; then
    FIG=$OUT/cpu-demo.png
fi
"$PY" "$ROBERTA/plot.py" --runs "$OUT" --out "$FIG" \
    --title "CPU mechanics demo on a random tiny RoBERTa — not the paper's result"
