"""The toy problem of Figures 1 and 4: f(x, y) = (xᵀy − 1)²/2 with x, y ∈ R^d.

Every minimiser has xᵀy = 1 and Hessian trace ‖x‖² + ‖y‖² ≥ 2‖x‖‖y‖ ≥ 2, with equality at x = y,
‖x‖ = 1: the flat minima. GD stops wherever it hits the minimiser set; ZO keeps drifting along it
towards the flat minima.

Two implementations of the same runs:

* the reference: the paper's per-iteration numpy loop (:func:`run_naive`), one run at a time;
* the fast path (:func:`run_seed`): compiled loops. After seeding, every stochastic run of a seed
  (ZO at each λ, DD) consumes the same stream of normals, since the draws never depend on the
  iterate. The stream is generated once, in blocks (legacy ``randn`` in blocks gives the same
  sequence as per-iteration draws), and fed to all runs. With :mod:`test_func.exact` the fast
  path gives the reference's floats bit for bit.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from numba import njit

from test_func.exact import TWO, dot

# The paper's setting. Seed 13 is the seed of the published Figures 1 and 4 (their trace starts
# at 154.7 and every curve matches it, see published.py); the authors' run_toy.py seeds 17.
DIM = 100
ITERS = 100_000
SEED = 13
AUTHORS_SEED = 17
GD_LR = 0.01
ZO_LR = 0.001
LAM = 0.1
LAMS = (0.1, 0.05, 0.01)
METHODS = ("GD", "ZO", "DD")
MIN_TRACE = 2.0  # min of Tr ∇²f over the minimisers: attained at x = y, ‖x‖ = 1

_BLOCK = 2000  # iterations of normals generated at once (2000 × 2d floats ≈ 3 MB at d = 100)


# --- loss, gradient, Hessian trace and the two estimators (numpy, the paper's formulas) -------

def loss(x: np.ndarray, y: np.ndarray) -> float:
    r = x @ y - 1.0
    return 0.5 * (r**2)


def grad(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r = x @ y - 1.0
    return r * y, r * x


def hessian_trace(x: np.ndarray, y: np.ndarray) -> float:
    """Tr ∇²f = ‖x‖² + ‖y‖² (the Hessian is [[yyᵀ, rI + yxᵀ], [rI + xyᵀ, xxᵀ]])."""
    return np.dot(x, x) + np.dot(y, y)


def zo_grad(
    x: np.ndarray, y: np.ndarray, lam: float, rng: np.random.RandomState
) -> tuple[np.ndarray, np.ndarray]:
    """Two-point estimate (f(z+λu) − f(z−λu))/(2λ)·u; draws u_x then u_y from ``rng``."""
    u_x = rng.randn(*x.shape)
    u_y = rng.randn(*y.shape)
    fd = (loss(x + lam * u_x, y + lam * u_y) - loss(x - lam * u_x, y - lam * u_y)) / (2.0 * lam)
    return fd * u_x, fd * u_y


def dd_grad(
    x: np.ndarray, y: np.ndarray, rng: np.random.RandomState
) -> tuple[np.ndarray, np.ndarray]:
    """The λ → 0 limit of :func:`zo_grad`: the directional derivative (uᵀ∇f)·u."""
    u_x = rng.randn(*x.shape)
    u_y = rng.randn(*y.shape)
    r = x @ y - 1.0
    dd = u_x @ y + u_y @ x
    return r * dd * u_x, r * dd * u_y


# --- runs ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Run:
    """One optimiser setting: ``method`` in GD / ZO / DD, its learning rate and (ZO) its λ."""

    method: str
    lr: float
    lam: float | None = None

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"unknown method {self.method!r}; expected one of {METHODS}")
        if (self.method == "ZO") != (self.lam is not None):
            raise ValueError("λ is set for ZO runs and only for them")


@dataclass
class Trajectory:
    """Loss and Hessian trace of the iterate *before* update i, for i = 1..T (the paper's log)."""

    loss: np.ndarray
    trace: np.ndarray


def init_point(rng: np.random.RandomState, d: int) -> tuple[np.ndarray, np.ndarray]:
    """The paper's initialisation after seeding: x = randn(d), then y = randn(d)."""
    x = rng.randn(d)
    y = rng.randn(d)
    return x, y


def run_naive(run: Run, seed: int, d: int = DIM, iters: int = ITERS) -> Trajectory:
    """The paper's loop, verbatim in its arithmetic: re-seed, initialise, one step per iteration.

    ``RandomState(seed)`` yields the same stream as the paper's ``np.random.seed(seed)``.
    """
    rng = np.random.RandomState(seed)
    x, y = init_point(rng, d)
    losses, traces = np.empty(iters), np.empty(iters)
    with np.errstate(over="ignore", invalid="ignore"):  # a diverging run: the caller reports it
        for i in range(iters):
            traces[i] = hessian_trace(x, y)
            losses[i] = loss(x, y)
            if run.method == "GD":
                gx, gy = grad(x, y)
            elif run.method == "ZO":
                gx, gy = zo_grad(x, y, run.lam, rng)
            else:
                gx, gy = dd_grad(x, y, rng)
            x = x - run.lr * gx
            y = y - run.lr * gy
    return Trajectory(losses, traces)


# --- fast path: compiled loops ---------------------------------------------------------------

_ZO, _DD = 0, 1


@njit(cache=True, nogil=True)
def gd_kernel(x, y, lr, ridge, two, loss_out, trace_out):
    """GD on f + (ridge/2)(‖x‖² + ‖y‖²), in place, for ``loss_out.size`` iterations.

    ridge = 0 is the paper's GD; ridge = λ² is GD on the smoothed loss (see theory.py).
    ``two`` must be 2.0, passed at run time (see test_func.exact).
    """
    d = x.size
    gx = np.empty(d)
    gy = np.empty(d)
    for t in range(loss_out.size):
        trace_out[t] = dot(x, x) + dot(y, y)
        r = dot(x, y) - 1.0
        loss_out[t] = 0.5 * r**two
        for i in range(d):
            gx[i] = r * y[i] + ridge * x[i]
            gy[i] = r * x[i] + ridge * y[i]
        for i in range(d):
            x[i] = x[i] - lr * gx[i]
            y[i] = y[i] - lr * gy[i]


@njit(cache=True, nogil=True)
def _stochastic_block(xs, ys, u, kinds, lrs, lams, two, loss_out, trace_out, t0):
    """Advance every stochastic run (rows of xs, ys) by the block of draws ``u`` (B × 2 × d).

    u[t, 0] and u[t, 1] are the u_x, u_y of iteration t0 + t, shared by all runs.
    """
    d = xs.shape[1]
    xp = np.empty(d)
    yp = np.empty(d)
    xm = np.empty(d)
    ym = np.empty(d)
    for k in range(xs.shape[0]):
        x = xs[k]
        y = ys[k]
        lr = lrs[k]
        lam = lams[k]
        for t in range(u.shape[0]):
            ux = u[t, 0]
            uy = u[t, 1]
            trace_out[k, t0 + t] = dot(x, x) + dot(y, y)
            r = dot(x, y) - 1.0
            loss_out[k, t0 + t] = 0.5 * r**two
            if kinds[k] == _ZO:
                for i in range(d):
                    xp[i] = x[i] + lam * ux[i]
                    yp[i] = y[i] + lam * uy[i]
                    xm[i] = x[i] - lam * ux[i]
                    ym[i] = y[i] - lam * uy[i]
                f_plus = 0.5 * (dot(xp, yp) - 1.0) ** two
                f_minus = 0.5 * (dot(xm, ym) - 1.0) ** two
                c = (f_plus - f_minus) / (2.0 * lam)
            else:
                c = r * (dot(ux, y) + dot(uy, x))
            for i in range(d):
                x[i] = x[i] - lr * (c * ux[i])
                y[i] = y[i] - lr * (c * uy[i])


def run_seed(
    seed: int,
    runs: Sequence[Run],
    d: int = DIM,
    iters: int = ITERS,
    progress: Callable[[int], None] | None = None,
) -> dict[Run, Trajectory]:
    """Every run in ``runs`` for one seed, each as if re-seeded and re-initialised (the paper).

    ``progress(n)`` is called with the number of iterations just completed (summed over runs).
    """
    runs = list(dict.fromkeys(runs))  # the same setting twice is one run
    rng = np.random.RandomState(seed)
    x0, y0 = init_point(rng, d)
    out: dict[Run, Trajectory] = {}

    for run in (r for r in runs if r.method == "GD"):
        traj = Trajectory(np.empty(iters), np.empty(iters))
        gd_kernel(x0.copy(), y0.copy(), run.lr, 0.0, TWO, traj.loss, traj.trace)
        out[run] = traj
        if progress:
            progress(iters)

    stochastic = [r for r in runs if r.method != "GD"]
    if stochastic:
        n = len(stochastic)
        xs, ys = np.tile(x0, (n, 1)), np.tile(y0, (n, 1))
        kinds = np.array([_ZO if r.method == "ZO" else _DD for r in stochastic], dtype=np.int64)
        lrs = np.array([r.lr for r in stochastic])
        lams = np.array([r.lam if r.lam is not None else np.nan for r in stochastic])
        losses, traces = np.empty((n, iters)), np.empty((n, iters))
        for t0 in range(0, iters, _BLOCK):
            b = min(_BLOCK, iters - t0)
            u = rng.randn(b, 2, d)
            _stochastic_block(xs, ys, u, kinds, lrs, lams, TWO, losses, traces, t0)
            if progress:
                progress(b * n)
        for k, run in enumerate(stochastic):
            out[run] = Trajectory(losses[k], traces[k])
    return out
