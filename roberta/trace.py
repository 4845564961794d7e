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

import math
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

import numpy as np
import torch
from torch.nn.attention import SDPBackend, sdpa_kernel

from roberta.zo import perturb_

ESTIMATORS = ("zo", "hutchinson")


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
