#!/usr/bin/env bash
# Every timing and precision table of the docs, measured on this machine and written between its
# <!-- NAME:start --> / <!-- NAME:end --> markers (python -m flatzero.readme: only on change).
#
#   bash docs/measure.sh                          # every block (≈ 45 min on 2 cores)
#   bash docs/measure.sh --only toy-bench svm-bench
#   bash docs/measure.sh --help                   # the blocks, their files and rough durations
#
# Each block starts with one line: the machine (CPU model, cores, threads used), torch, the load
# average at its start and the date; then its table(s); then the exact commands. A block is
# written only after its measurement succeeded; a failing one stays as it was, the others run,
# and the script ends with status 1 naming it. Needs the test and roberta extras; no GPU, no
# network. The deterministic result tables are reproduce.sh's, not this script's.
# Env: PYTHON (default python); SVM_LONG_CHECK=N adds svm_logreg/bench.py's --long-check N
# columns (N = 2000: ≈ 25 min more).
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT" || exit 1
PY=${PYTHON:-python}
SVM_LONG_CHECK=${SVM_LONG_CHECK:-0}

BLOCKS=(toy-bench svm-bench roberta-bench trace-precision trace-cost fp64-rate data-parallel
        grad-check gpu-check-smoke cpu-demo-time test-times quickstart-times)
declare -A FILE=(
    [toy-bench]=docs/toy.md [svm-bench]=docs/svm_logreg.md
    [roberta-bench]=docs/precision-and-performance.md
    [trace-precision]=docs/precision-and-performance.md
    [trace-cost]=docs/precision-and-performance.md [fp64-rate]=docs/precision-and-performance.md
    [data-parallel]=docs/precision-and-performance.md
    [grad-check]=docs/precision-and-performance.md
    [gpu-check-smoke]=docs/precision-and-performance.md
    [cpu-demo-time]=docs/precision-and-performance.md [test-times]=docs/testing.md
    [quickstart-times]=README.md)
declare -A ABOUT=(
    [toy-bench]="1 min    test_func/bench.py: naive loop vs compiled, identical JSON"
    [svm-bench]="1 min    svm_logreg/bench.py: factorised vs materialised, peak RSS"
    [roberta-bench]="9 min    roberta/bench.py base (2 threads) and tiny (1 thread); shared with the next three"
    [trace-precision]="0 min    from roberta-bench's runs: the trace check (tiny 30, base 8 samples)"
    [trace-cost]="3 min    roberta-bench's runs + 3 train.py runs of 2000 steps (--schedule-cost)"
    [fp64-rate]="0 min    from roberta-bench's runs: matmul FP64 rate, trace sample ratio"
    [data-parallel]="11 min   bench.py --data-parallel 2: tiny (20 steps), base (5 steps)"
    [grad-check]="2 min    bench.py --grad-check 16: tiny-random (SST-2), a GD-trained copy, tiny"
    [gpu-check-smoke]="1 min    roberta/examples/gpu-check.sh --cpu-smoke: each section's time"
    [cpu-demo-time]="2 min    roberta/examples/cpu-demo.sh with 1 and 2 threads"
    [test-times]="6 min    python -m pytest, and -m 'not slow'"
    [quickstart-times]="7 min    bash reproduce.sh, and whether it left the checkout clean (README.md)")

usage() {
    echo "usage: bash docs/measure.sh [--only NAME...]"
    echo
    echo "Blocks (file; rough time on a 2-core CPU; what):"
    for name in "${BLOCKS[@]}"; do
        printf '  %-17s %-35s %s\n' "$name" "${FILE[$name]}" "${ABOUT[$name]}"
    done
}

SELECTED=()
while (( $# )); do
    case $1 in
        -h|--help) usage; exit 0 ;;
        --only) shift
                while (( $# )) && [[ $1 != -* ]]; do SELECTED+=("$1"); shift; done
                (( ${#SELECTED[@]} )) || { echo "measure.sh: error: --only needs block names" \
                                           "(see --help)" >&2; exit 2; }
                continue ;;
        *) echo "measure.sh: error: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
    shift
done
(( ${#SELECTED[@]} )) || SELECTED=("${BLOCKS[@]}")
for name in "${SELECTED[@]}"; do
    [[ -v "FILE[$name]" ]] || { echo "measure.sh: error: no block '$name'; choose from" \
                                "${BLOCKS[*]}" >&2; exit 2; }
done

has_markers() {  # has_markers FILE NAME
    grep -qF "<!-- $2:start -->" "$1" 2>/dev/null && grep -qF "<!-- $2:end -->" "$1"
}
missing=()
for name in "${SELECTED[@]}"; do
    [[ $name == quickstart-times ]] && continue  # README.md's block is optional
    has_markers "${FILE[$name]}" "$name" || missing+=("$name (${FILE[$name]})")
done
if (( ${#missing[@]} )); then
    echo "measure.sh: error: no <!-- NAME:start/end --> markers for: ${missing[*]}" >&2
    exit 2
fi
TORCH=$("$PY" -c 'import torch; print(torch.__version__)') || {
    echo "measure.sh: error: $PY cannot import torch: pip install -e '.[test,roberta]'" >&2
    exit 2; }

TMP=$(mktemp -d)
WORK=$ROOT/roberta/runs/measure  # git-ignored; the grad-check's model folder (named in its table)
trap 'rm -rf "$TMP" "$WORK"' EXIT

# --- helpers -----------------------------------------------------------------------------------

load() { cut -d' ' -f1 /proc/loadavg; }

machine() {  # machine THREADS [LOAD]: a block's first line
    local cpu
    cpu=$(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
    echo "Measured on ${cpu:-an unknown CPU} ($(nproc) cores), threads: $1; torch $TORCH;" \
         "load average ${2:-$(load)} at start; $(date +%Y-%m-%d)."
}

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }  # seconds since $1
minutes() { awk -v s="$1" 'BEGIN { printf "%.1f min (%.0f s)", s / 60, s }'; }

bench() { "$PY" roberta/bench.py "$@"; }

# The two bench runs that the roberta-bench, trace-precision, trace-cost and fp64-rate blocks
# share: measured once per call of this script, by the first of them.
roberta_runs() {
    [[ -f $TMP/rb/failed ]] && return 1
    [[ -f $TMP/rb/done ]] && return 0
    mkdir -p "$TMP/rb"
    load > "$TMP/rb/load"
    if OMP_NUM_THREADS=2 bench --size base --batch 8 --seq-len 64 --reps 3 --check-gd-steps 20 \
            --trace-check 8 --fp64-rate --device cpu --json "$TMP/rb/base.json" >&2 &&
       OMP_NUM_THREADS=1 bench --size tiny --batch 16 --seq-len 64 --reps 20 \
            --check-gd-steps 40 --trace-check 30 --fp64-rate --device cpu \
            --json "$TMP/rb/tiny.json" >&2; then
        touch "$TMP/rb/done"
    else
        touch "$TMP/rb/failed"
        return 1
    fi
}

# --- the blocks: each prints its content, or fails (status 3: skipped) --------------------------

b_toy_bench() {
    local head out
    head=$(machine "the compiled path's seeds in threads on all cores, the naive loop 1")
    out=$("$PY" test_func/bench.py --markdown) || return 1
    printf '%s\n\n%s\n' "$head" "$out"
}

b_svm_bench() {
    local head out long=()
    (( SVM_LONG_CHECK > 0 )) && long=(--long-check "$SVM_LONG_CHECK")
    head=$(machine "1 BLAS thread (this repo's side, as the CLIs), all cores (materialised)")
    out=$("$PY" svm_logreg/bench.py --markdown "${long[@]}") || return 1
    printf '%s\n\n%s\n' "$head" "$out"
}

b_roberta_bench() {
    roberta_runs || return 1
    machine "2 (base), 1 (tiny)" "$(cat "$TMP/rb/load")"
    echo
    bench --render "$TMP/rb/base.json" "$TMP/rb/tiny.json" --markdown roberta-bench
}

from_roberta_runs() {  # from_roberta_runs NAME: a block drawn from the shared bench runs alone
    roberta_runs || return 1
    machine "1 (tiny), 2 (base)" "$(cat "$TMP/rb/load")"
    echo
    bench --render "$TMP/rb/tiny.json" "$TMP/rb/base.json" --markdown "$1"
}

b_trace_precision() { from_roberta_runs trace-precision; }

b_trace_cost() {
    local start
    roberta_runs || return 1
    start=$(load)
    OMP_NUM_THREADS=1 bench --schedule-cost 2000 --json "$TMP/schedule.json" >&2 || return 1
    machine "1 (tiny, train.py), 2 (base)" "$(cat "$TMP/rb/load") (bench runs), $start (train.py runs)"
    echo
    bench --render "$TMP/rb/tiny.json" "$TMP/rb/base.json" "$TMP/schedule.json" \
        --markdown trace-cost
}

b_fp64_rate() { from_roberta_runs fp64-rate; }

b_data_parallel() {
    local head
    head=$(machine "1 process × 2 threads against 2 processes × 1 thread")
    OMP_NUM_THREADS=2 bench --size tiny --data-parallel 2 --json "$TMP/dp-tiny.json" >&2 &&
    OMP_NUM_THREADS=2 bench --size base --data-parallel 2 --dp-steps 5 \
        --json "$TMP/dp-base.json" >&2 || return 1
    printf '%s\n\n' "$head"
    bench --render "$TMP/dp-tiny.json" "$TMP/dp-base.json" --markdown data-parallel
}

b_grad_check() {
    local head flags=(--device cpu --no-gd --trace-check 0 --grad-check 16)
    local sst2=(--model tiny-random --data sst2) model=roberta/runs/measure/tiny-random-gd300
    head=$(machine 1)
    mkdir -p "$WORK" || return 1
    export OMP_NUM_THREADS=1
    bench "${sst2[@]}" "${flags[@]}" --check-gd-steps 20 --json "$TMP/g20.json" >&2 &&
    bench "${sst2[@]}" "${flags[@]}" --check-gd-steps 100 --json "$TMP/g100.json" >&2 &&
    "$PY" roberta/train.py --model tiny-random --algo gd --lr 1e-2 --steps 300 --eval-steps 300 \
        --test-every 300 --trace-every 0 --device cpu --quiet --overwrite \
        --out "$WORK/gd300" >&2 &&
    rm -rf "$model" && cp -r roberta/models/tiny-random "$model" &&
    cp "$WORK/gd300/checkpoint/model.safetensors" "$model/model.safetensors" &&
    bench --model "$model" --data sst2 "${flags[@]}" --label "train.py GD run, 300 steps at lr 1e-2" \
        --json "$TMP/g300.json" >&2 &&
    bench --size tiny --batch 16 --seq-len 64 "${flags[@]}" --check-gd-steps 40 \
        --json "$TMP/gtiny.json" >&2 || return 1
    printf '%s\n\n' "$head"
    bench --render "$TMP/g20.json" "$TMP/g100.json" "$TMP/g300.json" "$TMP/gtiny.json" \
        --markdown grad-check || return 1
    echo
    echo "\`$model\`: \`OMP_NUM_THREADS=1 python roberta/train.py --model tiny-random --algo gd" \
         "--lr 1e-2 --steps 300 --eval-steps 300 --test-every 300 --trace-every 0 --device cpu" \
         "--out roberta/runs/measure/gd300\`, then \`roberta/models/tiny-random/\` copied with its" \
         "\`model.safetensors\` replaced by \`roberta/runs/measure/gd300/checkpoint/model.safetensors\`."
}

b_gpu_check_smoke() {
    local head start secs
    head=$(machine "gpu-check.sh's own")
    start=$(now)
    bash roberta/examples/gpu-check.sh --cpu-smoke --out "$TMP/gc" >&2 || return 1
    secs=$(since "$start")
    printf '%s\n\n' "$head"
    echo "| section | status | seconds |"
    echo "|---|---|---|"
    "$PY" - "$TMP/gc/report.json" <<'EOF' || return 1
import sys

from flatzero.results import read_json

for name, sec in read_json(sys.argv[1])["sections"].items():
    print(f"| `{name}` | {sec['status']} | {sec['seconds']:.1f} |")
EOF
    echo "| the whole command, wall time | | $secs |"
    echo
    echo "Command: \`bash roberta/examples/gpu-check.sh --cpu-smoke --out DIR\`. Its numbers say" \
         "nothing about a GPU."
}

b_cpu_demo_time() {
    local head t start secs=()
    head=$(machine "1 and 2 (OMP_NUM_THREADS)")
    for t in 1 2; do
        start=$(now)
        OMP_NUM_THREADS=$t OUT=$TMP/demo$t bash roberta/examples/cpu-demo.sh >&2 || return 1
        secs+=("$(since "$start")")
    done
    printf '%s\n\n' "$head"
    echo "| \`OMP_NUM_THREADS\` | wall time of the demo (two 300-step runs and the figure) |"
    echo "|---|---|"
    echo "| 1 (the demo's default) | ${secs[0]} s |"
    echo "| 2 | ${secs[1]} s |"
    echo
    "$PY" - "$TMP/demo1" "$TMP/demo2" <<'EOF' || return 1
import sys
from pathlib import Path

from flatzero.results import read_json

TIMING = ("wall_time_s", "step_time_s", "peak_mem_gib")
one, two = map(Path, sys.argv[1:])
said = []
for algo in ("zo", "gd"):
    a, b = (read_json(d / f"SST-2-k32-{algo}" / "result.json")["log"] for d in (one, two))
    a, b = ([{k: v for k, v in r.items() if k not in TIMING} for r in log] for log in (a, b))
    if a == b:
        said.append(f"{algo.upper()}'s are identical")
        continue
    diff = max(abs(x["train_loss"] - y["train_loss"]) for x, y in zip(a, b, strict=True))
    said.append(f"{algo.upper()}'s differ (largest train-loss difference {diff:.2g})")
print("The logged numbers of the two runs (every field but the timings) with 1 and 2 threads: "
      + "; ".join(said) + ".")
EOF
    echo
    echo "Commands: \`time OMP_NUM_THREADS=1 OUT=DIR bash roberta/examples/cpu-demo.sh\`, then" \
         "\`OMP_NUM_THREADS=2\` (\`OUT\` a temporary folder: \`assets/\` untouched)."
}

pytest_row() {  # pytest_row LABEL ARGS...: run the suite, print its table row
    local label=$1 start secs summary count
    shift
    start=$(now)
    env -u OMP_NUM_THREADS -u OPENBLAS_NUM_THREADS -u MKL_NUM_THREADS -u NUMBA_NUM_THREADS \
        "$PY" -m pytest -q "$@" > "$TMP/pytest.log" 2>&1 || {
        tail -n 30 "$TMP/pytest.log" >&2; return 1; }
    secs=$(since "$start")
    summary=$(grep -E '^=*[ ]*[0-9]+ passed' "$TMP/pytest.log" | tail -n 1)
    count() { local n; n=$(grep -oE "[0-9]+ $1" <<< "$summary" | cut -d' ' -f1); echo "${n:-0}"; }
    echo "| \`$label\` | $(count passed) | $(count skipped) | $(count deselected) |" \
         "$(minutes "$secs") |"
}

b_test_times() {
    local head rows
    head=$(machine "1 per BLAS / OpenMP pool (tests/conftest.py)")
    rows=$(pytest_row "python -m pytest" && pytest_row 'python -m pytest -m "not slow"' \
           -m "not slow") || return 1
    printf '%s\n\n' "$head"
    echo "| command | passed | skipped | deselected | wall time |"
    echo "|---|---|---|---|---|"
    echo "$rows"
}

state() { git status --porcelain; git diff | sha1sum; }

b_quickstart_times() {
    local head start secs_repro before steps
    if ! has_markers README.md quickstart-times; then
        echo "measure.sh: README.md has no <!-- quickstart-times:start/end --> markers:" \
             "quickstart-times skipped" >&2
        return 3
    fi
    head=$(machine "reproduce.sh's own")
    before=$(state)
    start=$(now)
    bash reproduce.sh > "$TMP/reproduce.log" 2>&1 || { tail -n 30 "$TMP/reproduce.log" >&2
                                                       return 1; }
    secs_repro=$(since "$start")
    steps=$(sed -n 's/^-- \(.*\) took \([0-9]*\) s$/`\1` \2 s/p' "$TMP/reproduce.log" |
            paste -sd ';' | sed 's/;/; /g')
    printf '%s\n\n' "$head"
    echo "\`bash reproduce.sh\` (in this checkout, its venv installed): $(minutes "$secs_repro");" \
         "its steps: ${steps:-none timed}. Files it changed in the checkout:" \
         "$([[ $(state) == "$before" ]] && echo none || echo "**some** (git status)")." \
         "The tests' times: [docs/testing.md](docs/testing.md)."
}

# --- run ---------------------------------------------------------------------------------------

failed=() skipped=() times=()
total=$(now)
for name in "${SELECTED[@]}"; do
    echo "== $name (${FILE[$name]}) ==" >&2
    start=$(now)
    out=$("b_${name//-/_}")
    rc=$?
    secs=$(since "$start")
    if (( rc == 0 )) && [[ -n $out ]]; then
        printf '%s\n' "$out" | "$PY" -m flatzero.readme "${FILE[$name]}" "$name" ||
            failed+=("$name")
    elif (( rc == 3 )); then
        skipped+=("$name")
    else
        echo "measure.sh: $name failed (status $rc); ${FILE[$name]} left as it was" >&2
        failed+=("$name")
    fi
    times+=("$name ${secs} s")
done
echo "== done in $(minutes "$(since "$total")") ==" >&2
printf '  %s\n' "${times[@]}" >&2
(( ${#skipped[@]} )) && echo "skipped: ${skipped[*]}" >&2
if (( ${#failed[@]} )); then
    echo "measure.sh: failed: ${failed[*]}" >&2
    exit 1
fi
