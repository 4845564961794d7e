"""Figure 3 (and the seed runs of Figure 6) from the runs' result.json (never reruns anything).

    python roberta/plot.py                  # roberta/runs/*/result.json → assets/roberta.png

One column per task setting (SST-2 K=32, SST-2 K=256, sst-5, trec, ... as present), rows train
loss, Hessian-trace estimate and test accuracy vs step; GD dashed, ZO solid. Runs share a curve
only when their whole config but the seed agrees; several seeds: mean line and a min–max band
(the trace: mean ± its standard error). A diverged run is drawn on its own up to its divergence,
marked ×. The trace axis is symlog, so negative estimates (noise around a small trace) show.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from flatzero import cli, plotting
from flatzero import runs as runlib
from flatzero.cli import Parser, check_out_file, fail, nonneg_int
from flatzero.results import ResultError, read_result

plt = plotting.plt
HERE = Path(__file__).resolve().parent
ROWS = (("train_loss", "train loss"), ("trace", "Hessian trace ± s.e. (symlog)"),
        ("test_acc", "test accuracy"))
ORDER = {"SST-2": 0, "sst-5": 1, "trec": 2}
# Keys every curve label shows anyway.
ALGO_KEYS = ("algo", "lr")


def result_files(paths: list[Path]) -> list[Path]:
    """The result.json of each run folder in ``paths``, and of every run folder one level below
    each other folder."""
    found = []
    for path in paths:
        found += [path / "result.json"] if (path / "result.json").exists() else sorted(
            path.glob("*/result.json"))
    return found


def load(paths: list[Path]) -> list[runlib.Run]:
    """Every result.json of ``paths`` (:func:`result_files`); a malformed one is an error naming
    it."""
    runs = []
    for path in result_files(paths):
        try:
            res = read_result(path, ("config", "log"))
        except ResultError as exc:
            fail(str(exc))
        c, log = res["config"], res["log"]
        missing = [k for k in ("task", "k", "algo", "lr", "seed") if k not in c]
        if missing or not isinstance(log, list) or not all(
                isinstance(r, dict) and "step" in r for r in log):
            fail(f"{path} is not a roberta/train.py result (config without "
                 f"{', '.join(missing) or '—'}, or log records without 'step')")
        if log:
            runs.append(runlib.Run(path.parent.name, res, c))
        else:
            print(f"skipped {path}: no log records yet")
    return runs


def series(runs: list[runlib.Run], key: str) -> tuple[np.ndarray, list[np.ndarray], list]:
    """Steps where every run logged ``key``, each run's values there (and its standard errors
    for the trace)."""
    per_run = [{r["step"]: (r[key], r.get(f"{key}_stderr")) for r in run.result["log"]
                if r.get(key) is not None} for run in runs]
    steps = sorted(set.intersection(*(set(s) for s in per_run)))
    values = [np.array([s[t][0] for t in steps], dtype=float) for s in per_run]
    errors = [np.array([s[t][1] if s[t][1] is not None else np.nan for t in steps], dtype=float)
              for s in per_run]
    return np.array(steps), values, errors


def draw_group(ax, key: str, runs: list[runlib.Run], color: str, ls: str,
               label: str | None) -> None:
    steps, values, errors = series(runs, key)
    if not len(steps):
        return
    if key != "trace":
        plotting.mean_band(ax, steps, values, color=color, ls=ls, label=label)
        return
    mean = np.mean(values, axis=0)
    se = np.sqrt(np.nansum(np.square(errors), axis=0)) / len(runs)  # s.e. of the mean
    ax.plot(steps, mean, color=color, ls=ls, label=label, marker=".", ms=3)
    ax.fill_between(steps, mean - se, mean + se, color=color, alpha=0.2, lw=0)
    neg = mean < 0
    if neg.any():  # on a log axis these would vanish; here they sit below 0, ringed
        ax.plot(steps[neg], mean[neg], ls="none", marker="o", mfc="none", color=color, ms=6)


def trace_linthresh(runs: list[runlib.Run]) -> float:
    """The symlog axis' linear range: about the typical standard error (a power of ten)."""
    se = [abs(r["trace_stderr"]) for run in runs for r in run.result["log"]
          if r.get("trace_stderr")]
    tr = [abs(r["trace"]) for run in runs for r in run.result["log"] if r.get("trace")]
    ref = np.median(se) if se else (np.median(tr) / 10 if tr else 1.0)
    return float(10.0 ** np.floor(np.log10(ref))) if ref > 0 else 1.0


def label_of(grp: runlib.Group, others: list[str]) -> str:
    c = grp.settings
    extra = "".join(f", {k} {c.get(k)}" for k in others)
    return f"{c['algo'].upper()} (lr {c['lr']:g}{extra}; {runlib.seed_text(grp.seeds)})"


def model_title(runs: list[runlib.Run]) -> str:
    """The model(s) and trainable-parameter count(s), e.g. "roberta-large, 355.4M parameters"."""
    names = {}
    for run in runs:
        n = run.config.get("n_params")
        names.setdefault(Path(str(run.config.get("model", "?"))).name, set()).add(n)
    parts = []
    for name, counts in names.items():
        known = sorted(n for n in counts if n)
        size = ", ".join(f"{n / 1e6:.1f}M" for n in known) + " parameters" if known else ""
        parts.append(f"{name}{f', {size}' if size else ''}")
    return "; ".join(parts)


def main(argv: list[str] | None = None) -> Path:
    p = Parser(prog="plot.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", type=Path, nargs="+", default=[HERE / "runs"],
                   help="run folders, or folders of run folders")
    p.add_argument("--out", type=Path, default=plotting.ASSETS / "roberta.png", help="PNG path")
    p.add_argument("--seeds", type=nonneg_int, nargs="+",
                   help="seeds to draw (default: every seed found)")
    p.add_argument("--title", default="Figure 3 — prompt fine-tuning, ZO vs GD",
                   help="figure title; the model and its parameter count are added below it")
    args = p.parse_args(argv)
    check_out_file(args.out, suffixes=(".png", ".pdf", ".svg"))
    runs = [r for r in load(args.runs) if args.seeds is None or r.seed in args.seeds]
    if not runs:
        fail(f"no result.json{f' of seeds {args.seeds}' if args.seeds else ''} in "
             f"{' '.join(map(str, args.runs))}; run roberta/examples/fig3.sh first")
    multi_model = len({str(r.config.get("model")) for r in runs}) > 1
    columns: dict[tuple, list[runlib.Run]] = {}
    for run in runs:
        c = run.config
        key = ((Path(str(c.get("model"))).name,) if multi_model else ()) + (c["task"], c["k"])
        columns.setdefault(key, []).append(run)
    order = sorted(columns, key=lambda t: (t[:-2], ORDER.get(t[-2], 9), t[-1]))

    plotting.style()
    fig, axes = plt.subplots(len(ROWS), len(order), figsize=(3.8 * len(order) + 0.6, 8.4),
                             squeeze=False, sharex="col", layout="constrained")
    diverged_total = 0
    for col, key in enumerate(order):
        col_runs = columns[key]
        ok = [r for r in col_runs if r.diverged_at is None]
        groups = runlib.group(ok)
        others = [k for k in runlib.varying(groups) if k not in ALGO_KEYS]
        palette = {"zo": iter([plotting.COLORS["ZO"], *plotting.SWEEP[1:]]),
                   "gd": iter([plotting.COLORS["GD"], "#17becf", "#7f7f7f", "#bcbd22"])}
        for grp in sorted(groups, key=lambda g: (g.settings["algo"], g.settings["lr"])):
            algo = grp.settings["algo"]
            color = next(palette.get(algo, iter([plotting.COLORS.get(algo.upper(), "k")])),
                         "#444444")
            ls = plotting.linestyle(algo.upper())
            for row, (metric, _) in enumerate(ROWS):
                draw_group(axes[row, col], metric, grp.runs, color, ls,
                           label_of(grp, others) if row == 0 else None)
        for run in (r for r in col_runs if r.diverged_at is not None):
            diverged_total += 1
            algo = run.config["algo"]
            color = plotting.COLORS.get(algo.upper(), "k")
            for row, (metric, _) in enumerate(ROWS):
                steps, (values,), _ = series([run], metric)
                plotting.diverged(axes[row, col], steps, values, color=color, ls=":",
                                  label=(f"{algo.upper()} (lr {run.config['lr']:g}; seed "
                                         f"{run.seed}): diverged at step {run.diverged_at}"
                                         if row == 0 else None))
        title = f"{key[-2]}, K = {key[-1]}" + (f"\n{key[0]}" if multi_model else "")
        axes[0, col].set_title(title, fontsize=10)
        axes[1, col].set_yscale("symlog", linthresh=trace_linthresh(col_runs))
        axes[1, col].axhline(0, color="k", lw=0.6)
        axes[-1, col].set_xlabel("step")
        axes[0, col].legend(fontsize=7)
    for row, (_, ylabel) in enumerate(ROWS):
        axes[row, 0].set_ylabel(ylabel)
    fig.suptitle(f"{args.title}\n{model_title(runs)}")
    path = plotting.save(fig, args.out)
    if diverged_total:
        print(f"drew {diverged_total} diverged run(s) on their own, up to the divergence (×)")
    print(f"wrote {path}")
    return path


if __name__ == "__main__":
    cli.run(main)
