#!/usr/bin/env bash
# ZO-SGD prompt fine-tuning with Hessian-trace tracking (the paper's flat-zo.sh).
# Env overrides: TASK, K, SEED, BS, LR, EPS, STEP, EVAL_STEP, MODEL; extra arguments go to train.py
# (e.g. --resume, --wandb, --out DIR).
# Batch: the paper's text says full batch, its launchers say BS=64. BS=0 (default) is the full
# k-shot train set; BS=64 reproduces the launchers' sampling: batches of 64 from a permutation
# drawn every epoch, the last batch of an epoch holding the remaining rows. That is the full
# batch for SST-2 K = 32 (64 rows) only; K = 256, sst-5 and trec get mini-batches.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
TASK=${TASK:-SST-2}
K=${K:-32}
SEED=${SEED:-42}
BS=${BS:-0}
LR=${LR:-1e-5}
EPS=${EPS:-2e-3}
STEP=${STEP:-100000}
EVAL_STEP=${EVAL_STEP:-1000}
MODEL=${MODEL:-roberta-large}

"${PYTHON:-python}" "$HERE/../train.py" --algo zo --task "$TASK" --k "$K" --seed "$SEED" \
    --batch-size "$BS" --lr "$LR" --eps "$EPS" --steps "$STEP" --eval-steps "$EVAL_STEP" \
    --model "$MODEL" "$@"
