"""Prompt fine-tuning of an MLM with ZO-SGD or GD, tracking the Hessian trace (Figures 3, 6).

    python roberta/train.py --task SST-2 --k 32 --algo zo        # the paper's flat-zo.sh
    python roberta/train.py --task SST-2 --k 32 --algo gd        # the paper's flat-gd.sh

Top to bottom: the config, the data, the steps (zo.py, gd.py), the trace (trace.py), the loop.
A record holds, for the parameters before that step's update, the train loss and test accuracy
every --test-every steps, a Hessian-trace estimate every --trace-every steps, the dev accuracy
every --eval-steps (and a checkpoint, from which --resume continues the same trajectory). The
run folder is runfolder.py's; data parallel under torchrun, distributed.py's.
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from flatzero import cli
from flatzero.cli import arg, nonneg_int, positive_float, positive_int
from roberta import data, distributed, gd, model, prompts, runfolder, trace, zo
from roberta.distributed import World
from roberta.model import DTYPES  # the field `model` hides the module in Config

RUNS = Path(__file__).resolve().parent / "runs"
DEFAULT_LR = {"zo": 1e-5, "gd": 5e-5}  # the paper's flat-zo.sh / flat-gd.sh
SEED_RANGE = 1_000_000_000


@dataclass(frozen=True)
class Config:
    """What a run computes; the defaults are the paper's (its launchers, its Figure 3)."""

    task: str = arg("SST-2", "LM-BFF task", choices=data.TASKS)
    k: int = arg(32, "examples per label (K)", type=positive_int)
    seed: int = arg(42, "k-shot split seed and training seed (LM-BFF's: 13, 21, 42, 87, 100)",
                    type=cli.seed)
    model: str = arg("roberta-large", "a masked-LM hub name or local folder "
                     "(AutoModelForMaskedLM), or 'tiny-random': a small random RoBERTa built "
                     "locally (CPU demo)", short="")
    tie_emb: bool = arg(False, "tie the LM head's output matrix to the input embeddings (the "
                        "paper's runs keep them untied)", short="tied")
    algo: str = arg("zo", "zo: MeZO-style ZO-SGD; gd: first-order SGD", choices=("zo", "gd"))
    lr: float | None = arg(None, "learning rate; default 1e-5 for zo, 5e-5 for gd, as the paper",
                           type=positive_float, short="lr")
    eps: float = arg(2e-3, "ZO perturbation scale ε", type=zo.perturbation, short="eps",
                     only="zo")
    steps: int = arg(100_000, "optimisation steps (may grow on --resume)", type=positive_int,
                     fixed=False)
    test_every: int = arg(100, "record the train loss and test accuracy every N steps (the "
                          "authors' callback: 100)", type=positive_int, fixed=False)
    eval_steps: int = arg(1000, "record the dev accuracy and save a checkpoint every N steps",
                          type=positive_int, fixed=False)
    batch_size: int = arg(0, "rows per step; 0 = full batch (the whole k-shot train set); the "
                          "paper's launchers use 64, reshuffled every epoch", type=nonneg_int,
                          short="bs")
    chunk_size: int = arg(64, "rows per forward pass: lower it if memory is short; with N "
                          "processes (torchrun) at most rows/N so that every rank has chunks",
                          type=positive_int, short="chunk")
    max_length: int = arg(128, "prompt length limit", type=positive_int, short="len")
    trace_every: int = arg(500, "estimate the Hessian trace every N steps (0: never); one costs "
                           "about --trace-samples ZO steps (the authors': every 100)",
                           type=nonneg_int, short="trace")
    trace_samples: int = arg(100, "samples per trace estimate (at least 2: its standard error)",
                             type=trace.sample_count, short="samples")
    trace_delta: float = arg(1e-4, "δ of the function-value trace estimator", type=trace.delta,
                             short="delta")
    trace_estimator: str = arg("zo", "zo: antithetic function values; hutchinson: double "
                               "backward", choices=trace.ESTIMATORS, short="")
    trace_dtype: str = arg("auto", "the zo trace estimate in float64, or in float32 with its "
                           "rounding floor in the s.e.; auto: float64 where FP64 is fast (CPUs, "
                           "A100, H100...)", choices=trace.DTYPES, short="")
    max_grad_norm: float | None = arg(1.0, "GD gradient clipping (the HF trainer's default), "
                                      "or 'none'", type=cli.positive_or_none, short="clip",
                                      only="gd")
    dtype: str = arg("fp32", "forward precision: fp32, tf32 matmuls (GPU), or bf16 autocast; "
                     "weights, perturbations and losses stay float32 or better",
                     choices=DTYPES, short="")

    def __post_init__(self) -> None:
        if self.lr is None:  # the paper's rate of the algorithm
            object.__setattr__(self, "lr", DEFAULT_LR[self.algo])


def default_out(cfg: Config) -> Path:
    """The paper's ``<task>-k<K>-<algo>-seed<seed>``, then every setting that differs from the
    paper's and changes the numbers (a smoke run never lands in a real run's folder)."""
    paper = Config(task=cfg.task, k=cfg.k, seed=cfg.seed, algo=cfg.algo)
    return RUNS / runfolder.folder_name(f"{cfg.task}-k{cfg.k}-{cfg.algo}-seed{cfg.seed}", cfg,
                                        paper)


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


# --- the data, the steps, the trace estimate, a record ------------------------------------------

class Trainer:
    """The data on the device, the network and what a step and a record compute. Under torchrun
    every rank runs the same object (distributed.py); it writes no file."""

    def __init__(self, cfg: Config, encoded: dict[str, list[prompts.Encoded]], pad_id: int,
                 net: model.PromptClassifier, world: World = distributed.SINGLE,
                 trace_dtype: str = "float64") -> None:
        self.cfg, self.net, self.world, self.pad, self.trace_dtype = (cfg, net, world, pad_id,
                                                                      trace_dtype)
        self.train_items = encoded["train"]
        # Tokenised once, padded per chunk to its longest prompt, kept on the device.
        self.train_chunks = prompts.chunks(encoded["train"], cfg.chunk_size, pad_id, world.device)
        self.eval_chunks = {s: prompts.chunks(encoded[s], cfg.chunk_size, pad_id, world.device)
                            for s in ("test", "dev")}
        self.params = zo.trainable(net)

    def loss(self, batch: list[dict]) -> float:
        return model.mean_loss(self.net, batch, self.world)

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
        return prompts.chunks([self.train_items[i] for i in idx], self.cfg.chunk_size, self.pad,
                              self.world.device)

    def step(self, state: State, batch: list[dict]) -> float:
        """One ZO or GD step; returns the loss it saw (ZO: f(θ + εz))."""
        cfg = self.cfg
        if cfg.algo == "zo":
            seed = int(state.rng.randint(SEED_RANGE))
            return zo.zo_step(self.params, lambda: self.loss(batch), seed, cfg.eps, cfg.lr)[0]
        return gd.gd_step(self.net, self.params, batch, cfg.lr, cfg.max_grad_norm,
                          world=self.world, seed=cfg.seed, step=state.step)

    def record(self, state: State, *, test: bool, trace_due: bool, dev: bool,
               step_time: float, wall: float) -> dict[str, Any]:
        """The metrics of the current parameters (eval mode), appended to the log."""
        self.net.eval()
        rec: dict[str, Any] = {"step": state.step, "train_loss": self.loss(self.train_chunks)}
        if trace_due:  # the weights come back bit for bit; only diag_rng is drawn from
            rec["trace"], rec["trace_stderr"] = trace.estimate(
                self.net, self.params, self.train_chunks, self.cfg.trace_estimator,
                self.cfg.trace_samples, self.cfg.trace_delta, self.trace_dtype, state.diag_rng,
                self.world)
        if test:
            rec["test_acc"] = model.accuracy(self.net, self.eval_chunks["test"], self.world)
        if dev:
            rec["dev_acc"] = model.accuracy(self.net, self.eval_chunks["dev"], self.world)
        rec.update(wall_time_s=wall, step_time_s=step_time,
                   peak_mem_gib=distributed.peak_memory_gib(self.world.device))
        state.log.append(rec)
        return rec


# --- the loop ---------------------------------------------------------------------------------

class Diverged(Exception):
    """The loss is not finite; the log so far is written (status diverged)."""


def train(trainer: Trainer, state: State, files: runfolder.Files, stop: Callable[[], int],
          resumed: bool, progress: bool = True) -> State:
    """Steps from ``state`` to ``cfg.steps``, recording and checkpointing on the way; ``stop()``
    is polled between steps (0: go on)."""
    cfg, step = trainer.cfg, state.step
    origin = time.perf_counter() - state.wall_time_s  # wall time counts over restarts
    recorded = step if resumed else None  # the checkpoint's step is already logged
    bar = tqdm(total=cfg.steps, initial=step, desc=f"{cfg.task} {cfg.algo}", unit="step",
               disable=None if progress and trainer.world.main else True)
    step_times: list[float] = []
    try:
        while True:
            state.step, final = step, step >= cfg.steps
            due = {"test": step % cfg.test_every == 0 or final,
                   "trace_due": bool(cfg.trace_every) and step % cfg.trace_every == 0,
                   "dev": step % cfg.eval_steps == 0 or final}
            if any(due.values()) and step != recorded:
                rec = trainer.record(state, **due, step_time=float(np.mean(step_times))
                                     if step_times else math.nan, wall=time.perf_counter() - origin)
                step_times = []
                files.record(state.log, rec, "finished" if final else "running")
                if due["dev"]:
                    state.wall_time_s = rec["wall_time_s"]
                    files.checkpoint(trainer.net.mlm, state)
            if final:
                return state
            if code := stop():  # a signal: checkpoint here, then stop (runfolder.Folder)
                state.wall_time_s = time.perf_counter() - origin
                files.stop(code, trainer.net.mlm, state)
            t0 = time.perf_counter()
            loss = trainer.step(state, trainer.next_batch(state))
            step_times.append(time.perf_counter() - t0)
            if not math.isfinite(loss):
                files.write(state.log, "diverged", diverged_at_step=step)
                raise Diverged(f"the loss is not finite at step {step}; wrote the log so far "
                               f"to {cli.rel(files.out / 'result.json')}")
            step += 1
            bar.update(1)
            if step % 10 == 0:
                bar.set_postfix(loss=f"{loss:.4f}", refresh=False)
    finally:
        bar.close()


# --- a run: set up, train, report ---------------------------------------------------------------

FIXED = [f.name for f in fields(Config) if f.metadata.get("fixed", True)] + ["data_sha256"]
ERRORS = (data.DataError, prompts.PromptError, model.ModelError, distributed.DeviceError,
          runfolder.RunFolderError, Diverged)


def run(cfg: Config, opts: runfolder.Options) -> Path:
    """Everything is checked before the model is loaded; errors are raised, not printed."""
    out = runfolder.check_options(opts.out or default_out(cfg), opts)
    world = distributed.init(opts.device, opts.dist_timeout,
                             deterministic=cfg.algo == "gd" and not opts.nondeterministic)
    splits = data.load_task(cfg.task, cfg.k, cfg.seed, opts.data_dir)
    tokenizer, name, cached_only = model.load_tokenizer(cfg.model, quiet=opts.quiet)
    label_ids = prompts.label_word_ids(cfg.task, tokenizer)
    encoded = {s: prompts.encode(v, cfg.task, tokenizer, cfg.max_length) for s, v in splits.items()}
    n = len(encoded["train"])
    world.check_chunks(min(cfg.batch_size or n, n), cfg.chunk_size)
    trace_dtype = trace.resolve_dtype(cfg.trace_dtype, world.device)
    identity = {**asdict(cfg), **distributed.environment(world), "data_sha256":
                runfolder.sha256_files(data.split_files(cfg.task, cfg.k, cfg.seed, opts.data_dir))}
    if cfg.dtype != "fp32" and world.main:
        print(f"warning: {model.PRECISION_NOTE.format(cfg.dtype)}", file=sys.stderr)
    with runfolder.Folder(out, opts, world) as folder:
        net = model.load_model(name, cached_only, label_ids, world.device, cfg.tie_emb, cfg.dtype)
        trainer = Trainer(cfg, encoded, tokenizer.pad_token_id, net, world, trace_dtype)
        state = State(0, np.random.RandomState(cfg.seed), np.random.RandomState(cfg.seed + 1),
                      [], 0, [], 0.0)
        if opts.resume:
            state = State(**folder.resume(net.mlm, identity, FIXED, cfg.steps))
        config = {**identity, "trace_precision": trace_dtype, "n_train": n,
                  "n_params": sum(p.numel() for p in trainer.params)}
        with folder.files(config, state.log, identity, opts.wandb) as files, \
                folder.stopping() as stop:
            state = train(trainer, state, files, stop, opts.resume, not opts.quiet)
    if world.main:
        print(runfolder.summary(state.log[-1], out / "result.json"))
    return out / "result.json"


def build_parser() -> cli.Parser:
    """One flag per field of Config and of runfolder.Options, with its default and help."""
    parser = cli.Parser(prog="train.py", description=__doc__.split("\n\n")[0])
    for settings in (Config, runfolder.Options):
        cli.add_fields(parser, settings)
    return parser


def parse(argv: list[str] | None = None) -> tuple[Config, runfolder.Options]:
    args = build_parser().parse_args(argv)
    return cli.from_args(Config, args), cli.from_args(runfolder.Options, args)


def main(argv: list[str] | None = None) -> Path:
    """Parse the flags and run; every error ends as one line and an exit status."""
    cfg, opts = parse(argv)
    try:
        return run(cfg, opts)
    except runfolder.Stopped as exc:
        code, message = exc.code, str(exc)
    except ERRORS as exc:
        code, message = 1, str(exc)
    except KeyboardInterrupt:
        code, message = 130, "interrupted; continue with --resume (from the last checkpoint)"
    finally:
        distributed.shutdown()
    if int(os.environ.get("RANK", "0")) == 0:  # under torchrun the others stay quiet
        print(f"error: {message}", file=sys.stderr)
    raise SystemExit(code)


if __name__ == "__main__":
    main()
