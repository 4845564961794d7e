"""Speed and memory of the ZO step against the two forward passes it cannot avoid.

    python roberta/bench.py --size large --batch 64 --seq-len 128 --dtype tf32   # a GPU
    python roberta/bench.py --size base --batch 8 --seq-len 64                   # CPU proxy

A RoBERTa-sized masked LM built from a config in this file (no download; large = RoBERTa-large:
hidden 1024, 24 layers, 16 heads, FFN 4096, vocab 50265, 514 positions), random weights, a
synthetic batch; or (--model) a model as train.py loads it (roberta-large from the local cache,
a folder, tiny-random) and (--data sst2) the SST-2 K = 32 train set as train.py encodes it.
Reported, as medians after warm-up (CUDA synchronised): the forward time, the ZO step (this
repo's three passes) and the straightforward four-pass step (perturb +ε, −2ε, restore, update:
--naive in the same run), step / (2 × forward), one perturbation pass, a GD step (and, with
--deterministic-gd, the same step with deterministic algorithms, train.py's GD default on CUDA),
peak memory of inference / ZO / GD, the cost of one trace-estimate sample (float64, as train.py
runs it, and float32 for comparison), and what the trace schedule (--trace-every,
--trace-samples; train.py's defaults) adds to a ZO and a GD run: (host snapshot and restore +
float64 cast and back + f(θ) + samples × one sample) / (trace-every × step).

The projected-gradient check (--grad-check seeds): ĝ = (f(θ+εz) − f(θ−εz))/(2ε) with the forward
in tf32 and bf16 against fp32 on the same θ ± εz (same seed, same z), as rms(ĝ − ĝ_fp32) /
rms(ĝ_fp32) over the seeds; the fp32 row is fp32 against a float64 forward (its own rounding
floor). At initialisation and, with --check-gd-steps, again after those GD steps.

The trace precision check (--trace-check samples, the same u for all): the rounding error of one
sample, against that u's sample recomputed out of place in float64 on the batch cut into other
chunks, over the standard error of a --trace-samples estimate — for the float32 loss a ZO step
uses, per-row float64 cross-entropy of a float32 forward, float32 at δ = 1e-3 (with the O(δ²)
bias that δ costs, from the float64 recomputations), and the float64 forward train.py uses; and
that float64 estimate against Hutchinson's (float64 double backward) in combined standard errors.
"""

from __future__ import annotations

import math
import os
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F

from flatzero import cli
from flatzero.cli import Parser, nonneg_int, positive_float, positive_int
from roberta import distributed, model, trace, zo
from roberta.gd import gd_step
from roberta.train import Config

SIZES = {
    "tiny": dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=2,
                 intermediate_size=256),
    "base": dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                 intermediate_size=3072),
    "large": dict(hidden_size=1024, num_hidden_layers=24, num_attention_heads=16,
                  intermediate_size=4096),
}
VOCAB, POSITIONS = 50265, 514
CHECK_GD_LR = 3e-2  # the GD steps that move the checks to a trained point


class BenchError(Exception):
    """A measurement that cannot be taken here; the message says which and why."""


def progress(message: str) -> None:
    """Which measurement is running (stderr, so that stdout keeps the table)."""
    print(f"bench: {message}", file=sys.stderr, flush=True)


def build(size: str, device: torch.device) -> model.PromptClassifier:
    """A random RoBERTa of ``size`` (SIZES, seed 0), untied as train.py loads it."""
    from transformers import RobertaConfig, RobertaForMaskedLM

    torch.manual_seed(0)
    config = RobertaConfig(vocab_size=VOCAB, max_position_embeddings=POSITIONS, type_vocab_size=1,
                           pad_token_id=1, bos_token_id=0, eos_token_id=2, **SIZES[size])
    mlm = RobertaForMaskedLM(config)
    model.untie(mlm)  # the paper's parameterisation, as train.py loads it
    return model.PromptClassifier(mlm, [6587, 372]).to(device).eval()


def load(name: str, device: torch.device) -> tuple[model.PromptClassifier, Any]:
    """(network, tokenizer) of train.py's ``--model name`` (a local folder, a hub name in the
    local cache, or tiny-random), loaded as train.py loads it (untied, fp32, SST-2's label
    words); BenchError when it cannot be loaded."""
    from roberta import prompts

    try:
        tokenizer, where, cached_only = model.load_tokenizer(name, quiet=True)
        labels = prompts.label_word_ids("SST-2", tokenizer)
        net = model.load_model(where, cached_only, labels, device, False, "fp32")
    except (model.ModelError, prompts.PromptError) as exc:
        raise BenchError(str(exc)) from None
    return net.eval(), tokenizer


def sst2_batch(tokenizer: Any, device: torch.device) -> dict[str, torch.Tensor]:
    """The SST-2 K = 32 seed 42 train set (64 rows) as train.py encodes it, in one chunk padded
    to its longest prompt (built from the shipped originals if missing)."""
    from roberta import data, prompts

    try:
        train = data.load_task("SST-2", 32, 42)["train"]
    except data.DataError as exc:
        raise BenchError(str(exc)) from None
    encoded = prompts.encode(train, "SST-2", tokenizer, Config.max_length)
    return prompts.collate(encoded, tokenizer.pad_token_id, device)


def max_seq_len(net: model.PromptClassifier) -> int:
    """The longest row the model's position embeddings take (RoBERTa's offset: 2)."""
    return int(net.mlm.config.max_position_embeddings) - 2


def synthetic_batch(batch: int, seq_len: int, device: torch.device,
                    vocab: int = VOCAB) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return {
        "input_ids": torch.randint(3, vocab, (batch, seq_len), generator=g).to(device),
        "attention_mask": torch.ones(batch, seq_len, dtype=torch.long, device=device),
        "mask_pos": torch.full((batch,), seq_len // 2, device=device),
        "labels": torch.randint(0, 2, (batch,), generator=g).to(device),
    }


class Timer:
    def __init__(self, device: torch.device, warmup: int, reps: int) -> None:
        self.device, self.warmup, self.reps = device, warmup, reps

    def sync(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def __call__(self, fn: Callable[[], object]) -> float:
        """Median seconds of ``fn`` over the repetitions, after the warm-up calls."""
        for _ in range(self.warmup):
            fn()
        times = []
        for _ in range(self.reps):
            self.sync()
            start = time.perf_counter()
            fn()
            self.sync()
            times.append(time.perf_counter() - start)
        return statistics.median(times)


class Peak:
    """Peak memory of a phase: CUDA allocator peak, or the process's peak RSS on CPU (Linux:
    VmHWM, reset through /proc/self/clear_refs)."""

    def __init__(self, device: torch.device) -> None:
        self.device = device

    def reset(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)
        else:
            try:
                Path("/proc/self/clear_refs").write_text("5")
            except OSError:
                pass

    def gib(self) -> float:
        if self.device.type == "cuda":
            return torch.cuda.max_memory_allocated(self.device) / 2**30
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 2**20
        return float("nan")


@torch.no_grad()
def zo_step_naive(params, loss, seed, eps, lr):
    """The straightforward step: four passes over the parameters (restore, then update)."""
    zo.perturb_(params, seed, eps)
    f_plus = loss()
    zo.perturb_(params, seed, -2.0 * eps)
    f_minus = loss()
    zo.perturb_(params, seed, eps)
    grad = (f_plus - f_minus) / (2.0 * eps)
    zo.perturb_(params, seed, -lr * grad)
    return f_plus, f_minus, grad


def measure(net: model.PromptClassifier, batch: dict[str, torch.Tensor], timer: Timer,
            peak: Peak, trace_every: int, trace_samples: int, gd: bool = True,
            deterministic_gd: bool = False) -> dict[str, float]:
    """The timings and peak memory of the module docstring, in the network's current precision
    (model.set_precision); every step runs at lr 0, so the weights stay where they are (within
    the ulps of the perturbation round trips)."""
    params = zo.trainable(net)
    chunks = [batch]

    def loss() -> float:
        return model.mean_loss(net, chunks)

    seeds = iter(range(10**9))
    progress("forward pass")
    peak.reset()
    t_fwd = timer(loss)
    mem_inf = peak.gib()
    progress("perturbation pass")
    t_pass = timer(lambda: zo.perturb_(params, next(seeds), 0.0))
    progress("ZO step (3 passes)")
    peak.reset()
    t_zo = timer(lambda: zo.zo_step(params, loss, next(seeds), 1e-3, 0.0))
    mem_zo = peak.gib()
    progress("ZO step, naive (4 passes)")
    t_naive = timer(lambda: zo_step_naive(params, loss, next(seeds), 1e-3, 0.0))
    progress("trace sample, float32")
    with trace.restoring(params):
        t_trace32 = timer(lambda: trace.zo_trace(params, loss, 1, 1e-4, _Seeds(), f0=0.0))
    progress("host snapshot and restore, float64 cast and back")
    t_snap = timer(lambda: _snapshot_and_restore(params))
    t_cast = timer(lambda: _cast_round_trip(net))
    progress("trace sample, float64")
    with trace.restoring(params), model.float64(net):
        t_fwd64 = timer(loss)
        t_trace = timer(lambda: trace.zo_trace(params, loss, 1, 1e-4, _Seeds(), f0=0.0))
    t_estimate = t_snap + t_cast + t_fwd64 + trace_samples * t_trace
    res = {"forward_s": t_fwd, "zo_step_s": t_zo, "zo_step_naive_s": t_naive,
           "ratio": t_zo / (2 * t_fwd), "ratio_naive": t_naive / (2 * t_fwd),
           "pass_s": t_pass, "trace_sample_s": t_trace, "trace_sample_fp32_s": t_trace32,
           "trace_snapshot_s": t_snap, "trace_cast_s": t_cast, "trace_estimate_s": t_estimate,
           "trace_overhead_zo": t_estimate / (trace_every * t_zo),
           "mem_inference_gib": mem_inf, "mem_zo_gib": mem_zo}
    if gd:
        progress("GD step")
        peak.reset()
        res["gd_step_s"] = gd_time(net, chunks, timer, deterministic=False)
        res["mem_gd_gib"] = peak.gib()
        res["trace_overhead_gd"] = t_estimate / (trace_every * res["gd_step_s"])
        if deterministic_gd:
            progress("GD step, deterministic algorithms")
            res["gd_step_deterministic_s"] = gd_time(net, chunks, timer, deterministic=True)
            res["gd_deterministic_cost"] = res["gd_step_deterministic_s"] / res["gd_step_s"]
    return res


def gd_time(net: model.PromptClassifier, chunks: list[dict], timer: Timer,
            deterministic: bool) -> float:
    """Median time of a GD step at lr 0 (train.py's clipping), with deterministic algorithms on
    or off (train.py's GD default on CUDA is on; ``--nondeterministic`` turns it off). On CUDA,
    deterministic cuBLAS needs CUBLAS_WORKSPACE_CONFIG set before the first matmul (main and
    gpu_check set it as train.py does)."""
    params = zo.trainable(net)
    before = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(deterministic)
    try:
        return timer(lambda: gd_step(net, params, chunks, 0.0, Config.max_grad_norm))
    except RuntimeError as exc:  # an op without a deterministic implementation
        if not deterministic or "deterministic" not in str(exc):
            raise
        raise BenchError("a GD step with deterministic algorithms (train.py's GD default on "
                         f"CUDA) fails: {str(exc).splitlines()[0][:300]}") from None
    finally:
        torch.use_deterministic_algorithms(before)


def train_gd(net: model.PromptClassifier, chunks: list[dict], steps: int) -> tuple[float, float]:
    """``steps`` GD steps (lr CHECK_GD_LR, train.py's clipping) on ``chunks``, moving the checks
    from initialisation to a trained point; the global RNG (dropout) is left as it was.
    Returns the loss before and after."""
    params = zo.trainable(net)
    device = params[0].device
    before = model.mean_loss(net, chunks)
    progress(f"{steps} GD steps (lr {CHECK_GD_LR:g}) to a trained point")
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        for _ in range(steps):
            gd_step(net, params, chunks, CHECK_GD_LR, Config.max_grad_norm)
    return before, model.mean_loss(net, chunks)


# --- the projected gradient by forward precision -----------------------------------------------

GRAD_REFERENCE = "fp64"  # the fp32 row is measured against a float64 forward


@torch.no_grad()
def grad_check(net: model.PromptClassifier, chunks: list[dict], n: int, eps: float,
               dtypes: Sequence[str] = model.DTYPES) -> dict[str, float]:
    """ĝ = (f(θ+εz) − f(θ−εz))/(2ε) for n seeds with the forward in each of ``dtypes`` and in
    float64, on the very same θ ± εz (one perturbation, every precision evaluated on it).

    Returns ``loss`` (fp32 f(θ)), ``grad_rms`` (rms of fp32's ĝ over the seeds) and, for each
    dtype, ``error_<dtype>`` = rms(ĝ_dtype − ĝ_fp32) / rms(ĝ_fp32); for fp32 itself the
    reference is the float64 forward (fp32's own rounding). The network's precision is put back.
    """
    params = zo.trainable(net)
    saved = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32, net.autocast)
    seeds = [int(s) for s in np.random.RandomState(2).randint(1_000_000_000, size=n)]
    names = list(dict.fromkeys(["fp32", *dtypes]))

    def losses() -> dict[str, float]:
        out = {}
        for d in names:
            model.set_precision(net, d)
            out[d] = model.mean_loss(net, chunks)
        with model.float64(net):  # widening θ ± εz is exact; so is the cast back
            out[GRAD_REFERENCE] = model.mean_loss(net, chunks)
        return out

    grads: dict[str, list[float]] = {d: [] for d in [*names, GRAD_REFERENCE]}
    try:
        with trace.restoring(params):
            f0 = losses()
            progress(f"projected gradient by precision: {n} seeds × {len(grads)} precisions")
            for seed in seeds:
                zo.perturb_(params, seed, eps)
                plus = losses()
                zo.perturb_(params, seed, -2.0 * eps)
                minus = losses()
                zo.perturb_(params, seed, eps)
                for d in grads:
                    grads[d].append((plus[d] - minus[d]) / (2.0 * eps))
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved[:2]
        net.autocast = saved[2]
    g = {d: np.asarray(v) for d, v in grads.items()}
    rms = float(np.sqrt(np.mean(g["fp32"] ** 2)))
    res = {"loss": f0["fp32"], "grad_rms": rms, "eps": eps, "seeds": float(n)}
    for d in names:
        ref = g[GRAD_REFERENCE] if d == "fp32" else g["fp32"]
        res[f"error_{d}"] = float(np.sqrt(np.mean((g[d] - ref) ** 2))) / rms
        res[f"loss_diff_{d}"] = abs(f0[d] - (f0[GRAD_REFERENCE] if d == "fp32" else f0["fp32"]))
    return res


def grad_lines(res: dict[str, float], where: str, device: torch.device) -> list[str]:
    """The printed lines of one grad_check result."""
    lines = [f"    {where} (loss {res['loss']:.4f}, rms ĝ {res['grad_rms']:.3g}):"]
    for d in model.DTYPES:
        if f"error_{d}" in res:
            ref = "float64 forward" if d == "fp32" else "fp32"
            note = "   (no effect on a CPU)" if d == "tf32" and device.type != "cuda" else ""
            lines.append(f"      {d} against {ref:15s} {res[f'error_{d}']:9.3g}{note}")
    return lines


# --- the command line -------------------------------------------------------------------------

def build_parser() -> Parser:
    p = Parser(prog="bench.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--size", choices=list(SIZES), default="base",
                   help="size of the random RoBERTa")
    p.add_argument("--model", default=None,
                   help="instead of a random --size model, train.py's --model: a local folder, "
                        "a hub name in the local cache (roberta-large) or tiny-random")
    p.add_argument("--data", choices=("synthetic", "sst2"), default="synthetic",
                   help="the batch: --batch random rows of --seq-len tokens, or (with --model) "
                        "the SST-2 K = 32 seed 42 train set as train.py encodes it (64 rows)")
    p.add_argument("--batch", type=positive_int, default=64, help="synthetic rows per forward")
    p.add_argument("--seq-len", type=positive_int, default=128, help="synthetic tokens per row")
    p.add_argument("--dtype", choices=model.DTYPES, default="fp32", help="forward precision")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, ...")
    p.add_argument("--warmup", type=positive_int, default=2, help="untimed calls first")
    p.add_argument("--reps", type=positive_int, default=5, help="timed calls (median)")
    p.add_argument("--no-gd", action="store_true", help="skip the GD step (its memory)")
    p.add_argument("--deterministic-gd", action="store_true",
                   help="also time the GD step with deterministic algorithms (train.py's GD "
                        "default on CUDA) and report its cost against the step without")
    p.add_argument("--trace-every", type=positive_int, default=Config.trace_every,
                   help="trace schedule whose overhead is reported: steps between estimates")
    p.add_argument("--trace-samples", type=positive_int, default=Config.trace_samples,
                   help="trace schedule whose overhead is reported: samples per estimate")
    p.add_argument("--data-parallel", type=positive_int, default=None, metavar="N",
                   help="instead: train.py's step time with 1 process × N threads against N "
                        "processes × 1 thread (torchrun, gloo) on the same batch and chunks")
    p.add_argument("--dp-steps", type=positive_int, default=20,
                   help="--data-parallel: steps per run (their mean step time is reported)")
    p.add_argument("--dp-chunk-size", type=positive_int, default=32,
                   help="--data-parallel: rows per chunk of the 64-row SST-2 K = 32 batch")
    p.add_argument("--grad-check", type=nonneg_int, default=0, metavar="SEEDS",
                   help="seeds of the projected-gradient check by forward precision (0: skip)")
    p.add_argument("--grad-eps", type=positive_float, default=Config.eps,
                   help="--grad-check: ε of ĝ (train.py's default)")
    p.add_argument("--trace-check", type=nonneg_int, default=8,
                   help="samples of the trace precision check (0: skip; --no-gd skips its "
                        "Hutchinson part)")
    p.add_argument("--check-gd-steps", type=nonneg_int, default=0,
                   help=f"GD steps (lr {CHECK_GD_LR:g}) on the batch before the precision checks, "
                        "to run them at a trained point (--grad-check: at initialisation too)")
    return p


def main(argv: list[str] | None = None) -> dict[str, float]:
    """Parse, measure, print; every error ends as one line and an exit status."""
    args = build_parser().parse_args(argv)
    if args.data_parallel:
        return {**data_parallel(args.size, args.data_parallel, args.dp_steps, args.dp_chunk_size,
                                "zo"),
                **data_parallel(args.size, args.data_parallel, args.dp_steps, args.dp_chunk_size,
                                "gd")}
    try:
        device = distributed.resolve_device(args.device)
    except distributed.DeviceError as exc:
        cli.fail(str(exc))
    if args.deterministic_gd and device.type == "cuda":
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # before the first matmul
    try:
        return run(args, device)
    except torch.OutOfMemoryError:
        cli.fail(f"out of memory on {device} at --size {args.size} --batch {args.batch} "
                 f"--seq-len {args.seq_len}: lower --batch or --seq-len")
    except BenchError as exc:
        cli.fail(str(exc))


def run(args, device: torch.device) -> dict[str, float]:
    if args.data == "sst2" and not args.model:
        raise BenchError("--data sst2 needs --model (its tokenizer encodes the prompts)")
    progress(f"{'loading' if args.model else 'building'} the {args.model or args.size} model "
             f"on {device}")
    net, tokenizer = load(args.model, device) if args.model else (build(args.size, device),
                                                                  None)
    if args.data == "sst2":
        batch = sst2_batch(tokenizer, device)
    else:
        if args.seq_len > max_seq_len(net):
            raise BenchError(f"--seq-len {args.seq_len}: the {args.model or args.size} model "
                             f"takes at most {max_seq_len(net)} tokens a row")
        batch = synthetic_batch(args.batch, args.seq_len, device, int(net.mlm.config.vocab_size))
    model.set_precision(net, args.dtype)
    chunks = [batch]
    timer, peak = Timer(device, args.warmup, args.reps), Peak(device)
    res = measure(net, batch, timer, peak, args.trace_every, args.trace_samples,
                  gd=not args.no_gd, deterministic_gd=args.deterministic_gd)
    res["batch_rows"], res["batch_tokens"] = map(float, batch["input_ids"].shape)
    grads = {}
    if args.grad_check:
        start = ("at initialisation" if args.model in (None, "tiny-random")
                 else "at the loaded weights")
        grads[start] = grad_check(net, chunks, args.grad_check, args.grad_eps)
        res.update({f"grad_init_{k}": v for k, v in grads[start].items()})
    if (args.trace_check or args.grad_check) and args.check_gd_steps:
        res["check_loss_before"], res["check_loss_after"] = train_gd(net, chunks,
                                                                     args.check_gd_steps)
        if args.grad_check:
            where = f"after {args.check_gd_steps} GD steps at lr {CHECK_GD_LR:g}"
            grads[where] = grad_check(net, chunks, args.grad_check, args.grad_eps)
            res.update({f"grad_trained_{k}": v for k, v in grads[where].items()})
    if args.trace_check:
        progress(f"trace precision check ({args.trace_check} samples)")
        res.update(trace_check(net, batch, args.trace_check, args.trace_samples,
                               hutchinson=not args.no_gd))
    report(res, args, net, device, grads)
    return res


def report(res: dict[str, float], args, net: model.PromptClassifier, device: torch.device,
           grads: dict[str, dict[str, float]]) -> None:
    """The printed table of one bench run."""
    n = sum(p.numel() for p in zo.trainable(net))
    t_fwd, t_zo, t_naive = res["forward_s"], res["zo_step_s"], res["zo_step_naive_s"]
    t_trace, t_estimate = res["trace_sample_s"], res["trace_estimate_s"]
    mem_inf, mem_zo = res["mem_inference_gib"], res["mem_zo_gib"]
    rows, width = int(res["batch_rows"]), int(res["batch_tokens"])
    data = "SST-2 K = 32 train set" if args.data == "sst2" else "synthetic"
    print(f"{args.model or args.size} ({n / 1e6:.3g}M parameters), {data} batch {rows} × "
          f"{width}, {args.dtype}, {device}" + (f" ({torch.cuda.get_device_name(device)})"
                                       if device.type == "cuda" else ""))
    print(f"  forward                {t_fwd:8.4f} s")
    print(f"  ZO step (3 passes)     {t_zo:8.4f} s   step / (2 × forward) = {res['ratio']:.2f}")
    print(f"  ZO step, naive (4)     {t_naive:8.4f} s   step / (2 × forward) = "
          f"{res['ratio_naive']:.2f}")
    print(f"  one perturbation pass  {res['pass_s']:8.4f} s")
    print(f"  trace sample (±δu)     {t_trace:8.4f} s   float64 (float32: "
          f"{res['trace_sample_fp32_s']:.4f} s); host snapshot + restore "
          f"{res['trace_snapshot_s']:.4f} s, float64 cast and back {res['trace_cast_s']:.4f} s")
    overhead = f"+{100 * res['trace_overhead_zo']:.0f}% to a ZO run"
    if "trace_overhead_gd" in res:
        overhead += f", +{100 * res['trace_overhead_gd']:.0f}% to a GD run"
    print(f"  trace estimate         {t_estimate:8.4f} s   every {args.trace_every} steps × "
          f"{args.trace_samples} samples: {overhead}")
    if "gd_step_s" in res:
        print(f"  GD step                {res['gd_step_s']:8.4f} s")
    if "gd_step_deterministic_s" in res:
        print(f"  GD step, deterministic {res['gd_step_deterministic_s']:8.4f} s   "
              f"{res['gd_deterministic_cost']:.2f} × the step without")
    mem = f"  peak memory GiB: inference {mem_inf:.2f}, ZO {mem_zo:.2f} " \
          f"({mem_zo / mem_inf:.3f} × inference)"
    print(mem + (f", GD {res['mem_gd_gib']:.2f}" if "mem_gd_gib" in res else ""))
    if grads:
        print(f"  projected gradient ĝ by forward precision, {args.grad_check} seeds, "
              f"ε = {args.grad_eps:g}: rms(ĝ − ĝ_ref) / rms(ĝ_fp32)")
        for where, g in grads.items():
            for line in grad_lines(g, where, device):
                print(line)
    if args.trace_check:
        at = (f"after {args.check_gd_steps} GD steps (loss {res['check_loss_before']:.3f} → "
              f"{res['check_loss_after']:.3f})" if args.check_gd_steps else "at initialisation")
        print(f"  trace precision {at}, {args.trace_check} samples: rounding of one sample / SE "
              f"of a {args.trace_samples}-sample estimate")
        for key, label in OPTIONS.items():
            line = f"    {label:30s} {res[f'trace_rounding_{key}']:9.2g}"
            if key == "fp32_delta1e-3":
                line += (f"   O(δ²) bias {res['trace_bias_delta1e-3']:+.3g} ± "
                         f"{res['trace_bias_delta1e-3_se']:.2g} = "
                         f"{res['trace_bias_delta1e-3'] / res['trace_se']:+.2g} SE")
            print(line)
        line = f"    ZO (float64) {res['trace_zo']:.4g} ± {res['trace_zo_se']:.2g}"
        if "trace_hvp" in res:
            line += (f", Hutchinson (float64) {res['trace_hvp']:.4g} ± {res['trace_hvp_se']:.2g}: "
                     f"{res['trace_gap_se']:.2f} combined SE apart")
        print(line)


@torch.no_grad()
def _recomputed(net: model.PromptClassifier, chunks: list[dict], seeds: list[int],
                delta: float) -> np.ndarray:
    """The samples of ``seeds`` again, from a clean θ each: θ ± δu set out of place (float64
    inside model.float64; u is the float32 draw either way)."""
    params = zo.trainable(net)
    theta = [p.detach().clone() for p in params]

    def f(scale: float, u: list[torch.Tensor]) -> float:
        for p, t, z in zip(params, theta, u, strict=True):
            p.copy_(t + scale * z)
        return model.mean_loss(net, chunks)

    f0 = model.mean_loss(net, chunks)
    out = []
    for seed in seeds:
        u = zo.direction(params, seed)
        out.append((f(delta, u) + f(-delta, u) - 2.0 * f0) / delta**2)
    for p, t in zip(params, theta, strict=True):
        p.copy_(t)
    return np.asarray(out)


OPTIONS = {"fp32": "float32 loss (as a ZO step)", "rows64": "per-row float64 loss",
           "fp32_delta1e-3": "float32, δ = 1e-3", "fp64": "float64 forward (train.py)"}


@torch.no_grad()
def _rows64_loss(net: model.PromptClassifier, chunks: list[dict]) -> float:
    """Mean cross-entropy, each row's in float64 from float32 logits (a measured option)."""
    total = sum(F.cross_entropy(net(b["input_ids"], b["attention_mask"], b["mask_pos"]).double(),
                                b["labels"], reduction="sum") for b in chunks)
    return float(total) / sum(len(b["labels"]) for b in chunks)


def trace_check(net: model.PromptClassifier, batch: dict[str, torch.Tensor], n: int,
                samples: int, hutchinson: bool) -> dict[str, float]:
    """The precision check of the module docstring, on ``batch``: n samples per option."""
    params = zo.trainable(net)
    rows = len(batch["labels"])
    step = max(1, rows // 3)
    reverse = torch.arange(rows - 1, -1, -1, device=batch["labels"].device)
    other = [{k: v[reverse][i:i + step] for k, v in batch.items()} for i in range(0, rows, step)]
    seeds = [int(s) for s in np.random.RandomState(0).randint(1_000_000_000, size=n)]

    def estimate(loss: Callable, delta: float) -> np.ndarray:
        with trace.restoring(params):
            return np.asarray(trace.zo_samples(params, lambda: loss(net, [batch]), n, delta,
                                               _Seeds(seeds)))

    est = {"fp32": estimate(model.mean_loss, 1e-4), "rows64": estimate(_rows64_loss, 1e-4),
           "fp32_delta1e-3": estimate(model.mean_loss, 1e-3)}
    with trace.restoring(params), model.float64(net):
        est["fp64"] = estimate(model.mean_loss, 1e-4)
        ref = {d: _recomputed(net, other, seeds, d) for d in (1e-4, 1e-3)}
    s64 = est["fp64"]
    se = float(s64.std(ddof=1) / np.sqrt(samples)) if n > 1 else math.nan
    res = {f"trace_rounding_{k}": float(np.sqrt(np.mean((v - ref[1e-3 if "1e-3" in k else 1e-4])
                                                         ** 2))) / se for k, v in est.items()}
    bias = ref[1e-3] - ref[1e-4]
    res.update({"trace_se": se, "trace_bias_delta1e-3": float(bias.mean()),
                "trace_bias_delta1e-3_se": float(bias.std(ddof=1) / np.sqrt(n)),
                "trace_zo": float(s64.mean()),
                "trace_zo_se": float(s64.std(ddof=1) / np.sqrt(n)) if n > 1 else math.nan})
    if hutchinson:
        with trace.restoring(params), model.float64(net):
            res["trace_hvp"], res["trace_hvp_se"] = trace.hutchinson_trace(
                params, lambda: [model.batch_loss(net, batch) / rows], n,
                np.random.RandomState(1))
        res["trace_gap_se"] = (abs(res["trace_zo"] - res["trace_hvp"])
                               / math.hypot(res["trace_zo_se"], res["trace_hvp_se"]))
    return res


def _cast_round_trip(net: model.PromptClassifier) -> None:
    with model.float64(net):
        pass


def _snapshot_and_restore(params: list[torch.Tensor]) -> None:
    with trace.restoring(params):
        pass


class _Seeds:
    """A stand-in for the diagnostics RNG: the given sample seeds in turn, then fresh ones."""

    def __init__(self, seeds: list[int] | None = None) -> None:
        self.seeds, self.n = list(seeds or []), 0

    def randint(self, _high: int) -> int:
        self.n += 1
        return self.seeds[self.n - 1] if self.n <= len(self.seeds) else self.n


# --- data parallel: the real train.py, 1 process vs N processes (torchrun) ---------------------

def data_parallel(size: str, nproc: int, steps: int, chunk_size: int, algo: str) -> dict:
    """Mean step time of ``train.py`` on SST-2 K = 32 (64 rows, full batch) with one process
    using ``nproc`` threads against ``nproc`` processes of one thread each (torchrun, gloo), the
    same chunks either way; a random RoBERTa of ``size`` with the tiny-random tokenizer."""
    import json
    import os
    import subprocess
    import sys
    import tempfile

    from transformers import AutoTokenizer, RobertaConfig, RobertaForMaskedLM

    from roberta import tiny_random

    tok_dir = tiny_random.ensure()
    tok = AutoTokenizer.from_pretrained(tok_dir)
    times = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / f"random-{size}"
        tok.save_pretrained(folder)
        torch.manual_seed(0)
        config = RobertaConfig(vocab_size=len(tok), max_position_embeddings=130,
                               type_vocab_size=1, pad_token_id=tok.pad_token_id,
                               bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
                               **SIZES[size])
        RobertaForMaskedLM(config).save_pretrained(folder)
        script = Path(__file__).resolve().parent / "train.py"
        flags = ["--model", str(folder), "--algo", algo, "--steps", str(steps),
                 "--eval-steps", str(steps), "--trace-every", "0", "--chunk-size",
                 str(chunk_size), "--device", "cpu", "--quiet", "--lr", "1e-6"]
        repo = str(Path(__file__).resolve().parents[1])
        for label, threads, launcher in (
                ("1 process", nproc, [sys.executable, str(script)]),
                (f"{nproc} processes", 1, [sys.executable, "-m", "torch.distributed.run",
                                           "--standalone", f"--nproc_per_node={nproc}",
                                           str(script)])):
            out = Path(tmp) / label.replace(" ", "-")
            env = {**os.environ, "OMP_NUM_THREADS": str(threads), "PYTHONPATH": repo}
            subprocess.run([*launcher, *flags, "--out", str(out)], env=env, check=True,
                           stdout=subprocess.DEVNULL)
            log = json.loads((out / "result.json").read_text())["log"]
            times[label] = log[-1]["step_time_s"]
    one, many = times["1 process"], times[f"{nproc} processes"]
    print(f"data parallel, {size} RoBERTa ({algo}, SST-2 K = 32: 64 rows in chunks of "
          f"{chunk_size}), mean of {steps} steps:")
    print(f"  1 process × {nproc} threads   {one:8.4f} s/step")
    print(f"  {nproc} processes × 1 thread  {many:8.4f} s/step   "
          f"speed-up {one / many:.2f}× (> 1: data parallel is faster)")
    return {f"dp_{algo}_one_s": one, f"dp_{algo}_many_s": many, f"dp_{algo}_ratio": one / many}


if __name__ == "__main__":
    cli.run(main)
