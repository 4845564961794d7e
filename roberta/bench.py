"""Speed and memory of the ZO step against the two forward passes it cannot avoid.

    python roberta/bench.py --size large --batch 64 --seq-len 128 --dtype tf32   # a GPU
    python roberta/bench.py --size base --batch 8 --seq-len 64                   # CPU proxy

A RoBERTa-sized masked LM built from a config in this file (no download; large = RoBERTa-large:
hidden 1024, 24 layers, 16 heads, FFN 4096, vocab 50265, 514 positions), random weights, a
synthetic batch. Reported, as medians after warm-up (CUDA synchronised): the forward time, the
ZO step (this repo's three passes) and the straightforward four-pass step (perturb +ε, −2ε,
restore, update: --naive in the same run), step / (2 × forward), one perturbation pass, a GD step,
peak memory of inference / ZO / GD, the cost of one trace-estimate sample, and what the trace
schedule (--trace-every, --trace-samples; train.py's defaults) adds to a ZO and a GD run:
(f(θ) + host snapshot and restore + samples × one sample) / (trace-every × step).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch

from flatzero.cli import Parser, positive_int
from roberta import model, trace, zo
from roberta.train import Config, gd_step

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
    return model.PromptClassifier(RobertaForMaskedLM(config), [6587, 372]).to(device).eval()


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
    args = p.parse_args(argv)

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
    t_trace = timer(lambda: trace.zo_trace(params, loss, 1, 1e-4, _Seeds(), f0=0.0))
    t_snap = timer(lambda: _snapshot_and_restore(params))
    t_estimate = t_fwd + t_snap + args.trace_samples * t_trace
    res = {"forward_s": t_fwd, "zo_step_s": t_zo, "zo_step_naive_s": t_naive,
           "ratio": t_zo / (2 * t_fwd), "ratio_naive": t_naive / (2 * t_fwd),
           "pass_s": t_pass, "trace_sample_s": t_trace, "trace_snapshot_s": t_snap,
           "trace_estimate_s": t_estimate,
           "trace_overhead_zo": t_estimate / (args.trace_every * t_zo),
           "mem_inference_gib": mem_inf, "mem_zo_gib": mem_zo}
    if not args.no_gd:
        peak.reset()
        res["gd_step_s"] = timer(lambda: gd_step(net, params, chunks, 0.0, Config.max_grad_norm))
        res["mem_gd_gib"] = peak.gib()
        res["trace_overhead_gd"] = t_estimate / (args.trace_every * res["gd_step_s"])

    n = sum(p.numel() for p in params)
    print(f"{args.size} ({n / 1e6:.0f}M parameters), batch {args.batch} × {args.seq_len}, "
          f"{args.dtype}, {device}" + (f" ({torch.cuda.get_device_name(device)})"
                                       if device.type == "cuda" else ""))
    print(f"  forward                {t_fwd:8.4f} s")
    print(f"  ZO step (3 passes)     {t_zo:8.4f} s   step / (2 × forward) = {res['ratio']:.2f}")
    print(f"  ZO step, naive (4)     {t_naive:8.4f} s   step / (2 × forward) = "
          f"{res['ratio_naive']:.2f}")
    print(f"  one perturbation pass  {t_pass:8.4f} s")
    print(f"  trace sample (±δu)     {t_trace:8.4f} s   host snapshot + restore {t_snap:.4f} s")
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
    return res


def _snapshot_and_restore(params: list[torch.Tensor]) -> None:
    with trace.restoring(params):
        pass


class _Seeds:
    """A stand-in for the diagnostics RNG: fresh sample seeds."""

    def __init__(self) -> None:
        self.n = 0

    def randint(self, _high: int) -> int:
        self.n += 1
        return self.n


if __name__ == "__main__":
    main()
