#!/usr/bin/env bash
# Download the paper's LIBSVM data sets a5a, a5a.t, w5a, w5a.t into svm_logreg/data/ and check
# them (row counts, feature range). Needs internet; offline, use --data a5a-resplit / w5a-resplit.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
URL=${LIBSVM_URL:-https://www.csie.ntu.edu.tw/~cjlin/libsvmtools/datasets/binary}
cd "$HERE/data"
for f in a5a a5a.t w5a w5a.t; do
    if [[ -f "$f" ]]; then echo "$f: present"; continue; fi
    echo "downloading $f"
    if ! curl -fsSL --retry 3 -o "$f.part" "$URL/$f"; then
        rm -f "$f.part"
        echo "error: could not download $URL/$f; get it by hand into svm_logreg/data/, or run" \
             "offline with --data a5a-resplit / w5a-resplit" >&2
        exit 1
    fi
    mv "$f.part" "$f"
done
"${PYTHON:-python}" - <<'PY'
from svm_logreg import data
for name in ("a5a", "w5a"):
    try:
        ds = data.load(name)
    except data.DataError as exc:
        raise SystemExit(f"error: {exc}")
    print(f"{name}: {ds.X_train.shape[0]} train / {ds.X_test.shape[0]} test rows, "
          f"{ds.n_features} features: ok")
PY
