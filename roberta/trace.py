"""Hessian-trace estimators for the training loss, each with its standard error.

* ``zo`` (default; function values only, like the paper, but antithetic):
      Tr H ≈ mean_u (f(θ+δu) + f(θ−δu) − 2f(θ)) / δ²,   u ~ N(0, I).
  Each sample is uᵀHu + O(δ²): the first-order term cancels exactly, unlike the paper's
  one-sided 2(f(θ+δu) − f(θ))/δ², whose samples carry δ·∇f·u / (δ²/2) of noise.
  Precision: a rounding error r in a value of f becomes ≈ 4r/δ² in a sample (δ = 1e-4:
  4e8·r). In float32, r is not only the ulp of the summed loss but the forward's own rounding,
  the rounding of θ ± δu to float32 and the few-ulp drift the in-place ±δu passes leave from
  sample to sample; f(θ)'s error, shared by all samples, is a bias. So the estimate runs with
  the network in float64 — ``model.float64`` around ``zo_trace``, f(θ) included (train.py's
  record()) — with the same u, the float32 draw (zo.py), and a float64 loss. Measured in
  tests/test_trace.py (tiny RoBERTa after 40 GD steps, δ = 1e-4, 100 samples): the rounding
  of one sample is ≈ 2e-8 in float64, ≈ 6 in float32, for a standard error of ≈ 22; the
  README compares the other options and the cost.
* ``hutchinson``: vᵀHv with Rademacher v through double backward (needs the autograd graph,
  i.e. gradient memory), in the run's precision: nothing amplifies its rounding. Our own double
  backward, not curvlinops' HessianLinearOperator: curvlinops 3.0.1 takes Hessian-vector
  products as torch.func jvp(jacrev(·)), which on torch 2.13 gets the LayerNorm weights' rows
  wrong (double backward, jvp(grad(·)) and finite differences agree), and its trace estimators
  draw from torch's global RNG (the dropout stream of a GD run) without a standard error.

Samples are drawn from the caller's generator, separate from training, so tracking the trace
never changes the training trajectory.
"""

from __future__ import annotations

import argparse
import math
import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

import numpy as np
import torch
from torch.nn.attention import SDPBackend, sdpa_kernel

from roberta.zo import perturb_

ESTIMATORS = ("zo", "hutchinson")
DTYPES = ("auto", "float64", "float32")
# Compute capabilities whose FP64 runs at half the FP32 rate or better (P100, V100, A100,
# H100/H200, B200); the others (T4, A10, A40, L40S, RTX: 1/32–1/64) make a float64 estimate
# 30–60× a float32 one.
FULL_RATE_FP64 = {(6, 0), (7, 0), (8, 0), (9, 0), (10, 0)}
REDUCED_FP64 = re.compile(r"\b(H800|H20)\b")  # export parts of compute capability 9.0: ~1 TFLOPS
UNIT_ROUNDOFF_32 = 2.0**-24
MIN_DELTA = 1e-8  # float64 rounding of f, 2⁻⁵³·f, becomes 4·2⁻⁵³·f/δ² ≈ 4.4·f per sample here


def resolve_dtype(choice: str, device: torch.device) -> str:
    """float64 or float32 for ``choice`` (auto: float64 unless a GPU's FP64 is slow)."""
    if choice != "auto":
        return choice
    if device.type != "cuda":
        return "float64"
    full = torch.cuda.get_device_capability(device) in FULL_RATE_FP64 and \
        not REDUCED_FP64.search(torch.cuda.get_device_name(device))
    return "float64" if full else "float32"


def float32_floor(f0: float, delta: float) -> float:
    """The rounding floor of a float32 estimate: f(θ)'s own rounding, u·|f|, shared by every
    sample, becomes a bias of 2u·|f|/δ² (and a sample's rounding at least twice that); added to
    the reported standard error, which averaging cannot shrink below it."""
    return 4.0 * UNIT_ROUNDOFF_32 * abs(f0) / delta**2


def delta(text: str) -> float:
    """argparse type of δ: a float64 perturbation that survives the estimate's 1/δ²."""
    value = float(text)
    if not MIN_DELTA <= value < math.inf:
        raise argparse.ArgumentTypeError(
            f"must be at least {MIN_DELTA:g}, got {text}: below it the float64 rounding of the "
            "loss, divided by δ², drowns the estimate (and at 1e-150 θ ± δu is θ)")
    return value


def sample_count(text: str) -> int:
    """argparse type of --trace-samples: at least 2, so that the estimate has a standard error."""
    value = int(text)
    if value < 2:
        raise argparse.ArgumentTypeError(f"must be at least 2 (a standard error), got {text}")
    return value


@contextmanager
def restoring(params: list[torch.Tensor]) -> Iterator[None]:
    """Put the parameters back bit for bit on exit, from a host copy.

    An estimate perturbs the weights, and undoing that by arithmetic is exact only to a few ulps;
    the copy makes tracking the trace leave the trajectory untouched, and living on the host it
    keeps device memory at inference level.
    """
    snapshot = [p.detach().to("cpu", copy=True) for p in params]
    try:
        yield
    finally:
        with torch.no_grad():
            for p, saved in zip(params, snapshot, strict=True):
                p.copy_(saved)


def _mean_stderr(samples: list[float]) -> tuple[float, float]:
    arr = np.asarray(samples, dtype=np.float64)
    stderr = arr.std(ddof=1) / math.sqrt(len(arr)) if len(arr) > 1 else math.nan
    return float(arr.mean()), float(stderr)


@torch.no_grad()
def zo_samples(params: list[torch.Tensor], loss: Callable[[], float], n: int, delta: float,
               rng: np.random.RandomState, f0: float | None = None) -> list[float]:
    """The n antithetic samples (f(θ+δu) + f(θ−δu) − 2f(θ)) / δ², u drawn from the seeds of
    ``rng``, in the dtype of ``params``.

    ``f0`` = f(θ) if already known, computed exactly as ``loss()`` computes (same precision):
    a rounding difference r in it is a bias of −2r/δ² shared by every sample.
    """
    f0 = loss() if f0 is None else f0
    samples = []
    for _ in range(n):
        seed = int(rng.randint(1_000_000_000))
        perturb_(params, seed, delta)
        f_plus = loss()
        perturb_(params, seed, -2.0 * delta)
        f_minus = loss()
        perturb_(params, seed, delta)
        samples.append((f_plus + f_minus - 2.0 * f0) / delta**2)
    return samples


def zo_trace(params: list[torch.Tensor], loss: Callable[[], float], n: int, delta: float,
             rng: np.random.RandomState, f0: float | None = None) -> tuple[float, float]:
    """Antithetic function-value estimate of Tr ∇²f: (mean, standard error) over n samples."""
    return _mean_stderr(zo_samples(params, loss, n, delta, rng, f0))


def _in_order(parts: list[float]) -> float:
    total = 0.0
    for x in parts:
        total += x
    return total


def hutchinson_trace(params: list[torch.Tensor], losses: Callable[[], Iterable[torch.Tensor]],
                     n: int, rng: np.random.RandomState,
                     combine: Callable[[list[float]], float] = _in_order) -> tuple[float, float]:
    """Hutchinson estimate E vᵀHv, v Rademacher, by double backward: (mean, standard error).

    ``losses()`` yields differentiable parts of the loss that sum to it (e.g. one per chunk of
    the train set), so the Hessian-vector products can be accumulated chunk by chunk; a
    sample is ``combine`` of the parts' vᵀH_c v (data parallel: this rank's parts, added across
    ranks in chunk order).
    """
    samples = []
    for _ in range(n):
        gen = torch.Generator(device=params[0].device)
        gen.manual_seed(int(rng.randint(1_000_000_000)))
        vs = [torch.randint(0, 2, p.shape, generator=gen, device=p.device).to(p.dtype) * 2 - 1
              for p in params]
        parts = []
        # Fused attention kernels have no double backward; the math kernel does.
        with sdpa_kernel(SDPBackend.MATH):
            for part in losses():
                # Zeros, not an error, for a parameter the loss does not touch.
                grads = torch.autograd.grad(part, params, create_graph=True,
                                            materialize_grads=True)
                gv = sum((g * v).sum() for g, v in zip(grads, vs, strict=True))
                hvs = torch.autograd.grad(gv, params, materialize_grads=True)
                parts.append(float(sum((h.double() * v.double()).sum()
                                       for h, v in zip(hvs, vs, strict=True))))
        samples.append(combine(parts))
    return _mean_stderr(samples)


def hutchinson_on(net: torch.nn.Module, params: list[torch.Tensor], chunks: list[dict],
                  n: int, rng: np.random.RandomState, world=None) -> tuple[float, float]:
    """:func:`hutchinson_trace` of a prompt classifier's mean loss over ``chunks``: each rank
    takes its chunks (distributed.py), the parts added across ranks in chunk order."""
    from roberta import distributed, model

    world = world or distributed.SINGLE
    mine, rows = world.mine(chunks), model.rows(chunks)
    return hutchinson_trace(
        params, lambda: (model.batch_loss(net, b) / rows for _, b in mine), n, rng,
        combine=lambda parts: world.ordered_sum(
            {i: v for (i, _), v in zip(mine, parts, strict=True)}, len(chunks)))


def estimate(net: torch.nn.Module, params: list[torch.Tensor], chunks: list[dict],
             estimator: str, n: int, delta: float, dtype: str, rng: np.random.RandomState,
             world=None) -> tuple[float, float]:
    """(estimate, standard error) of Tr ∇²f of the mean loss over ``chunks``, as a run records
    it: the weights are put back bit for bit (:func:`restoring`) and only ``rng`` is drawn from.
    zo in ``dtype``: float64 with the network in float64, f(θ) included (see the precision note
    above), or float32 with :func:`float32_floor` added to the standard error; hutchinson in the
    network's precision (nothing amplifies its rounding)."""
    from roberta import distributed, model

    world = world or distributed.SINGLE

    def loss() -> float:
        return model.mean_loss(net, chunks, world)

    with restoring(params):
        if estimator == "hutchinson":
            return hutchinson_on(net, params, chunks, n, rng, world)
        if dtype == "float32":
            f0 = loss()
            est, se = zo_trace(params, loss, n, delta, rng, f0)
            return est, se + float32_floor(f0, delta)
        with model.float64(net):
            return zo_trace(params, loss, n, delta, rng)
