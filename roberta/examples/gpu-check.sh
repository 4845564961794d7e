#!/usr/bin/env bash
# The first thing to run on a GPU machine (≤ 10 min on one H100-class GPU): device, driver and
# versions; the FP64 rate and the trace precision --trace-dtype auto picks; bench.py at
# RoBERTa-large size (B = 64, L = 128) in fp32 / tf32 / bf16, with GD's deterministic-algorithm
# cost; the projected-gradient error of tf32 / bf16; a 200-step SST-2 K = 32 ZO run through
# train.py; GD and ZO stopped by SIGTERM and resumed against uninterrupted, bit for bit; with
# 2+ GPUs, 1 against 2 processes (NCCL). Prints a table; the report goes to
# roberta/runs/gpu-check/report.json (--out DIR: DIR/report.json). Exit status 1 if a check
# failed; without a CUDA GPU one line on stderr and exit 1.
# Arguments go to roberta/gpu_check.py (--help; --cpu-smoke: every step on the CPU, tiny sizes).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
exec "${PYTHON:-python}" "$ROOT/roberta/gpu_check.py" "$@"
