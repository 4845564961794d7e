#!/usr/bin/env bash
# Figure 6 (complementary runs): Figure 3's SST-2 K = 32 setting over LM-BFF's five split seeds,
# ZO and GD, then assets/roberta-seeds.png (mean and spread over the seeds). The grid is
# roberta/sweep.py's; this runs it on this machine, resuming what an earlier call left.
# Env overrides: SEEDS="13 21", and the paper's launchers' (STEP, EVAL_STEP, MODEL, ...);
# arguments go to sweep.py (after `--`: to every train.py call).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
exec "${PYTHON:-python}" "$HERE/../sweep.py" fig6 --executor local "$@"
