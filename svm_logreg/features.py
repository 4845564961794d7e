"""The paper's over-parameterised features, without ever forming the N × (D+1) matrix.

The paper builds, for raw rows r_i (p = 123 or 300 binary features):

    s_i = (r_i − m) / s                 StandardScaler fitted on the train rows
    x_i = [1, (s_i W − μ) / σ]          W = randn(p, D); μ, σ: a second StandardScaler on s_i W

and materialises X (a5a: train + test ≈ 3 GB). Everything downstream is linear in x_i, so with
B = W / σ (p × D, columns scaled) and c = μ / σ, for w = (b, v):

    x_i·w  = b + s_i (B v) − c·v = b + r_i a − m·a − c·v,     a = (B v) / s   (a p-vector)
    Xᵀ ρ   = (Σρ, Bᵀ ((Rᵀρ − m Σρ) / s) − c Σρ)
    ‖x_i‖² = 1 + s_i (B Bᵀ) s_iᵀ − 2 s_i (B c) + ‖c‖²

so a product with X costs one pass over B plus a sparse product with the raw rows R.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from sklearn.preprocessing import StandardScaler

_ROWS_PER_CHUNK = 4096  # dense rows of s_i at a time when computing the squared norms


def _scale_from_var(var: np.ndarray) -> np.ndarray:
    """sqrt(var) with (near-)zero scales replaced by 1, as StandardScaler does."""
    scale = np.sqrt(var)
    scale[scale < 10 * np.finfo(np.float64).eps] = 1.0
    return scale


class RandomFeatures:
    """x_i = [1, StandardScaler(StandardScaler(r_i) W)], both scalers fitted on the train rows."""

    def __init__(self, R_train: sp.csr_matrix, W: np.ndarray) -> None:
        dense = R_train.toarray()
        first = StandardScaler().fit(dense)
        self.m, self.s = first.mean_, first.scale_
        S = first.transform(dense)
        # Column statistics of P = S W over the train rows, from the p × p covariance of S.
        s_mean = S.mean(axis=0)
        centred = S - s_mean
        cov = centred.T @ centred / S.shape[0]
        self.mu = s_mean @ W
        self.sigma = _scale_from_var(np.einsum("ij,ij->j", W, cov @ W))
        self.B = np.ascontiguousarray(W / self.sigma)
        self.c = self.mu / self.sigma
        self.gram = self.B @ self.B.T  # p × p
        self.Bc = self.B @ self.c
        self.cc = self.c @ self.c

    def row_sq_norms(self, R: sp.csr_matrix) -> np.ndarray:
        """‖x_i‖² for every row of R, as quadratic forms in s_i (chunked: O(chunk × p) memory)."""
        out = np.empty(R.shape[0])
        const = 1.0 + self.cc
        for start in range(0, R.shape[0], _ROWS_PER_CHUNK):
            S = (R[start:start + _ROWS_PER_CHUNK].toarray() - self.m) / self.s
            out[start:start + len(S)] = (np.einsum("ij,ij->i", S @ self.gram, S)
                                         - 2.0 * (S @ self.Bc) + const)
        return out


def materialise(R_train: sp.csr_matrix, R_test: sp.csr_matrix,
                W: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The paper's explicit X_train, X_test (the slow reference formulation; a5a: ≈ 3 GB)."""
    first = StandardScaler()
    X_train = first.fit_transform(R_train.toarray()) @ W
    X_test = first.transform(R_test.toarray()) @ W
    second = StandardScaler()
    X_train = second.fit_transform(X_train)
    X_test = second.transform(X_test)
    X_train = np.hstack([np.ones((X_train.shape[0], 1)), X_train])
    X_test = np.hstack([np.ones((X_test.shape[0], 1)), X_test])
    return X_train, X_test


# --- the design matrix seen by the training loop: one interface for both formulations --------
#
# The loop never forms w = (b, v) ∈ R^{D+1}: it keeps P = M w, the coordinates of w that X sees
# (for the materialised design, M = I). Steps are linear, so P ← P − lr·M g; GD and SAM steps
# g = Xᵀρ/N lie in a (p+2)-dimensional space, and a ZO step needs M u, one pass over B.

class FactorisedDesign:
    """X through P = (b, c·v, B v) ∈ R^{p+2}: logits and gradients cost O(N·nnz/row + p²)."""

    def __init__(self, R_train: sp.csr_matrix, R_test: sp.csr_matrix, W: np.ndarray) -> None:
        f = self.features = RandomFeatures(R_train, W)
        self.R_train, self.R_test = R_train, R_test
        self.sq_norms_train = f.row_sq_norms(R_train)
        self.sq_norms_test = f.row_sq_norms(R_test)

    def coords(self, w: np.ndarray) -> np.ndarray:
        """P = (b, c·v, B v) for w = (b, v), or for each column of a (D+1) × k stack."""
        f = self.features
        return np.concatenate((w[:1], (f.c @ w[1:])[None], f.B @ w[1:]))

    def _linear(self, P: np.ndarray) -> tuple[np.ndarray, np.ndarray | float]:
        """(a, offset) with X w = R a + offset: a = Bv / s (columnwise for a stack of P)."""
        a = P[2:] / (self.features.s[:, None] if P.ndim == 2 else self.features.s)
        return a, P[0] - P[1] - self.features.m @ a

    def logits(self, P: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(X_train w, X_test w)."""
        a, offset = self._linear(P)
        return self.R_train @ a + offset, self.R_test @ a + offset

    def train_logits(self, P: np.ndarray) -> np.ndarray:
        """X_train w, or X_train [w₁ w₂ …] for a stack of coordinate columns (one pass over R)."""
        a, offset = self._linear(P)
        return self.R_train @ a + offset

    def gradient(self, rho: np.ndarray) -> tuple[np.ndarray, float]:
        """(M Xᵀρ, ‖Xᵀρ‖) for the train rows, with Xᵀρ = (Σρ, Bᵀt − cΣρ), t = Sᵀρ."""
        f = self.features
        total = rho.sum()
        t = (self.R_train.T @ rho - f.m * total) / f.s
        Gt, ht = f.gram @ t, f.Bc @ t
        coords = np.concatenate(([total, ht - f.cc * total], Gt - f.Bc * total))
        norm_v2 = t @ Gt - 2.0 * total * ht + total * total * f.cc
        return coords, float(np.sqrt(total * total + max(norm_v2, 0.0)))


class MaterialisedDesign:
    """The paper's explicit matrices (P = w): the slow reference the factorised form must match."""

    def __init__(self, R_train: sp.csr_matrix, R_test: sp.csr_matrix, W: np.ndarray) -> None:
        self.X_train, self.X_test = materialise(R_train, R_test, W)
        self.sq_norms_train = np.sum(self.X_train**2, axis=1)
        self.sq_norms_test = np.sum(self.X_test**2, axis=1)

    def coords(self, w: np.ndarray) -> np.ndarray:
        return w.copy()

    def logits(self, P: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self.X_train.dot(P), self.X_test.dot(P)

    def train_logits(self, P: np.ndarray) -> np.ndarray:
        return self.X_train.dot(P)

    def gradient(self, rho: np.ndarray) -> tuple[np.ndarray, float]:
        g = self.X_train.T.dot(rho)
        return g, float(np.linalg.norm(g))
