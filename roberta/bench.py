"""Speed and memory of the ZO step against the two forward passes it cannot avoid.

    python roberta/bench.py --size large --batch 64 --seq-len 128 --dtype tf32   # a GPU
    python roberta/bench.py --size base --batch 8 --seq-len 64                   # CPU proxy
    python roberta/bench.py --size tiny --json t.json --markdown    # tables (text on stderr)
    python roberta/bench.py --render t.json b.json --markdown roberta-bench      # saved runs

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

Output: the text report, or (--markdown) the docs' tables of what was measured, each with its
commands under it (TABLES; rows from several runs saved with --json come together with --render).
"""

from __future__ import annotations

import contextlib
import itertools
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
from flatzero.readme import command
from flatzero.results import ResultError, read_json, write_json
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
    p.add_argument("--fp64-rate", action="store_true",
                   help="also measure float64 against float32 matmul throughput (2048², TF32 "
                        "off; gpu_check's fp64 section)")
    p.add_argument("--schedule-cost", type=positive_int, default=None, metavar="STEPS",
                   help="instead: what the trace schedule (--trace-every 500) and the test "
                        "cadence (--test-every 100) add to a STEPS-step train.py ZO run on "
                        "tiny-random, SST-2 K = 32, end to end (three runs)")
    p.add_argument("--label", default=None,
                   help="what the weights are, for the tables' point column (default: "
                        "'initialisation' for a random model, 'loaded weights' for --model)")
    p.add_argument("--json", default=None, metavar="FILE",
                   help="also write what was measured, with the command, to FILE (for --render)")
    p.add_argument("--markdown", nargs="*", choices=list(TABLES), default=None, metavar="TABLE",
                   help="print the docs' markdown tables (all, or these: "
                        f"{', '.join(TABLES)}) of what was measured, each with its commands, "
                        "instead of the text report (which goes to stderr)")
    p.add_argument("--render", nargs="+", default=None, metavar="FILE",
                   help="measure nothing: print the --markdown tables of these --json records, "
                        "one row per run, in this order")
    return p


def main(argv: list[str] | None = None) -> dict[str, float]:
    """Parse, measure, print; every error ends as one line and an exit status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser().parse_args(argv)
    if args.render:
        try:
            records = [read_json(f) for f in args.render]
        except ResultError as exc:
            cli.fail(str(exc))
        text = markdown(records, args.markdown)
        if not text:
            cli.fail(f"none of {' '.join(args.render)} holds the measurements of "
                     f"{' or '.join(args.markdown or TABLES)}")
        print(text)
        return {}
    if args.json:
        cli.check_out_file(args.json, "--json")
    with contextlib.redirect_stdout(sys.stderr if args.markdown is not None else sys.stdout):
        res, record = measure_cli(args)
    record["command"] = command("roberta/bench.py", argv, {"--json": 1, "--markdown": -1},
                                {"OMP_NUM_THREADS": str(record["threads"])}
                                if record["device"] == "cpu" else None)
    if args.json:
        write_json(args.json, record)
    if args.markdown is not None:
        print(markdown([record], args.markdown))
    return res


def measure_cli(args) -> tuple[dict[str, float], dict[str, Any]]:
    """What the command line asks to measure, printed as text: (results, the --json record)."""
    record: dict[str, Any] = {"threads": torch.get_num_threads(), "torch": torch.__version__,
                              "device": "cpu", "size": args.size, "model": args.model}
    if args.data_parallel:
        res = {**data_parallel(args.size, args.data_parallel, args.dp_steps, args.dp_chunk_size,
                               "zo"),
               **data_parallel(args.size, args.data_parallel, args.dp_steps, args.dp_chunk_size,
                               "gd")}
        return res, {**record, "data_parallel": {"n": args.data_parallel, "steps": args.dp_steps,
                                                 "chunk_size": args.dp_chunk_size, **res}}
    if args.schedule_cost:
        res = schedule_cost(args.schedule_cost)
        return res, {**record, "model": "tiny-random", "schedule_cost": res}
    try:
        device = distributed.resolve_device(args.device)
    except distributed.DeviceError as exc:
        cli.fail(str(exc))
    if args.deterministic_gd and device.type == "cuda":
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # before the first matmul
    try:
        return run(args, device, record)
    except torch.OutOfMemoryError:
        cli.fail(f"out of memory on {device} at --size {args.size} --batch {args.batch} "
                 f"--seq-len {args.seq_len}: lower --batch or --seq-len")
    except BenchError as exc:
        cli.fail(str(exc))


def run(args, device: torch.device,
        record: dict[str, Any] | None = None) -> tuple[dict[str, float], dict[str, Any]]:
    """The measurements of one model and batch: (results, the --json record)."""
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
    if args.fp64_rate:
        from roberta.gpu_check import fp64_rate  # gpu_check imports this module

        progress("float64 against float32 matmul throughput")
        res.update({f"fp64_{k}": v for k, v in fp64_rate(device, 2048, 2, 5).items()
                    if isinstance(v, float)})
    report(res, args, net, device, grads)
    record = {**(record or {}), "device": device.type,
              "device_name": (torch.cuda.get_device_name(device) if device.type == "cuda"
                              else None),
              "n_params": sum(p.numel() for p in zo.trainable(net)), "data": args.data,
              "dtype": args.dtype, "label": args.label, "trace_every": args.trace_every,
              "trace_samples": args.trace_samples, "trace_check": args.trace_check,
              "grad_check": args.grad_check, "grad_eps": args.grad_eps,
              "check_gd_steps": args.check_gd_steps, "trace_dtype_auto":
              trace.resolve_dtype("auto", device), "res": res, "grads": grads}
    return res, record


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
    if "fp64_fp64_rate" in res:
        print(f"  float64 / float32 matmul   {res['fp64_fp64_rate']:.3g} "
              f"({1e3 * res['fp64_float64_tflops']:.3g} / {1e3 * res['fp64_float32_tflops']:.3g}"
              " GFLOPS, 2048², TF32 off)")
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


# --- end to end: what the trace schedule and the test cadence add to a train.py run -------------

def schedule_cost(steps: int) -> dict[str, Any]:
    """Wall time (``wall_time_s`` of the last record: the loop, set-up excluded) of three
    ``train.py`` ZO runs of ``steps`` steps on tiny-random, SST-2 K = 32, on the CPU: without
    trace estimates and with the test accuracy at the end only; with train.py's trace schedule;
    with its test cadence. The schedule only observes, so the train losses the runs log at the
    same steps must agree bit for bit (``same_train_loss``). Also the share a test evaluation
    would take of a ZO run on Figure 3's tasks by row counts (``derived``, not measured)."""
    import subprocess
    import tempfile

    from roberta import data
    from roberta.sweep import GRIDS

    runs = {"base": ["--trace-every", "0", "--test-every", str(steps)],
            "trace": ["--test-every", str(steps)],
            "test": ["--trace-every", "0"]}
    script = Path(__file__).resolve().parent / "train.py"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    res: dict[str, Any] = {"steps": steps, "trace_every": Config.trace_every,
                           "trace_samples": Config.trace_samples,
                           "test_every": Config.test_every, "flags": runs}
    losses = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, flags in runs.items():
            progress(f"train.py, {steps} ZO steps on tiny-random: {' '.join(flags)}")
            out = Path(tmp) / name
            subprocess.run([sys.executable, str(script), "--model", "tiny-random", "--task",
                            "SST-2", "--k", "32", "--steps", str(steps), "--device", "cpu",
                            "--quiet", "--out", str(out), *flags], env=env, check=True,
                           stdout=subprocess.DEVNULL)
            log = read_json(out / "result.json")["log"]
            res[f"{name}_s"] = log[-1]["wall_time_s"]
            # each record's step_time_s is the mean step since the record before it
            res[f"{name}_steps_s"] = sum(r["step_time_s"] * (r["step"] - prev["step"])
                                         for prev, r in itertools.pairwise(log))
            res[f"{name}_records_s"] = res[f"{name}_s"] - res[f"{name}_steps_s"]
            res[f"{name}_traces"] = sum("trace" in r for r in log)
            res[f"{name}_tests"] = sum("test_acc" in r for r in log)
            losses[name] = {r["step"]: r["train_loss"] for r in log}
    res["train_loss"] = losses["base"][steps]
    res["same_train_loss"] = all(
        losses[name][step] == loss for name in ("trace", "test")
        for step, loss in losses["base"].items() if step in losses[name])
    for name in ("trace", "test"):
        res[f"{name}_added"] = res[f"{name}_s"] / res["base_s"] - 1
        res[f"{name}_records_added"] = ((res[f"{name}_records_s"] - res["base_records_s"])
                                        / res["base_steps_s"])
    res["derived"] = []
    for cell in GRIDS["fig3"]:
        task, k = cell["task"], cell["k"]
        try:
            split = data.load_task(task, k, cell.get("seed", Config.seed))
        except data.DataError as exc:
            progress(f"no row counts for {task} K = {k}: {exc}")
            continue
        train, test = len(split["train"]), len(split["test"])
        res["derived"].append({"task": task, "k": k, "train": train, "test": test,
                               "share": (test + train) / (Config.test_every * 2 * train)})
    print(f"train.py ZO on tiny-random, SST-2 K = 32, {steps} steps, end to end "
          f"(wall_time_s):")
    print(f"  no trace, test at the end only   {res['base_s']:8.2f} s   (records "
          f"{res['base_records_s']:.2f} s)")
    print(f"  trace every {Config.trace_every}                {res['trace_s']:8.2f} s   "
          f"{100 * res['trace_added']:+.1f} % ({res['trace_traces']} estimates; records "
          f"{100 * res['trace_records_added']:+.1f} % of the steps)")
    print(f"  test every {Config.test_every}                 {res['test_s']:8.2f} s   "
          f"{100 * res['test_added']:+.1f} % ({res['test_tests']} evaluations; records "
          f"{100 * res['test_records_added']:+.1f} % of the steps)")
    print(f"  train loss {res['train_loss']:.6f}; the same in all three runs: "
          f"{res['same_train_loss']}")
    return res


# --- markdown tables of --json records (docs/precision-and-performance.md) -----------------------

GPU_CHECK = "not measured here: `bash roberta/examples/gpu-check.sh`"


def _t(seconds: float) -> str:
    """A time as the tables print it: 3 significant digits, ms below 0.1 s."""
    if seconds >= 1:
        return f"{seconds:.3g} s"
    return f"{seconds:.3f} s" if seconds >= 0.1 else f"{1e3 * seconds:.3g} ms"


def _e(x: float | None, digits: int = 2) -> str:
    """A small number as 2.2e-5 (0 as 0)."""
    if x is None or math.isnan(x):
        return "–"
    if x == 0:
        return "0"
    if 1e-3 <= abs(x) < 1e4:
        return f"{x:.{digits}g}"
    mantissa, exp = f"{x:.{digits - 1}e}".split("e")
    return f"{mantissa}e{int(exp)}"


def _se(x: float | None) -> str:
    """A standard error: 2 significant digits, no exponent (230, 13, 0.57)."""
    return "–" if x is None or math.isnan(x) else f"{float(f'{x:.2g}'):g}"


def _device(rec: dict) -> str:
    if rec["device"] == "cuda":
        return rec.get("device_name") or "GPU"
    n = rec["threads"]
    return f"CPU, {n} thread{'s' if n > 1 else ''}"


def _model(rec: dict) -> str:
    """The model and batch cell of a bench run."""
    res, n = rec["res"], rec["n_params"]
    name = Path(rec["model"]).name if rec["model"] else f"bench {rec['size']}"
    size = f"{n / 1e6:.3g}M" + (", untied" if not rec["model"] else "")
    rows, width = int(res["batch_rows"]), int(res["batch_tokens"])
    batch = (f"SST-2 K = 32 train set ({rows} × {width})" if rec["data"] == "sst2"
             else f"synthetic {rows} × {width}")
    return f"{name} ({size}), {batch}"


def _commands(records: list[dict], note: str = "") -> list[str]:
    cmds = list(dict.fromkeys(r["command"] for r in records))
    head = "Command" + ("s" if len(cmds) > 1 else "") + (f" ({note})" if note else "") + ":"
    return ["", head, "", *(f"- `{c}`" for c in cmds)]


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def table_bench(records: list[dict]) -> list[str] | None:
    """The ZO step against its forwards: speed and peak memory."""
    runs = [r for r in records if "forward_s" in r.get("res", {})]
    if not runs:
        return None
    lines = ["| device | model, batch | dtype | forward | ZO step | step / (2 × fwd) | "
             "naive 4-pass (ratio) | one pass | GD step | peak memory: inference / ZO / GD |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in runs:
        x = r["res"]
        mem = (f"{x['mem_inference_gib']:.2f} / {x['mem_zo_gib']:.2f} "
               f"({x['mem_zo_gib'] / x['mem_inference_gib']:.3f}×)")
        mem += f" / {x['mem_gd_gib']:.2f}" if "mem_gd_gib" in x else " / –"
        mem += " GiB (RSS)" if r["device"] == "cpu" else " GiB (allocated)"
        lines.append(_row([_device(r), _model(r), r["dtype"], _t(x["forward_s"]),
                           _t(x["zo_step_s"]), f"**{x['ratio']:.2f}**",
                           f"{_t(x['zo_step_naive_s'])} ({x['ratio_naive']:.2f})",
                           _t(x["pass_s"]),
                           _t(x["gd_step_s"]) if "gd_step_s" in x else "–", mem]))
    if all(r["device"] != "cuda" for r in runs):
        from roberta.gpu_check import GPU  # gpu_check imports this module

        lines.append(_row(["GPU", f"{GPU.bench_size} (407M, untied), {GPU.batch} × {GPU.seq_len}",
                           "fp32 / tf32 / bf16", GPU_CHECK, *[""] * 6]))
    return lines + _commands(runs, "medians after warm-up")


def table_trace_precision(records: list[dict]) -> list[str] | None:
    """The trace estimate's rounding by option, and float64 ZO against Hutchinson."""
    runs = [r for r in records if "trace_rounding_fp32" in r.get("res", {})]
    if not runs:
        return None
    lines = ["| model, batch, point (train loss) | samples | float32 loss (as a ZO step) | "
             "per-row float64 loss | float32, δ = 1e-3 (O(δ²) bias) | **float64 forward "
             "(train.py)** | ZO (float64) vs Hutchinson (float64) |",
             "|---|---|---|---|---|---|---|"]
    for r in runs:
        x = r["res"]
        se = x["trace_se"]
        bias = (f"{_e(x['trace_rounding_fp32_delta1e-3'])}; bias "
                f"{x['trace_bias_delta1e-3'] / se:+.2g} ± "
                f"{x['trace_bias_delta1e-3_se'] / se:.2g} SE")
        hvp = (f"{x['trace_zo']:.4g} ± {_se(x['trace_zo_se'])} vs {x['trace_hvp']:.4g} ± "
               f"{_se(x['trace_hvp_se'])}: {x['trace_gap_se']:.2f} combined SE"
               if "trace_hvp" in x else f"{x['trace_zo']:.4g} ± {_se(x['trace_zo_se'])} (no "
               "Hutchinson: --no-gd)")
        lines.append(_row([f"{_model(r)}, {_point(r)}", str(r["trace_check"]),
                           _e(x["trace_rounding_fp32"]), _e(x["trace_rounding_rows64"]), bias,
                           f"**{_e(x['trace_rounding_fp64'])}**", hvp]))
    samples = sorted({r["trace_samples"] for r in runs})
    lines += ["", "Each option: the rms rounding error of one sample (against the same u's "
              "sample recomputed out of place in float64) over the standard error of a "
              f"{'/'.join(map(str, samples))}-sample float64 estimate; goal ≤ 0.1."]
    return lines + _commands(runs)


def _point(rec: dict) -> str:
    """Where the trace check ran: after the GD steps, at initialisation or at --label."""
    x = rec["res"]
    if rec["check_gd_steps"]:
        return (f"after {rec['check_gd_steps']} GD steps ({x['check_loss_before']:.3f} → "
                f"{x['check_loss_after']:.3f})")
    return rec["label"] or ("initialisation" if rec["model"] in (None, "tiny-random")
                            else "loaded weights")


def table_trace_cost(records: list[dict]) -> list[str] | None:
    """A trace sample in float64 against float32 and the default schedule's overhead (bench),
    and the schedule and test cadence end to end (--schedule-cost)."""
    runs = [r for r in records if "trace_sample_s" in r.get("res", {})]
    ends = [r for r in records if "schedule_cost" in r]
    lines: list[str] = []
    if runs:
        every = sorted({(r["trace_every"], r["trace_samples"]) for r in runs})
        sched = ", ".join(f"{n} samples every {e} steps" for e, n in every)
        lines += ["| device | model, batch | trace sample: float64 | float32 | float64 / "
                  "float32 | one estimate (float64) | ZO step | added to a ZO run | GD step | "
                  "added to a GD run |",
                  "|---|---|---|---|---|---|---|---|---|---|"]
        for r in runs:
            x = r["res"]
            lines.append(_row([
                _device(r), _model(r), _t(x["trace_sample_s"]), _t(x["trace_sample_fp32_s"]),
                f"{x['trace_sample_s'] / x['trace_sample_fp32_s']:.2f}×",
                _t(x["trace_estimate_s"]), _t(x["zo_step_s"]),
                f"+{100 * x['trace_overhead_zo']:.0f} %",
                _t(x["gd_step_s"]) if "gd_step_s" in x else "–",
                f"+{100 * x['trace_overhead_gd']:.0f} %" if "trace_overhead_gd" in x else "–"]))
        lines += ["", f"One estimate: host snapshot and restore, float64 cast and back, f(θ) and "
                  f"the samples; added: one estimate over the steps between two ({sched})."]
        lines += _commands(runs)
    for r in ends:
        x = r["schedule_cost"]
        if lines:
            lines.append("")
        base = " ".join(x["flags"]["base"])
        lines += [f"| train.py ZO run, tiny-random, SST-2 K = 32, {x['steps']} steps, "
                  f"{_device(r)} | wall time | in steps | in records | added: wall time | "
                  f"added: records over the steps | train loss at step {x['steps']} |",
                  "|---|---|---|---|---|---|---|",
                  _row([f"`{base}`", f"{x['base_s']:.1f} s", f"{x['base_steps_s']:.1f} s",
                        f"{x['base_records_s']:.1f} s", "–", "–", f"{x['train_loss']:.6f}"])]
        same = "identical" if x["same_train_loss"] else "**differs**"
        for name, what, count in (("trace", f"`--trace-every {x['trace_every']}` (default)",
                                   f"{x['trace_traces']} estimates of {x['trace_samples']} "
                                   "samples"),
                                  ("test", f"`--test-every {x['test_every']}` (default)",
                                   f"{x['test_tests']} test evaluations")):
            lines.append(_row([f"{what}, otherwise as the first row", f"{x[f'{name}_s']:.1f} s",
                               f"{x[f'{name}_steps_s']:.1f} s", f"{x[f'{name}_records_s']:.1f} s",
                               f"{100 * x[f'{name}_added']:+.1f} %",
                               f"{100 * x[f'{name}_records_added']:+.1f} % ({count})", same]))
        lines += ["", "Wall time: the last record's `wall_time_s` (the training loop, set-up "
                  "excluded); in steps: the optimisation steps (each record's `step_time_s` × "
                  "its steps); in records: the rest (train loss, test and dev accuracy, trace "
                  "estimates, checkpoints). Added: against the first row, in wall time (noisy "
                  "on a shared machine), and the records' extra time over the first row's "
                  "steps. Train loss: every step the runs both log."]
        if x["derived"]:
            parts = [f"{d['task']} K = {d['k']}: ({d['test']} + {d['train']}) / "
                     f"({x['test_every']} × 2 × {d['train']}) = +{100 * d['share']:.1f} %"
                     for d in x["derived"]]
            lines += ["", f"RoBERTa-large, derived by row counts, not measured: a test "
                      f"evaluation every {x['test_every']} steps (the test set and the logged "
                      "train loss, one forward a row) against the ZO steps between two (two "
                      "forwards of the train set each; parameter passes and padding left out): "
                      + "; ".join(parts) + "."]
        lines += _commands([r])
    return lines or None


def table_fp64(records: list[dict]) -> list[str] | None:
    """The measured FP64 rate and the float64 / float32 trace sample, with auto's pick."""
    runs = [r for r in records if "fp64_fp64_rate" in r.get("res", {})]
    if not runs:
        return None
    lines = ["| device | float64 / float32 matmul (2048², TF32 off) | float64 / float32 trace "
             "sample (model, batch) | `--trace-dtype auto` picks |", "|---|---|---|---|"]
    for r in runs:
        x = r["res"]
        lines.append(_row([
            _device(r), f"{x['fp64_fp64_rate']:.2f} ({1e3 * x['fp64_float64_tflops']:.3g} / "
            f"{1e3 * x['fp64_float32_tflops']:.3g} GFLOPS)",
            f"{x['trace_sample_s'] / x['trace_sample_fp32_s']:.2f}× "
            f"({x['trace_sample_s']:.4f} / {x['trace_sample_fp32_s']:.4f} s; {_model(r)})",
            r["trace_dtype_auto"]]))
    return lines + _commands(runs)


def table_data_parallel(records: list[dict]) -> list[str] | None:
    """train.py's step with 1 process × N threads against N processes × 1 thread."""
    runs = [r for r in records if "data_parallel" in r]
    if not runs:
        return None
    ns = sorted({r["data_parallel"]["n"] for r in runs})
    n = ns[0] if len(ns) == 1 else "N"
    lines = [f"| model | ZO: 1 × {n} | ZO: {n} × 1 | speed-up | GD: 1 × {n} | GD: {n} × 1 | "
             "speed-up | steps |", "|---|---|---|---|---|---|---|---|"]
    for r in runs:
        x, size = r["data_parallel"], SIZES[r["size"]]
        lines.append(_row([f"{r['size']} (random, {size['num_hidden_layers']} layers, hidden "
                           f"{size['hidden_size']})", _t(x["dp_zo_one_s"]), _t(x["dp_zo_many_s"]),
                           f"{x['dp_zo_ratio']:.2f}×", _t(x["dp_gd_one_s"]),
                           _t(x["dp_gd_many_s"]), f"{x['dp_gd_ratio']:.2f}×", str(x["steps"])]))
    chunks = sorted({r["data_parallel"]["chunk_size"] for r in runs})
    lines += ["", "Mean step time of train.py on SST-2 K = 32 (64 rows in chunks of "
              f"{'/'.join(map(str, chunks))}, the same chunks in both set-ups); speed-up > 1: "
              "data parallel is faster."]
    return lines + _commands(runs)


def table_grad(records: list[dict]) -> list[str] | None:
    """The projected gradient's error by forward precision, one row per point."""
    runs = [r for r in records if r.get("grads")]
    if not runs:
        return None
    lines = ["| device | model, batch | point (train loss) | fp32 vs float64 | tf32 vs fp32 | "
             "bf16 vs fp32 |", "|---|---|---|---|---|---|"]
    seen = set()
    for r in runs:
        for where, g in r["grads"].items():
            point = where
            if where.startswith("at ") and r["label"]:
                point = r["label"]
            point = point.removeprefix("at ").replace(f" at lr {CHECK_GD_LR:g}", "")
            row = _row([_device(r), _model(r), f"{point} ({g['loss']:.3f})",
                        _e(g.get("error_fp32")), _e(g.get("error_tf32")),
                        f"{100 * g['error_bf16']:.2g} %" if "error_bf16" in g else "–"])
            if row not in seen:  # the same start point measured by two runs
                seen.add(row)
                lines.append(row)
    if all(r["device"] != "cuda" for r in runs):
        from roberta.gpu_check import GPU  # gpu_check imports this module

        lines.append(_row(["GPU", "roberta-large (random weights if not cached)",
                           f"initialisation and after {GPU.grad_gd_steps} GD steps", GPU_CHECK,
                           "", ""]))
    eps = sorted({r["grad_eps"] for r in runs})
    seeds = sorted({r["grad_check"] for r in runs})
    lines += ["", f"rms(ĝ_dtype − ĝ_ref) / rms(ĝ_fp32) over {'/'.join(map(str, seeds))} seeds, "
              f"ε = {'/'.join(f'{e:g}' for e in eps)}; GD steps at lr {CHECK_GD_LR:g}; tf32 has no "
              "effect on a CPU."]
    return lines + _commands(runs)


TABLES: dict[str, Callable[[list[dict]], list[str] | None]] = {
    "roberta-bench": table_bench, "trace-precision": table_trace_precision,
    "trace-cost": table_trace_cost, "fp64-rate": table_fp64,
    "data-parallel": table_data_parallel, "grad-check": table_grad}


def markdown(records: list[dict], names: Sequence[str] | None = None) -> str:
    """The tables ``names`` (all when empty) that ``records`` hold, each under a ``<!-- name -->``
    comment when more than one is printed; "" when none holds anything."""
    out = {}
    for name in names or TABLES:
        lines = TABLES[name](records)
        if lines:
            out[name] = "\n".join(lines)
    if len(out) == 1:
        return next(iter(out.values()))
    return "\n\n".join(f"<!-- {name} -->\n{text}" for name, text in out.items())


if __name__ == "__main__":
    cli.run(main)
