"""The run loop shared by svm.py and logreg.py: seed → features → w₀ → iterate → JSON.

The order of random draws is the paper's: ``np.random.seed(seed)``, then W = randn(p, D), then
w₀ = 0.1·randn(D + 1), then (ZO only) one u = randn(D + 1) per iteration. Each iteration records
the train/test loss, accuracy and Hessian trace of the current w, then updates w ← w − lr·g.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits
from tqdm import tqdm

from flatzero import cli
from flatzero.cli import INTERRUPTED, Parser, check_out_dir, fail, positive_float, positive_int
from flatzero.results import run_metadata, write_json
from svm_logreg import data, optim
from svm_logreg.features import FactorisedDesign, MaterialisedDesign
from svm_logreg.objectives import OBJECTIVES

HERE = Path(__file__).resolve().parent
METRICS = ("train_loss", "test_loss", "train_acc", "test_acc", "train_hess", "test_hess")
# The settings of the published Figure 2: λ per model, learning rate per model and algorithm.
# The authors' launchers (train_svm.sh, train_logreg.sh) run every algorithm of a model at one
# lr, LAUNCHER_LR; the published SVM GD curves are those of lr 1e-3 (at the launcher's 1e-4 GD
# runs 10× later than published: svm_logreg/published.py). SAM, the first-order baseline, runs
# at GD's lr (Figure 5 has no published image to say otherwise).
DEFAULTS = {"svm": {"lr": {"gd": 1e-3, "zo": 1e-4, "sam": 1e-3}, "lam": 0.05},
            "logreg": {"lr": {"gd": 0.01, "zo": 0.01, "sam": 0.01}, "lam": 0.1}}
LAUNCHER_LR = {"svm": 1e-4, "logreg": 0.01}
PAPER_ITERS, PAPER_SEED, PAPER_D = 10_000, 29, 10_000


def default_lr(model: str, algo: str) -> float:
    """The published Figure 2's learning rate of ``algo`` on ``model``."""
    return DEFAULTS[model]["lr"][algo]


@dataclass(frozen=True)
class Config:
    model: str            # svm | logreg
    algo: str = "zo"      # gd | zo | sam
    lr: float | None = None  # None: the published figure's, default_lr(model, algo)
    lam: float | None = None  # ZO smoothing λ, or SAM radius; None: the model's DEFAULTS
    data: str = "a5a"
    max_iter: int = PAPER_ITERS
    seed: int = PAPER_SEED
    n_params: int = PAPER_D  # D, the random-feature dimension

    def __post_init__(self) -> None:
        if self.lr is None:
            object.__setattr__(self, "lr", default_lr(self.model, self.algo))
        if self.lam is None:
            object.__setattr__(self, "lam", DEFAULTS[self.model]["lam"])

    def file_name(self, with_model: bool = False) -> str:
        """The paper's run name {algo}_{data}_{lr}_{lam}_{seed} (no λ for GD), then each other
        setting that differs from the launchers': _it{max_iter}, _D{n_params}; ``with_model``
        puts the model first (svm_..., logreg_...)."""
        lam = "" if self.algo == "gd" else f"_{self.lam}"
        extra = (f"_it{self.max_iter}" if self.max_iter != PAPER_ITERS else "") + (
            f"_D{self.n_params}" if self.n_params != PAPER_D else "")
        model = f"{self.model}_" if with_model else ""
        return f"{model}{self.algo}_{self.data}_{self.lr}{lam}_{self.seed}{extra}"


def own_folder(model: str, out: Path) -> bool:
    """Whether ``out`` is the model's own results folder (named res_svm / res_logreg, as the
    paper's): there files carry the paper's names; anywhere else they start with the model, so
    that svm.py and logreg.py writing into one folder never share a name."""
    return out.name == f"res_{model}"


class Stopped(Exception):
    """The loop ended early; ``history`` holds the complete iterations before ``iteration``."""

    def __init__(self, message: str, iteration: int, history: dict[str, list[float]]) -> None:
        super().__init__(message)
        self.iteration, self.history = iteration, history


class Diverged(Stopped):
    def __init__(self, iteration: int, history: dict[str, list[float]]) -> None:
        super().__init__(f"a metric is not finite at iteration {iteration}", iteration, history)


class Interrupted(Stopped):
    def __init__(self, iteration: int, history: dict[str, list[float]]) -> None:
        super().__init__(f"interrupted at iteration {iteration}", iteration, history)


@dataclass
class Problem:
    """Everything a run needs after the set-up draws: design, labels, w₀ and the RNG state."""

    objective: type
    design: FactorisedDesign | MaterialisedDesign
    y_train: np.ndarray
    y_test: np.ndarray
    w0: np.ndarray
    rng_state: tuple


def prepare(cfg: Config, dataset: data.Dataset, *, materialised: bool = False) -> Problem:
    """Seed, draw W and build the features, then draw w₀: the paper's set-up, in its order.

    ``materialised`` builds the paper's explicit matrices instead (the slow reference).
    """
    objective = OBJECTIVES[cfg.model]
    rng = np.random.RandomState(cfg.seed)
    W = rng.randn(dataset.n_features, cfg.n_params)
    Design = MaterialisedDesign if materialised else FactorisedDesign
    design = Design(dataset.X_train, dataset.X_test, W)
    w0 = rng.randn(cfg.n_params + 1) * 0.1
    return Problem(objective, design, objective.labels(dataset.y_train),
                   objective.labels(dataset.y_test), w0, rng.get_state())


def run(cfg: Config, problem: Problem, *, test_every: int = 1, progress: bool = True,
        log: Callable[[int, dict[str, float]], None] | None = None) -> dict[str, list[float]]:
    """Iterate from ``problem`` (left unchanged, so it can serve several algorithms).

    Returns the metric lists, one entry per iteration. ``test_every`` > 1 evaluates the test
    metrics only every so many iterations (NaN elsewhere; for long reference checks).
    ``log(i, metrics)`` is called every 10 iterations (wandb). A non-finite metric raises
    :class:`Diverged`, Ctrl-C :class:`Interrupted`, each with the complete iterations before it.
    """
    history: dict[str, list[float]] = {k: [] for k in METRICS}
    try:
        with np.errstate(over="ignore", invalid="ignore"):  # divergence is reported by Diverged
            _loop(cfg, problem, history, test_every, progress, log)
    except KeyboardInterrupt:
        n = min(map(len, history.values()))  # Ctrl-C may land between two appends
        raise Interrupted(n + 1, {k: v[:n] for k, v in history.items()}) from None
    return history


def _loop(cfg: Config, problem: Problem, history: dict[str, list[float]], test_every: int,
          progress: bool, log: Callable[[int, dict[str, float]], None] | None) -> None:
    obj, design, y_tr, y_te = problem.objective, problem.design, problem.y_train, problem.y_test
    rng = np.random.RandomState()
    rng.set_state(problem.rng_state)
    P = design.coords(problem.w0)  # w seen through X (features.py); w itself is never formed
    directions = optim.zo_directions(design, rng, cfg.n_params + 1) if cfg.algo == "zo" else None

    bar = tqdm(range(cfg.max_iter), desc=f"{cfg.model} {cfg.algo} {cfg.data}", unit="it",
               disable=None if progress else True)
    for i in bar:
        with_test = test_every == 1 or i % test_every == 0 or i == cfg.max_iter - 1
        if with_test:
            z_tr, z_te = design.logits(P)
            test = obj.metrics(z_te, y_te, design.sq_norms_test)
        else:
            z_tr, test = design.train_logits(P), (math.nan,) * 3
        train = obj.metrics(z_tr, y_tr, design.sq_norms_train)
        train_loss = train[0]
        row = (train_loss, test[0], train[1], test[1], train[2], test[2])
        if not all(map(math.isfinite, row if with_test else train)):
            raise Diverged(i + 1, history)  # the row is not kept: JSON has no NaN
        for key, value in zip(METRICS, row, strict=True):
            history[key].append(value)
        if i % 100 == 0:
            bar.set_postfix(loss=f"{train_loss:.4g}", test_acc=f"{test[1]:.4f}",
                            hess=f"{row[4]:.4g}", refresh=False)
        if log is not None and i % 10 == 0:
            log(i, dict(zip(METRICS, row, strict=True)))

        if cfg.algo == "gd":
            g = optim.gd(design, obj, y_tr, z_tr)
        elif cfg.algo == "zo":
            g = optim.zo(design, obj, y_tr, P, cfg.lam, next(directions))
        else:
            g = optim.sam(design, obj, y_tr, P, z_tr, cfg.lam)
        P -= cfg.lr * g


def train(cfg: Config, dataset: data.Dataset, *, materialised: bool = False,
          **kwargs: Any) -> dict[str, list[float]]:
    """:func:`prepare` then :func:`run`."""
    return run(cfg, prepare(cfg, dataset, materialised=materialised), **kwargs)


# --- command line ----------------------------------------------------------------------------

def build_parser(model: str) -> Parser:
    title = {"svm": "Over-parameterised squared-hinge SVM",
             "logreg": "Over-parameterised logistic regression"}[model]
    d = DEFAULTS[model]
    lrs = d["lr"]
    p = Parser(prog=f"{model}.py", description=f"{title} with GD, ZO or SAM (Figures 2 and 5); "
               "records train/test loss, accuracy and exact Hessian trace at every iteration.")
    p.add_argument("--lr", type=positive_float,
                   help=f"learning rate (default: the published Figure 2's, GD {lrs['gd']:g}, "
                        f"ZO {lrs['zo']:g}, SAM {lrs['sam']:g} = GD's; the authors' "
                        f"train_{model}.sh: {LAUNCHER_LR[model]:g} for all)")
    p.add_argument("--lam", type=positive_float, default=d["lam"],
                   help=f"ZO smoothing parameter λ, {cli.LAM_HELP} (or SAM radius); unused by "
                        "GD")
    p.add_argument("--algo", choices=optim.ALGOS, default="zo", help="update direction")
    p.add_argument("--data", choices=data.NAMES, default="a5a",
                   help="a5a/w5a: the real LIBSVM files (prepare_data.sh); *-resplit: offline "
                        "stand-ins re-split from the shipped a9a/w8a; a9a: shipped as is")
    p.add_argument("--max_iter", type=positive_int, default=PAPER_ITERS, help="iterations")
    p.add_argument("--seed", type=cli.seed, default=PAPER_SEED,
                   help=f"seed of numpy's legacy global RNG ({cli.SEED_HELP})")
    p.add_argument("--n_params", type=positive_int, default=PAPER_D,
                   help="random-feature dimension D (the model has D + 1 parameters)")
    p.add_argument("--out", type=Path, default=HERE / f"res_{model}",
                   help="output folder; the file is named {algo}_{data}_{lr}[_{lam}]_{seed}"
                        "[_it{max_iter}][_D{n_params}].json (iterations and D only when not "
                        f"the paper's 10000), preceded by {model}_ in a folder not named "
                        f"res_{model}; Ctrl-C writes the iterations so far to "
                        "<name>.partial.json")
    p.add_argument("--data-dir", type=Path, default=data.DATA_DIR,
                   help="folder holding the LIBSVM files and SHA256SUMS")
    p.add_argument("--wandb", action="store_true",
                   help="also log to Weights & Biases (project {model}-{data}); needs wandb")
    p.add_argument("--quiet", action="store_true",
                   help="no progress bar; one line when the run ends (for the launchers)")
    return p


def _wandb_logger(cfg: Config):
    try:
        import wandb
    except ImportError:
        fail("--wandb needs the wandb package: pip install -e '.[wandb]'")
    run = wandb.init(project=f"{cfg.model}-{cfg.data}", name=cfg.file_name(), config=asdict(cfg))

    def log(i: int, m: dict[str, float]) -> None:
        run.log({"train/loss": m["train_loss"], "train/acc": m["train_acc"],
                 "train/hess": m["train_hess"], "test/loss": m["test_loss"],
                 "test/acc": m["test_acc"], "test/hess": m["test_hess"]}, step=i)
    return run, log


def result(cfg: Config, dataset: data.Dataset, history: dict[str, Any], wall: float,
           **extra: Any) -> dict[str, Any]:
    config = {**asdict(cfg), "lam": None if cfg.algo == "gd" else cfg.lam,
              "data_source": dataset.source, "n_train": dataset.X_train.shape[0],
              "n_test": dataset.X_test.shape[0], **extra}
    return {**history, "config": run_metadata(config, wall)}


def summary(cfg: Config, history: dict[str, list[float]], wall: float, path: Path) -> str:
    """The one line a finished run prints: what ran, where it ended, where it was written."""
    lam = "" if cfg.algo == "gd" else f" λ {cfg.lam:g}"
    return (f"{cfg.model} {cfg.algo}{lam} lr {cfg.lr:g} {cfg.data} seed {cfg.seed}: train loss "
            f"{history['train_loss'][-1]:.6g}, test acc {history['test_acc'][-1]:.4f}, train "
            f"trace {history['train_hess'][0]:.6g} → {history['train_hess'][-1]:.6g} "
            f"({wall:.1f} s) → {cli.rel(path)}")


def main(model: str, argv: list[str] | None = None) -> Path:
    parser = build_parser(model)
    args = parser.parse_args(argv)
    if args.algo == "zo" and not args.lam >= cli.MIN_LAM:
        parser.error(f"argument --lam: ZO needs {cli.LAM_HELP}: below it (λ²/2)·Tr∇²f is under "
                     f"the rounding of f, and x ± λu == x at λ ≲ 1e-16; got {args.lam:g}")
    cfg = Config(model, args.algo, args.lr, args.lam, args.data, args.max_iter, args.seed,
                 args.n_params)
    check_out_dir(args.out)
    name = cfg.file_name(with_model=not own_folder(model, args.out))
    path = args.out / f"{name}.json"
    partial = path.with_suffix(".partial.json")
    for target in (path, partial):
        if target.is_dir():
            fail(f"{cli.rel(target)} is a folder; move it away or choose another --out")
    try:
        dataset = data.load(cfg.data, args.data_dir)
    except data.DataError as exc:
        fail(str(exc))
    if not args.quiet:
        print(f"{cfg.model} {cfg.algo} on {cfg.data}: {dataset.source}")
    run, log = _wandb_logger(cfg) if args.wandb else (None, None)
    start = time.perf_counter()
    try:
        # One BLAS thread: a multi-threaded BLAS splits sums differently, so the numbers of a run
        # would depend on the machine's cores (and the launcher); the fast path loses nothing.
        with threadpool_limits(1, user_api="blas"):
            history = train(cfg, dataset, progress=not args.quiet, log=log)
    except Diverged as exc:
        write_json(path, result(cfg, dataset, exc.history, time.perf_counter() - start,
                                diverged_at_iter=exc.iteration), allow_nan=False)
        fail(f"{name}: {exc}; wrote the iterations before it to {cli.rel(path)}")
    except Interrupted as exc:  # never in place of a finished result: a file of its own
        write_json(partial, result(cfg, dataset, exc.history, time.perf_counter() - start,
                                   interrupted_at_iter=exc.iteration), allow_nan=False)
        fail(f"{name}: {exc}; wrote the iterations before it to {cli.rel(partial)}",
             INTERRUPTED)
    finally:
        if run is not None:
            run.finish()
    wall = time.perf_counter() - start
    write_json(path, result(cfg, dataset, history, wall), allow_nan=False)
    partial.unlink(missing_ok=True)  # an earlier interrupted attempt at this run
    print(summary(cfg, history, wall, path), flush=True)
    return path
