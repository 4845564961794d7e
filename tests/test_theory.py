"""ZO on the toy is unbiased SGD on F = f + (λ²/2)·Tr∇²f; DD is unbiased for ∇f (Monte-Carlo)."""

import numpy as np
import pytest

from test_func import theory, toy

N = 400_000   # Monte-Carlo samples
Z = 5.5       # z-score bound per coordinate; 20 coordinates → false alarm < 1e-6


def zo_samples(x, y, lam, u):
    """Two-point estimates for each row of u = (u_x, u_y), vectorised (independent of toy.py)."""
    d = x.size
    ux, uy = u[:, :d], u[:, d:]
    fp = 0.5 * (np.sum((x + lam * ux) * (y + lam * uy), axis=1) - 1.0) ** 2
    fm = 0.5 * (np.sum((x - lam * ux) * (y - lam * uy), axis=1) - 1.0) ** 2
    return ((fp - fm) / (2 * lam))[:, None] * u


def dd_samples(x, y, u):
    d = x.size
    r = x @ y - 1.0
    return (r * (u[:, :d] @ y + u[:, d:] @ x))[:, None] * u


def z_scores(samples, target):
    mean = samples.mean(axis=0)
    stderr = samples.std(axis=0, ddof=1) / np.sqrt(len(samples))
    return np.abs(mean - target) / stderr


@pytest.fixture(scope="module")
def point():
    rng = np.random.RandomState(1)
    d = 10
    x, y = rng.randn(d) * 0.6, rng.randn(d) * 0.6
    u = rng.randn(N, 2 * d)
    return x, y, u


def test_zo_mean_is_grad_of_smoothed_loss(point):
    x, y, u = point
    lam = 0.5
    samples = zo_samples(x, y, lam, u)
    grad_f = np.concatenate(toy.grad(x, y))
    grad_big_f = np.concatenate(theory.smoothed_grad(x, y, lam))
    assert z_scores(samples, grad_big_f).max() < Z
    # ... and the test can tell ∇F from ∇f: the λ²·(x, y) bias is far outside the noise.
    assert z_scores(samples, grad_f).max() > 3 * Z


def test_zo_sample_matches_toy_estimator(point):
    x, y, _ = point
    rng = np.random.RandomState(7)
    gx, gy = toy.zo_grad(x, y, 0.3, rng)
    u = np.random.RandomState(7).randn(1, 2 * x.size)
    np.testing.assert_allclose(np.concatenate([gx, gy]), zo_samples(x, y, 0.3, u)[0], rtol=1e-10)


def test_dd_is_unbiased_for_grad_f(point):
    x, y, u = point
    samples = dd_samples(x, y, u)
    assert z_scores(samples, np.concatenate(toy.grad(x, y))).max() < Z
    gx, gy = toy.dd_grad(x, y, np.random.RandomState(3))
    u1 = np.random.RandomState(3).randn(1, 2 * x.size)
    np.testing.assert_allclose(np.concatenate([gx, gy]), dd_samples(x, y, u1)[0], rtol=1e-10)


def test_smoothed_loss_closed_form(point):
    x, y, u = point
    lam, d = 0.5, x.size
    values = 0.5 * (np.sum((x + lam * u[:, :d]) * (y + lam * u[:, d:]), axis=1) - 1.0) ** 2
    stderr = values.std(ddof=1) / np.sqrt(len(values))
    assert abs(values.mean() - theory.smoothed_loss(x, y, lam)) < Z * stderr


def test_minimiser_of_smoothed_loss_has_predicted_trace():
    lam = 0.3
    v = np.random.RandomState(2).randn(6)
    x = y = v / np.linalg.norm(v) * np.sqrt(1 - lam**2)
    np.testing.assert_allclose(np.concatenate(theory.smoothed_grad(x, y, lam)), 0, atol=1e-12)
    assert toy.hessian_trace(x, y) == pytest.approx(theory.predicted_limit_trace(lam))


def test_smoothed_gd_path_converges_to_predicted_trace():
    lam = 0.5
    traj = theory.smoothed_gd_path(seed=0, d=3, lr=0.05, lam=lam, iters=20_000)
    assert traj.trace[-1] == pytest.approx(theory.predicted_limit_trace(lam), rel=1e-6)
    assert traj.loss[-1] == pytest.approx(lam**4 / 2, rel=1e-6)  # r = −λ² at the limit
