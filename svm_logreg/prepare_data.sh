#!/usr/bin/env bash
# Download the paper's LIBSVM data sets a5a, a5a.t, w5a, w5a.t into svm_logreg/data/ and verify
# them offline by structure: a5a ∪ a5a.t must be exactly the rows of the shipped a9a (w5a ∪ w5a.t
# those of w8a), with the documented row counts. Files already present are verified and, when they
# fail, downloaded again. Needs internet; offline, use --data a5a-resplit / w5a-resplit.
# Overrides: LIBSVM_URL (a mirror, or file:///folder), DATA_DIR=svm_logreg/data, SETS="a5a w5a",
# PYTHON=python
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
URL=${LIBSVM_URL:-https://www.csie.ntu.edu.tw/~cjlin/libsvmtools/datasets/binary}
DATA_DIR=${DATA_DIR:-$HERE/data}
PYTHON=${PYTHON:-python}

verify() {  # verify a5a → one line on stdout, or the error on stderr and status 1
    "$PYTHON" "$HERE/data.py" --check "$1" --data-dir "$DATA_DIR"
}

fetch() {  # fetch a5a.t → downloaded into DATA_DIR, atomically (a .part file, then a rename)
    echo "downloading $1"
    if ! curl -fsSL --retry 3 -o "$DATA_DIR/$1.part" "$URL/$1"; then
        rm -f "$DATA_DIR/$1.part"
        echo "error: could not download $URL/$1; get it by hand into $DATA_DIR, or run" \
             "offline with --data a5a-resplit / w5a-resplit" >&2
        exit 1
    fi
    mv "$DATA_DIR/$1.part" "$DATA_DIR/$1"
}

for name in ${SETS:-a5a w5a}; do
    if [[ -f "$DATA_DIR/$name" && -f "$DATA_DIR/$name.t" ]]; then
        if verify "$name" 2>/dev/null; then continue; fi
        echo "$name / $name.t are present but do not verify: downloading them again"
    fi
    fetch "$name"
    fetch "$name.t"
    if ! verify "$name"; then
        rm -f "$DATA_DIR/$name" "$DATA_DIR/$name.t"
        echo "error: the downloaded $name / $name.t do not verify (removed); check LIBSVM_URL" >&2
        exit 1
    fi
done
