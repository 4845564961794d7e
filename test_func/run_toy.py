"""Run the toy experiment of Figures 1 and 4 and write one JSON per algorithm and seed.

    python test_func/run_toy.py                  # the published figures' runs (seed 13) → res/
    python test_func/run_toy.py --seeds 17       # the authors' run_toy.py seed
    python test_func/run_toy.py --seeds 13 14 15 16 17 --log-points 2000

Files per seed: GD-<seed>.json, ZO-<seed>.json, DD-<seed>.json with keys ``num_iter``,
``list_loss``, ``list_hess`` (the paper's names) and ``config``; lam-<seed>.json maps str(λ) to
such a record for the λ sweep. These are the names of the paper's settings; a run with any other
setting that changes its file appends it, e.g. GD-13-T500-d10.json, so it never replaces them.
A run that diverges keeps the iterations before the first non-finite value
(``config.diverged_at_iter``) and the command exits with status 1.
"""

from __future__ import annotations

import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from flatzero import cli
from flatzero.cli import (
    INTERRUPTED,
    Parser,
    check_out_dir,
    fail,
    nonneg_int,
    positive_float,
    positive_int,
    seed,
    smoothing,
)
from flatzero.results import log_spaced_iterations, run_metadata, write_json
from test_func import toy
from test_func.exact import BITWISE

DEFAULT_OUT = Path(__file__).resolve().parent / "res"


def add_settings(p: Parser) -> None:
    """The flags that change a run's numbers (shared with plot.py, which selects runs by them)."""
    p.add_argument("--iters", type=positive_int, default=toy.ITERS, help="iterations T per run")
    p.add_argument("--dim", type=positive_int, default=toy.DIM, help="dimension d of x and of y")
    p.add_argument("--algos", nargs="*", choices=toy.METHODS, default=list(toy.METHODS),
                   help="algorithms of Figure 1 (none: skip)")
    p.add_argument("--lams", type=smoothing, nargs="*", default=list(toy.LAMS),
                   help="ZO smoothing values λ of the Figure 4 sweep (none: skip the sweep); "
                        f"each {cli.LAM_HELP}")
    p.add_argument("--lam", type=smoothing, default=toy.LAM,
                   help=f"λ of the Figure 1 ZO run, {cli.LAM_HELP}")
    p.add_argument("--gd-lr", type=positive_float, default=toy.GD_LR, help="GD learning rate")
    p.add_argument("--zo-lr", type=positive_float, default=toy.ZO_LR,
                   help="learning rate of ZO and DD (and of the λ sweep)")
    p.add_argument("--log-points", type=nonneg_int, default=0,
                   help="log N log-spaced iterations (always 1 and T); 0 logs every iteration")


def build_parser() -> Parser:
    p = Parser(prog="run_toy.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder for the JSON files")
    p.add_argument("--seeds", type=seed, nargs="+", default=[toy.SEED],
                   help="seeds, each seeding numpy's legacy RNG before x, then y are drawn "
                        f"({cli.SEED_HELP}); {toy.SEED} is the published figures' seed, "
                        f"{toy.AUTHORS_SEED} the authors' run_toy.py's")
    add_settings(p)
    p.add_argument("--workers", type=positive_int, default=min(2, os.cpu_count() or 1),
                   help="seeds run in parallel threads")
    p.add_argument("--naive", action="store_true",
                   help="use the paper's per-iteration numpy loop instead of the compiled one "
                        "(slow; gives the same numbers)")
    return p


def figure1_run(algo: str, args) -> toy.Run:
    if algo == "GD":
        return toy.Run("GD", args.gd_lr)
    if algo == "ZO":
        return toy.Run("ZO", args.zo_lr, args.lam)
    return toy.Run("DD", args.zo_lr)


def tag(kind: str, args) -> str:
    """The settings of a file that differ from the paper's, e.g. "-T500-d10" ("" if none)."""
    lr, paper_lr = (args.gd_lr, toy.GD_LR) if kind == "GD" else (args.zo_lr, toy.ZO_LR)
    lams = sorted(set(args.lams), reverse=True)
    parts = [f"T{args.iters}" if args.iters != toy.ITERS else "",
             f"d{args.dim}" if args.dim != toy.DIM else "",
             f"lr{lr!r}" if lr != paper_lr else "",
             f"lam{args.lam!r}" if kind == "ZO" and args.lam != toy.LAM else "",
             "lams" + "_".join(map(repr, lams)) if kind == "lam" and lams != list(toy.LAMS)
             else "",
             f"log{args.log_points}" if args.log_points else ""]
    return "".join(f"-{p}" for p in parts if p)


def first_non_finite(traj: toy.Trajectory) -> int | None:
    """0-based index of the first iterate whose loss or trace is not finite, or None."""
    bad = ~(np.isfinite(traj.loss) & np.isfinite(traj.trace))
    return int(np.argmax(bad)) if bad.any() else None


def record(run: toy.Run, traj: toy.Trajectory, its: np.ndarray, seed: int, args,
           wall_time_s: float) -> dict[str, Any]:
    config = {
        "algorithm": run.method, "lr": run.lr, "lam": run.lam, "seed": seed, "d": args.dim,
        "T": args.iters, "log_points": args.log_points,
        "implementation": "naive" if args.naive else "compiled",
        "bitwise_reference": True if args.naive else BITWISE,
    }
    bad = first_non_finite(traj)
    if bad is not None:  # keep the iterates before it: JSON has no NaN / inf
        its = its[its <= bad]
        config["diverged_at_iter"] = bad + 1
    return {
        "num_iter": its,
        "list_loss": traj.loss[its - 1],
        "list_hess": traj.trace[its - 1],
        "config": run_metadata(config, wall_time_s),
    }


def run_one_seed(seed: int, args, progress) -> list[tuple[Path, list[str]]]:
    """Runs every setting for ``seed``; returns each file written with the runs in it that
    diverged (as "GD seed 17 at iteration 12")."""
    start = time.perf_counter()
    fig1 = {algo: figure1_run(algo, args) for algo in args.algos}
    sweep = {lam: toy.Run("ZO", args.zo_lr, lam) for lam in args.lams}
    runs = list(dict.fromkeys([*fig1.values(), *sweep.values()]))
    if args.naive:
        trajs = {}
        for run in runs:
            trajs[run] = toy.run_naive(run, seed, args.dim, args.iters)
            progress(args.iters)
    else:
        trajs = toy.run_seed(seed, runs, args.dim, args.iters, progress)
    wall = time.perf_counter() - start

    its = (log_spaced_iterations(args.iters, args.log_points) if args.log_points
           else np.arange(1, args.iters + 1))

    def diverged(recs: dict[str, dict]) -> list[str]:
        return [f"{name} seed {seed} at iteration {r['config']['diverged_at_iter']}"
                for name, r in recs.items() if "diverged_at_iter" in r["config"]]

    written = []
    for algo, run in fig1.items():
        rec = record(run, trajs[run], its, seed, args, wall)
        path = write_json(args.out / f"{algo}-{seed}{tag(algo, args)}.json", rec, allow_nan=False)
        written.append((path, diverged({algo: rec})))
    if sweep:
        lam_file = {str(lam): record(run, trajs[run], its, seed, args, wall)
                    for lam, run in sweep.items()}
        path = write_json(args.out / f"lam-{seed}{tag('lam', args)}.json", lam_file,
                          allow_nan=False)
        written.append((path, diverged({f"ZO λ = {k}": r for k, r in lam_file.items()})))
    return written


class _Cancelled(Exception):
    """Raised in a worker thread at its next progress report after Ctrl-C."""


def main(argv: list[str] | None = None) -> list[Path]:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.algos and not args.lams:
        parser.error("nothing to run: give --algos and/or --lams")
    if args.log_points == 1:
        parser.error("--log-points must be 0 (every iteration) or at least 2")
    check_out_dir(args.out)
    args.seeds = list(dict.fromkeys(args.seeds))
    n_runs = len(set([figure1_run(a, args) for a in args.algos]
                     + [toy.Run("ZO", args.zo_lr, lam) for lam in args.lams]))

    bar = tqdm(total=len(args.seeds) * n_runs * args.iters, unit="it", unit_scale=True,
               desc="toy", disable=None)
    lock, stop = threading.Lock(), threading.Event()

    def progress(n: int) -> None:
        if stop.is_set():
            raise _Cancelled
        with lock:
            bar.update(n)

    pool = ThreadPoolExecutor(max_workers=min(args.workers, len(args.seeds)))
    futures = [pool.submit(run_one_seed, s, args, progress) for s in args.seeds]
    try:
        done = [f.result() for f in futures]
    except KeyboardInterrupt:
        stop.set()
        pool.shutdown(wait=True, cancel_futures=True)
        bar.close()
        kept = sum(len(f.result()) for f in futures
                   if f.done() and not f.cancelled() and f.exception() is None)
        fail(f"interrupted: kept the {kept} files of finished seeds in {cli.rel(args.out)}; "
             "unfinished seeds wrote nothing", INTERRUPTED)
    finally:
        pool.shutdown(wait=True)
    bar.close()
    written = [path for files in done for path, _ in files]
    diverged = [d for files in done for _, ds in files for d in ds]
    print(f"wrote {len(written)} file{'s' if len(written) != 1 else ''} to {cli.rel(args.out)}")
    if diverged:
        fail(f"{len(diverged)} run(s) diverged ({'; '.join(diverged[:3])}"
             f"{'; ...' if len(diverged) > 3 else ''}): their files keep the iterations before "
             "the first non-finite value (config.diverged_at_iter)")
    return written


if __name__ == "__main__":
    cli.run(main)
