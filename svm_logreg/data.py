"""LIBSVM data sets: loading, integrity checks and the offline re-splits (see data/README.md).

A :class:`Dataset` holds the *raw* sparse features and ±1 labels of one train/test split; the
standardisation and random features of the paper are applied in features.py.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
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


SPECS = {
    "a5a": Spec(123, 6414, 26147, "a5a", "a5a.t", "LIBSVM a5a / a5a.t (real files)"),
    "w5a": Spec(300, 9888, 39861, "w5a", "w5a.t", "LIBSVM w5a / w5a.t (real files)"),
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


def _checksums(data_dir: Path) -> dict[str, str]:
    manifest = data_dir / "SHA256SUMS"
    if not manifest.exists():
        return {}
    pairs = (line.split() for line in manifest.read_text().splitlines() if line.strip())
    return {name: digest for digest, name in pairs}


def _check_file(path: Path, expected_sha256: str | None) -> None:
    if not path.exists():
        if path.name in SHIPPED:
            raise DataError(f"{path} is missing: it ships with the repo, restore it with "
                            f"`git checkout -- svm_logreg/data/{path.name}`")
        raise DataError(f"{path} is missing: {GET_REAL}, or use --data "
                        f"{path.name.split('.')[0]}-resplit to run offline")
    if expected_sha256 is not None:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if digest != expected_sha256:
            raise DataError(f"{path} is corrupt (sha256 {digest[:12]}… does not match "
                            f"SHA256SUMS); restore it with `git checkout -- {path.name}` "
                            f"in svm_logreg/data/ or download it again")


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


def load(name: str, data_dir: Path = DATA_DIR) -> Dataset:
    """Load a data set by its ``--data`` name (see :data:`SPECS`)."""
    if name not in SPECS:
        raise DataError(f"unknown data set {name!r}; choose one of {', '.join(NAMES)}")
    spec, data_dir = SPECS[name], Path(data_dir)
    sums = _checksums(data_dir)
    if spec.test_file is not None:
        X_tr, y_tr = read_libsvm(data_dir / spec.train_file, spec.n_features, spec.n_train,
                                 sums.get(spec.train_file))
        X_te, y_te = read_libsvm(data_dir / spec.test_file, spec.n_features, spec.n_test,
                                 sums.get(spec.test_file))
    else:
        X, y = read_libsvm(data_dir / spec.train_file, spec.n_features,
                           spec.n_train + spec.n_test, sums.get(spec.train_file))
        train, test = resplit(X.shape[0], spec.n_train)
        X_tr, y_tr, X_te, y_te = X[train], y[train], X[test], y[test]
    return Dataset(name, spec.source, X_tr, y_tr, X_te, y_te)
