#!/usr/bin/env bash
# Figure 3: ZO and GD on SST-2 (K = 32 and 256), sst-5 and trec (K = 32), then assets/roberta.png.
# A GPU job (docs/roberta.md: the time of each run). The grid is roberta/sweep.py's; this runs it
# on this machine, one run after another, resuming what an earlier call left unfinished.
# Env overrides as the paper's launchers (SEED, STEP, EVAL_STEP, MODEL, BS, LR, EPS); arguments
# go to sweep.py (e.g. --local-parallel 2, --dry-run; after `--`: to every train.py call).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
exec "${PYTHON:-python}" "$HERE/../sweep.py" fig3 --executor local "$@"
