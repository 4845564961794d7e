"""Figures 1 and 4 from the JSON written by run_toy.py (never reruns an experiment).

    python test_func/plot.py                     # test_func/res → assets/test-func{,-lam}.png
    python test_func/plot.py --table             # the README's results table, from the JSON

Figure 1: loss and Hessian trace vs iteration for GD, ZO and DD. Figure 4: the same for ZO at each
λ of the sweep, with the theory drawn in (GD on the smoothed loss F = f + (λ²/2)·Tr∇²f from the
same initialisation, and the trace of its minimisers). Several seeds: mean line and a band.

A figure draws the runs of the settings given by the flags (run_toy.py's, the paper's by
default); runs with other settings are left out and listed in one line. The paper's settings and
seed draw into assets/, anything else into the --res folder under a name carrying the settings.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from flatzero import cli, plotting, readme
from flatzero import runs as runlib
from flatzero.cli import Parser, check_out_dir, fail, nonneg_int, positive_int
from flatzero.results import ResultError, check_series, log_spaced_iterations, read_json
from test_func import run_toy, theory, toy
from test_func.run_toy import DEFAULT_OUT

plt = plotting.plt
KEYS = ("num_iter", "list_loss", "list_hess", "config")
# The compiled and the naive loop give the same numbers (tests/test_run_toy.py), so they share.
IGNORE = ("implementation", "bitwise_reference")
TABLE = "toy-table"


def build_parser() -> Parser:
    p = Parser(prog="plot.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--res", type=Path, default=DEFAULT_OUT, help="folder with run_toy.py JSON")
    p.add_argument("--seeds", type=nonneg_int, nargs="+",
                   help="seeds to draw (default: every seed found with these settings)")
    run_toy.add_settings(p)
    p.add_argument("--out-dir", type=Path,
                   help="where PNGs are written (default: assets/ for the paper's settings and "
                        "seed, else the --res folder)")
    p.add_argument("--figures", type=int, nargs="+", choices=[1, 4], default=[1, 4],
                   help="which figures (and rows of --table) to draw")
    p.add_argument("--band", choices=["minmax", "std"], default="minmax",
                   help="band over seeds: min–max or mean ± std")
    p.add_argument("--theory", choices=["none", "fig4", "both"], default="fig4",
                   help="draw GD on the smoothed loss F (the predicted ZO path) in these figures")
    p.add_argument("--points", type=positive_int, default=1500,
                   help="log-spaced points drawn per curve")
    p.add_argument("--table", action="store_true",
                   help="print the README's results table (final loss and trace) instead")
    p.add_argument("--readme", type=Path,
                   help=f"with --table: write it into this file between its {TABLE} markers")
    return p


# --- reading ---------------------------------------------------------------------------------

def is_record(obj) -> bool:
    return isinstance(obj, dict) and all(k in obj for k in KEYS)


def load(res: Path) -> tuple[list[runlib.Run], list[runlib.Run]]:
    """(Figure 1 runs, λ-sweep runs) of every JSON file in ``res``; a foreign file is an error."""
    fig1, sweep = [], []
    for path in sorted(res.glob("*.json")):
        try:
            obj = read_json(path)
            if is_record(obj):
                fig1.append(runlib.run_from(path, check_series(path, obj, KEYS[:3])))
            elif isinstance(obj, dict) and obj and all(is_record(v) for v in obj.values()):
                sweep += [runlib.run_from(path, check_series(path, v, KEYS[:3]), key)
                          for key, v in obj.items()]
            else:
                fail(f"{path} is not a run_toy.py result (no {', '.join(KEYS)}); move it out "
                     f"of {res}")
        except ResultError as exc:
            fail(str(exc))
    return fig1, sweep


# --- which runs make a curve -----------------------------------------------------------------

def common(args) -> dict:
    return {"d": args.dim, "T": args.iters, "log_points": args.log_points}


def figure1_curves(args) -> list[tuple[str, dict, dict]]:
    """(method, what picks its runs, the settings they must have) of Figure 1's curves."""
    out = []
    for method in args.algos:
        run = run_toy.figure1_run(method, args)
        out.append((method, {"algorithm": method},
                    {"lr": run.lr, "lam": run.lam, **common(args)}))
    return out


def figure4_curves(args) -> list[tuple[float, dict, dict]]:
    return [(lam, {"algorithm": "ZO", "lam": lam}, {"lr": args.zo_lr, **common(args)})
            for lam in sorted(set(args.lams), reverse=True)]


def pick(runs, curves, seeds, skipped):
    """{curve: (group or None, diverged runs)} for the curves of one figure."""
    return {name: runlib.select(runs, curve, need, seeds, skipped, IGNORE)
            for name, curve, need in curves}


def figure_tag(args, figure: int, seeds_drawn: set) -> str:
    """The settings of a figure that differ from the paper's, as a file-name suffix ("": the
    paper's settings and seed, the figure of assets/)."""
    kind = "GD" if figure == 1 else "lam"
    parts = [run_toy.tag(kind, args)]
    if figure == 1:
        if args.zo_lr != toy.ZO_LR:
            parts.append(f"-zolr{args.zo_lr!r}")
        if args.lam != toy.LAM:
            parts.append(f"-lam{args.lam!r}")
        if sorted(args.algos) != sorted(toy.METHODS):
            parts.append("-" + "".join(args.algos))
    if seeds_drawn != {toy.SEED}:
        parts.append("-" + runlib.seed_tag(sorted(seeds_drawn)))
    return "".join(parts)


# --- drawing ---------------------------------------------------------------------------------

def thin(num_iter: list[int], points: int) -> np.ndarray:
    """Indices of about ``points`` log-spaced logged iterations (drawing 10⁵ points is slow)."""
    its = np.asarray(num_iter)
    return np.unique(np.searchsorted(its, log_spaced_iterations(int(its[-1]), points)))


def stack(runs: list[runlib.Run], points: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(iterations, losses, traces) of runs logged at the same iterations, thinned."""
    first = runs[0].result
    idx = thin(first["num_iter"], points)
    its = np.asarray(first["num_iter"])[idx]
    loss = np.array([np.asarray(r.result["list_loss"])[idx] for r in runs])
    hess = np.array([np.asarray(r.result["list_hess"])[idx] for r in runs])
    return its, loss, hess


def theory_paths(runs: list[runlib.Run], its: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """GD on F for each run's seed and setting, at the iterations ``its``."""
    paths = [theory.smoothed_gd_path(r.seed, r.config["d"], r.config["lr"], r.config["lam"],
                                     r.config["T"]) for r in runs]
    return (np.array([p.loss[its - 1] for p in paths]),
            np.array([p.trace[its - 1] for p in paths]))


def axes_pair(title: str) -> tuple[plt.Figure, np.ndarray]:
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.4), layout="constrained")
    for ax in axes:
        ax.set_xscale("log")
        ax.set_xlabel("iteration")
    axes[0].set_yscale("log")
    axes[0].set_ylabel("training loss f")
    axes[1].set_ylabel(r"Hessian trace  $\|x\|^2+\|y\|^2$")
    fig.suptitle(title)
    return fig, axes


def mark_min_trace(ax: plt.Axes) -> None:
    ax.axhline(toy.MIN_TRACE, color=plotting.COLORS["theory"], lw=0.8, ls=":",
               label="flat minima (Tr = 2)")


def draw_diverged(axes, runs: list[runlib.Run], color: str, ls: str, name: str) -> None:
    for run in runs:
        its = np.asarray(run.result["num_iter"])
        label = f"{name}, seed {run.seed}: diverged at iteration {run.diverged_at}"
        plotting.diverged(axes[0], its, np.asarray(run.result["list_loss"]), color=color, ls=ls,
                          label=label)
        plotting.diverged(axes[1], its, np.asarray(run.result["list_hess"]), color=color, ls=ls)


def subtitle(args, seeds: dict[str, list]) -> str:
    """The problem and the seeds of each curve ("seed 17" once if every curve has the same)."""
    texts = {name: runlib.seed_text(s) for name, s in seeds.items() if s}
    same = len(set(texts.values())) == 1
    seed_part = (next(iter(texts.values())) if same
                 else " · ".join(f"{name}: {t}" for name, t in texts.items()))
    return rf"$f(x,y)=(x^\top y-1)^2/2$,  d = {args.dim},  T = {args.iters},  {seed_part}"


def figure1(picked, args) -> tuple[plt.Figure, set] | None:
    if not any(g or d for g, d in picked.values()):
        return None
    fig, axes = axes_pair("Figure 1 — GD, ZO and DD on the toy loss")
    ax_l, ax_h = axes
    seeds: dict[str, list] = {}
    for method, (grp, diverged) in picked.items():
        lr, lam = (args.gd_lr, None) if method == "GD" else (args.zo_lr, args.lam)
        label = (f"ZO (λ = {lam:g}, lr {lr:g})" if method == "ZO"
                 else f"{method}{', λ→0' if method == 'DD' else ''} (lr {lr:g})")
        color, ls = plotting.COLORS[method], plotting.linestyle(method)
        seeds[method] = (grp.seeds if grp else []) + [r.seed for r in diverged]
        draw_diverged(axes, diverged, color, ls, method)
        if grp is None:
            continue
        its, loss, hess = stack(grp.runs, args.points)
        kw = dict(color=color, ls=ls, band=args.band)
        plotting.mean_band(ax_l, its, loss, label=label, **kw)
        plotting.mean_band(ax_h, its, hess, **kw)
        if method == "ZO" and args.theory == "both":
            t_loss, t_hess = theory_paths(grp.runs, its)
            kw = dict(color=plotting.COLORS["theory"], ls="-.", lw=1.0, band=args.band)
            plotting.mean_band(ax_l, its, t_loss, label="GD on smoothed loss F", **kw)
            plotting.mean_band(ax_h, its, t_hess, **kw)
    mark_min_trace(ax_h)
    ax_l.set_title(subtitle(args, seeds), fontsize=9, loc="left")
    plotting.legend_below(fig, axes)
    return fig, {s for ss in seeds.values() for s in ss}


def figure4(picked, args) -> tuple[plt.Figure, set] | None:
    if not any(g or d for g, d in picked.values()):
        return None
    fig, axes = axes_pair("Figure 4 — ZO with different smoothing λ")
    ax_l, ax_h = axes
    seeds: dict[str, list] = {}
    for color, (lam, (grp, diverged)) in zip(plotting.SWEEP * 4, picked.items(), strict=False):
        seeds[f"λ = {lam:g}"] = (grp.seeds if grp else []) + [r.seed for r in diverged]
        draw_diverged(axes, diverged, color, "-", f"ZO, λ = {lam:g}")
        if grp is None:
            continue
        its, loss, hess = stack(grp.runs, args.points)
        kw = dict(color=color, ls="-", band=args.band)
        plotting.mean_band(ax_l, its, loss, label=f"ZO, λ = {lam:g}", **kw)
        plotting.mean_band(ax_h, its, hess, **kw)
        if args.theory != "none" and lam < 1:
            t_loss, t_hess = theory_paths(grp.runs, its)
            limit = theory.predicted_limit_trace(lam)
            kw = dict(color=color, ls=":", lw=1.2, band=args.band)
            plotting.mean_band(ax_l, its, t_loss, **kw)
            plotting.mean_band(ax_h, its, t_hess,
                               label=f"GD on F, λ = {lam:g} (limit Tr = {limit:.4g})", **kw)
    mark_min_trace(ax_h)
    ax_l.set_title(subtitle(args, seeds), fontsize=9, loc="left")
    plotting.legend_below(fig, axes, ncol=3)
    return fig, {s for ss in seeds.values() for s in ss}


# --- the README table ------------------------------------------------------------------------

def table(fig1, fig4, args) -> str:
    """Markdown: final loss and trace of every drawn run (one row per run and seed); the sweep's
    run at Figure 1's λ is Figure 1's ZO run, so it is not repeated."""
    rows = ["| run | seed | lr | λ | loss f at T | trace: start → at T | GD on F: trace at T "
            "(limit 2(1 − λ²)) |", "|---|---|---|---|---|---|---|"]
    sweep = [(f"ZO, λ = {lam:g}", v) for lam, v in fig4.items()
             if not ("ZO" in fig1 and lam == args.lam)]
    for name, (grp, diverged) in [*fig1.items(), *sweep]:
        for run in [*(grp.runs if grp else []), *diverged]:
            c, hess = run.config, run.result["list_hess"]
            end = (f"diverged at iteration {run.diverged_at}" if run.diverged_at
                   else f"{run.result['list_loss'][-1]:.3g}")
            theory_txt = "—"
            if c["algorithm"] == "ZO" and c["lam"] < 1:
                path = theory.smoothed_gd_path(run.seed, c["d"], c["lr"], c["lam"], c["T"])
                theory_txt = (f"{path.trace[-1]:.4g} "
                              f"({theory.predicted_limit_trace(c['lam']):.4g})")
            lam = "—" if c["lam"] is None else f"{c['lam']:g}"
            rows.append(f"| {name} | {run.seed} | {c['lr']:g} | {lam} | {end} | "
                        f"{hess[0]:.4g} → {hess[-1]:.4g} | {theory_txt} |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> list[Path]:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.readme and not args.table:
        parser.error("--readme goes with --table")
    if args.out_dir is not None and not args.table:
        check_out_dir(args.out_dir, "--out-dir")  # before any work; the defaults exist
    if not args.res.is_dir():
        fail(f"--res {args.res} is not a folder; run `python test_func/run_toy.py --out "
             f"{args.res}` first")
    fig1_runs, sweep_runs = load(args.res)
    if not fig1_runs and not sweep_runs:
        fail(f"no run_toy.py results in {args.res}; run "
             f"`python test_func/run_toy.py --out {args.res}` first")
    skipped = runlib.Skipped()
    picked1 = pick(fig1_runs, figure1_curves(args) if 1 in args.figures else [], args.seeds,
                   skipped)
    picked4 = pick(sweep_runs, figure4_curves(args) if 4 in args.figures else [], args.seeds,
                   skipped)
    if skipped:
        print(skipped.line())
    missing = [m for m, (g, d) in picked1.items() if not (g or d)] + [
        f"ZO λ = {lam:g} (sweep)" for lam, (g, d) in picked4.items() if not (g or d)]
    if args.table:
        text = table(picked1, picked4, args)
        readme.emit(text, TABLE, args.readme)
        return []

    plotting.style()
    written = []
    for number, draw, picked, name in ((1, figure1, picked1, "test-func"),
                                       (4, figure4, picked4, "test-func-lam")):
        drawn = draw(picked, args) if number in args.figures else None
        if drawn is None:
            continue
        fig, seeds = drawn
        tag = figure_tag(args, number, seeds)
        paper = not tag
        out_dir = args.out_dir or (plotting.ASSETS if paper else args.res)
        check_out_dir(out_dir, "--out-dir")
        path = plotting.save(fig, out_dir / f"{name}{tag}.png")
        print(f"wrote {path}" + ("" if paper else " (not the paper's settings and seed: the "
                                 "figures in assets/ are left as they are)"))
        written.append(path)
    if not written:
        fail(f"no results with these settings{f' and seeds {args.seeds}' if args.seeds else ''} "
             f"in {args.res}; run test_func/fig1.sh / fig4.sh with the same settings")
    if missing:
        print(f"no results for: {', '.join(missing)} (run test_func/fig1.sh / fig4.sh)")
    return written


if __name__ == "__main__":
    cli.run(main)
