"""Data parallel for the training loop: ``torchrun --nproc_per_node N roberta/train.py ...``.

Every rank holds the full weights and the same RNG states, so every rank draws the same ZO step
seed, the same z and the same mini-batch. The forward chunks are exactly those of one process
(same rows, same padding); chunk i is computed by rank i mod N. Each chunk's loss is a float64
partial sum; the ranks exchange the vector of partial sums (each entry has one non-zero
contributor, so the all-reduce is exact) and every rank adds it up in chunk order, the order one
process uses. Hence a ZO run's losses, trace estimates, accuracies and weights are bit-identical
for any N on one device type; only scalars cross the wire.

GD needs the gradients: they are all-reduced (summed), which rounds differently from one
process accumulating chunk after chunk, so GD agrees with one process to float32 rounding only
(README). Without torchrun nothing here starts a process group and the loop runs as a plain
single process.
"""

from __future__ import annotations

import datetime
import functools
import os
import platform
import resource
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import torch
import torch.distributed as dist

T = TypeVar("T")
CPU = torch.device("cpu")


class DeviceError(ValueError):
    """A --device that this machine does not have, or ranks that cannot work together."""


def resolve_device(name: str) -> torch.device:
    """``auto`` → cuda if available else cpu; anything else is checked against the machine."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise DeviceError(f"--device {name!r} is not a device (auto, cpu, cuda, cuda:1, "
                          "...)") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise DeviceError(f"--device {name}: CUDA is not available on this machine "
                              "(use --device cpu or auto)")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise DeviceError(f"--device {name}: this machine has {torch.cuda.device_count()} "
                              "CUDA device(s)")
    elif device.type != "cpu":
        raise DeviceError(f"--device {name}: only cpu and cuda devices are supported")
    return device


@dataclass(frozen=True)
class World:
    """This process's place among the ranks (rank 0 of 1 without torchrun)."""

    rank: int = 0
    size: int = 1
    device: torch.device = CPU

    @property
    def main(self) -> bool:
        return self.rank == 0

    def mine(self, items: Sequence[T]) -> list[tuple[int, T]]:
        """(index, item) of the items this rank computes: index mod size == rank."""
        return [(i, x) for i, x in enumerate(items) if i % self.size == self.rank]

    def ordered_sum(self, values: dict[int, float | torch.Tensor], n: int) -> float:
        """Σ of n per-chunk values in chunk order, each computed by one rank (``values`` holds
        this rank's); the same float as one process adding them in that order."""
        vec = torch.zeros(n, dtype=torch.float64, device=self.device)
        for i, v in values.items():
            vec[i] = v
        if self.size > 1:
            dist.all_reduce(vec)  # x + 0 + … + 0 = x: exact whatever the reduction order
        total = 0.0
        for x in vec.tolist():  # one device-to-host sync
            total += x
        return total

    def sum_int(self, value: int, op: str = "sum") -> int:
        if self.size == 1:
            return value
        t = torch.tensor([value], dtype=torch.int64, device=self.device)
        dist.all_reduce(t, getattr(dist.ReduceOp, op.upper()))
        return int(t.item())

    def max_int(self, value: int) -> int:
        return self.sum_int(value, "max")

    def agree(self, ok: bool) -> bool:
        """Whether every rank says ``ok`` (a rank that fails tells the others before it ends)."""
        return bool(self.sum_int(int(ok), "min"))

    def check_chunks(self, rows: int, chunk_size: int) -> None:
        """Refuse a step whose chunks leave some rank without work."""
        n = -(-rows // chunk_size)
        if n < self.size:
            raise DeviceError(f"{rows} rows per step in chunks of {chunk_size} make {n} chunk(s) "
                              f"for {self.size} processes, so {self.size - n} would idle: pass "
                              f"--chunk-size {-(-rows // self.size)} or less")

    def all_reduce_grads(self, params: list[torch.Tensor], bucket: int = 1 << 24) -> None:
        """Sum the gradients over the ranks, in buckets of ≤ ``bucket`` elements per dtype.

        A parameter without a gradient (no chunk on this rank, or unused by the loss) joins
        with zeros, so every rank makes the same collective calls."""
        if self.size == 1:
            return
        for p in params:
            if p.grad is None:
                p.grad = torch.zeros_like(p)
        grads = [p.grad for p in params]
        start = 0
        while start < len(grads):
            stop, size = start, 0
            while stop < len(grads) and (stop == start or (size + grads[stop].numel() <= bucket
                                                           and grads[stop].dtype
                                                           == grads[start].dtype)):
                size += grads[stop].numel()
                stop += 1
            flat = torch.cat([g.reshape(-1) for g in grads[start:stop]])
            dist.all_reduce(flat)
            offset = 0
            for g in grads[start:stop]:
                g.copy_(flat[offset:offset + g.numel()].view_as(g))
                offset += g.numel()
            start = stop


SINGLE = World()  # one process on the CPU


def init(device: str = "auto", timeout_s: float = 600.0, deterministic: bool = False) -> World:
    """The World of this process: a process group under torchrun (cuda + NCCL when there are
    GPUs, cpu + gloo otherwise; every collective times out after ``timeout_s``), else 1 rank.

    ``deterministic``: on CUDA, deterministic kernels only (a GD step's backward; a ZO step has
    none), so that a resumed run repeats an uninterrupted one bit for bit."""
    size = int(os.environ.get("WORLD_SIZE", "1"))
    dev = resolve_device(device)
    if deterministic and dev.type == "cuda":
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # before the first matmul
        torch.use_deterministic_algorithms(True)
    if size == 1:
        return World(device=dev)
    rank, local = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    if dev.type == "cuda":
        dev = torch.device("cuda", local if dev.index is None else dev.index)
        torch.cuda.set_device(dev)
    if not dist.is_initialized():
        try:
            dist.init_process_group("nccl" if dev.type == "cuda" else "gloo", rank=rank,
                                    world_size=size,
                                    timeout=datetime.timedelta(seconds=timeout_s))
        except (RuntimeError, ValueError) as exc:  # DistStoreError, timeouts: C++ frames
            raise DeviceError(f"the {size} processes did not meet "
                              f"({str(exc).splitlines()[0][:200]}); is --dist-timeout "
                              f"({timeout_s:g} s) long enough?") from None
    return World(rank, size, dev)


def environment(world: World) -> dict[str, object]:
    """What a run's numbers depend on besides its settings: device type, number of processes,
    torch and CUDA versions (a requeue onto another GPU model draws other CUDA normals)."""
    dev = world.device
    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else f"cpu ({platform.machine()})"
    return {"world_size": world.size, "device": name, "torch": torch.__version__,
            "cuda": torch.version.cuda}


def peak_memory_gib(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**30
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # Linux: KiB


def shutdown() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def main_only(method: Callable[..., T]) -> Callable[..., T | None]:
    """Run a method of an object with a ``world`` on rank 0 only (files, logs, checkpoints)."""
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        return method(self, *args, **kwargs) if self.world.main else None
    return wrapper
