#!/usr/bin/env bash
# Figure 3: ZO and GD on SST-2 (K = 32 and 256), sst-5 and trec (K = 32), then
# assets/roberta.png. A GPU job: see the README for the time of each run.
# Env overrides: SEED, STEP, EVAL_STEP, MODEL (and the flat-*.sh ones); extra arguments go to
# every train.py call (e.g. --resume after an interruption).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
for setting in "SST-2 32" "SST-2 256" "sst-5 32" "trec 32"; do
    read -r task k <<< "$setting"
    TASK=$task K=$k bash "$HERE/flat-zo.sh" "$@"
    TASK=$task K=$k bash "$HERE/flat-gd.sh" "$@"
done
"${PYTHON:-python}" "$HERE/../plot.py"
