"""LIBSVM data sets: loading, integrity checks and the offline re-splits (see data/README.md).

A :class:`Dataset` holds the *raw* sparse features and ±1 labels of one train/test split; the
standardisation and random features of the paper are applied in features.py.

The shipped files are checked against ``SHA256SUMS`` on every load. The real a5a / w5a (which
``prepare_data.sh`` downloads) are checked by structure, offline: their rows together must be
exactly the rows of the shipped a9a (w8a), with the documented row counts.

    python svm_logreg/data.py --check a5a w5a      # what prepare_data.sh runs after a download
"""

from __future__ import annotations

import hashlib
import re
import sys
from collections import Counter
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from sklearn.datasets import load_svmlight_file

DATA_DIR = Path(__file__).resolve().parent / "data"
RESPLIT_SEED = 0  # the documented permutation of the offline stand-ins
GET_REAL = "run `bash svm_logreg/prepare_data.sh` (needs internet) to download it"


class DataError(Exception):
    """A data file is missing, corrupt or inconsistent; the message says how to fix it."""


@dataclass(frozen=True)
class Spec:
    n_features: int
    n_train: int
    n_test: int
    train_file: str
    test_file: str | None  # None: a re-split of train_file's rows
    source: str
    superset: str | None = None  # a shipped file holding exactly the rows of train + test


SPECS = {
    "a5a": Spec(123, 6414, 26147, "a5a", "a5a.t", "LIBSVM a5a / a5a.t (real files)", "a9a"),
    "w5a": Spec(300, 9888, 39861, "w5a", "w5a.t", "LIBSVM w5a / w5a.t (real files)", "w8a"),
    "a5a-resplit": Spec(123, 6414, 26147, "a9a", None,
                        "offline stand-in for a5a: the a9a rows re-split 6414 / 26147"),
    "w5a-resplit": Spec(300, 9888, 39861, "w8a", None,
                        "offline stand-in for w5a: the w8a rows re-split 9888 / 39861"),
    "a9a": Spec(123, 32561, 16281, "a9a", "a9a.t", "LIBSVM a9a / a9a.t (real files)"),
}
NAMES = tuple(SPECS)
SHIPPED = ("a9a", "a9a.t", "w8a")


@dataclass
class Dataset:
    """Raw LIBSVM features (CSR, n × n_features) and labels (±1 as float) of a train/test split."""

    name: str
    source: str
    X_train: sp.csr_matrix
    y_train: np.ndarray
    X_test: sp.csr_matrix
    y_test: np.ndarray

    @property
    def n_features(self) -> int:
        return self.X_train.shape[1]


_SUM_LINE = re.compile(r"([0-9a-f]{64}) [ *](\S+)")


def checksums(data_dir: Path) -> dict[str, str]:
    """{file name: sha256} of ``data_dir``/SHA256SUMS (``sha256sum`` format), which must exist
    and list every shipped file."""
    manifest = data_dir / "SHA256SUMS"
    if not data_dir.is_dir():
        raise DataError(f"--data-dir {data_dir} is not a folder; the LIBSVM files and their "
                        f"SHA256SUMS are in {DATA_DIR}")
    if not manifest.is_file():
        raise DataError(f"--data-dir {data_dir} has no SHA256SUMS, so it is not a svm_logreg "
                        f"data folder (the shipped one is {DATA_DIR}; restore a lost one with "
                        "`git checkout -- svm_logreg/data/SHA256SUMS`)")
    sums = {}
    for number, line in enumerate(manifest.read_text().splitlines(), 1):
        if not line.strip():
            continue
        match = _SUM_LINE.fullmatch(line.strip())
        if match is None:
            raise DataError(f"{manifest} line {number} is malformed ({line.strip()[:60]!r}); "
                            "expected '<64 hex digits>  <file name>' as sha256sum writes it")
        sums[match[2]] = match[1]
    for name in SHIPPED:
        if name not in sums:
            raise DataError(f"{manifest} has no checksum for {name}; restore it with "
                            "`git checkout -- svm_logreg/data/SHA256SUMS`")
    return sums


def _check_file(path: Path, expected_sha256: str | None) -> None:
    """The file exists and, when a checksum is given, matches it."""
    if not path.exists():
        if path.name in SHIPPED:
            raise DataError(f"{path} is missing: it ships with the repo, restore it with "
                            f"`git checkout -- svm_logreg/data/{path.name}`")
        raise DataError(f"{path} is missing: {GET_REAL}, or use --data "
                        f"{path.name.split('.')[0]}-resplit to run offline")
    if expected_sha256 is None:
        return
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != expected_sha256:
        how = (f"restore it with `git checkout -- svm_logreg/data/{path.name}`"
               if path.name in SHIPPED else GET_REAL.replace("to download it", "again"))
        raise DataError(f"{path} is corrupt (sha256 {digest[:12]}… does not match "
                        f"SHA256SUMS); {how}")


def read_libsvm(path: Path, n_features: int, expected_rows: int | None = None,
                expected_sha256: str | None = None) -> tuple[sp.csr_matrix, np.ndarray]:
    """Read one LIBSVM file, checking checksum, row count, labels and feature range."""
    _check_file(path, expected_sha256)
    try:
        X, y = load_svmlight_file(str(path), n_features=n_features)
    except ValueError as exc:  # e.g. a feature index above n_features, or a malformed line
        raise DataError(
            f"{path} is not a valid LIBSVM file with {n_features} features: {exc}") from None
    if expected_rows is not None and X.shape[0] != expected_rows:
        raise DataError(f"{path} has {X.shape[0]} rows, expected {expected_rows}; "
                        f"download it again ({GET_REAL})")
    if not np.all(np.isin(y, (-1.0, 0.0, 1.0))):
        raise DataError(f"{path} has labels other than ±1: not a binary LIBSVM data set")
    return X.tocsr(), y


def resplit(n_rows: int, n_train: int, seed: int = RESPLIT_SEED) -> tuple[np.ndarray, np.ndarray]:
    """Train and test row indices: the first n_train entries of a seeded permutation, sorted."""
    perm = np.random.RandomState(seed).permutation(n_rows)
    return np.sort(perm[:n_train]), np.sort(perm[n_train:])


def _row_keys(X: sp.csr_matrix, y: np.ndarray) -> Counter:
    """The rows of a data set as a multiset of (label, indices, values) byte strings."""
    X = X.tocsr()
    X.sort_indices()
    ind, val, ptr = X.indices.astype(np.int64), X.data.astype(np.float64), X.indptr
    labels = np.asarray(y, dtype=np.float64)
    return Counter(labels[i].tobytes() + ind[a:b].tobytes() + val[a:b].tobytes()
                   for i, (a, b) in enumerate(pairwise(ptr)))


def check_superset(spec: Spec, data_dir: Path, X_tr, y_tr, X_te, y_te) -> None:
    """Train ∪ test must be exactly the rows of the shipped superset (a9a for a5a, w8a for w5a)."""
    X, y = read_libsvm(data_dir / spec.superset, spec.n_features, spec.n_train + spec.n_test,
                       checksums(data_dir).get(spec.superset))
    if _row_keys(X_tr, y_tr) + _row_keys(X_te, y_te) != _row_keys(X, y):
        raise DataError(f"{spec.train_file} ∪ {spec.test_file} in {data_dir} are not exactly the "
                        f"rows of {spec.superset}, as the real LIBSVM files are: corrupt or not "
                        f"the LIBSVM files; {GET_REAL.replace('to download it', 'again')}")


def load(name: str, data_dir: Path = DATA_DIR, resplit_seed: int = RESPLIT_SEED) -> Dataset:
    """Load a data set by its ``--data`` name (see :data:`SPECS`); ``resplit_seed`` seeds the
    permutation of a re-split stand-in (another value: another stand-in, for search.py)."""
    if name not in SPECS:
        raise DataError(f"unknown data set {name!r}; choose one of {', '.join(NAMES)}")
    spec, data_dir = SPECS[name], Path(data_dir)
    sums = checksums(data_dir)
    if spec.test_file is not None:
        X_tr, y_tr = read_libsvm(data_dir / spec.train_file, spec.n_features, spec.n_train,
                                 sums.get(spec.train_file))
        X_te, y_te = read_libsvm(data_dir / spec.test_file, spec.n_features, spec.n_test,
                                 sums.get(spec.test_file))
        if spec.superset and not {spec.train_file, spec.test_file} <= set(sums):
            check_superset(spec, data_dir, X_tr, y_tr, X_te, y_te)
    else:
        X, y = read_libsvm(data_dir / spec.train_file, spec.n_features,
                           spec.n_train + spec.n_test, sums.get(spec.train_file))
        train, test = resplit(X.shape[0], spec.n_train, resplit_seed)
        X_tr, y_tr, X_te, y_te = X[train], y[train], X[test], y[test]
        if resplit_seed != RESPLIT_SEED:
            return Dataset(name, f"{spec.source}, permutation seed {resplit_seed}", X_tr, y_tr,
                           X_te, y_te)
    return Dataset(name, spec.source, X_tr, y_tr, X_te, y_te)


def main(argv: list[str] | None = None) -> None:
    """``--check NAME ...``: load and verify data sets; one line each, exit 1 on the first bad."""
    from flatzero.cli import Parser

    p = Parser(prog="data.py", description="Verify LIBSVM data sets.")
    p.add_argument("--check", nargs="+", choices=NAMES, required=True,
                   help="data sets to load and verify (checksums; for a5a / w5a also the row "
                        "counts and that their rows are those of a9a / w8a)")
    p.add_argument("--data-dir", type=Path, default=DATA_DIR,
                   help="folder with the LIBSVM files and SHA256SUMS")
    args = p.parse_args(argv)
    for name in args.check:
        try:
            ds = load(name, args.data_dir)
        except DataError as exc:
            print(f"error: {exc}", file=sys.stderr)
            raise SystemExit(1) from None
        spec = SPECS[name]
        how = (f"together exactly the rows of {spec.superset}" if spec.superset
               else "checksums match")
        print(f"{name}: {ds.X_train.shape[0]} train / {ds.X_test.shape[0]} test rows, "
              f"{ds.n_features} features, {how}: ok")


if __name__ == "__main__":
    main()
