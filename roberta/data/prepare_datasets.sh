#!/usr/bin/env bash
# Originals for the RoBERTa experiments, then the k-shot splits (K = 32, 256; seeds 13 21 42 87
# 100) in roberta/data/k-shot-1k-test/. The repo ships the originals (data/original/, checked by
# SHA256SUMS); when they are missing this fetches LM-BFF's data tarball (needs internet) and, as
# the paper's script does, uses its GLUE-SST-2 as SST-2.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PY=${PYTHON:-python}
cd "$HERE"
need=0
for f in original/SST-2/train.tsv original/SST-2/dev.tsv original/trec/train.csv \
         original/trec/test.csv; do
    [[ -f "$f" ]] || need=1
done
[[ -f original/sst-5/stsa.fine.train || -f original/sst-5/train.csv ]] || need=1
if (( need )); then
    URL=${LMBFF_URL:-https://nlp.cs.princeton.edu/projects/lm-bff/datasets.tar}
    echo "originals missing: downloading $URL"
    if ! curl -fsSL --retry 3 -o datasets.tar.part "$URL"; then
        rm -f datasets.tar.part
        echo "error: could not download the LM-BFF data. Put GLUE SST-2 (train.tsv, dev.tsv) in" \
             "roberta/data/original/SST-2/, SST-5 (stsa.fine.train/test or train.csv/test.csv) in" \
             "original/sst-5/ and TREC (train.csv, test.csv) in original/trec/" >&2
        exit 1
    fi
    mv datasets.tar.part datasets.tar
    tar xf datasets.tar
    mkdir -p original/SST-2 original/sst-5 original/trec
    cp original/GLUE-SST-2/train.tsv original/GLUE-SST-2/dev.tsv original/SST-2/
    rm -f datasets.tar
fi
cd "$HERE/../.."
"$PY" roberta/data.py --k 32 256
