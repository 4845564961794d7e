"""The three update directions of the paper (GD, two-point ZO, SAM) on the train loss.

Directions are returned in the design's coordinates P = M w (see features.py): the loop updates
P ← P − lr·direction, which is the paper's w ← w − lr·g seen through X.
"""

from __future__ import annotations

import numpy as np

from svm_logreg.features import FactorisedDesign, MaterialisedDesign

Design = FactorisedDesign | MaterialisedDesign
ALGOS = ("gd", "zo", "sam")


def gd(design: Design, objective, y: np.ndarray, z: np.ndarray) -> np.ndarray:
    """∇f(w) = Xᵀρ / N, from the train logits z = Xw."""
    coords, _ = design.gradient(objective.residual(z, y))
    return coords / len(y)


def zo(design: Design, objective, y: np.ndarray, z: np.ndarray, lam: float,
       u: np.ndarray) -> np.ndarray:
    """(f(w + λu) − f(w − λu)) / (2λ) · u, with X(w ± λu) = z ± λ·Xu."""
    u_coords = design.coords(u)
    zu = design.train_logits(u_coords)
    fd = (objective.loss(z + lam * zu, y) - objective.loss(z - lam * zu, y)) / (2.0 * lam)
    return fd * u_coords


def sam(design: Design, objective, y: np.ndarray, P: np.ndarray, z: np.ndarray, lam: float,
        eps: float = 1e-12) -> np.ndarray:
    """∇f(w + λ·∇f(w) / (‖∇f(w)‖ + eps)), with ‖∇f‖ = ‖Xᵀρ‖ / N."""
    n = len(y)
    g, norm = design.gradient(objective.residual(z, y))
    P_adv = P + lam * (g / n) / (norm / n + eps)
    return gd(design, objective, y, design.train_logits(P_adv))
