"""MeZO-style zeroth-order SGD for any nn.Module: seeded in-place perturbations, no copies.

The direction z ~ N(0, I) over all trainable parameters is never stored: a step seed regenerates
it, parameter by parameter, whenever it is needed. Memory stays at inference level.

Floating point: θ + εz − 2εz + εz is not exactly θ (each in-place add rounds to the parameter's
precision), so after a perturb/restore round trip every entry is within a few ulps of
max(|θ|, ε|z|) of where it started — the price of not keeping a copy (tests bound it).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn


def trainable(module: nn.Module) -> list[torch.Tensor]:
    """The parameters a ZO step moves (tied weights appear once)."""
    return [p for p in module.parameters() if p.requires_grad]


@torch.no_grad()
def perturb_(params: list[torch.Tensor], seed: int, scale: float) -> None:
    """θ ← θ + scale·z in place, z ~ N(0, I) drawn from a generator seeded with ``seed``."""
    gen = torch.Generator(device=params[0].device)
    gen.manual_seed(seed)
    for p in params:
        z = torch.randn(p.shape, generator=gen, device=p.device, dtype=p.dtype)
        p.add_(z, alpha=scale)


@torch.no_grad()
def zo_step(params: list[torch.Tensor], loss: Callable[[], float], seed: int, eps: float,
            lr: float) -> tuple[float, float, float]:
    """One ZO-SGD step; returns (f₊, f₋, projected gradient ĝ = (f₊ − f₋)/(2ε)).

    θ ← θ + εz: f₊;  θ ← θ − 2εz: f₋;  θ ← θ + (ε − lr·ĝ)·z, the restore and the update
    θ ← θ − lr·ĝ·z fused into one pass over the parameters (three passes in all).
    """
    perturb_(params, seed, eps)
    f_plus = loss()
    perturb_(params, seed, -2.0 * eps)
    f_minus = loss()
    grad = (f_plus - f_minus) / (2.0 * eps)
    perturb_(params, seed, eps - lr * grad)
    return f_plus, f_minus, grad
