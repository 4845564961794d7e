"""The three update directions of the paper (GD, two-point ZO, SAM) on the train loss.

Directions are returned in the design's coordinates P = M w (see features.py): the loop updates
P ← P − lr·direction, which is the paper's w ← w − lr·g seen through X.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from svm_logreg.features import FactorisedDesign, MaterialisedDesign

Design = FactorisedDesign | MaterialisedDesign
ALGOS = ("gd", "zo", "sam")


def gd(design: Design, objective, y: np.ndarray, z: np.ndarray) -> np.ndarray:
    """∇f(w) = Xᵀρ / N, from the train logits z = Xw."""
    coords, _ = design.gradient(objective.residual(z, y))
    return coords / len(y)


def zo_directions(design: Design, rng: np.random.RandomState, dim: int,
                  block: int = 64) -> Iterator[np.ndarray]:
    """M u for the ZO directions u = randn(dim), one per iteration, in the paper's draw order.

    The u do not depend on the iterate, so they are drawn in blocks (legacy ``randn`` gives the
    same stream in blocks as one draw per iteration) and mapped to coordinates with one matrix
    product per block instead of one matrix–vector product per iteration.
    """
    while True:
        yield from np.ascontiguousarray(design.coords(rng.randn(block, dim).T).T)


def zo(design: Design, objective, y: np.ndarray, P: np.ndarray, lam: float,
       u: np.ndarray) -> np.ndarray:
    """(f(w + λu) − f(w − λu)) / (2λ) · u, for u given in coordinates (zo_directions)."""
    z = design.train_logits(np.column_stack([P + lam * u, P - lam * u]))
    f_plus, f_minus = objective.loss(z[:, 0], y), objective.loss(z[:, 1], y)
    return (f_plus - f_minus) / (2.0 * lam) * u


def sam(design: Design, objective, y: np.ndarray, P: np.ndarray, z: np.ndarray, lam: float,
        eps: float = 1e-12) -> np.ndarray:
    """∇f(w + λ·∇f(w) / (‖∇f(w)‖ + eps)), with ‖∇f‖ = ‖Xᵀρ‖ / N."""
    n = len(y)
    g, norm = design.gradient(objective.residual(z, y))
    P_adv = P + lam * (g / n) / (norm / n + eps)
    return gd(design, objective, y, design.train_logits(P_adv))
