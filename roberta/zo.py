"""MeZO-style zeroth-order SGD for any nn.Module: seeded in-place perturbations, no copies.

The direction z ~ N(0, I) over all trainable parameters is never stored: a step seed regenerates
it, one group of parameters (≤ GROUP elements) at a time, whenever it is needed. Memory stays at
inference level.

Floating point: θ + εz − 2εz + εz is not exactly θ (each in-place add rounds to the parameter's
precision), so after a perturb/restore round trip every entry is within a few ulps of
max(|θ|, ε|z|) of where it started — the price of not keeping a copy (tests bound it).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

import torch
from torch import nn


def trainable(module: nn.Module) -> list[torch.Tensor]:
    """The parameters a ZO step moves (tied weights appear once)."""
    return [p for p in module.parameters() if p.requires_grad]


# The smallest ε: float32's machine epsilon. A smaller ε moves weights of size 1 by less than
# their rounding, and f(θ + εz) − f(θ − εz) drowns in the loss's own rounding (at 1e-30 the
# step moves nothing).
MIN_EPS = float(torch.finfo(torch.float32).eps)


def perturbation(text: str) -> float:
    """argparse type of ε."""
    value = float(text)
    if not MIN_EPS <= value < float("inf"):
        raise argparse.ArgumentTypeError(
            f"must be at least {MIN_EPS:.3g} (float32's machine epsilon), got {text}: a smaller "
            "ε moves the float32 weights by less than their rounding")
    return value


# Elements of z drawn per call: the extra memory is at most 16 MB (fp32), small enough to stay in
# a GPU's L2 cache (40-50 MB on A100/H100) between the draw and the add that consumes it.
GROUP = 1 << 22


def _groups(params: list[torch.Tensor]) -> list[list[tuple[int, torch.Tensor]]]:
    """(parameter index, flat slice) pieces packed into groups of at most GROUP elements of one
    dtype and device; a parameter larger than GROUP is cut into slices, so no group (and no
    buffer of z) is larger than GROUP."""
    groups: list[list[tuple[int, torch.Tensor]]] = []
    size = GROUP
    for i, p in enumerate(params):
        flat = p.view(-1)
        for start in range(0, flat.numel(), GROUP):
            piece = flat[start:start + GROUP]
            last = groups[-1][-1][1] if groups else None
            if (last is None or size + piece.numel() > GROUP or piece.dtype != last.dtype
                    or piece.device != last.device):
                groups.append([])
                size = 0
            groups[-1].append((i, piece))
            size += piece.numel()
    return groups


def _group_directions(params: list[torch.Tensor], seed: int):
    """For each group: its pieces and their slices of z, drawn in one call.

    z ~ N(0, I) is a function of ``seed`` and the parameter list only, so every pass of a step
    regenerates exactly the same z: group after group, torch.randn(group size) from one generator
    seeded with ``seed``. The draws land in one reused buffer per dtype and device (``normal_``
    in place gives the same numbers as ``randn``; a fresh 16 MB tensor per group costs page
    faults on a CPU), so a group's slices are valid only until the next group is yielded.
    Float64 parameters (the trace estimate, model.float64) get the float32 draw: the same z as
    float32 ones, and a CPU draws float64 normals 5× slower.
    """
    gen = torch.Generator(device=params[0].device)
    gen.manual_seed(seed)
    groups = _groups(params)
    buffers: dict[tuple[torch.dtype, torch.device], torch.Tensor] = {}
    for group in groups:
        key = (group[0][1].dtype, group[0][1].device)
        if key not in buffers:
            size = max(sum(piece.numel() for _, piece in g) for g in groups
                       if (g[0][1].dtype, g[0][1].device) == key)
            draw = torch.float32 if key[0] == torch.float64 else key[0]
            buffers[key] = torch.empty(size, dtype=draw, device=key[1])
        sizes = [piece.numel() for _, piece in group]
        flat = buffers[key][:sum(sizes)].normal_(generator=gen)
        yield group, flat.split(sizes)


@torch.no_grad()
def perturb_(params: list[torch.Tensor], seed: int, scale: float) -> None:
    """θ ← θ + scale·z in place, z the step's direction (one draw and one fused add per group)."""
    for group, zs in _group_directions(params, seed):
        torch._foreach_add_([piece for _, piece in group], list(zs), alpha=scale)


def direction(params: list[torch.Tensor], seed: int) -> list[torch.Tensor]:
    """The whole direction z for ``seed``, one tensor per parameter (tests and small models:
    it allocates a copy of the parameters)."""
    out = [torch.empty_like(p) for p in params]
    flats = [t.view(-1) for t in out]
    offsets = [0] * len(params)
    for group, zs in _group_directions(params, seed):
        for (i, piece), z in zip(group, zs, strict=True):
            flats[i][offsets[i]:offsets[i] + piece.numel()] = z
            offsets[i] += piece.numel()
    return out


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
