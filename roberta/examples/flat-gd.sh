#!/usr/bin/env bash
# First-order SGD prompt fine-tuning with Hessian-trace tracking (the paper's flat-gd.sh):
# SST-2, K = 32, seed 42, lr 5e-5, 100,000 full-batch steps unless overridden.
# Env overrides: TASK, K, SEED, BS, LR, STEP, EVAL_STEP, MODEL; extra arguments go to train.py
# (e.g. --resume, --wandb, --out DIR). BS=64 gives the launchers' mini-batches.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=roberta/examples/env-flags.sh
source "$HERE/env-flags.sh"
FLAGS=(--algo gd)
EPS='' env_flags
exec "${PYTHON:-python}" "$HERE/../train.py" "${FLAGS[@]}" "$@"
