"""Squared-hinge SVM and logistic regression, as functions of the logits z = Xw.

Formulas are the paper's; each objective gives the loss, the residual ρ with ∇f = Xᵀρ / N, and
the recorded metrics: loss, accuracy and exact Hessian trace (from the squared row norms ‖x_i‖²).
"""

from __future__ import annotations

import numpy as np


class SquaredHinge:
    """f(w) = mean(max(0, 1 − y·xᵀw)²), labels ±1."""

    @staticmethod
    def labels(y: np.ndarray) -> np.ndarray:
        return np.where(y <= 0, -1, 1)

    @staticmethod
    def loss(z: np.ndarray, y: np.ndarray) -> float:
        return SquaredHinge._loss(1 - y * z)

    @staticmethod
    def _loss(margins: np.ndarray) -> float:
        return float(np.mean(np.maximum(0, margins) ** 2))

    @staticmethod
    def residual(z: np.ndarray, y: np.ndarray) -> np.ndarray:
        margins = 1 - y * z
        return -2 * ((margins > 0) * y * margins)

    @staticmethod
    def metrics(z: np.ndarray, y: np.ndarray, sq_norms: np.ndarray) -> tuple[float, float, float]:
        """(loss, accuracy, Hessian trace); Tr ∇²f = (2/N)·Σ_{active} ‖x_i‖², active: margin > 0.

        Accuracy: the decision xᵀw ≥ 0 predicts +1.
        """
        margins = 1 - y * z
        active = margins > 0
        accuracy = np.mean((z >= 0) == (y > 0))
        trace = 2 * (sq_norms @ active) / len(z)
        return SquaredHinge._loss(margins), float(accuracy), float(trace)


def sigmoid(z: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):  # exp overflow → p = 0 exactly, as in the paper's code
        return 1 / (1 + np.exp(-z))


class Logistic:
    """Mean log-loss of p = σ(xᵀw), labels {0, 1}; clipped as sklearn.metrics.log_loss."""

    @staticmethod
    def labels(y: np.ndarray) -> np.ndarray:
        return (y > 0).astype(int)

    @staticmethod
    def loss(z: np.ndarray, y: np.ndarray) -> float:
        return Logistic._loss(sigmoid(z), y)

    @staticmethod
    def _loss(p: np.ndarray, y: np.ndarray) -> float:
        # log_loss stacks [1 − p, p], clips to [eps, 1 − eps] and takes the log of the label's
        # column. That column is |p + (y − 1)|: p for y = 1, and p − 1 = −(1 − p) exactly for
        # y = 0; the same numbers as np.where, without its data-dependent branches.
        eps = np.finfo(p.dtype).eps
        q = np.abs(p + (y - 1.0))
        return float(np.mean(-np.log(np.clip(q, eps, 1 - eps))))

    @staticmethod
    def residual(z: np.ndarray, y: np.ndarray) -> np.ndarray:
        return sigmoid(z) - y

    @staticmethod
    def metrics(z: np.ndarray, y: np.ndarray, sq_norms: np.ndarray) -> tuple[float, float, float]:
        """(loss, accuracy, Hessian trace); Tr ∇²f = mean p(1 − p)‖x_i‖²; p ≥ 0.5 predicts 1."""
        p = sigmoid(z)
        accuracy = np.mean((p >= 0.5) == (y == 1))
        trace = (p * (1 - p)) @ sq_norms / len(p)
        return Logistic._loss(p, y), float(accuracy), float(trace)


OBJECTIVES = {"svm": SquaredHinge, "logreg": Logistic}
