"""Run the toy experiment of Figures 1 and 4 and write one JSON per algorithm and seed.

    python test_func/run_toy.py                  # the paper's runs (seed 17) → test_func/res/
    python test_func/run_toy.py --seeds 17 18 19 20 21 --log-points 2000

Files per seed: GD-<seed>.json, ZO-<seed>.json, DD-<seed>.json with keys ``num_iter``,
``list_loss``, ``list_hess`` (the paper's names) and ``config``; lam-<seed>.json maps str(λ) to
such a record for the λ sweep.
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

from flatzero.cli import Parser, nonneg_int, positive_float, positive_int
from flatzero.results import log_spaced_iterations, run_metadata, write_json
from test_func import toy
from test_func.exact import BITWISE

DEFAULT_OUT = Path(__file__).resolve().parent / "res"


def build_parser() -> Parser:
    p = Parser(prog="run_toy.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder for the JSON files")
    p.add_argument("--seeds", type=nonneg_int, nargs="+", default=[toy.SEED],
                   help="seeds; each seeds numpy's legacy RNG before initialising x, then y")
    p.add_argument("--iters", type=positive_int, default=toy.ITERS, help="iterations T per run")
    p.add_argument("--dim", type=positive_int, default=toy.DIM, help="dimension d of x and of y")
    p.add_argument("--algos", nargs="*", choices=toy.METHODS, default=list(toy.METHODS),
                   help="algorithms of Figure 1 (none: skip)")
    p.add_argument("--lams", type=positive_float, nargs="*", default=list(toy.LAMS),
                   help="ZO smoothing values λ of the Figure 4 sweep (none: skip the sweep)")
    p.add_argument("--lam", type=positive_float, default=toy.LAM, help="λ of the Figure 1 ZO run")
    p.add_argument("--gd-lr", type=positive_float, default=toy.GD_LR, help="GD learning rate")
    p.add_argument("--zo-lr", type=positive_float, default=toy.ZO_LR,
                   help="learning rate of ZO and DD (and of the λ sweep)")
    p.add_argument("--log-points", type=nonneg_int, default=0,
                   help="log N log-spaced iterations (always 1 and T); 0 logs every iteration")
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


def record(run: toy.Run, traj: toy.Trajectory, its: np.ndarray, seed: int, args,
           wall_time_s: float) -> dict[str, Any]:
    config = {
        "algorithm": run.method, "lr": run.lr, "lam": run.lam, "seed": seed, "d": args.dim,
        "T": args.iters, "log_points": args.log_points,
        "implementation": "naive" if args.naive else "compiled",
        "bitwise_reference": True if args.naive else BITWISE,
    }
    return {
        "num_iter": its,
        "list_loss": traj.loss[its - 1],
        "list_hess": traj.trace[its - 1],
        "config": run_metadata(config, wall_time_s),
    }


def run_one_seed(seed: int, args, progress) -> list[Path]:
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
    written = [write_json(args.out / f"{algo}-{seed}.json", record(run, trajs[run], its, seed,
                                                                  args, wall))
               for algo, run in fig1.items()]
    if sweep:
        lam_file = {str(lam): record(run, trajs[run], its, seed, args, wall)
                    for lam, run in sweep.items()}
        written.append(write_json(args.out / f"lam-{seed}.json", lam_file))
    return written


def main(argv: list[str] | None = None) -> list[Path]:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.algos and not args.lams:
        parser.error("nothing to run: give --algos and/or --lams")
    if args.log_points == 1:
        parser.error("--log-points must be 0 (every iteration) or at least 2")
    if max(args.seeds) >= 2**32:
        parser.error("seeds must be below 2**32 (numpy's legacy RNG)")
    args.seeds = list(dict.fromkeys(args.seeds))
    n_runs = len(set([figure1_run(a, args) for a in args.algos]
                     + [toy.Run("ZO", args.zo_lr, lam) for lam in args.lams]))

    bar = tqdm(total=len(args.seeds) * n_runs * args.iters, unit="it", unit_scale=True,
               desc="toy", disable=None)
    lock = threading.Lock()

    def progress(n: int) -> None:
        with lock:
            bar.update(n)

    with ThreadPoolExecutor(max_workers=min(args.workers, len(args.seeds))) as pool:
        written = [p for ps in pool.map(lambda s: run_one_seed(s, args, progress), args.seeds)
                   for p in ps]
    bar.close()
    print(f"wrote {len(written)} files to {args.out}")
    return written


if __name__ == "__main__":
    main()
