"""Factorised random features against the paper's materialised matrices, in one run.

    python svm_logreg/bench.py                     # a5a (or its offline stand-in), both models
    python svm_logreg/bench.py --long-check 2000   # also compare trajectories over 2000 its
                                                   # (~25 min: the reference is slow)
    python svm_logreg/bench.py --markdown          # the table of docs/svm_logreg.md (text on
                                                   # stderr)

For each model and algorithm: time per iteration (every metric, train and test, every iteration)
of both formulations, the speed-up, and the largest relative difference of any recorded metric
over the first --check-iters iterations. Then the peak RSS of a real CLI run of the fast path.
The materialised side needs ≈ 3 GB (a5a) to 4 GB (w5a) of memory.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from flatzero.cli import Parser, nonneg_int, positive_int
from flatzero.readme import command
from svm_logreg import data, optim, train

HERE = Path(__file__).resolve().parent


def max_rel_diff(a: dict, b: dict, upto: int | None = None) -> float:
    """Largest |a − b| / |b| over every metric and iteration (NaN entries skipped)."""
    worst = 0.0
    for key in train.METRICS:
        x, y = np.asarray(a[key][:upto]), np.asarray(b[key][:upto])
        ok = ~np.isnan(y)
        den = np.maximum(np.abs(y[ok]), np.finfo(float).tiny)
        worst = max(worst, float(np.max(np.abs(x[ok] - y[ok]) / den, initial=0.0)))
    return worst


def ulp_sensitivity(cfg: train.Config, problem: train.Problem) -> float:
    """Max rel diff between the fast run and itself with every entry of w₀ moved by one ulp.

    How much the dynamics amplify rounding: no reformulation that is not bit-identical can
    agree with the reference better than this.
    """
    a = train.run(cfg, problem, progress=False)
    nudged = dataclasses.replace(problem, w0=np.nextafter(problem.w0, np.inf))
    return max_rel_diff(a, train.run(cfg, nudged, progress=False))


def timed(fn, *args, **kwargs):
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - start


def hwm_gib(status: str) -> float:
    """The peak resident memory (VmHWM, in kB) of a /proc/<pid>/status text, in GiB; NaN when
    absent."""
    hwm = [line for line in status.splitlines() if line.startswith("VmHWM:")]
    return int(hwm[0].split()[1]) / 2**20 if hwm else float("nan")


def own_peak_rss_gib() -> float:
    """Peak resident memory of this process so far, in GiB (NaN off Linux)."""
    try:
        return hwm_gib(Path("/proc/self/status").read_text())
    except OSError:
        return float("nan")


MODEL_NAMES = {"svm": "SVM", "logreg": "logreg"}


def markdown(rows: list[dict], rss: dict[str, float], own_rss: float, name: str,
             args, argv: list[str]) -> str:
    """The measured rows as docs/svm_logreg.md's table, the peak RSS and the command under it."""
    long = f" | after {args.long_check} its | ulp sensitivity" if args.long_check else ""
    lines = [f"| model | algo | this repo | materialised | speed-up | max rel diff, first "
             f"{args.check_iters} its{long} |",
             "|---|---|---|---|---|---" + ("|---|---" if args.long_check else "") + "|"]
    for r in rows:
        cells = [MODEL_NAMES[r["model"]], r["algo"].upper(), f"{r['ms_fast']:.2f} ms",
                 f"{r['ms_ref']:.0f} ms", f"{r['ms_ref'] / r['ms_fast']:.0f}×",
                 f"{r['diff']:.1e}"]
        if args.long_check:
            cells += [f"{r['long_diff']:.1e}", f"{r['sensitivity']:.1e}"]
        lines.append("| " + " | ".join(cells) + " |")
    peaks = ", ".join(f"`{m}.py` {gib:.2f} GiB" for m, gib in rss.items())
    lines += ["", f"Data {name}; this repo: {args.fast_iters} iterations on one BLAS thread, "
              f"materialised: {args.check_iters}. Peak RSS of a CLI run (fast path, 200 its): "
              f"{peaks}; of the bench process holding the materialised matrices: "
              f"{own_rss:.2f} GiB.", "",
              f"`{command('svm_logreg/bench.py', argv, {'--markdown': 0})}`"]
    return "\n".join(lines)


def peak_rss_gib(model: str, name: str, iters: int) -> float:
    """Peak resident memory (VmHWM, Linux) of a fresh `svm_logreg/<model>.py` run, in GiB."""
    with tempfile.TemporaryDirectory() as out:
        argv = [f"{model}.py", "--data", name, "--max_iter", str(iters), "--quiet", "--out", out]
        code = ("import runpy, sys; sys.argv = " + repr(argv) + "; "
                f"runpy.run_path({str(HERE / f'{model}.py')!r}, run_name='__main__'); "
                "print(open('/proc/self/status').read())")
        proc = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                              text=True)
    return hwm_gib(proc.stdout)


def main(argv: list[str] | None = None) -> list[dict]:
    """Measure and print; returns the rows (model, algo, ms per iteration of both sides, their
    largest relative difference)."""
    argv = sys.argv[1:] if argv is None else argv
    p = Parser(prog="bench.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--data", choices=[*data.NAMES, "auto"], default="auto",
                   help="auto: a5a if its real files are present, else a5a-resplit")
    p.add_argument("--models", nargs="+", choices=list(train.DEFAULTS), default=["svm", "logreg"])
    p.add_argument("--algos", nargs="+", choices=optim.ALGOS, default=list(optim.ALGOS))
    p.add_argument("--fast-iters", type=positive_int, default=300,
                   help="iterations timed on the fast path")
    p.add_argument("--check-iters", type=positive_int, default=50,
                   help="iterations of the materialised reference (timed and compared)")
    p.add_argument("--long-check", type=nonneg_int, default=0,
                   help="also compare both formulations over this many iterations (test metrics "
                        "at the last one only; slow: ~0.1 s per reference iteration)")
    p.add_argument("--markdown", action="store_true",
                   help="print the measured rows as a markdown table with the peak RSS and the "
                        "command on stdout (the text report goes to stderr)")
    args = p.parse_args(argv)
    text = sys.stderr if args.markdown else sys.stdout
    rows: list[dict] = []

    name = args.data
    if name == "auto":
        real = all((data.DATA_DIR / f).exists() for f in ("a5a", "a5a.t"))
        name = "a5a" if real else "a5a-resplit"
    ds = data.load(name)
    rss = {m: peak_rss_gib(m, name, 200) for m in args.models}  # before this process grows
    print(f"data: {name} — {ds.source}; D = 10000, {ds.X_train.shape[0]} train / "
          f"{ds.X_test.shape[0]} test rows", file=text)
    print(f"{'model':7}{'algo':5}{'fast ms/it':>11}{'ref ms/it':>11}{'speed-up':>10}"
          f"{'max rel diff':>14}  (first {args.check_iters} its)", file=text)
    for model in args.models:
        # the launchers' lr for every algorithm (one run setting per model, as measured)
        base = train.Config(model, "gd", train.LAUNCHER_LR[model], train.DEFAULTS[model]["lam"],
                            name)
        fast, t_fast_setup = timed(train.prepare, base, ds)
        ref, t_ref_setup = timed(train.prepare, base, ds, materialised=True)
        for algo in args.algos:
            cfg = dataclasses.replace(base, algo=algo, max_iter=args.fast_iters)
            with threadpool_limits(1, user_api="blas"):  # as svm.py / logreg.py run it
                h_fast, t_fast = timed(train.run, cfg, fast, progress=False)
            short = dataclasses.replace(cfg, max_iter=args.check_iters)
            h_ref, t_ref = timed(train.run, short, ref, progress=False)
            ms_fast, ms_ref = 1e3 * t_fast / args.fast_iters, 1e3 * t_ref / args.check_iters
            diff = max_rel_diff(h_fast, h_ref, args.check_iters)
            print(f"{model:7}{algo:5}{ms_fast:>11.2f}{ms_ref:>11.1f}{ms_ref / ms_fast:>9.0f}x"
                  f"{diff:>14.1e}", file=text, flush=True)
            row = {"model": model, "algo": algo, "ms_fast": ms_fast, "ms_ref": ms_ref,
                   "diff": diff}
            if args.long_check:
                long = dataclasses.replace(cfg, max_iter=args.long_check)
                a = train.run(long, fast, progress=False)
                b = train.run(long, ref, progress=False, test_every=args.long_check)
                row["long_diff"] = max_rel_diff(a, b)
                row["sensitivity"] = ulp_sensitivity(long, fast)
                print(f"{'':12}after {args.long_check} its: max rel diff {row['long_diff']:.1e}"
                      f" (train metrics at every iteration, test metrics at the last);"
                      f" the run's own sensitivity: {row['sensitivity']:.1e}", file=text,
                      flush=True)
            rows.append(row)
        print(f"{model:7}set-up: fast {t_fast_setup:.2f} s, materialised {t_ref_setup:.2f} s",
              file=text)
        del ref
    for model, gib in rss.items():
        print(f"peak RSS of `{model}.py --data {name}` (fast path, 200 its): {gib:.2f} GiB",
              file=text)
    if args.markdown:
        print(markdown(rows, rss, own_peak_rss_gib(), name, args, argv))
    return rows


if __name__ == "__main__":
    main()
