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

import math
import resource
import shutil
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from flatzero.cli import Parser, fail, nonneg_int, positive_float, positive_int
from flatzero.results import read_json, run_metadata, write_json
from roberta import data, model, prompts, trace, zo

HERE = Path(__file__).resolve().parent
DEFAULT_LR = {"zo": 1e-5, "gd": 5e-5}  # the paper's flat-zo.sh / flat-gd.sh
SEED_RANGE = 1_000_000_000
# Settings that must not change when a run is resumed.
RESUME_KEYS = ("task", "k", "seed", "model", "algo", "lr", "eps", "batch_size", "max_length",
               "trace_every", "trace_samples", "trace_delta", "trace_estimator", "max_grad_norm",
               "dtype")


@dataclass(frozen=True)
class Config:
    task: str = "SST-2"
    k: int = 32
    seed: int = 42            # the k-shot split seed and the training seed, as the paper's SEED
    model: str = "roberta-large"
    algo: str = "zo"          # zo | gd
    lr: float = 1e-5
    eps: float = 2e-3         # ZO perturbation scale ε
    steps: int = 100_000
    eval_steps: int = 1000
    batch_size: int = 0       # 0: full batch (the whole k-shot train set)
    chunk_size: int = 64      # rows per forward pass (memory); does not change the numbers' meaning
    max_length: int = 128
    trace_every: int = 500    # 0: no trace tracking; ≈ +20 % time with 100 samples (README)
    trace_samples: int = 100
    trace_delta: float = 1e-4
    trace_estimator: str = "zo"
    max_grad_norm: float = 1.0  # GD: the HF trainer's default clipping, as in the paper's runs
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


def gd_step(net: model.PromptClassifier, params: list[torch.Tensor], batch: list[dict],
            lr: float, max_grad_norm: float) -> float:
    """One first-order SGD step on the mean loss of ``batch`` (its chunks); returns that loss.

    Train mode (dropout on) and gradient clipping when ``max_grad_norm`` > 0, as the paper's GD
    through the HF trainer's training_step.
    """
    net.train()
    rows = sum(len(b["labels"]) for b in batch)
    total = 0.0
    for b in batch:
        loss = model.batch_loss(net, b) / rows
        loss.backward()
        total += float(loss.detach())
    if max_grad_norm > 0:
        torch.nn.utils.clip_grad_norm_(params, max_grad_norm)
    with torch.no_grad():
        for p in params:
            p.add_(p.grad, alpha=-lr)
            p.grad = None
    net.eval()
    return total


def peak_memory_gib(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**30
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # Linux: KiB


class Run:
    """One training run: data, model, state and the loop (a plain object, no framework)."""

    def __init__(self, cfg: Config, out: Path, splits: dict[str, list[data.Example]],
                 tokenizer, net: model.PromptClassifier, device: torch.device) -> None:
        self.cfg, self.out, self.net, self.device = cfg, out, net, device
        self.pad = tokenizer.pad_token_id
        enc = {s: prompts.encode(v, cfg.task, tokenizer, cfg.max_length) for s, v in splits.items()}
        self.train_items = enc["train"]
        # Tokenised once, padded per chunk to its longest prompt, kept on the device.
        self.train_chunks = chunks(enc["train"], cfg.chunk_size, self.pad, device)
        self.eval_chunks = {s: chunks(enc[s], cfg.chunk_size, self.pad, device)
                            for s in ("test", "dev")}
        self.params = zo.trainable(net)
        self.start = time.perf_counter()

    # --- state and checkpoints ----------------------------------------------------------------
    def new_state(self) -> State:
        torch.manual_seed(self.cfg.seed)  # dropout in GD steps
        rng = np.random.RandomState(self.cfg.seed)
        diag = np.random.RandomState(self.cfg.seed + 1)
        return State(0, rng, diag, [], 0, [], 0.0)

    def save_checkpoint(self, state: State) -> None:
        from safetensors.torch import save_model

        final, tmp = self.out / "checkpoint", self.out / "checkpoint.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        save_model(self.net.mlm, str(tmp / "model.safetensors"))
        torch.save({
            "step": state.step, "rng": state.rng.get_state(),
            "diag_rng": state.diag_rng.get_state(), "order": state.order, "pos": state.pos,
            "log": state.log,
            "wall_time_s": state.wall_time_s, "torch_rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
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

        folder = self.out / "checkpoint"
        if not folder.exists():  # interrupted between the two renames of save_checkpoint
            folder = self.out / "checkpoint.old"
        if not (folder / "state.pt").exists():
            fail(f"--resume: no checkpoint in {folder}; start the run without --resume")
        load_model(self.net.mlm, str(folder / "model.safetensors"), device=str(self.device))
        saved = torch.load(folder / "state.pt", weights_only=False)
        rng, diag = np.random.RandomState(), np.random.RandomState()
        rng.set_state(saved["rng"])
        diag.set_state(saved["diag_rng"])
        torch.set_rng_state(saved["torch_rng"])
        if saved["cuda_rng"] is not None and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(saved["cuda_rng"])
        return State(saved["step"], rng, diag, saved["order"], saved["pos"], saved["log"],
                     saved["wall_time_s"])

    # --- the pieces of a step -------------------------------------------------------------------
    def next_batch(self, state: State) -> list[dict]:
        n = len(self.train_items)
        if self.cfg.batch_size in (0, n) or self.cfg.batch_size > n:
            return self.train_chunks
        if state.pos + self.cfg.batch_size > len(state.order):
            state.order, state.pos = [int(i) for i in state.rng.permutation(n)], 0
        idx = state.order[state.pos:state.pos + self.cfg.batch_size]
        state.pos += self.cfg.batch_size
        return chunks([self.train_items[i] for i in idx], self.cfg.chunk_size, self.pad,
                      self.device)

    def zo_step(self, state: State, batch: list[dict]) -> float:
        seed = int(state.rng.randint(SEED_RANGE))
        f_plus, _, _ = zo.zo_step(self.params, lambda: model.mean_loss(self.net, batch), seed,
                                  self.cfg.eps, self.cfg.lr)
        return f_plus

    def gd_step(self, batch: list[dict]) -> float:
        return gd_step(self.net, self.params, batch, self.cfg.lr, self.cfg.max_grad_norm)

    def record(self, state: State, step: int, evaluate: bool, step_time: float) -> dict:
        """Metrics of the current parameters (eval mode), appended to the log."""
        cfg = self.cfg
        self.net.eval()
        rec: dict[str, Any] = {"step": step, "train_loss": model.mean_loss(self.net,
                                                                           self.train_chunks)}
        if cfg.trace_every and step % cfg.trace_every == 0:
            with trace.restoring(self.params):
                if cfg.trace_estimator == "zo":  # in float64, f(θ) too (trace.py: precision)
                    with model.float64(self.net):
                        est, se = trace.zo_trace(
                            self.params, lambda: model.mean_loss(self.net, self.train_chunks),
                            cfg.trace_samples, cfg.trace_delta, state.diag_rng)
                else:
                    rows = len(self.train_items)
                    est, se = trace.hutchinson_trace(
                        self.params, lambda: (model.batch_loss(self.net, b) / rows
                                              for b in self.train_chunks),
                        cfg.trace_samples, state.diag_rng)
            rec["trace"], rec["trace_stderr"] = est, se
        if evaluate:
            rec["test_acc"] = model.accuracy(self.net, self.eval_chunks["test"])
            rec["dev_acc"] = model.accuracy(self.net, self.eval_chunks["dev"])
        rec["wall_time_s"] = state.wall_time_s + time.perf_counter() - self.start
        rec["step_time_s"] = step_time
        rec["peak_mem_gib"] = peak_memory_gib(self.device)
        state.log.append(rec)
        return rec

    def write(self, state: State, status: str = "running", **extra: Any) -> None:
        """result.json: ``config``, ``log`` and ``status`` (running | finished | diverged)."""
        config = {**asdict(self.cfg), "n_train": len(self.train_items),
                  "n_params": sum(p.numel() for p in self.params), **extra}
        write_json(self.out / "result.json",
                   {"config": run_metadata(config, state.log[-1]["wall_time_s"] if state.log
                                           else 0.0), "log": state.log, "status": status})

    # --- the loop ------------------------------------------------------------------------------
    def train(self, resume: bool = False, progress: bool = True, wandb_run=None) -> State:
        cfg = self.cfg
        self.net.eval()
        state = self.load_checkpoint() if resume else self.new_state()
        recorded = state.step if resume else None  # the checkpoint's step is already logged
        log_file = (self.out / "train.log").open("a")
        bar = tqdm(total=cfg.steps, initial=state.step, desc=f"{cfg.task} {cfg.algo}",
                   unit="step", disable=None if progress else True)
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
                    log_file.write(" ".join(f"{k}={v:.6g}" if isinstance(v, float) else
                                            f"{k}={v}" for k, v in rec.items()) + "\n")
                    log_file.flush()
                    if wandb_run is not None:
                        wandb_run.log(rec, step=step)
                    if evaluate:
                        state.wall_time_s = rec["wall_time_s"]
                        self.start = time.perf_counter()
                        self.save_checkpoint(state)
                if step >= cfg.steps:
                    break
                t0 = time.perf_counter()
                batch = self.next_batch(state)
                loss = self.zo_step(state, batch) if cfg.algo == "zo" else self.gd_step(batch)
                step_times.append(time.perf_counter() - t0)
                if not math.isfinite(loss):
                    state.step = step
                    self.write(state, "diverged", diverged_at_step=step)
                    fail(f"loss is not finite at step {step}; wrote the log so far to "
                         f"{self.out / 'result.json'}")
                step += 1
                bar.update(1)
                if step % 10 == 0:
                    bar.set_postfix(loss=f"{loss:.4f}", refresh=False)
        finally:
            bar.close()
            log_file.close()
        return state


# --- command line ------------------------------------------------------------------------------

def build_parser() -> Parser:
    p = Parser(prog="train.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--task", choices=data.TASKS, default="SST-2", help="LM-BFF task")
    p.add_argument("--k", type=positive_int, default=32, help="examples per label (K)")
    p.add_argument("--seed", type=nonneg_int, default=42,
                   help="k-shot split seed and training seed (13, 21, 42, 87, 100 in LM-BFF)")
    p.add_argument("--model", default="roberta-large",
                   help="any masked-LM hub name or local folder (AutoModelForMaskedLM)")
    p.add_argument("--algo", choices=["zo", "gd"], default="zo",
                   help="zo: MeZO-style ZO-SGD; gd: first-order SGD")
    p.add_argument("--lr", type=positive_float, default=None,
                   help="learning rate (default: 1e-5 for zo, 5e-5 for gd, as the paper)")
    p.add_argument("--eps", type=positive_float, default=2e-3, help="ZO perturbation scale ε")
    p.add_argument("--steps", type=positive_int, default=100_000, help="optimisation steps")
    p.add_argument("--eval-steps", type=positive_int, default=1000,
                   help="evaluate test/dev accuracy and checkpoint every N steps")
    p.add_argument("--batch-size", type=nonneg_int, default=0,
                   help="rows per step; 0 = full batch (the whole k-shot train set)")
    p.add_argument("--chunk-size", type=positive_int, default=64,
                   help="rows per forward pass (lower it if memory is short)")
    p.add_argument("--max-length", type=positive_int, default=128, help="prompt length limit")
    p.add_argument("--trace-every", type=nonneg_int, default=500,
                   help="estimate the Hessian trace every N steps (0: never); an estimate "
                        "costs about --trace-samples ZO steps, so the default adds ≈ 20%% to a "
                        "ZO run and the paper's cadence (100) doubles it")
    p.add_argument("--trace-samples", type=positive_int, default=100,
                   help="antithetic samples per trace estimate (each: two forward passes)")
    p.add_argument("--trace-delta", type=positive_float, default=1e-4,
                   help="δ of the function-value trace estimator")
    p.add_argument("--trace-estimator", choices=trace.ESTIMATORS, default="zo",
                   help="zo: antithetic function values; hutchinson: double backward")
    p.add_argument("--max-grad-norm", type=float, default=1.0,
                   help="GD gradient clipping (the HF trainer's default; 0: none)")
    p.add_argument("--data-dir", type=Path, default=data.KSHOT, help="k-shot splits root")
    p.add_argument("--out", type=Path, default=None,
                   help="run folder (default roberta/runs/<task>-k<K>-<algo>-seed<seed>)")
    p.add_argument("--dtype", choices=model.DTYPES, default="fp32",
                   help="forward precision: fp32, tf32 matmuls (GPU), or bf16 autocast; "
                        "weights, perturbations and losses stay float32 or better")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1, ...")
    p.add_argument("--resume", action="store_true", help="continue from <out>/checkpoint")
    p.add_argument("--wandb", action="store_true", help="also log to Weights & Biases")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def config_from_args(args) -> Config:
    values = {f.name: getattr(args, f.name) for f in fields(Config) if hasattr(args, f.name)}
    values["lr"] = args.lr if args.lr is not None else DEFAULT_LR[args.algo]
    return Config(**values)


def default_out(cfg: Config) -> Path:
    """The run folder a run gets without --out."""
    return HERE / "runs" / f"{cfg.task}-k{cfg.k}-{cfg.algo}-seed{cfg.seed}"


def main(argv: list[str] | None = None) -> Path:
    args = build_parser().parse_args(argv)
    cfg = config_from_args(args)
    out = args.out or default_out(cfg)
    if args.resume and (out / "result.json").exists():
        old = read_json(out / "result.json")["config"]
        changed = [k for k in RESUME_KEYS if old.get(k) != getattr(cfg, k)]
        if changed:
            fail(f"--resume with different settings ({', '.join(changed)}) than {out}")
    elif not args.resume and (out / "checkpoint").exists():
        fail(f"{out} already holds a run: pass --resume to continue it, or another --out")
    device = torch.device(("cuda" if torch.cuda.is_available() else "cpu")
                          if cfg.device == "auto" else cfg.device)
    try:
        splits = data.load_task(cfg.task, cfg.k, cfg.seed, args.data_dir)
    except data.DataError as exc:
        fail(str(exc))
    try:
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(cfg.model)
        label_ids = prompts.label_word_ids(cfg.task, tokenizer)
        net = model.load(cfg.model, label_ids, device)
        model.set_precision(net, cfg.dtype)
    except prompts.PromptError as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"could not load model {cfg.model!r} ({str(exc).splitlines()[0]}); offline, pass "
             "--model with a local folder holding the model and its tokenizer")
    out.mkdir(parents=True, exist_ok=True)
    run = Run(cfg, out, splits, tokenizer, net, device)
    wandb_run = None
    if args.wandb:
        try:
            import wandb
        except ImportError:
            fail("--wandb needs the wandb package: pip install -e '.[wandb]'")
        wandb_run = wandb.init(project=f"flatzero-{cfg.task}", name=out.name, config=asdict(cfg))
    try:
        state = run.train(resume=args.resume, progress=not args.quiet, wandb_run=wandb_run)
    finally:
        if wandb_run is not None:
            wandb_run.finish()
    last = state.log[-1]
    print(f"step {last['step']}: train loss {last['train_loss']:.4f}, test acc "
          f"{last.get('test_acc', math.nan):.4f}, trace {last.get('trace', math.nan):.4g} "
          f"→ {out / 'result.json'}")
    return out / "result.json"


if __name__ == "__main__":
    main()
