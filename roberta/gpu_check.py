"""The first thing to run on a GPU machine: what the device does to this repo's speed and numbers.

    bash roberta/examples/gpu-check.sh                  # one GPU: ≤ 10 min on an H100-class GPU
    bash roberta/examples/gpu-check.sh --out DIR        # the report at DIR/report.json
    bash roberta/examples/gpu-check.sh --cpu-smoke      # every step on the CPU at tiny sizes

Sections, in this order, each timed and recorded with its status (ok; failed, and why; skipped,
and why) in one JSON report, rewritten (atomically) after every section:

  environment    device, capability, memory, driver, torch / CUDA / cuDNN / transformers versions
  fp64           the FP64 rate measured (float64 against float32 matmul throughput, TF32 off) and
                 what ``--trace-dtype auto`` picks here (trace.resolve_dtype); failed when the
                 two disagree (trace.FULL_RATE_FP64 would then be wrong for this GPU)
  bench          bench.py at RoBERTa-large size (random weights), B = 64, L = 128, for fp32, tf32
                 and bf16: forward, ZO step and step / (2 × forward), peak memory of inference
                 and ZO, GD step with deterministic algorithms off and on (train.py's GD default
                 on CUDA; ``--nondeterministic`` turns it off), one trace sample in float64 and
                 in float32
  grad           bench.grad_check: the error of the projected gradient
                 ĝ = (f(θ+εz) − f(θ−εz))/(2ε) in tf32 and bf16 against fp32 on the same θ ± εz
                 (fp32 against float64), over a few seeds, at initialisation and after GD steps
  train          a 200-step SST-2 K = 32 ZO run through train.py: roberta-large when its weights
                 are in the local Hugging Face cache (or --model DIR), else tiny-random
  determinism    GD and ZO through train.py: 20 steps uninterrupted against a run that receives
                 SIGTERM after step 10 (train.py checkpoints at the next step boundary and exits
                 143) and is then resumed (--resume): logs without timing fields and the final
                 weights compared bit for bit
  data_parallel  with ≥ 2 GPUs: ZO in 1 process against 2 processes (torchrun, NCCL), bit for bit;
                 with one GPU, skipped

Exit status 0 when no section failed, 1 otherwise; without a CUDA GPU one line on stderr and
exit 1. ``--cpu-smoke`` runs every section on the CPU at tiny sizes (bench at size tiny, a few
steps, data parallel as 2 CPU processes over gloo): what tests/test_roberta_bench.py runs end
to end; its numbers say nothing about a GPU.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from flatzero import cli
from flatzero.results import read_json, run_metadata, write_json
from roberta import bench, data, distributed, model, trace
from roberta.train import Config

REPO = Path(__file__).resolve().parents[1]
TRAIN = REPO / "roberta" / "train.py"
DEFAULT_OUT = REPO / "roberta" / "runs" / "gpu-check"
SECTIONS = ("environment", "fp64", "bench", "grad", "train", "determinism", "data_parallel")
TIMING = ("wall_time_s", "step_time_s", "peak_mem_gib")  # log fields that differ between runs
TASK, K, SEED = "SST-2", 32, 42
FULL_RATE = 0.25  # measured float64 / float32 throughput at or above this: FP64 is "full rate"
NO_GPU = "no CUDA GPU here"


@dataclasses.dataclass(frozen=True)
class Plan:
    """The sizes of one check: a GPU's, or the CPU smoke test's."""

    device: str
    matmul_n: int       # fp64: n × n matmuls
    bench_size: str     # bench.SIZES
    batch: int
    seq_len: int
    warmup: int
    reps: int
    grad_seeds: int
    grad_gd_steps: int  # GD steps (lr bench.CHECK_GD_LR) before the trained-point check
    train_steps: int
    train_samples: int  # trace samples per estimate of the train run
    det_steps: int      # determinism and data parallel: steps of a run
    det_stop: int       # SIGTERM after this step
    parallel: int       # train.py runs at once in the determinism section


GPU = Plan("cuda", matmul_n=4096, bench_size="large", batch=64, seq_len=128, warmup=2, reps=5,
           grad_seeds=8, grad_gd_steps=20, train_steps=200, train_samples=20, det_steps=20,
           det_stop=10, parallel=2)
CPU_SMOKE = Plan("cpu", matmul_n=256, bench_size="tiny", batch=4, seq_len=16,
                 warmup=1, reps=1, grad_seeds=2, grad_gd_steps=3, train_steps=4, train_samples=2,
                 det_steps=20, det_stop=10, parallel=2)


def progress(message: str) -> None:
    print(f"gpu-check: {message}", file=sys.stderr, flush=True)


class CheckFailed(Exception):
    """A section ran but what it checks does not hold; the message says what."""


def one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:300] if text else 'no message'}"


# --- environment and FP64 ----------------------------------------------------------------------

def driver_version() -> str | None:
    """The NVIDIA driver version from nvidia-smi, or None without it."""
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=30, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip().splitlines()[0] if out.stdout.strip() else None


def environment(device: torch.device) -> dict[str, Any]:
    import transformers

    env: dict[str, Any] = {
        "host": socket.gethostname(), "python": platform.python_version(),
        "torch": torch.__version__, "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None,
        "transformers": transformers.__version__, "gpus": torch.cuda.device_count()
        if torch.cuda.is_available() else 0}
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        env.update(device=props.name, capability=f"{props.major}.{props.minor}",
                   memory_gib=props.total_memory / 2**30,
                   multiprocessors=props.multi_processor_count, driver=driver_version())
    else:
        env.update(device=f"cpu ({platform.machine()})", capability=None,
                   threads=torch.get_num_threads(), driver=None)
    return env


def fp64_rate(device: torch.device, n: int, warmup: int, reps: int) -> dict[str, Any]:
    """float64 against float32 n × n matmul throughput (TF32 off), and what
    ``--trace-dtype auto`` picks on ``device``; on a GPU, CheckFailed when the measured rate
    (float64 at ≥ FULL_RATE × float32 or not) and trace.FULL_RATE_FP64 disagree."""
    timer = bench.Timer(device, warmup, reps)
    gen = torch.Generator(device=device).manual_seed(0)
    a = torch.randn(n, n, device=device, generator=gen)
    b = torch.randn(n, n, device=device, generator=gen)
    saved = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = False
    try:
        t32 = timer(lambda: a @ b)
        a, b = a.double(), b.double()
        t64 = timer(lambda: a @ b)
    finally:
        torch.backends.cuda.matmul.allow_tf32 = saved
    flop = 2.0 * n**3
    rate = t32 / t64
    res: dict[str, Any] = {"n": n, "float32_tflops": flop / t32 / 1e12,
                           "float64_tflops": flop / t64 / 1e12, "fp64_rate": rate,
                           "trace_dtype_auto": trace.resolve_dtype("auto", device)}
    measured = "float64" if rate >= FULL_RATE else "float32"
    res["measured_pick"] = measured
    if device.type != "cuda":  # auto takes float64 on every CPU: nothing to check
        return res
    cap = torch.cuda.get_device_capability(device)
    res["listed_full_rate"] = cap in trace.FULL_RATE_FP64
    if measured != res["trace_dtype_auto"]:
        raise CheckFailed(f"float64 runs at {rate:.3g} × float32 here, so the trace estimate "
                          f"should run in {measured}, but --trace-dtype auto picks "
                          f"{res['trace_dtype_auto']}: trace.FULL_RATE_FP64 needs this "
                          "capability " + ("removed" if measured == "float32" else "added"),
                          res)
    return res


# --- bench and the projected gradient ----------------------------------------------------------

class Model:
    """The model of the bench and grad sections, loaded once: ``name`` (train.py's --model)
    when given, else a random RoBERTa of the plan's size; the synthetic batch for timing, and
    for the projected gradient the SST-2 K = 32 train set when the model has a tokenizer."""

    def __init__(self, plan: Plan, device: torch.device, name: str | None) -> None:
        self.plan, self.device, self.name = plan, device, name
        self._net: model.PromptClassifier | None = None
        self._tokenizer: Any = None

    @property
    def label(self) -> str:
        return self.name or f"random {self.plan.bench_size}"

    def net(self) -> model.PromptClassifier:
        if self._net is None:
            progress(f"loading {self.label} RoBERTa on {self.device}")
            if self.name:
                self._net, self._tokenizer = bench.load(self.name, self.device)
            else:
                self._net = bench.build(self.plan.bench_size, self.device)
        return self._net

    def synthetic(self) -> dict[str, torch.Tensor]:
        return bench.synthetic_batch(self.plan.batch, self.plan.seq_len, self.device,
                                     int(self.net().mlm.config.vocab_size))

    def grad_batch(self) -> tuple[dict[str, torch.Tensor], str]:
        """(batch, what it is) of the projected-gradient check."""
        self.net()
        if self._tokenizer is None:
            return self.synthetic(), f"synthetic {self.plan.batch} × {self.plan.seq_len}"
        batch = bench.sst2_batch(self._tokenizer, self.device)
        rows, width = batch["input_ids"].shape
        return batch, f"SST-2 K = {K} seed {SEED} train set ({rows} rows, padded to {width})"

    def free(self) -> None:
        self._net = self._tokenizer = None
        if self.device.type == "cuda":
            torch.cuda.empty_cache()


def run_bench(plan: Plan, built: Model) -> dict[str, Any]:
    net, batch = built.net(), built.synthetic()
    timer, peak = bench.Timer(built.device, plan.warmup, plan.reps), bench.Peak(built.device)
    res: dict[str, Any] = {"model": built.label, "batch": plan.batch, "seq_len": plan.seq_len,
                           "n_params": sum(p.numel() for p in net.parameters()
                                           if p.requires_grad)}
    failures = []
    for dtype in model.DTYPES:
        progress(f"bench {built.label}, {plan.batch} × {plan.seq_len}, {dtype}")
        model.set_precision(net, dtype)
        try:
            res[dtype] = r = bench.measure(net, batch, timer, peak, Config.trace_every,
                                           Config.trace_samples, gd=True)
            progress("GD step, deterministic algorithms")
            try:
                r["gd_step_deterministic_s"] = bench.gd_time(net, [batch], timer, True)
                r["gd_deterministic_cost"] = r["gd_step_deterministic_s"] / r["gd_step_s"]
            except bench.BenchError as exc:  # train.py's GD default would fail here
                r["gd_deterministic_error"] = str(exc)
                failures.append(f"{dtype}: {exc}")
        except RuntimeError as exc:  # OOM included: the next dtype may fit
            res[dtype] = {"error": one_line(exc)}
            failures.append(f"{dtype}: {one_line(exc)}")
        finally:
            model.set_precision(net, "fp32")
            if built.device.type == "cuda":
                torch.cuda.empty_cache()
    fp32 = res.get("fp32", {})
    if "trace_sample_s" in fp32:
        res["trace_sample"] = {"float64_s": fp32["trace_sample_s"],
                               "float32_s": fp32["trace_sample_fp32_s"],
                               "ratio": fp32["trace_sample_s"] / fp32["trace_sample_fp32_s"],
                               "auto": trace.resolve_dtype("auto", built.device)}
    if failures:
        raise CheckFailed("; ".join(failures), res)
    return res


def run_grad(plan: Plan, built: Model) -> dict[str, Any]:
    net = built.net()
    batch, what = built.grad_batch()
    chunks = [batch]
    model.set_precision(net, "fp32")
    res: dict[str, Any] = {"model": built.label, "data": what, "eps": Config.eps,
                           "seeds": plan.grad_seeds,
                           "gd_steps": plan.grad_gd_steps, "gd_lr": bench.CHECK_GD_LR}
    res["init"] = bench.grad_check(net, chunks, plan.grad_seeds, Config.eps)
    res["loss_before"], res["loss_after"] = bench.train_gd(net, chunks, plan.grad_gd_steps)
    res["trained"] = bench.grad_check(net, chunks, plan.grad_seeds, Config.eps)
    built.free()  # trained now: no other section uses it
    return res


# --- train.py runs -----------------------------------------------------------------------------

def local_roberta_large() -> bool:
    """Whether roberta-large's config, tokenizer and weights are in the local Hugging Face cache
    (nothing is downloaded)."""
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return False

    def cached(name: str) -> bool:
        return isinstance(try_to_load_from_cache("roberta-large", name), str)

    return (all(cached(f) for f in ("config.json", "vocab.json", "merges.txt"))
            and (cached("model.safetensors") or cached("pytorch_model.bin")))


@dataclasses.dataclass
class Job:
    """One train.py process (or torchrun group): its command, folder and expected exit code."""

    name: str
    cmd: list[str]
    out: Path
    expect: int = 0
    env: dict[str, str] = dataclasses.field(default_factory=dict)
    rc: int | None = None

    @property
    def log(self) -> Path:
        return self.out.parent / f"{self.name}.log"


class Runner:
    """Runs train.py as a user would (its own process, the user's environment), each process's
    output in <runs>/<name>.log."""

    def __init__(self, runs: Path, plan: Plan, model_name: str, data_dir: Path | None,
                 env: Mapping[str, str]) -> None:
        self.runs, self.plan, self.model, self.data_dir = runs, plan, model_name, data_dir
        self.env = {**env, "PYTHONPATH": os.pathsep.join(
            [str(REPO), *filter(None, [env.get("PYTHONPATH")])])}
        if plan.device == "cpu":  # bit identity needs the same thread count in every run
            self.env["OMP_NUM_THREADS"] = "1"
        self.done: dict[str, Job] = {}

    def flags(self, name: str, algo: str, *extra: str) -> list[str]:
        real = self.model != "tiny-random"
        lr = [] if real else ["--lr", "1e-3" if algo == "zo" else "1e-2"]  # cpu-demo.sh's
        data_dir = ["--data-dir", str(self.data_dir)] if self.data_dir else []
        return ["--model", self.model, "--task", TASK, "--k", str(K), "--seed", str(SEED),
                "--algo", algo, *lr, "--device", self.plan.device, "--out", str(self.runs / name),
                "--quiet", *data_dir, *extra]

    def train(self, name: str, algo: str, *extra: str, folder: str | None = None) -> Job:
        """train.py in <runs>/<folder or name>, its output in <runs>/<name>.log."""
        folder = folder or name
        return Job(name, [sys.executable, str(TRAIN), *self.flags(folder, algo, *extra)],
                   self.runs / folder)

    def stopped(self, name: str, algo: str, after: int, *extra: str) -> Job:
        """train.py that sends itself SIGTERM after step ``after`` (sigterm_after)."""
        code = ("import sys; from roberta.gpu_check import sigterm_after; "
                "sigterm_after(int(sys.argv[1]), sys.argv[2:])")
        return Job(name, [sys.executable, "-c", code, str(after),
                          *self.flags(name, algo, *extra)], self.runs / name,
                   128 + signal.SIGTERM)

    def torchrun(self, name: str, algo: str, nproc: int, *extra: str) -> Job:
        return Job(name, [sys.executable, "-m", "torch.distributed.run", "--standalone",
                          f"--nproc_per_node={nproc}", str(TRAIN),
                          *self.flags(name, algo, "--dist-timeout", "300", *extra)],
                   self.runs / name)

    def run(self, jobs: Sequence[Job], parallel: int = 1) -> None:
        """Run ``jobs``, at most ``parallel`` at once; CheckFailed naming the first job that
        ended with another exit code than expected (the last line of its log)."""
        pending, running = list(jobs), []
        while pending or running:
            while pending and len(running) < parallel:
                job = pending.pop(0)
                job.log.parent.mkdir(parents=True, exist_ok=True)
                progress(f"  train.py {job.name} (log: {job.log})")
                seen = _records(job.out)  # --resume: the records already there
                with open(job.log, "wb") as log:
                    proc = subprocess.Popen(job.cmd, stdout=log, stderr=subprocess.STDOUT,
                                            env={**self.env, **job.env}, cwd=REPO)
                running.append([job, proc, seen])
            time.sleep(0.1)
            for entry in list(running):
                job, proc, seen = entry
                now = proc.poll()
                records = _records(job.out)
                for line in records[len(seen):]:  # the run's progress: its new records
                    progress(f"    {job.name}: {' '.join(line.split()[:3])}")
                entry[2] = records
                if now is not None:
                    job.rc = proc.returncode
                    running.remove(entry)
                    self.done[job.name] = job
        for job in jobs:
            if job.rc != job.expect:
                raise CheckFailed(f"train.py {job.name} exited with {job.rc}, not "
                                  f"{job.expect}: {last_line(job.log)} (log: {job.log})")


def _records(out: Path) -> list[str]:
    """The record lines of a run's train.log so far."""
    try:
        return [x for x in (out / "train.log").read_text().splitlines() if x.startswith("step=")]
    except OSError:
        return []


def last_line(path: Path) -> str:
    try:
        lines = [x for x in path.read_text(errors="replace").splitlines() if x.strip()]
    except OSError:
        return "no log"
    return lines[-1][:300] if lines else "empty log"


def sigterm_after(step: int, argv: list[str]) -> None:
    """train.py's main, sending SIGTERM to its own process right after step ``step``: the run
    stops at the next step boundary exactly as under an external ``kill`` (its handler,
    checkpoint, exit 143), at the same step on every machine. Nothing train.py computes
    changes."""
    from roberta import train

    original = train.Trainer.step

    def step_then_signal(self, state, batch):
        loss = original(self, state, batch)
        if state.step == step:
            os.kill(os.getpid(), signal.SIGTERM)
        return loss

    train.Trainer.step = step_then_signal
    train.main(argv)


def numbers(result: Mapping[str, Any]) -> list[dict[str, Any]]:
    """A run's log without the fields that measure time or memory."""
    return [{k: v for k, v in rec.items() if k not in TIMING} for rec in result["log"]]


def compare_logs(a: Mapping[str, Any], b: Mapping[str, Any]) -> str | None:
    """None when the two logs hold the same numbers bit for bit, else the first difference."""
    na, nb = numbers(a), numbers(b)
    if [r.get("step") for r in na] != [r.get("step") for r in nb]:
        return (f"logged steps differ: {[r.get('step') for r in na]} against "
                f"{[r.get('step') for r in nb]}")
    for ra, rb in zip(na, nb, strict=True):
        for key in sorted(set(ra) | set(rb)):
            if ra.get(key) != rb.get(key):
                return f"step {ra['step']} {key}: {ra.get(key)!r} against {rb.get(key)!r}"
    return None


def compare_weights(a: Path, b: Path) -> str | None:
    """None when two run folders' final checkpoints hold the same tensors bit for bit, else
    how many differ and by how much at most."""
    from safetensors.torch import load_file

    wa = load_file(str(a / "checkpoint" / "model.safetensors"))
    wb = load_file(str(b / "checkpoint" / "model.safetensors"))
    if wa.keys() != wb.keys():
        return f"other tensors: {sorted(set(wa) ^ set(wb))[:5]}"
    differ = [k for k in wa if not torch.equal(wa[k], wb[k])]
    if not differ:
        return None
    worst = max(float((wa[k].double() - wb[k].double()).abs().max()) for k in differ)
    return f"{len(differ)} of {len(wa)} tensors differ (max abs difference {worst:.3g})"


def finished(job: Job) -> dict[str, Any]:
    result = read_json(job.out / "result.json")
    if result.get("status") != "finished":
        raise CheckFailed(f"train.py {job.name} ended {result.get('status')!r}")
    return result


def run_train(plan: Plan, runner: Runner) -> dict[str, Any]:
    every = max(1, plan.train_steps // 2)
    job = runner.train("train-zo", "zo", "--steps", str(plan.train_steps), "--test-every",
                       str(every), "--eval-steps", str(every), "--trace-every", str(every),
                       "--trace-samples", str(plan.train_samples), "--overwrite")
    runner.run([job])
    result = finished(job)
    cfg, log = result["config"], result["log"]
    keep = ("step", "train_loss", "test_acc", "dev_acc", "trace", "trace_stderr", "step_time_s",
            "peak_mem_gib", "wall_time_s")
    return {"model": runner.model, "steps": plan.train_steps, "lr": cfg["lr"],
            "eps": cfg["eps"], "trace_dtype": cfg["trace_precision"], "n_params": cfg["n_params"],
            "device": cfg["device"], "wall_time_s": log[-1]["wall_time_s"],
            "step_time_s": sum(r["step_time_s"] for r in log[1:]) / max(1, len(log) - 1),
            "records": [{k: r[k] for k in keep if k in r} for r in log],
            "out": str(job.out)}


def det_flags(plan: Plan) -> tuple[str, ...]:
    """train.py's flags of the determinism and data-parallel runs: mini-batches of 24 of the 64
    rows (the epoch order is state to resume), chunks of 12, a trace estimate mid-run."""
    n = plan.det_steps
    return ("--steps", str(n), "--test-every", str(n), "--eval-steps", str(n), "--trace-every",
            str(plan.det_stop), "--trace-samples", "2", "--batch-size", "24", "--chunk-size", "12")


def run_determinism(plan: Plan, runner: Runner) -> dict[str, Any]:
    n, stop, flags = plan.det_steps, plan.det_stop, det_flags(plan)
    first, second = [], []
    for algo in ("zo", "gd"):
        first += [runner.train(f"{algo}-whole", algo, *flags, "--overwrite"),
                  runner.stopped(f"{algo}-stopped", algo, stop, *flags, "--overwrite")]
        second.append(runner.train(f"{algo}-resumed", algo, *flags, "--resume",
                                   folder=f"{algo}-stopped"))
    runner.run(first, plan.parallel)
    stopped_at = {}
    for job in first[1::2]:  # the checkpoint the stop left, before --resume moves it on
        state = torch.load(job.out / "checkpoint" / "state.pt", weights_only=False)
        stopped_at[job.name.split("-")[0]] = int(state["state"]["step"])
    runner.run(second, plan.parallel)
    res: dict[str, Any] = {"steps": n, "sigterm_after_step": stop, "flags": list(flags)}
    failures = []
    for algo, whole, resumed in (("zo", first[0], second[0]), ("gd", first[2], second[1])):
        a, b = finished(whole), finished(resumed)
        log_diff, weight_diff = compare_logs(a, b), compare_weights(whole.out, resumed.out)
        res[algo] = {"stopped_at_step": stopped_at[algo], "stop_exit_code": 128 + signal.SIGTERM,
                     "records": len(a["log"]), "identical_log": log_diff is None,
                     "identical_weights": weight_diff is None,
                     "deterministic_algorithms": algo == "gd" and plan.device == "cuda"}
        for what, diff in (("log", log_diff), ("weights", weight_diff)):
            if diff is not None:
                res[algo][f"{what}_difference"] = diff
                failures.append(f"{algo} {what}: {diff}")
        if not 0 < stopped_at[algo] < n:
            failures.append(f"{algo}: stopped at step {stopped_at[algo]}, not inside the run")
    if failures:
        raise CheckFailed("resumed ≠ uninterrupted: " + "; ".join(failures), res)
    return res


def run_data_parallel(plan: Plan, runner: Runner) -> dict[str, Any]:
    if plan.device == "cuda" and torch.cuda.device_count() < 2:
        raise Skipped("one GPU")
    flags = det_flags(plan)
    one = runner.done.get("zo-whole")  # the determinism section's run, when it ran: the same
    if one is None or one.rc != 0:
        one = runner.train("zo-whole", "zo", *flags, "--overwrite")
        runner.run([one])
    two = runner.torchrun("zo-2-processes", "zo", 2, *flags, "--overwrite")
    runner.run([two])
    a, b = finished(one), finished(two)
    log_diff, weight_diff = compare_logs(a, b), compare_weights(one.out, two.out)
    res = {"steps": plan.det_steps, "flags": list(flags),
           "processes": [a["config"]["world_size"], b["config"]["world_size"]],
           "backend": "nccl" if plan.device == "cuda" else "gloo",
           "identical_log": log_diff is None, "identical_weights": weight_diff is None}
    diffs = [f"{w}: {d}" for w, d in (("log", log_diff), ("weights", weight_diff)) if d]
    if diffs:
        raise CheckFailed("2 processes ≠ 1: " + "; ".join(diffs), res)
    return res


class Skipped(Exception):
    """A section that does not apply here; the message says why."""


# --- the report --------------------------------------------------------------------------------

class Report:
    """The JSON report: rewritten atomically after every section."""

    def __init__(self, path: Path, mode: str) -> None:
        self.path, self.start = path, time.perf_counter()
        self.data: dict[str, Any] = {"mode": mode, "status": "running", "sections": {}}

    def section(self, name: str, fn: Callable[[], dict[str, Any]]) -> None:
        progress(f"[{list(SECTIONS).index(name) + 1}/{len(SECTIONS)}] {name}")
        t0 = time.perf_counter()
        entry: dict[str, Any]
        try:
            entry = {"status": "ok", **fn()}
        except Skipped as exc:
            entry = {"status": "skipped", "reason": str(exc)}
        except CheckFailed as exc:
            entry = {"status": "failed", "reason": exc.args[0],
                     **(exc.args[1] if len(exc.args) > 1 else {})}
        except Exception as exc:  # the other sections still run; the report says what broke
            entry = {"status": "failed", "reason": one_line(exc)}
        entry["seconds"] = time.perf_counter() - t0
        if entry["status"] != "ok":
            progress(f"  {name}: {entry['status']}: {entry['reason']}")
        self.data["sections"][name] = entry
        self.write()

    def write(self) -> None:
        write_json(self.path, run_metadata(self.data, time.perf_counter() - self.start))

    def finish(self) -> int:
        failed = [n for n, s in self.data["sections"].items() if s["status"] == "failed"]
        self.data["status"] = "failed" if failed else "passed"
        self.data["failed"] = failed
        self.data["seconds"] = time.perf_counter() - self.start
        self.write()
        return 1 if failed else 0


def table(report: Mapping[str, Any]) -> list[str]:
    """The printed summary of a report."""
    s = report["sections"]
    lines = []

    def status(name: str) -> str | None:
        sec = s.get(name)
        if sec is None:
            return "not run"
        return None if sec["status"] == "ok" else f"{sec['status']}: {sec.get('reason', '')}"

    env = s.get("environment", {})
    if env.get("status") == "ok":
        lines.append(f"device       {env['device']}" + (
            f" (compute capability {env['capability']}, {env['memory_gib']:.1f} GiB, driver "
            f"{env['driver']})" if env.get("capability") else "")
            + f"; {env['gpus']} GPU(s); torch {env['torch']}, CUDA {env['cuda']}, cuDNN "
            f"{env['cudnn']}, transformers {env['transformers']}")
    f = s.get("fp64", {})
    if "fp64_rate" in f:
        full = "full rate" if f["fp64_rate"] >= FULL_RATE else "slow"
        lines.append(f"FP64         float64 {f['float64_tflops']:.3g} TFLOPS, float32 (TF32 off) "
                     f"{f['float32_tflops']:.3g}: rate {f['fp64_rate']:.3g} ({full}); "
                     f"--trace-dtype auto picks {f['trace_dtype_auto']}")
    if status("fp64"):
        lines.append(f"             {status('fp64')}")
    b = s.get("bench", {})
    if "trace_sample" in b:
        t = b["trace_sample"]
        lines.append(f"trace sample float64 {t['float64_s']:.4g} s, float32 {t['float32_s']:.4g} "
                     f"s ({t['ratio']:.2f} ×)")
    if any(d in b for d in model.DTYPES):
        lines.append(f"bench        {b['model']} ({b['n_params'] / 1e6:.3g}M parameters), "
                     f"B = {b['batch']}, L = {b['seq_len']}")
        lines.append("  dtype  forward s  ZO step s  step/(2 fwd)  mem inf GiB  ZO/inf  "
                     "GD s  GD determ. s  (×)")
        for d in model.DTYPES:
            r = b.get(d, {})
            if "error" in r or not r:
                lines.append(f"  {d:5s}  {r.get('error', 'not measured')}")
                continue
            det = (f"{r['gd_step_deterministic_s']:12.4f}  ({r['gd_deterministic_cost']:.2f})"
                   if "gd_step_deterministic_s" in r else "      failed")
            lines.append(f"  {d:5s}  {r['forward_s']:9.4f}  {r['zo_step_s']:9.4f}  "
                         f"{r['ratio']:12.2f}  {r['mem_inference_gib']:11.2f}  "
                         f"{r['mem_zo_gib'] / r['mem_inference_gib']:6.3f}  "
                         f"{r['gd_step_s']:.4f}  {det}")
    if status("bench"):
        lines.append(f"             {status('bench')}")
    g = s.get("grad", {})
    if "trained" in g:
        lines.append(f"ĝ error      {g['model']} on the {g['data']}: rms(ĝ − ĝ_ref) / "
                     f"rms(ĝ_fp32), ε = {g['eps']:g}, {g['seeds']} seeds")
        lines.append(f"  at the start (loss {g['init']['loss']:.3f}) | after {g['gd_steps']} GD "
                     f"steps at lr {g['gd_lr']:g} (loss {g['trained']['loss']:.3g})")
        for d in model.DTYPES:
            ref = "float64" if d == "fp32" else "fp32"
            lines.append(f"  {d} vs {ref:7s} {g['init'][f'error_{d}']:10.3g} | "
                         f"{g['trained'][f'error_{d}']:10.3g}")
    elif status("grad"):
        lines.append(f"ĝ error      {status('grad')}")
    t = s.get("train", {})
    if t.get("status") == "ok":
        r0, r1 = t["records"][0], t["records"][-1]
        lines.append(f"train        {t['model']} ZO, {t['steps']} steps on {t['device']}: train "
                     f"loss {r0['train_loss']:.4f} → {r1['train_loss']:.4f}, test acc "
                     f"{r0['test_acc']:.3f} → {r1['test_acc']:.3f}, trace ({t['trace_dtype']}) "
                     f"{r1['trace']:.4g} ± {r1['trace_stderr']:.2g}; {t['step_time_s']:.3g} "
                     f"s/step, peak {r1['peak_mem_gib']:.2f} GiB, {t['wall_time_s']:.0f} s")
    else:
        lines.append(f"train        {status('train')}")
    d = s.get("determinism", {})
    for algo in ("zo", "gd"):
        if algo in d:
            r = d[algo]
            same = "identical" if r["identical_log"] and r["identical_weights"] else "DIFFERENT"
            lines.append(f"determinism  {algo}: stopped at step {r['stopped_at_step']} (SIGTERM, "
                         f"exit 143) and resumed against uninterrupted: log and weights {same}")
    if status("determinism"):
        lines.append(f"determinism  {status('determinism')}")
    p = s.get("data_parallel", {})
    if p.get("status") == "ok":
        lines.append(f"data parallel ZO, 1 against 2 processes ({p['backend']}): log and weights "
                     "identical")
    else:
        lines.append(f"data parallel {status('data_parallel')}")
    return lines


# --- the command line ------------------------------------------------------------------------

def build_parser() -> cli.Parser:
    p = cli.Parser(prog="gpu-check.sh", description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, default=DEFAULT_OUT,
                   help="folder of report.json and of the train.py runs (runs/)")
    p.add_argument("--model", default=None,
                   help="train.py's --model for the train, determinism and data-parallel "
                        "sections (default: roberta-large when its weights are in the local "
                        "Hugging Face cache, else tiny-random)")
    p.add_argument("--data-dir", type=Path, default=None,
                   help="train.py's --data-dir (default: its own, where the SST-2 K = 32 split "
                        "is built from the shipped originals if missing)")
    p.add_argument("--sections", default=",".join(SECTIONS),
                   help="comma-separated sections to run, of: " + ", ".join(SECTIONS))
    p.add_argument("--keep-checkpoints", action="store_true",
                   help="keep the train.py runs' checkpoints (roberta-large: 1.6 GB each)")
    p.add_argument("--cpu-smoke", action="store_true",
                   help="every section on the CPU at tiny sizes (the tests' end-to-end run); "
                        "its numbers say nothing about a GPU")
    return p


def sections(text: str) -> list[str]:
    chosen = [x.strip() for x in text.split(",") if x.strip()]
    unknown = [x for x in chosen if x not in SECTIONS]
    if unknown or not chosen:
        raise argparse.ArgumentTypeError(f"unknown section(s) {', '.join(unknown) or '(none)'}; "
                                         f"choose from {', '.join(SECTIONS)}")
    return [x for x in SECTIONS if x in chosen]


def no_gpu_reason() -> str | None:
    if torch.cuda.is_available():
        return None
    build = (f"torch {torch.__version__} is a CPU-only build" if torch.version.cuda is None else
             f"torch {torch.__version__} (CUDA {torch.version.cuda}) finds no usable device")
    return (f"{NO_GPU}: {build}; run this on a GPU machine (--cpu-smoke runs the pipeline on "
            "the CPU at tiny sizes)")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        chosen = sections(args.sections)
    except argparse.ArgumentTypeError as exc:
        parser.error(f"--sections: {exc}")
    if not args.cpu_smoke and (reason := no_gpu_reason()):
        print(reason, file=sys.stderr)
        return 1
    out = cli.check_out_dir(args.out)
    plan = CPU_SMOKE if args.cpu_smoke else GPU
    if args.cpu_smoke:  # tiny tensors: extra threads only contend (and its numbers mean nothing)
        torch.set_num_threads(1)
    user_env = dict(os.environ)  # train.py runs get the user's environment, not ours
    # Deterministic cuBLAS (bench's GD step with deterministic algorithms) reads this before the
    # first matmul; train.py sets it the same way for GD.
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    device = distributed.resolve_device(plan.device)
    model_name = args.model or ("roberta-large" if not args.cpu_smoke and local_roberta_large()
                                else "tiny-random")
    if {"train", "determinism", "data_parallel"} & set(chosen):
        try:  # before parallel runs would each build them
            data.load_task(TASK, K, SEED, *([args.data_dir] if args.data_dir else []))
            if model_name == "tiny-random":
                from roberta import tiny_random

                tiny_random.ensure()
        except (data.DataError, OSError) as exc:
            cli.fail(str(exc))
    report = Report(out / "report.json", "cpu-smoke" if args.cpu_smoke else "gpu")
    report.data.update(plan=dataclasses.asdict(plan), model=model_name,
                       command=" ".join(["roberta/examples/gpu-check.sh", *(argv or sys.argv[1:])]))
    progress(f"report: {report.path}")
    runs = out / "runs"
    runner = Runner(runs, plan, model_name, args.data_dir, user_env)
    # bench and grad: the real model when there is one (tiny-random only in the smoke test)
    built = Model(plan, device, None if model_name == "tiny-random" and not args.cpu_smoke
                  else model_name)
    steps: dict[str, Callable[[], dict[str, Any]]] = {
        "environment": lambda: environment(device),
        "fp64": lambda: fp64_rate(device, plan.matmul_n, plan.warmup, plan.reps),
        "bench": lambda: run_bench(plan, built),
        "grad": lambda: run_grad(plan, built),
        "train": lambda: run_train(plan, runner),
        "determinism": lambda: run_determinism(plan, runner),
        "data_parallel": lambda: run_data_parallel(plan, runner),
    }
    for name in chosen:
        if name in ("train", "determinism", "data_parallel"):
            built.free()  # the train.py runs need the device memory
        report.section(name, steps[name])
    code = report.finish()
    if not args.keep_checkpoints and runs.exists():
        for folder in runs.glob("*/checkpoint*"):
            shutil.rmtree(folder, ignore_errors=True)
    print("\n".join(table(report.data)))
    print(f"report       {report.path} ({report.data['status']}, "
          f"{report.data['seconds']:.0f} s)")
    return code


if __name__ == "__main__":
    cli.run(lambda: sys.exit(main()))
