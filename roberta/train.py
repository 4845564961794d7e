"""Prompt fine-tuning of an MLM with ZO-SGD or GD, tracking the Hessian trace (Figures 3, 6).

    python roberta/train.py --task SST-2 --k 32 --algo zo        # the paper's flat-zo.sh
    python roberta/train.py --task SST-2 --k 32 --algo gd        # the paper's flat-gd.sh

Every --trace-every steps the run records the full train loss and a Hessian-trace estimate of
the current parameters (before that step's update), every --eval-steps also the test and dev
accuracy, and at the end all of them. Records go to <out>/result.json (rewritten atomically) and
<out>/train.log; at every evaluation a checkpoint is saved, and --resume continues from it with
the same trajectory as an uninterrupted run.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import shutil
import socket
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from flatzero.cli import Parser, fail, nonneg_int, positive_float, positive_int
from flatzero.results import run_metadata, write_json
from roberta import data, distributed, model, prompts, tiny_random, trace, zo
from roberta.distributed import World, main_only

HERE = Path(__file__).resolve().parent
DEFAULT_LR = {"zo": 1e-5, "gd": 5e-5}  # the paper's flat-zo.sh / flat-gd.sh
SEED_RANGE = 1_000_000_000
MAX_SEED = 2**32 - 2  # numpy's RandomState takes < 2**32, and the trace generator uses seed + 1
# Settings that change a run's numbers: they name its folder and must not change on --resume
# (--steps and --eval-steps may: a resumed run can be extended).
NUMBER_KEYS = ("task", "k", "seed", "model", "tie_emb", "algo", "lr", "eps", "batch_size",
               "chunk_size", "max_length", "trace_every", "trace_samples", "trace_delta",
               "trace_estimator", "max_grad_norm", "dtype")
# Their short names in a run folder's name, after the paper's <task>-k<K>-<algo>-seed<seed>.
FOLDER_KEYS = {"model": "", "tie_emb": "tied", "lr": "lr", "eps": "eps", "steps": "steps",
               "eval_steps": "eval", "batch_size": "bs", "chunk_size": "chunk",
               "max_length": "len", "trace_every": "trace", "trace_samples": "samples",
               "trace_delta": "delta", "trace_estimator": "", "max_grad_norm": "clip",
               "dtype": ""}


@dataclass(frozen=True)
class Config:
    task: str = "SST-2"
    k: int = 32
    seed: int = 42            # the k-shot split seed and the training seed, as the paper's SEED
    model: str = "roberta-large"
    tie_emb: bool = False     # the paper's models are untied (its --tie_emb off)
    algo: str = "zo"          # zo | gd
    lr: float = 1e-5
    eps: float = 2e-3         # ZO perturbation scale ε
    steps: int = 100_000
    eval_steps: int = 1000
    batch_size: int = 0       # 0: full batch (the whole k-shot train set)
    chunk_size: int = 64      # rows per forward pass (memory); does not change the numbers' meaning
    max_length: int = 128
    trace_every: int = 500    # 0: no trace tracking; ≈ +30 % time with 100 samples (README)
    trace_samples: int = 100
    trace_delta: float = 1e-4
    trace_estimator: str = "zo"
    max_grad_norm: float | None = 1.0  # GD: the HF trainer's default clipping; None: none
    dtype: str = "fp32"       # fp32 | tf32 | bf16 (forward precision; weights stay fp32)
    device: str = "auto"


@dataclass
class State:
    """Everything that evolves besides the weights; checkpointed for --resume."""

    step: int
    rng: np.random.RandomState       # ZO step seeds and mini-batch order
    diag_rng: np.random.RandomState  # trace samples only: never touches the trajectory
    order: list[int]                 # mini-batch order of the current epoch
    pos: int
    log: list[dict[str, Any]]
    wall_time_s: float


def chunks(items: list[prompts.Encoded], size: int, pad_id: int, device) -> list[dict]:
    """Forward-pass chunks of at most ``size`` rows, each padded to its longest prompt.

    Rows are sorted by length first (stably), so a chunk pads to a length close to its rows'
    own: on SST-2 K = 256 this halves the padded tokens per pass over the train set. A row's
    loss does not depend on its chunk (padding is masked), so only float rounding can change.
    """
    items = sorted(items, key=lambda e: len(e.input_ids))
    return [prompts.collate(items[i:i + size], pad_id, device) for i in range(0, len(items), size)]


def rows(batch: list[dict]) -> int:
    return sum(len(b["labels"]) for b in batch)


@torch.no_grad()
def mean_loss(world: World, net: model.PromptClassifier, batch: list[dict]) -> float:
    """Mean loss over the chunks of ``batch``: float64 chunk sums, this rank's chunks only,
    added in chunk order (the same float for any number of ranks)."""
    sums = {i: model.batch_loss(net, b).double() for i, b in world.mine(batch)}
    return world.ordered_sum(sums, len(batch)) / rows(batch)


@torch.no_grad()
def accuracy(world: World, net: model.PromptClassifier, batch: list[dict]) -> float:
    correct = sum(int((net(b["input_ids"], b["attention_mask"], b["mask_pos"]).argmax(-1)
                       == b["labels"]).sum()) for _, b in world.mine(batch))
    return world.sum_int(correct) / rows(batch)


def dropout_seed(seed: int, step: int, chunk: int) -> int:
    """GD's dropout masks are a function of (run seed, step, chunk), so a chunk draws the same
    masks whichever rank computes it."""
    return int(np.random.SeedSequence([seed, step, chunk]).generate_state(1)[0])


def gd_step(net: model.PromptClassifier, params: list[torch.Tensor], batch: list[dict],
            lr: float, max_grad_norm: float | None, *, world: World = distributed.SINGLE,
            seed: int = 0, step: int = 0) -> float:
    """One first-order SGD step on the mean loss of ``batch`` (its chunks); returns that loss.

    Train mode (dropout on) and gradient clipping unless ``max_grad_norm`` is None, as the
    paper's GD through the HF trainer's training_step. Parameters the loss does not reach
    (no gradient) stay as they are.
    """
    net.train()
    n = rows(batch)
    losses = {}
    for i, b in world.mine(batch):
        torch.manual_seed(dropout_seed(seed, step, i))
        loss = model.batch_loss(net, b) / n
        loss.backward()
        losses[i] = loss.detach()
    world.all_reduce_grads(params)
    with_grad = [p for p in params if p.grad is not None]
    if max_grad_norm is not None:
        torch.nn.utils.clip_grad_norm_(with_grad, max_grad_norm)
    with torch.no_grad():
        for p in with_grad:
            p.add_(p.grad, alpha=-lr)
            p.grad = None
    net.eval()
    return world.ordered_sum(losses, len(batch))


def peak_memory_gib(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**30
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # Linux: KiB


def log_line(rec: dict[str, Any]) -> str:
    return " ".join(f"{k}={v:.6g}" if isinstance(v, float) else f"{k}={v}"
                    for k, v in rec.items()) + "\n"


class Run:
    """One training run: data, model, state and the loop (a plain object, no framework).

    Under torchrun every rank runs this same object; only rank 0 writes files (``main_only``).
    """

    def __init__(self, cfg: Config, out: Path, splits: dict[str, list[data.Example]],
                 tokenizer, net: model.PromptClassifier, world: World = distributed.SINGLE) -> None:
        self.cfg, self.out, self.net, self.world = cfg, out, net, world
        self.device = world.device
        self.pad = tokenizer.pad_token_id
        enc = {s: prompts.encode(v, cfg.task, tokenizer, cfg.max_length) for s, v in splits.items()}
        self.train_items = enc["train"]
        # Tokenised once, padded per chunk to its longest prompt, kept on the device.
        self.train_chunks = chunks(enc["train"], cfg.chunk_size, self.pad, self.device)
        self.eval_chunks = {s: chunks(enc[s], cfg.chunk_size, self.pad, self.device)
                            for s in ("test", "dev")}
        self.params = zo.trainable(net)
        self.start = time.perf_counter()

    def loss(self, batch: list[dict]) -> float:
        return mean_loss(self.world, self.net, batch)

    # --- state and checkpoints ----------------------------------------------------------------
    def new_state(self) -> State:
        rng = np.random.RandomState(self.cfg.seed)
        diag = np.random.RandomState(self.cfg.seed + 1)
        return State(0, rng, diag, [], 0, [], 0.0)

    @main_only
    def save_checkpoint(self, state: State) -> None:
        from safetensors.torch import save_model

        final, tmp = self.out / "checkpoint", self.out / "checkpoint.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        save_model(self.net.mlm, str(tmp / "model.safetensors"))
        torch.save({
            "config": asdict(self.cfg), "step": state.step, "rng": state.rng.get_state(),
            "diag_rng": state.diag_rng.get_state(), "order": state.order, "pos": state.pos,
            "log": state.log, "wall_time_s": state.wall_time_s,
        }, tmp / "state.pt")
        # Swap so that a crash at any point leaves a complete checkpoint (or checkpoint.old).
        old = self.out / "checkpoint.old"
        shutil.rmtree(old, ignore_errors=True)
        if final.exists():
            final.rename(old)
        tmp.rename(final)
        shutil.rmtree(old, ignore_errors=True)

    def load_checkpoint(self) -> State:
        from safetensors.torch import load_model

        folder = checkpoint_folder(self.out)
        try:
            load_model(self.net.mlm, str(folder / "model.safetensors"), device=str(self.device))
            saved = torch.load(folder / "state.pt", weights_only=False)
        except Exception as exc:  # a truncated or foreign file: safetensors, pickle, zip errors
            fail(f"--resume: {folder} is unreadable ({type(exc).__name__}: "
                 f"{str(exc).splitlines()[0] if str(exc) else 'no detail'}); resume from "
                 f"{self.out / 'checkpoint.old'} if it exists (rename it to checkpoint), or "
                 "start again with --overwrite")
        rng, diag = np.random.RandomState(), np.random.RandomState()
        rng.set_state(saved["rng"])
        diag.set_state(saved["diag_rng"])
        return State(saved["step"], rng, diag, saved["order"], saved["pos"], saved["log"],
                     saved["wall_time_s"])

    # --- the pieces of a step -------------------------------------------------------------------
    def next_batch(self, state: State) -> list[dict]:
        """The full train set, or the next mini-batch of a per-epoch permutation; the last batch
        of an epoch has the remaining rows (as a PyTorch DataLoader without drop_last, which
        the paper's trainer uses)."""
        n = len(self.train_items)
        if self.cfg.batch_size in (0, n) or self.cfg.batch_size > n:
            return self.train_chunks
        if state.pos >= len(state.order):
            state.order, state.pos = [int(i) for i in state.rng.permutation(n)], 0
        idx = state.order[state.pos:state.pos + self.cfg.batch_size]
        state.pos += len(idx)
        return chunks([self.train_items[i] for i in idx], self.cfg.chunk_size, self.pad,
                      self.device)

    def zo_step(self, state: State, batch: list[dict]) -> float:
        seed = int(state.rng.randint(SEED_RANGE))
        f_plus, _, _ = zo.zo_step(self.params, lambda: self.loss(batch), seed, self.cfg.eps,
                                  self.cfg.lr)
        return f_plus

    def gd_step(self, state: State, batch: list[dict]) -> float:
        return gd_step(self.net, self.params, batch, self.cfg.lr, self.cfg.max_grad_norm,
                       world=self.world, seed=self.cfg.seed, step=state.step)

    def record(self, state: State, step: int, evaluate: bool, step_time: float) -> dict:
        """Metrics of the current parameters (eval mode), appended to the log."""
        cfg = self.cfg
        self.net.eval()
        rec: dict[str, Any] = {"step": step, "train_loss": self.loss(self.train_chunks)}
        if cfg.trace_every and step % cfg.trace_every == 0:
            with trace.restoring(self.params):
                if cfg.trace_estimator == "zo":  # in float64, f(θ) too (trace.py: precision)
                    with model.float64(self.net):
                        est, se = trace.zo_trace(self.params, lambda: self.loss(self.train_chunks),
                                                 cfg.trace_samples, cfg.trace_delta,
                                                 state.diag_rng)
                else:
                    n, mine = rows(self.train_chunks), self.world.mine(self.train_chunks)
                    est, se = trace.hutchinson_trace(
                        self.params, lambda: (model.batch_loss(self.net, b) / n for _, b in mine),
                        cfg.trace_samples, state.diag_rng,
                        combine=lambda parts: self.world.ordered_sum(
                            {i: v for (i, _), v in zip(mine, parts, strict=True)},
                            len(self.train_chunks)))
            rec["trace"], rec["trace_stderr"] = est, se
        if evaluate:
            rec["test_acc"] = accuracy(self.world, self.net, self.eval_chunks["test"])
            rec["dev_acc"] = accuracy(self.world, self.net, self.eval_chunks["dev"])
        rec["wall_time_s"] = state.wall_time_s + time.perf_counter() - self.start
        rec["step_time_s"] = step_time
        rec["peak_mem_gib"] = peak_memory_gib(self.device)
        state.log.append(rec)
        return rec

    # --- output (rank 0) ------------------------------------------------------------------------
    @main_only
    def write(self, state: State, status: str = "running", **extra: Any) -> None:
        """result.json: ``config``, ``log`` and ``status`` (running | finished | diverged)."""
        config = {**asdict(self.cfg), "n_train": len(self.train_items),
                  "n_params": sum(p.numel() for p in self.params),
                  "world_size": self.world.size, **extra}
        write_json(self.out / "result.json",
                   {"config": run_metadata(config, state.log[-1]["wall_time_s"] if state.log
                                           else 0.0), "log": state.log, "status": status})

    @main_only
    def open_log(self, state: State, resume: bool):
        """train.log, rewritten from the checkpoint's records on --resume (a run killed after
        its last checkpoint must not leave those later records twice)."""
        path = self.out / "train.log"
        if resume:
            tmp = path.with_name(".train.log.tmp")
            tmp.write_text("".join(log_line(r) for r in state.log))
            tmp.replace(path)
        return path.open("a")

    @main_only
    def emit(self, log_file, wandb_run, rec: dict[str, Any]) -> None:
        log_file.write(log_line(rec))
        log_file.flush()
        if wandb_run is not None:
            wandb_run.log(rec, step=rec["step"])

    # --- the loop ------------------------------------------------------------------------------
    def train(self, resume: bool = False, progress: bool = True, wandb_run=None) -> State:
        cfg = self.cfg
        self.net.eval()
        state = self.load_checkpoint() if resume else self.new_state()
        recorded = state.step if resume else None  # the checkpoint's step is already logged
        log_file = self.open_log(state, resume)
        bar = tqdm(total=cfg.steps, initial=state.step, desc=f"{cfg.task} {cfg.algo}",
                   unit="step", disable=None if progress and self.world.main else True)
        step_times: list[float] = []
        step = state.step
        try:
            while True:
                on_trace = bool(cfg.trace_every) and step % cfg.trace_every == 0
                evaluate = step % cfg.eval_steps == 0 or step == cfg.steps
                if (on_trace or evaluate) and step != recorded:
                    state.step = step
                    rec = self.record(state, step, evaluate,
                                      float(np.mean(step_times)) if step_times else math.nan)
                    step_times = []
                    self.write(state, "finished" if step >= cfg.steps else "running")
                    self.emit(log_file, wandb_run, rec)
                    if evaluate:
                        state.wall_time_s = rec["wall_time_s"]
                        self.start = time.perf_counter()
                        self.save_checkpoint(state)
                if step >= cfg.steps:
                    break
                t0 = time.perf_counter()
                state.step = step
                batch = self.next_batch(state)
                loss = (self.zo_step(state, batch) if cfg.algo == "zo"
                        else self.gd_step(state, batch))
                step_times.append(time.perf_counter() - t0)
                if not math.isfinite(loss):
                    self.write(state, "diverged", diverged_at_step=step)
                    fail(f"loss is not finite at step {step}; wrote the log so far to "
                         f"{self.out / 'result.json'}")
                step += 1
                bar.update(1)
                if step % 10 == 0:
                    bar.set_postfix(loss=f"{loss:.4f}", refresh=False)
        finally:
            bar.close()
            if log_file is not None:
                log_file.close()
        return state


# --- run folders: names, ownership, reuse ------------------------------------------------------

def default_out(cfg: Config) -> Path:
    """The run folder a run gets without --out: the paper's ``<task>-k<K>-<algo>-seed<seed>``
    for the paper's settings, followed by every setting that differs from them and changes
    the numbers (so a smoke run never lands in, or replaces, a real run's folder)."""
    paper = Config(task=cfg.task, k=cfg.k, seed=cfg.seed, algo=cfg.algo,
                   lr=DEFAULT_LR[cfg.algo])
    unused = {"zo": {"max_grad_norm"}, "gd": {"eps"}}[cfg.algo]
    parts = []
    for key, short in FOLDER_KEYS.items():
        value, default = getattr(cfg, key), getattr(paper, key)
        if key in unused or value == default:
            continue
        if key == "model":
            value = "".join(c if c.isalnum() or c in "-." else "_"
                            for c in Path(str(value)).name)
        elif isinstance(value, bool):
            value = ""
        elif isinstance(value, float):
            value = f"{value:g}"
        parts.append(f"{short}{value}")
    name = f"{cfg.task}-k{cfg.k}-{cfg.algo}-seed{cfg.seed}"
    return HERE / "runs" / "_".join([name, *parts])


def checkpoint_folder(out: Path) -> Path:
    """checkpoint/, or checkpoint.old/ when a crash fell between save_checkpoint's renames."""
    return out / "checkpoint" if (out / "checkpoint").exists() else out / "checkpoint.old"


def check_folder(out: Path, cfg: Config, resume: bool, overwrite: bool) -> None:
    """Refuse to replace a run without --overwrite, or to --resume one with other settings."""
    held = [n for n in ("result.json", "checkpoint", "checkpoint.old") if (out / n).exists()]
    if out.exists() and not out.is_dir():
        fail(f"--out {out} is a file, not a folder")
    if resume:
        state = checkpoint_folder(out) / "state.pt"
        if not state.exists():
            fail(f"--resume: no checkpoint in {out}; start the run without --resume")
        try:
            old = torch.load(state, weights_only=False).get("config", {})
        except Exception:
            return  # unreadable: load_checkpoint says what to do
        changed = [k for k in NUMBER_KEYS if k in old and old[k] != getattr(cfg, k)]
        if changed:
            fail(f"--resume with different settings than {out} "
                 f"({', '.join(f'{k}: {old[k]} → {getattr(cfg, k)}' for k in changed)}); "
                 "pass the original flags, or start a new run with another --out")
    elif held and not overwrite:
        status = ""
        if (out / "result.json").exists():
            try:
                status = f" ({json.loads((out / 'result.json').read_bytes()).get('status')})"
            except ValueError:
                status = " (unreadable result.json)"
        fail(f"{out} already holds a run{status}: pass --resume to continue it, --overwrite to "
             "start it again, or another --out")


def clear_folder(out: Path) -> None:
    """--overwrite: remove the previous run's files (only those a run writes)."""
    for name in ("checkpoint", "checkpoint.old", "checkpoint.tmp"):
        shutil.rmtree(out / name, ignore_errors=True)
    for name in ("result.json", "train.log"):
        (out / name).unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def acquire_lock(out: Path) -> Path:
    """<out>/.lock names the process that owns the folder; a second run is refused. A lock is
    stale when its process is gone (same host) or it belongs to this SLURM job (a requeue)."""
    lock = out / ".lock"
    me = {"host": socket.gethostname(), "pid": os.getpid(),
          "slurm_job_id": os.environ.get("SLURM_JOB_ID")}
    for _ in range(2):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            try:
                owner = json.loads(lock.read_text())
            except (OSError, ValueError):
                owner = {}
            stale = ((owner.get("host") == me["host"] and not _alive(int(owner.get("pid", 0))))
                     or (me["slurm_job_id"] is not None
                         and owner.get("slurm_job_id") == me["slurm_job_id"]) or not owner)
            if not stale:
                fail(f"{out} is in use by another run (pid {owner.get('pid')} on "
                     f"{owner.get('host')}); wait for it, or delete {lock} if that run is dead")
            lock.unlink(missing_ok=True)
            continue
        with os.fdopen(fd, "w") as f:
            json.dump(me, f)
        return lock
    fail(f"could not take the lock {lock}")


# --- command line ------------------------------------------------------------------------------

def seed_int(text: str) -> int:
    value = nonneg_int(text)
    if value > MAX_SEED:
        raise argparse.ArgumentTypeError(f"must be at most {MAX_SEED}, got {text}")
    return value


def grad_norm(text: str) -> float | None:
    if text.lower() == "none":
        return None
    return positive_float(text)


def trace_delta(text: str) -> float:
    value = positive_float(text)
    if value**2 == 0 or not math.isfinite(1.0 / value**2):
        raise argparse.ArgumentTypeError(f"{text} is so small that 1/δ² overflows")
    return value


def build_parser() -> Parser:
    p = Parser(prog="train.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--task", choices=data.TASKS, default="SST-2", help="LM-BFF task")
    p.add_argument("--k", type=positive_int, default=32, help="examples per label (K)")
    p.add_argument("--seed", type=seed_int, default=42,
                   help=f"k-shot split seed and training seed, 0..{MAX_SEED} (13, 21, 42, 87, "
                        "100 in LM-BFF)")
    p.add_argument("--model", default="roberta-large",
                   help="a masked-LM hub name or local folder (AutoModelForMaskedLM), or "
                        f"'{tiny_random.NAME}': a small random RoBERTa built locally (CPU demo)")
    p.add_argument("--tie-emb", action="store_true",
                   help="tie the LM head's output matrix to the input embeddings (the paper's "
                        "runs keep them untied)")
    p.add_argument("--algo", choices=["zo", "gd"], default="zo",
                   help="zo: MeZO-style ZO-SGD; gd: first-order SGD")
    p.add_argument("--lr", type=positive_float, default=None,
                   help="learning rate; default 1e-5 for zo, 5e-5 for gd, as the paper")
    p.add_argument("--eps", type=positive_float, default=2e-3, help="ZO perturbation scale ε")
    p.add_argument("--steps", type=positive_int, default=100_000, help="optimisation steps")
    p.add_argument("--eval-steps", type=positive_int, default=1000,
                   help="evaluate test/dev accuracy and checkpoint every N steps")
    p.add_argument("--batch-size", type=nonneg_int, default=0,
                   help="rows per step; 0 = full batch (the whole k-shot train set); the "
                        "paper's launchers use 64, reshuffled every epoch")
    p.add_argument("--chunk-size", type=positive_int, default=64,
                   help="rows per forward pass: lower it if memory is short; with N processes "
                        "(torchrun) use at most rows/N so that every rank has chunks")
    p.add_argument("--max-length", type=positive_int, default=128, help="prompt length limit")
    p.add_argument("--trace-every", type=nonneg_int, default=500,
                   help="estimate the Hessian trace every N steps (0: never); an estimate "
                        "costs about --trace-samples ZO steps, so the default adds ≈ 30%% to a "
                        "ZO run and the paper's cadence (100) doubles it")
    p.add_argument("--trace-samples", type=positive_int, default=100,
                   help="antithetic samples per trace estimate (each: two forward passes)")
    p.add_argument("--trace-delta", type=trace_delta, default=1e-4,
                   help="δ of the function-value trace estimator")
    p.add_argument("--trace-estimator", choices=trace.ESTIMATORS, default="zo",
                   help="zo: antithetic function values; hutchinson: double backward")
    p.add_argument("--max-grad-norm", type=grad_norm, default=1.0,
                   help="GD gradient clipping (the HF trainer's default), or 'none'")
    p.add_argument("--data-dir", type=Path, default=data.KSHOT, help="k-shot splits root")
    p.add_argument("--out", type=Path, default=None,
                   help="run folder; default roberta/runs/<task>-k<K>-<algo>-seed<seed>, "
                        "followed by the settings that differ from the paper's")
    p.add_argument("--dtype", choices=model.DTYPES, default="fp32",
                   help="forward precision: fp32, tf32 matmuls (GPU), or bf16 autocast; "
                        "weights, perturbations and losses stay float32 or better")
    p.add_argument("--device", default="auto",
                   help="auto (cuda if available, else cpu), cpu, cuda, cuda:1, ...; under "
                        "torchrun each rank takes the GPU of its local rank")
    p.add_argument("--dist-timeout", type=positive_float, default=600.0,
                   help="seconds a rank waits for the others (torchrun) before the job fails")
    p.add_argument("--resume", action="store_true", help="continue from <out>/checkpoint")
    p.add_argument("--overwrite", action="store_true",
                   help="start again in a folder that holds a run (deletes its results)")
    p.add_argument("--wandb", action="store_true", help="also log to Weights & Biases")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def config_from_args(args) -> Config:
    values = {f.name: getattr(args, f.name) for f in fields(Config) if hasattr(args, f.name)}
    values["lr"] = args.lr if args.lr is not None else DEFAULT_LR[args.algo]
    return Config(**values)


def hub_reachable(timeout_s: float = 3.0) -> bool:
    """Whether the model hub answers at all (transformers would retry for ~50 s otherwise)."""
    from urllib.parse import urlparse

    from huggingface_hub import constants

    url = urlparse(constants.ENDPOINT)
    try:
        socket.create_connection((url.hostname, url.port or 443), timeout=timeout_s).close()
    except OSError:
        return False
    return True


def load_model(cfg: Config, device: torch.device):
    """(tokenizer, prompt classifier) for --model; fails in seconds, with what to do, offline."""
    from transformers import AutoTokenizer

    name = str(tiny_random.ensure()) if cfg.model == tiny_random.NAME else cfg.model
    local = Path(name).exists()
    # A hub name with no hub in reach: the local cache only (transformers would retry ~50 s).
    cached_only = not local and not hub_reachable()
    try:
        tokenizer = AutoTokenizer.from_pretrained(name, local_files_only=cached_only)
        label_ids = prompts.label_word_ids(cfg.task, tokenizer)
        net = model.load(name, label_ids, device, tie_emb=cfg.tie_emb,
                         local_files_only=cached_only)
    except prompts.PromptError as exc:
        fail(str(exc))
    except OSError as exc:
        hint = ("" if local else f"; offline, download it where there is internet "
                f"(`huggingface-cli download {name} --local-dir DIR`) and pass --model DIR, or "
                f"try --model {tiny_random.NAME} (a small random RoBERTa, CPU demo)")
        fail(f"could not load model {name!r} ({str(exc).splitlines()[0]}){hint}")
    model.set_precision(net, cfg.dtype)
    return tokenizer, net


def main(argv: list[str] | None = None) -> Path:
    args = build_parser().parse_args(argv)
    if args.resume and args.overwrite:
        fail("--resume and --overwrite exclude each other")
    cfg = config_from_args(args)
    out = args.out or default_out(cfg)
    check_folder(out, cfg, args.resume, args.overwrite)
    try:
        world = distributed.init(cfg.device, args.dist_timeout)
    except distributed.DeviceError as exc:
        fail(str(exc))
    try:
        splits = data.load_task(cfg.task, cfg.k, cfg.seed, args.data_dir)
    except data.DataError as exc:
        fail(str(exc))
    if args.quiet:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
    tokenizer, net = load_model(cfg, world.device)
    lock = None
    if world.main:
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            fail(f"cannot create --out {out}: {exc.strerror}")
        if not os.access(out, os.W_OK):
            fail(f"--out {out} is not writable")
        lock = acquire_lock(out)
        if args.overwrite:
            clear_folder(out)
    run = Run(cfg, out, splits, tokenizer, net, world)
    wandb_run = None
    if args.wandb and world.main:
        try:
            import wandb
        except ImportError:
            fail("--wandb needs the wandb package: pip install -e '.[wandb]'")
        wandb_run = wandb.init(project=f"flatzero-{cfg.task}", name=out.name, config=asdict(cfg))
    try:
        state = run.train(resume=args.resume, progress=not args.quiet, wandb_run=wandb_run)
    except KeyboardInterrupt:
        fail(f"interrupted; continue with --resume (from the last checkpoint in {out})", 130)
    finally:
        if wandb_run is not None:
            wandb_run.finish()
        if lock is not None:
            lock.unlink(missing_ok=True)
        distributed.shutdown()
    last = state.log[-1]
    if world.main:
        parts = [f"train loss {last['train_loss']:.4f}"]
        if "test_acc" in last:
            parts.append(f"test acc {last['test_acc']:.4f}")
        if "trace" in last:
            parts.append(f"trace {last['trace']:.4g} ± {last['trace_stderr']:.2g}")
        print(f"step {last['step']}: {', '.join(parts)} → {out / 'result.json'}")
    return out / "result.json"


if __name__ == "__main__":
    main()
