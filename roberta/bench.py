"""Speed and memory of the ZO step against the two forward passes it cannot avoid.

    python roberta/bench.py --size large --batch 64 --seq-len 128 --dtype tf32   # a GPU
    python roberta/bench.py --size base --batch 8 --seq-len 64                   # CPU proxy

A RoBERTa-sized masked LM built from a config in this file (no download; large = RoBERTa-large:
hidden 1024, 24 layers, 16 heads, FFN 4096, vocab 50265, 514 positions), random weights, a
synthetic batch. Reported, as medians after warm-up (CUDA synchronised): the forward time, the
ZO step (this repo's three passes) and the straightforward four-pass step (perturb +ε, −2ε,
restore, update: --naive in the same run), step / (2 × forward), one perturbation pass, a GD step,
peak memory of inference / ZO / GD, the cost of one trace-estimate sample (float64, as train.py
runs it, and float32 for comparison), and what the trace schedule (--trace-every,
--trace-samples; train.py's defaults) adds to a ZO and a GD run: (host snapshot and restore +
float64 cast and back + f(θ) + samples × one sample) / (trace-every × step).

The trace precision check (--trace-check samples, the same u for all): the rounding error of one
sample, against that u's sample recomputed out of place in float64 on the batch cut into other
chunks, over the standard error of a --trace-samples estimate — for the float32 loss a ZO step
uses, per-row float64 cross-entropy of a float32 forward, float32 at δ = 1e-3 (with the O(δ²)
bias that δ costs, from the float64 recomputations), and the float64 forward train.py uses; and
that float64 estimate against Hutchinson's (float64 double backward) in combined standard errors.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from flatzero.cli import Parser, nonneg_int, positive_int
from roberta import model, trace, zo
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


def build(size: str, device: torch.device) -> model.PromptClassifier:
    from transformers import RobertaConfig, RobertaForMaskedLM

    torch.manual_seed(0)
    config = RobertaConfig(vocab_size=VOCAB, max_position_embeddings=POSITIONS, type_vocab_size=1,
                           pad_token_id=1, bos_token_id=0, eos_token_id=2, **SIZES[size])
    mlm = RobertaForMaskedLM(config)
    model.untie(mlm)  # the paper's parameterisation, as train.py loads it
    return model.PromptClassifier(mlm, [6587, 372]).to(device).eval()


def synthetic_batch(batch: int, seq_len: int, device: torch.device) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return {
        "input_ids": torch.randint(3, VOCAB, (batch, seq_len), generator=g).to(device),
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


def main(argv: list[str] | None = None) -> dict[str, float]:
    p = Parser(prog="bench.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--size", choices=list(SIZES), default="base", help="model size")
    p.add_argument("--batch", type=positive_int, default=64, help="rows per forward")
    p.add_argument("--seq-len", type=positive_int, default=128, help="tokens per row")
    p.add_argument("--dtype", choices=model.DTYPES, default="fp32", help="forward precision")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, ...")
    p.add_argument("--warmup", type=positive_int, default=2, help="untimed calls first")
    p.add_argument("--reps", type=positive_int, default=5, help="timed calls (median)")
    p.add_argument("--no-gd", action="store_true", help="skip the GD step (its memory)")
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
    p.add_argument("--trace-check", type=nonneg_int, default=8,
                   help="samples of the trace precision check (0: skip; --no-gd skips its "
                        "Hutchinson part)")
    p.add_argument("--check-gd-steps", type=nonneg_int, default=0,
                   help="GD steps (lr 3e-2) on the batch before the precision check, to run it "
                        "at a trained point rather than at initialisation")
    args = p.parse_args(argv)
    if args.data_parallel:
        return {**data_parallel(args.size, args.data_parallel, args.dp_steps, args.dp_chunk_size,
                                "zo"),
                **data_parallel(args.size, args.data_parallel, args.dp_steps, args.dp_chunk_size,
                                "gd")}

    device = torch.device(("cuda" if torch.cuda.is_available() else "cpu")
                          if args.device == "auto" else args.device)
    net = build(args.size, device)
    model.set_precision(net, args.dtype)
    params = zo.trainable(net)
    batch = synthetic_batch(args.batch, args.seq_len, device)
    chunks = [batch]
    timer, peak = Timer(device, args.warmup, args.reps), Peak(device)

    def loss() -> float:
        return model.mean_loss(net, chunks)

    seeds = iter(range(10**9))
    peak.reset()
    t_fwd = timer(loss)
    mem_inf = peak.gib()
    t_pass = timer(lambda: zo.perturb_(params, next(seeds), 0.0))
    peak.reset()
    t_zo = timer(lambda: zo.zo_step(params, loss, next(seeds), 1e-3, 0.0))
    mem_zo = peak.gib()
    t_naive = timer(lambda: zo_step_naive(params, loss, next(seeds), 1e-3, 0.0))
    with trace.restoring(params):
        t_trace32 = timer(lambda: trace.zo_trace(params, loss, 1, 1e-4, _Seeds(), f0=0.0))
    t_snap = timer(lambda: _snapshot_and_restore(params))
    t_cast = timer(lambda: _cast_round_trip(net))
    with trace.restoring(params), model.float64(net):
        t_fwd64 = timer(loss)
        t_trace = timer(lambda: trace.zo_trace(params, loss, 1, 1e-4, _Seeds(), f0=0.0))
    t_estimate = t_snap + t_cast + t_fwd64 + args.trace_samples * t_trace
    res = {"forward_s": t_fwd, "zo_step_s": t_zo, "zo_step_naive_s": t_naive,
           "ratio": t_zo / (2 * t_fwd), "ratio_naive": t_naive / (2 * t_fwd),
           "pass_s": t_pass, "trace_sample_s": t_trace, "trace_sample_fp32_s": t_trace32,
           "trace_snapshot_s": t_snap, "trace_cast_s": t_cast, "trace_estimate_s": t_estimate,
           "trace_overhead_zo": t_estimate / (args.trace_every * t_zo),
           "mem_inference_gib": mem_inf, "mem_zo_gib": mem_zo}
    if not args.no_gd:
        peak.reset()
        res["gd_step_s"] = timer(lambda: gd_step(net, params, chunks, 0.0, Config.max_grad_norm))
        res["mem_gd_gib"] = peak.gib()
        res["trace_overhead_gd"] = t_estimate / (args.trace_every * res["gd_step_s"])
    if args.trace_check:
        if args.check_gd_steps:
            res["check_loss_before"] = loss()
            with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
                for _ in range(args.check_gd_steps):
                    gd_step(net, params, chunks, 3e-2, Config.max_grad_norm)
            res["check_loss_after"] = loss()
        res.update(trace_check(net, batch, args.trace_check, args.trace_samples,
                               hutchinson=not args.no_gd))

    n = sum(p.numel() for p in params)
    print(f"{args.size} ({n / 1e6:.0f}M parameters), batch {args.batch} × {args.seq_len}, "
          f"{args.dtype}, {device}" + (f" ({torch.cuda.get_device_name(device)})"
                                       if device.type == "cuda" else ""))
    print(f"  forward                {t_fwd:8.4f} s")
    print(f"  ZO step (3 passes)     {t_zo:8.4f} s   step / (2 × forward) = {res['ratio']:.2f}")
    print(f"  ZO step, naive (4)     {t_naive:8.4f} s   step / (2 × forward) = "
          f"{res['ratio_naive']:.2f}")
    print(f"  one perturbation pass  {t_pass:8.4f} s")
    print(f"  trace sample (±δu)     {t_trace:8.4f} s   float64 (float32: {t_trace32:.4f} s); "
          f"host snapshot + restore {t_snap:.4f} s, float64 cast and back {t_cast:.4f} s")
    overhead = f"+{100 * res['trace_overhead_zo']:.0f}% to a ZO run"
    if "trace_overhead_gd" in res:
        overhead += f", +{100 * res['trace_overhead_gd']:.0f}% to a GD run"
    print(f"  trace estimate         {t_estimate:8.4f} s   every {args.trace_every} steps × "
          f"{args.trace_samples} samples: {overhead}")
    if "gd_step_s" in res:
        print(f"  GD step                {res['gd_step_s']:8.4f} s")
    mem = f"  peak memory GiB: inference {mem_inf:.2f}, ZO {mem_zo:.2f} " \
          f"({mem_zo / mem_inf:.3f} × inference)"
    print(mem + (f", GD {res['mem_gd_gib']:.2f}" if "mem_gd_gib" in res else ""))
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
    return res


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
    main()
