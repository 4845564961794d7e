"""Figures 1 and 4 from the JSON written by run_toy.py (never reruns an experiment).

    python test_func/plot.py                     # test_func/res → assets/test-func*.png
    python test_func/plot.py --compare-published # key points: the published figure next to ours
    python test_func/plot.py --table             # the results table, from the JSON

Drawn as published: Figure 1 is panel (a) "Comparison of GD and ZO" (GD, ZO (λ → 0) — the
directional derivative, DD — and ZO), Figure 4 panel (b) "Effect of λ" (ZO with λ = 0.01, 0.05,
0.1), each the loss above the trace of the Hessian against log iterations, in the published
colours and line styles. "theory" draws ZO at each λ against the path theory predicts: GD on the
smoothed loss F = f + (λ²/2)·Tr∇²f from the same initialisation, and the trace of F's minimisers.
Several seeds: mean line and a band.

A figure draws the runs of the settings and seeds given by the flags (run_toy.py's; by default
those of the published figures, seed 13); runs with other settings are left out and listed in one
line (on stderr). Only the published figures' settings and seed, drawn with the default options, go
into assets/; anything else into the --res folder under a name carrying what differs.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from flatzero import cli, keypoints, plotting, readme
from flatzero import runs as runlib
from flatzero.cli import Parser, check_out_dir, fail, nonneg_int, seed
from flatzero.results import ResultError, check_series, log_spaced_iterations, read_json
from test_func import published, run_toy, theory, toy
from test_func.run_toy import DEFAULT_OUT

plt = plotting.plt
KEYS = ("num_iter", "list_loss", "list_hess", "config")
METRIC_KEYS = {"loss": "list_loss", "trace": "list_hess"}
# The compiled and the naive loop give the same numbers (tests/test_run_toy.py), so they share.
IGNORE = ("implementation", "bitwise_reference")
TABLE = "toy-table"
COMPARE = "toy-published"
FIGURES = ("1", "4", "theory")
FILES = {"1": "test-func", "4": "test-func-lam", "theory": "test-func-theory"}
# The published figure's colours and line styles (read off its pixels).
BLUE, ORANGE, GREEN = "#5689f7", "#f19b38", "#66c04c"
FIG1_STYLE = {"GD": ("GD", BLUE, "-"), "DD": ("ZO (λ → 0)", ORANGE, "--"),
              "ZO": ("ZO", GREEN, ":")}
DRAW_ORDER = ["GD", "DD", "ZO"]  # the published legend's order, ZO drawn last (on top)
SWEEP_STYLE = ((BLUE, "-"), (ORANGE, "--"), (GREEN, ":"))  # λ ascending, as in panel (b)
DEFAULT_POINTS = 0
THEORY_POINTS = 1500
LINE_WIDTH = 2.0


def build_parser() -> Parser:
    p = Parser(prog="plot.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--res", type=Path, default=DEFAULT_OUT, help="folder with run_toy.py JSON")
    p.add_argument("--seeds", type=seed, nargs="+", default=[toy.SEED],
                   help=f"seeds to draw, as run_toy.py's ({toy.SEED}: the published figures'; "
                        f"{toy.AUTHORS_SEED}: the authors' run_toy.py's)")
    run_toy.add_settings(p)
    p.add_argument("--out-dir", type=Path,
                   help="where PNGs are written (default: assets/ for the published figures' "
                        "settings, seed and drawing options, else the --res folder)")
    p.add_argument("--figures", nargs="+", choices=FIGURES, default=list(FIGURES),
                   help="which figures (and rows of --table / --compare-published) to draw: "
                        "1, 4, and theory (ZO against GD on the smoothed loss)")
    p.add_argument("--band", choices=["minmax", "std"], default="minmax",
                   help="band over seeds: min–max or mean ± std")
    p.add_argument("--points", type=nonneg_int, default=DEFAULT_POINTS,
                   help="log-spaced points drawn per curve; 0 draws every logged iteration, as "
                        "the published figure does (its noisy ZO loss is a band)")
    readme.add_flags(p, TABLE, COMPARE, "the results table (final loss and trace)",
                     "test_func/published.py")
    return p


def note(text: str) -> None:
    """What a plot left out or where it drew: for the reader, never part of a table."""
    print(text, file=sys.stderr)


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
                fail(f"{cli.rel(path)} is not a run_toy.py result (no {', '.join(KEYS)}); move "
                     f"it out of {cli.rel(res)}")
        except ResultError as exc:
            fail(str(exc))
    return fig1, sweep


# --- which runs make a curve -----------------------------------------------------------------

def common(args) -> dict:
    return {"d": args.dim, "T": args.iters, "log_points": args.log_points}


def figure1_curves(args) -> list[tuple[str, dict, dict]]:
    """(method, what picks its runs, the settings they must have) of Figure 1's curves."""
    out = []
    for method in sorted(args.algos, key=DRAW_ORDER.index):
        run = run_toy.figure1_run(method, args)
        out.append((method, {"algorithm": method},
                    {"lr": run.lr, "lam": run.lam, **common(args)}))
    return out


def figure4_curves(args) -> list[tuple[float, dict, dict]]:
    """The λ sweep, λ ascending (the published legend's order)."""
    return [(lam, {"algorithm": "ZO", "lam": lam}, {"lr": args.zo_lr, **common(args)})
            for lam in sorted(set(args.lams))]


def pick(runs, curves, seeds, skipped):
    """{curve: (group or None, diverged runs)} for the curves of one figure."""
    return {name: runlib.select(runs, curve, need, seeds, skipped, IGNORE)
            for name, curve, need in curves}


def figure_tag(args, figure: str, seeds_drawn: set) -> str:
    """What differs from the published figure (settings, seed, drawing options), as a file-name
    suffix; "" for the figures of assets/."""
    kind = "GD" if figure == "1" else "lam"
    parts = [run_toy.tag(kind, args)]
    if figure == "1":
        if args.zo_lr != toy.ZO_LR:
            parts.append(f"-zolr{args.zo_lr!r}")
        if args.lam != toy.LAM:
            parts.append(f"-lam{args.lam!r}")
        if sorted(args.algos) != sorted(toy.METHODS):
            parts.append("-" + "".join(args.algos))
    if seeds_drawn != {toy.SEED}:
        parts.append("-" + runlib.seed_tag(sorted(seeds_drawn)))
    if args.points != DEFAULT_POINTS and figure != "theory":  # theory is always thinned
        parts.append(f"-pts{args.points}")
    if args.band != "minmax" and len(seeds_drawn) > 1:
        parts.append(f"-band{args.band}")
    return "".join(parts)


# --- drawing ---------------------------------------------------------------------------------

def thin(num_iter: list[int], points: int) -> np.ndarray:
    """Indices of about ``points`` log-spaced logged iterations (0: all of them)."""
    its = np.asarray(num_iter)
    if points <= 0:
        return np.arange(len(its))
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


def loss_over_trace(caption: str, subtitle: str) -> tuple[plt.Figure, np.ndarray]:
    """The published panel: loss (log) above the trace of the Hessian, log iterations."""
    fig, axes = plt.subplots(2, 1, figsize=(6.4, 5.2), sharex=True, layout="constrained")
    ax_l, ax_h = axes
    ax_l.set_xscale("log")
    ax_l.set_yscale("log")
    ax_l.set_ylabel("Loss")
    ax_h.set_ylabel("Trace of Hessian")
    ax_h.set_xlabel("Number of Iterations")
    ax_l.set_title(subtitle, fontsize=8, loc="left")
    fig.suptitle(caption)
    return fig, axes


def loss_limits(ax: plt.Axes, values: list[np.ndarray]) -> None:
    """Log loss axis down to the smallest positive loss drawn (at most 30 decades below 1): a
    loss of exactly 0 (GD, DD) then falls off the bottom, as in the published figure."""
    positive = [v[v > 0].min() for v in values if (v > 0).any()]
    if positive:
        bottom = max(10.0 ** np.floor(np.log10(min(positive))), 1e-30)
        ax.set_ylim(bottom=bottom)


def draw_diverged(axes, runs: list[runlib.Run], color: str, ls: str, name: str) -> None:
    for run in runs:
        its = np.asarray(run.result["num_iter"])
        label = f"{name}, seed {run.seed}: diverged at iteration {run.diverged_at}"
        plotting.diverged(axes[0], its, np.asarray(run.result["list_loss"]), color=color, ls=ls,
                          label=label)
        plotting.diverged(axes[1], its, np.asarray(run.result["list_hess"]), color=color, ls=ls)


def subtitle(args, seeds: dict[str, list], lrs: str) -> str:
    """The problem, its settings and the seeds of each curve ("seed 13" once if all agree)."""
    texts = {name: runlib.seed_text(s) for name, s in seeds.items() if s}
    same = len(set(texts.values())) == 1
    seed_part = (next(iter(texts.values())) if same
                 else " · ".join(f"{name}: {t}" for name, t in texts.items()))
    return (rf"$f(x,y)=(x^\top y-1)^2/2$, d = {args.dim}, T = {args.iters}, {lrs}"
            f"\n{seed_part}")


def legend(ax: plt.Axes, axes) -> None:
    """The published legend: inside the trace panel, lower left; every label of ``axes`` once
    (the curves' own, then any diverged run's)."""
    handles, labels = [], []
    for a in axes:
        for h, lab in zip(*a.get_legend_handles_labels(), strict=True):
            if lab not in labels:
                handles.append(h)
                labels.append(lab)
    if labels:
        ax.legend(handles, labels, loc="lower left")


def sweep_styles(lams) -> dict[float, tuple[str, str]]:
    """Colour and line style per λ, ascending: blue solid, orange dashed, green dotted, ..."""
    ordered = sorted(lams)
    return {lam: SWEEP_STYLE[i % len(SWEEP_STYLE)] for i, lam in enumerate(ordered)}


def figure1(picked, args) -> tuple[plt.Figure, set] | None:
    if not any(g or d for g, d in picked.values()):
        return None
    seeds = {FIG1_STYLE[m][0]: (g.seeds if g else []) + [r.seed for r in d]
             for m, (g, d) in picked.items()}
    lrs = f"lr GD {args.gd_lr:g}, ZO {args.zo_lr:g}"
    fig, axes = loss_over_trace("(a) Comparison of GD and ZO.", subtitle(args, seeds, lrs))
    curves = []
    for method, found in picked.items():
        label, color, ls = FIG1_STYLE[method]
        if method == "ZO" and args.lam != toy.LAM:
            label = f"ZO (λ = {args.lam:g})"
        curves.append((label, color, ls, found))
    draw_panels(axes, curves, args)
    return fig, {s for ss in seeds.values() for s in ss}


def draw_panels(axes, curves, args) -> None:
    """Each curve (label, colour, line style, (group, diverged runs)) as its mean and band over
    seeds, the loss above the trace, as the published panels; diverged runs on their own."""
    ax_l, ax_h = axes
    drawn_loss = []
    for label, color, ls, (grp, diverged) in curves:
        draw_diverged(axes, diverged, color, ls, label)
        if grp is None:
            continue
        its, loss, hess = stack(grp.runs, args.points)
        kw = dict(color=color, ls=ls, band=args.band, lw=LINE_WIDTH)
        plotting.mean_band(ax_l, its, loss, **kw)
        plotting.mean_band(ax_h, its, hess, label=label, **kw)
        drawn_loss.append(loss.ravel())
    loss_limits(ax_l, drawn_loss)
    legend(ax_h, (ax_h, ax_l))


def figure4(picked, args) -> tuple[plt.Figure, set] | None:
    if not any(g or d for g, d in picked.values()):
        return None
    seeds = {f"λ = {lam:g}": (g.seeds if g else []) + [r.seed for r in d]
             for lam, (g, d) in picked.items()}
    fig, axes = loss_over_trace("(b) Effect of λ.", subtitle(args, seeds, f"lr {args.zo_lr:g}"))
    styles = sweep_styles(picked)
    draw_panels(axes, [(f"ZO (λ = {lam:g})", *styles[lam], found)
                       for lam, found in picked.items()], args)
    return fig, {s for ss in seeds.values() for s in ss}


def figure_theory(picked, args) -> tuple[plt.Figure, set] | None:
    """ZO at each λ (solid) and GD on the smoothed loss F from the same start (dotted)."""
    if not any(g for g, _ in picked.values()):
        return None
    seeds = {f"λ = {lam:g}": g.seeds for lam, (g, _) in picked.items() if g}
    fig, (ax_l, ax_h) = loss_over_trace(
        "ZO and the theory: GD on the smoothed loss F = f + (λ²/2)·Tr ∇²f",
        subtitle(args, seeds, f"lr {args.zo_lr:g} (ZO and GD on F)"))
    styles = sweep_styles(picked)
    drawn_loss = []
    for lam, (grp, _) in picked.items():
        if grp is None:
            continue
        color = styles[lam][0]
        points = args.points or THEORY_POINTS  # GD on F is smooth; ZO is thinned alike
        its, loss, hess = stack(grp.runs, points)
        kw = dict(color=color, band=args.band)
        plotting.mean_band(ax_l, its, loss, ls="-", lw=1.0, **kw)
        plotting.mean_band(ax_h, its, hess, ls="-", lw=1.0, label=f"ZO (λ = {lam:g})", **kw)
        drawn_loss.append(loss.ravel())
        if lam < 1:
            t_loss, t_hess = theory_paths(grp.runs, its)
            limit = theory.predicted_limit_trace(lam)
            plotting.mean_band(ax_l, its, t_loss, ls=":", lw=2.0, **kw)
            plotting.mean_band(ax_h, its, t_hess, ls=":", lw=2.0,
                               label=f"GD on F, λ = {lam:g} (limit Tr = {limit:.4g})", **kw)
    ax_h.axhline(toy.MIN_TRACE, color=plotting.COLORS["theory"], lw=0.8, ls="-.",
                 label="flat minima (Tr = 2)")
    loss_limits(ax_l, drawn_loss)
    ax_h.set_yscale("log")
    plotting.log_ticks(ax_h)
    plotting.legend_below(fig, [ax_h], ncol=2)
    return fig, {s for ss in seeds.values() for s in ss}


# --- tables ----------------------------------------------------------------------------------

def table(fig1, fig4, args) -> str:
    """Markdown: final loss and trace of every drawn run (one row per run and seed); the sweep's
    run at Figure 1's λ is Figure 1's ZO run, so it is not repeated."""
    rows = ["| run | seed | lr | λ | loss f at T | trace: start → at T | GD on F: trace at T "
            "(limit 2(1 − λ²)) |", "|---|---|---|---|---|---|---|"]
    sweep = [(f"ZO, λ = {lam:g}", v) for lam, v in sorted(fig4.items(), reverse=True)
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


def curve_setting(grp: runlib.Group) -> str:
    """The setting of a drawn curve, for the key-point table: "seed 13, lr 0.001, λ 0.1"."""
    c = grp.runs[0].config
    parts = [runlib.seed_text(grp.seeds), f"lr {c['lr']:g}"]
    if c.get("lam") is not None:
        parts.append(f"λ {c['lam']:g}")
    if c["T"] != toy.ITERS or c["d"] != toy.DIM:
        parts.append(f"T {c['T']}, d {c['d']}")
    return ", ".join(parts)


def compare(picked1, picked4, figures) -> list[keypoints.Row]:
    """The published key points of the figures asked for, measured on the curves drawn (the
    mean over seeds where a curve has several)."""
    curves = {}
    if "1" in figures:
        curves.update({FIG1_STYLE[m][0]: g for m, (g, _) in picked1.items()})
    if "4" in figures:
        curves.update({f"ZO (λ = {lam:g})": g for lam, (g, _) in picked4.items()})
    series, settings = {}, {}
    for name, grp in curves.items():
        if grp is None:
            continue
        its = grp.runs[0].result["num_iter"]
        for metric, key in METRIC_KEYS.items():
            values = np.mean([r.result[key] for r in grp.runs], axis=0)
            series[(name, metric)] = (its, values)
        settings[name] = curve_setting(grp)
    points = [k for k in published.KEY_POINTS if k.figure in figures]
    return keypoints.compare(points, series, settings)


def main(argv: list[str] | None = None) -> list[Path]:
    parser = build_parser()
    args = parser.parse_args(argv)
    readme.check_flags(parser, args)
    printing = args.table or args.compare_published
    if args.out_dir is not None and not printing:
        check_out_dir(args.out_dir, "--out-dir")  # before any work; the defaults exist
    if not args.res.is_dir():
        fail(f"--res {cli.rel(args.res)} is not a folder; run `python test_func/run_toy.py "
             f"--out {cli.rel(args.res)}` first")
    fig1_runs, sweep_runs = load(args.res)
    if not fig1_runs and not sweep_runs:
        fail(f"no run_toy.py results in {cli.rel(args.res)}; run "
             f"`python test_func/run_toy.py --out {cli.rel(args.res)}` first")
    skipped = runlib.Skipped()
    picked1 = pick(fig1_runs, figure1_curves(args) if "1" in args.figures else [], args.seeds,
                   skipped)
    sweep_wanted = "4" in args.figures or "theory" in args.figures
    picked4 = pick(sweep_runs, figure4_curves(args) if sweep_wanted else [], args.seeds,
                   skipped)
    if skipped:
        note(skipped.line())
    missing = [m for m, (g, d) in picked1.items() if not (g or d)] + [
        f"ZO λ = {lam:g} (sweep)" for lam, (g, d) in picked4.items() if not (g or d)]
    if args.table:
        readme.emit(table(picked1, picked4, args), readme.marker(args, TABLE, COMPARE),
                    args.readme)
        return []
    if args.compare_published:
        rows = compare(picked1, picked4, args.figures)
        if not rows:
            fail("--compare-published: the published figures are 1 and 4; give --figures 1 4")
        text = keypoints.summary(rows) if args.summary else keypoints.table(rows)
        readme.emit(text, readme.marker(args, TABLE, COMPARE), args.readme)
        return []

    plotting.style()
    written = []
    for figure in args.figures:
        draw = {"1": figure1, "4": figure4, "theory": figure_theory}[figure]
        drawn = draw(picked1 if figure == "1" else picked4, args)
        if drawn is None:
            continue
        fig, seeds = drawn
        tag = figure_tag(args, figure, seeds)
        out_dir = args.out_dir or (plotting.ASSETS if not tag else args.res)
        check_out_dir(out_dir, "--out-dir")
        path = plotting.save(fig, out_dir / f"{FILES[figure]}{tag}.png")
        print(f"wrote {cli.rel(path)}")
        if tag and args.out_dir is None:
            note(f"{cli.rel(path)}: not the published figure (differs in {tag.lstrip('-')}), so "
                 "the figures in assets/ are left as they are")
        written.append(path)
    if not written:
        fail(f"no results with these settings and seeds {' '.join(map(str, args.seeds))} in "
             f"{cli.rel(args.res)}; run test_func/fig1.sh / fig4.sh with the same settings")
    if missing:
        note(f"no results for: {', '.join(missing)} (run test_func/fig1.sh / fig4.sh)")
    return written


if __name__ == "__main__":
    cli.run(main)
