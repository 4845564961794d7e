"""The compiled toy loops against a naive loop written here, and the toy's calculus."""

import numpy as np
import pytest

from test_func import toy
from test_func.exact import BITWISE, dot


def paper_loop(method, seed, d, iters, lr, lam=None):
    """The paper's loop, written independently: global legacy RNG, one step per iteration."""
    np.random.seed(seed)
    x = np.random.randn(d)
    y = np.random.randn(d)
    losses, traces = [], []
    for _ in range(iters):
        r = x @ y - 1.0
        traces.append(np.dot(x, x) + np.dot(y, y))
        losses.append(0.5 * (r**2))
        if method == "GD":
            gx, gy = r * y, r * x
        else:
            ux = np.random.randn(d)
            uy = np.random.randn(d)
            if method == "ZO":
                fp = 0.5 * (((x + lam * ux) @ (y + lam * uy) - 1.0) ** 2)
                fm = 0.5 * (((x - lam * ux) @ (y - lam * uy) - 1.0) ** 2)
                c = (fp - fm) / (2.0 * lam)
            else:
                c = r * (ux @ y + uy @ x)
            gx, gy = c * ux, c * uy
        x = x - lr * gx
        y = y - lr * gy
    return np.array(losses), np.array(traces)


def assert_same(a, b):
    if BITWISE:
        np.testing.assert_array_equal(a, b)
    else:  # pragma: no cover - only without numpy's BLAS ddot
        np.testing.assert_allclose(a, b, rtol=1e-12)


@pytest.mark.parametrize("d", [100, 7])
def test_fast_path_equals_paper_loop(d):
    iters, seed = 1000, 17
    runs = [toy.Run("GD", 0.01), toy.Run("ZO", 0.001, 0.1), toy.Run("DD", 0.001),
            toy.Run("ZO", 0.001, 0.01)]
    fast = toy.run_seed(seed, runs, d=d, iters=iters)
    for run in runs:
        loss, trace = paper_loop(run.method, seed, d, iters, run.lr, run.lam)
        assert_same(fast[run].loss, loss)
        assert_same(fast[run].trace, trace)


def test_blocks_do_not_change_the_stream():
    # More iterations than one block of normals, and a ragged last block.
    run = toy.Run("ZO", 0.001, 0.05)
    iters = 2 * toy._BLOCK + 17
    fast = toy.run_seed(5, [run], d=3, iters=iters)[run]
    loss, trace = paper_loop("ZO", 5, 3, iters, 0.001, 0.05)
    assert_same(fast.loss, loss)
    assert_same(fast.trace, trace)


def test_reference_loop_equals_paper_loop():
    run = toy.Run("DD", 0.001)
    ref = toy.run_naive(run, 3, d=10, iters=300)
    loss, trace = paper_loop("DD", 3, 10, 300, 0.001)
    np.testing.assert_array_equal(ref.loss, loss)
    np.testing.assert_array_equal(ref.trace, trace)


@pytest.mark.parametrize("n", [3, 100, 1001])
def test_compiled_dot_is_numpys_dot_bit_for_bit(n):
    """The compiled loops' dot product (exact.dot) adds the terms as numpy's `x @ y` does, on
    vectors whose sum depends on the order (terms over 40 orders of magnitude, signs mixed);
    a plain left-to-right sum differs. Without numpy's BLAS ddot the loops fall back to it, and
    the paper's numbers are met to ~1e-9 only: BITWISE says which."""
    rng = np.random.default_rng(n)
    x = rng.standard_normal(n) * 10.0 ** rng.integers(-20, 20, n)
    y = rng.standard_normal(n)
    naive = 0.0
    for a, b in zip(x, y, strict=True):
        naive += a * b
    if BITWISE:
        assert dot(x, y) == x @ y
        assert n < 10 or naive != x @ y  # the order matters here: the test can tell
    else:  # pragma: no cover - only without numpy's BLAS ddot
        assert dot(x, y) == pytest.approx(x @ y, rel=1e-12)


def fd_hessian(f, z, h=1e-4):
    n = z.size
    hess = np.empty((n, n))
    for i in range(n):
        for j in range(n):
            ei, ej = np.eye(n)[i] * h, np.eye(n)[j] * h
            hess[i, j] = (f(z + ei + ej) - f(z + ei - ej) - f(z - ei + ej) + f(z - ei - ej)) / (
                4 * h * h)
    return hess


def test_trace_and_gradient_against_finite_differences():
    rng = np.random.RandomState(0)
    d = 4
    z = rng.randn(2 * d)

    def f(v):
        return toy.loss(v[:d], v[d:])

    hess = fd_hessian(f, z)
    assert np.trace(hess) == pytest.approx(toy.hessian_trace(z[:d], z[d:]), rel=1e-6)
    h = 1e-6
    fd_grad = np.array([(f(z + h * e) - f(z - h * e)) / (2 * h) for e in np.eye(2 * d)])
    np.testing.assert_allclose(np.concatenate(toy.grad(z[:d], z[d:])), fd_grad, rtol=1e-6)


def test_run_rejects_bad_settings():
    with pytest.raises(ValueError):
        toy.Run("SGD", 0.1)
    with pytest.raises(ValueError):
        toy.Run("ZO", 0.1)
    with pytest.raises(ValueError):
        toy.Run("GD", 0.1, 0.1)
