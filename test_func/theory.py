"""What the theory predicts on the toy: ZO is unbiased SGD on the smoothed loss.

For f(x, y) = (xᵀy − 1)²/2 the Gaussian smoothing is exact (a polynomial of degree 4):

    f_λ(x, y) = E f(x + λu, y + λv) = f + (λ²/2)(‖x‖² + ‖y‖²) + λ⁴d/2 = F(x, y) + λ⁴d/2,

with F = f + (λ²/2)·Tr ∇²f. The two-point estimate has mean ∇f_λ = ∇F, so ZO with step η follows,
in expectation, GD on F with the same η: :func:`smoothed_gd_path` draws that deterministic path.

Minimisers of F: ∇F = (r y + λ²x, r x + λ²y) = 0 with r = xᵀy − 1 forces x = y, r = −λ², hence
‖x‖² = 1 − λ² and the predicted limit trace 2(1 − λ²) (λ < 1), just below the flat-minimum trace 2.
"""

from __future__ import annotations

import numpy as np

from test_func import toy
from test_func.exact import TWO


def smoothed_loss(x: np.ndarray, y: np.ndarray, lam: float) -> float:
    """f_λ = E f(x + λu, y + λv), u, v ~ N(0, I), in closed form."""
    return toy.loss(x, y) + 0.5 * lam**2 * toy.hessian_trace(x, y) + 0.5 * lam**4 * x.size


def smoothed_grad(x: np.ndarray, y: np.ndarray, lam: float) -> tuple[np.ndarray, np.ndarray]:
    """∇F = ∇f_λ: the mean of the two-point estimate at (x, y)."""
    gx, gy = toy.grad(x, y)
    return gx + lam**2 * x, gy + lam**2 * y


def predicted_limit_trace(lam: float) -> float:
    """Tr ∇²f at the minimisers of F: 2(1 − λ²)."""
    if not 0 <= lam < 1:
        raise ValueError("the minimisers of F have x = y, ‖x‖² = 1 − λ², so λ must be in [0, 1)")
    return 2.0 * (1.0 - lam**2)


def smoothed_gd_path(seed: int, d: int, lr: float, lam: float, iters: int) -> toy.Trajectory:
    """Loss f and Tr ∇²f along GD on F from the paper's initialisation for ``seed``.

    Logged as the runs are: entry i is the iterate before update i.
    """
    x, y = toy.init_point(np.random.RandomState(seed), d)
    traj = toy.Trajectory(np.empty(iters), np.empty(iters))
    toy.gd_kernel(x, y, lr, lam**2, TWO, traj.loss, traj.trace)
    return traj
