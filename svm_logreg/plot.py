"""Figures 2 and 5 from the JSON written by svm.py / logreg.py (never reruns an experiment).

    python svm_logreg/plot.py                 # res_svm/, res_logreg/ → assets/svm-logreg*.png
    python svm_logreg/plot.py --layout grid   # one linear 3 × 4 grid instead of the paper's axes
    python svm_logreg/plot.py --table         # the results tables, from the JSON
    python svm_logreg/plot.py --compare-published   # Figure 2's key points next to ours

Figure 2: GD (dashed) vs ZO (solid) at the launchers' settings; Figure 5: the complementary runs,
SAM and ZO at the smaller λ the paper's text reports. Paper layout: panels (a) SVMs and (b)
Logistic Regression, columns a5a and w5a, rows train loss, train Hessian trace (log) and test
accuracy against log iterations. trace-loss: the train Hessian trace against the train loss, one
curve per run, where a lower trace at the same loss reads directly. Several seeds: mean and band.

Each curve takes the runs with the published figure's lr and λ (train.DEFAULTS; --svm-gd-lr
for the SVM's GD and SAM) and the --max_iter / --n_params / --seeds asked for (the paper's by
default); other runs are left out and listed in one line (on stderr). The published figure's
settings and seed, drawn in the paper's layout, go into assets/; anything else into
svm_logreg/res_figures/.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from flatzero import cli, keypoints, plotting, readme
from flatzero import runs as runlib
from flatzero.cli import Parser, check_out_dir, fail, positive_float, positive_int, seed
from flatzero.results import ResultError, check_series, read_result
from svm_logreg import published
from svm_logreg.train import (
    DEFAULTS,
    HERE,
    LAUNCHER_LR,
    METRICS,
    PAPER_D,
    PAPER_ITERS,
    PAPER_SEED,
    default_lr,
)

plt = plotting.plt
FIGURES = ("2", "5", "trace-loss")
FILES = {"2": "svm-logreg", "5": "svm-logreg-extra", "trace-loss": "svm-logreg-trace-loss"}
SMOKE_DIR = HERE / "res_figures"
TABLE = "svm-table"
COMPARE = "svm-published"
# λ of the ZO runs the paper's text reports (Figure 5): SVM 0.005, logistic regression 0.01.
TEXT_LAM = {"svm": 0.005, "logreg": 0.01}
MODELS = {"svm": "SVMs", "logreg": "Logistic Regression"}  # the paper's panel names
SHORT = {"svm": "SVM", "logreg": "logreg"}
# (key, label, y scale in the paper's layout, y scale in the grid)
ROWS = (("train_loss", "train loss", "linear", "log"),
        ("train_hess", "train Hessian trace", "log", "linear"),
        ("test_acc", "test accuracy", "linear", "linear"))


@dataclass(frozen=True)
class Series:
    """One curve of a model: which runs (algo, lr, λ) and how it is drawn; ``kind`` names the
    curve across models (gd, sam, zo, zo-small), for the grid's single legend."""

    label: str
    algo: str
    lr: float
    lam: float | None
    color: str
    ls: str
    kind: str


def lr_of(model: str, algo: str, args) -> float:
    """The lr a curve's runs must have: the published figure's, or --svm-gd-lr for the SVM's
    first-order runs (GD, and SAM unless --svm-sam-lr is given)."""
    gd_lr, sam_lr = getattr(args, "svm_gd_lr", None), getattr(args, "svm_sam_lr", None)
    if model == "svm" and algo == "sam" and sam_lr is not None:
        return sam_lr
    if model == "svm" and algo in ("gd", "sam") and gd_lr is not None:
        return gd_lr
    return default_lr(model, algo)


def series(model: str, figure: str, args=None) -> list[Series]:
    lam, small = DEFAULTS[model]["lam"], TEXT_LAM[model]
    gd = Series("GD", "gd", lr_of(model, "gd", args), None, plotting.COLORS["GD"], "--", "gd")
    zo = Series(f"ZO (λ = {lam:g})", "zo", lr_of(model, "zo", args), lam, plotting.COLORS["ZO"],
                "-", "zo")
    sam = Series(f"SAM (radius {lam:g})", "sam", lr_of(model, "sam", args), lam,
                 plotting.COLORS["SAM"], "-.", "sam")
    zo_small = Series(f"ZO (λ = {small:g})", "zo", lr_of(model, "zo", args), small,
                      plotting.SWEEP[1], "-", "zo-small")
    return [gd, zo] if figure == "2" else [gd, sam, zo, zo_small]


def grid_label(kind: str) -> str:
    """One legend entry per line style in the grid, whose columns hold both models."""
    lam = {m: DEFAULTS[m]["lam"] for m in MODELS}
    return {"gd": "GD",
            "zo": f"ZO (λ: SVM {lam['svm']:g}, logistic {lam['logreg']:g})",
            "sam": f"SAM (radius: SVM {lam['svm']:g}, logistic {lam['logreg']:g})",
            "zo-small": f"ZO (λ: SVM {TEXT_LAM['svm']:g}, logistic {TEXT_LAM['logreg']:g})"}[kind]


# --- reading and choosing runs ----------------------------------------------------------------

def load(folders: Sequence[Path]) -> list[runlib.Run]:
    """Every result file of the folders; a file that is not one is an error naming it."""
    out = []
    for folder in folders:
        for path in sorted(folder.glob("*.json")):
            try:
                obj = read_result(path, (*METRICS, "config"))
                out.append(runlib.run_from(path, check_series(path, obj, METRICS)))
            except ResultError as exc:
                fail(str(exc))
    return out


def pick_data(runs: list[runlib.Run], family: str, need: dict) -> str | None:
    """The real data set of a family (a5a / w5a) if it has results, else its offline stand-in."""
    present = {r.config.get("data") for r in runs if runlib.matches(r.config, need)}
    return next((n for n in (family, f"{family}-resplit") if n in present), None)


@dataclass
class Curve:
    series: Series
    group: runlib.Group | None
    diverged: list[runlib.Run]

    @property
    def seeds(self) -> list:
        return (self.group.seeds if self.group else []) + [r.seed for r in self.diverged]


def choose(runs, figure: str, args, skipped: runlib.Skipped) -> dict[tuple[str, str], list[Curve]]:
    """{(model, data): curves} of a figure, from the runs with the asked-for settings."""
    need = {"max_iter": args.max_iter, "n_params": args.n_params}
    out = {}
    for model in MODELS:
        for family in ("a5a", "w5a"):
            name = pick_data(runs, family, {"model": model, **need})
            if name is None:
                continue
            curves = []
            for s in series(model, figure, args):
                grp, diverged = runlib.select(
                    runs, {"model": model, "data": name, "algo": s.algo, "lam": s.lam},
                    {"lr": s.lr, **need}, args.seeds, skipped)
                curves.append(Curve(s, grp, diverged))
            out[(model, name)] = curves
    return out


def seed_line(chosen: dict[tuple[str, str], list[Curve]]) -> str:
    """The seeds of the curves: "seed 29" if all have it, else which curves have which."""
    by_seeds: dict[str, list[str]] = {}
    for cs in chosen.values():
        for c in cs:
            if c.seeds:
                labels = by_seeds.setdefault(runlib.seed_text(c.seeds), [])
                if c.series.label not in labels:
                    labels.append(c.series.label)
    if len(by_seeds) == 1:
        return next(iter(by_seeds))
    return "\n".join(f"{t}: {', '.join(labels)}" for t, labels in by_seeds.items())


def data_title(name: str) -> str:
    return f"{name} (offline stand-in)" if name.endswith("-resplit") else name


# --- drawing ---------------------------------------------------------------------------------

def draw_curve(ax, curve: Curve, key: str, band: str = "minmax", grid: bool = False) -> None:
    s = curve.series
    label = grid_label(s.kind) if grid else s.label
    if curve.group is not None:
        ys = [np.asarray(r.result[key], dtype=float) for r in curve.group.runs]
        x = np.arange(1, len(ys[0]) + 1)
        plotting.mean_band(ax, x, ys, color=s.color, ls=s.ls, label=label, band=band, lw=1.4)
    for run in curve.diverged:
        y = np.asarray(run.result[key], dtype=float)
        plotting.diverged(ax, np.arange(1, len(y) + 1), y, color=s.color, ls=s.ls,
                          label=f"{s.label}, seed {run.seed}: diverged at {run.diverged_at}")


def paper_layout(chosen, title: str, band: str) -> plt.Figure:
    fig = plt.figure(figsize=(13, 7.6), layout="constrained")
    subfigs = fig.subfigures(1, 2, wspace=0.03)
    for letter, sub, model in zip("ab", subfigs, MODELS, strict=True):
        cols = [(name, curves) for (m, name), curves in chosen.items() if m == model]
        if not cols:
            sub.suptitle(f"({letter}) {MODELS[model]}: no results")
            continue
        axes = sub.subplots(len(ROWS), len(cols), sharex=True, squeeze=False)
        for col, (name, curves) in enumerate(cols):
            axes[0, col].set_title(data_title(name), fontsize=10)
            for row, (key, label, scale, _) in enumerate(ROWS):
                ax = axes[row, col]
                for curve in curves:
                    draw_curve(ax, curve, key, band=band)
                ax.set_xscale("log")
                ax.set_yscale(scale)
                if scale == "log":
                    plotting.log_ticks(ax)
                if col == 0:
                    ax.set_ylabel(label)
            axes[-1, col].set_xlabel("number of iterations")
        plotting.legend_below(sub, axes, loc="outside upper center", ncol=4)
        sub.supxlabel(f"({letter}) {MODELS[model]}", fontsize=12)
    fig.suptitle(title)
    return fig


def grid_layout(chosen, title: str, band: str) -> plt.Figure:
    cols = list(chosen.items())
    fig, axes = plt.subplots(len(ROWS), len(cols), figsize=(3.6 * len(cols), 8.2),
                             squeeze=False, sharex=True, layout="constrained")
    for col, ((model, name), curves) in enumerate(cols):
        axes[0, col].set_title(f"{MODELS[model]}\n{data_title(name)}", fontsize=9)
        for row, (key, label, _, scale) in enumerate(ROWS):
            ax = axes[row, col]
            for curve in curves:
                draw_curve(ax, curve, key, band=band, grid=True)
            ax.set_yscale(scale)
            if col == 0:
                ax.set_ylabel(label)
        axes[-1, col].set_xlabel("iteration")
    plotting.legend_below(fig, axes, ncol=6)
    fig.suptitle(title)
    return fig


def trace_loss(chosen, title: str) -> plt.Figure:
    """Train Hessian trace against train loss, one line per run (every seed on its own)."""
    fig = plt.figure(figsize=(12, 5.2), layout="constrained")
    subfigs = fig.subfigures(1, 2, wspace=0.03)
    for letter, sub, model in zip("ab", subfigs, MODELS, strict=True):
        cols = [(name, curves) for (m, name), curves in chosen.items() if m == model]
        if not cols:
            sub.suptitle(f"({letter}) {MODELS[model]}: no results")
            continue
        axes = sub.subplots(1, len(cols), squeeze=False)[0]
        for ax, (name, curves) in zip(axes, cols, strict=True):
            ax.set_title(data_title(name), fontsize=10)
            for curve in curves:
                s = curve.series
                runs = [*(curve.group.runs if curve.group else []), *curve.diverged]
                for i, run in enumerate(runs):
                    loss, hess = run.result["train_loss"], run.result["train_hess"]
                    ax.plot(loss, hess, color=s.color, ls=s.ls, lw=1.0, alpha=0.85,
                            label=s.label if i == 0 else None)
                    ax.plot(loss[-1:], hess[-1:], marker="x" if run.diverged_at else "o",
                            color=s.color, ms=6, ls="none")
                    ax.plot(loss[:1], hess[:1], marker="s", color="k", ms=5, ls="none",
                            label="start" if i == 0 and s.algo == "gd" else None)
            ax.set_xscale("log")
            ax.set_yscale("log")
            plotting.log_ticks(ax, "x")
            plotting.log_ticks(ax, "y")
            ax.set_xlabel("train loss")
        axes[0].set_ylabel("train Hessian trace")
        plotting.legend_below(sub, axes, loc="outside upper center", ncol=3)
        sub.supxlabel(f"({letter}) {MODELS[model]}", fontsize=12)
    fig.suptitle(title)
    return fig


def figure_tag(args, seeds: set, figure: str = "5") -> str:
    """What differs from the published figure (settings, seed, drawing options), as a file-name
    suffix ("": the figures of assets/)."""
    gd_lr, sam_lr = lr_of("svm", "gd", args), lr_of("svm", "sam", args)
    sam_differs = figure != "2" and sam_lr != gd_lr  # Figure 2 draws no SAM
    return ((f"-it{args.max_iter}" if args.max_iter != PAPER_ITERS else "")
            + (f"-D{args.n_params}" if args.n_params != PAPER_D else "")
            + (f"-svmgdlr{gd_lr!r}" if gd_lr != default_lr("svm", "gd") else "")
            + (f"-svmsamlr{sam_lr!r}" if sam_differs else "")
            + (f"-{runlib.seed_tag(sorted(seeds))}" if seeds != {PAPER_SEED} else "")
            + ("-grid" if args.layout == "grid" else "")
            + (f"-band{args.band}" if args.band != "minmax" and len(seeds) > 1 else ""))


def lr_text(args, figure: str) -> str:
    """The learning rates of the curves drawn, for the title."""
    svm = {a: lr_of("svm", a, args) for a in ("gd", "sam", "zo")}
    first = (f"GD {svm['gd']:g}" if figure == "2" else f"GD/SAM {svm['gd']:g}"
             if svm["sam"] == svm["gd"] else f"GD {svm['gd']:g}, SAM {svm['sam']:g}")
    return f"lr SVM: {first}, ZO {svm['zo']:g}; logistic: {default_lr('logreg', 'gd'):g}"


def draw(runs, figure: str, args, skipped: runlib.Skipped) -> Path | None:
    chosen = choose(runs, figure, args, skipped)
    chosen = {k: cs for k, cs in chosen.items() if any(c.seeds for c in cs)}
    if not chosen:
        return None
    if figure != "trace-loss":
        missing = [f"{m} {c.series.label} on {name}" for (m, name), cs in chosen.items()
                   for c in cs if not c.seeds]
        if missing:
            note(f"Figure {figure}: no results for {', '.join(missing)} (run fig2.sh"
                 f"{' and fig5.sh' if figure == '5' else ''} with the same settings)")
    seeds = {s for cs in chosen.values() for c in cs for s in c.seeds}
    setting = (f"D = {args.n_params}, {args.max_iter} iterations, {lr_text(args, figure)}, "
               f"{seed_line(chosen)}")
    if figure == "trace-loss":
        fig = trace_loss(chosen, "Train Hessian trace against train loss, one line per run "
                         f"(start ■, end ●)\n{setting}")
    else:
        what = "GD vs ZO" if figure == "2" else "SAM, and ZO with the text's smaller λ"
        title = (f"Figure {figure} — over-parameterised convex classification: {what}\n"
                 f"{setting}")
        fig = (paper_layout if args.layout == "paper" else grid_layout)(chosen, title, args.band)
    tag = figure_tag(args, seeds, figure)
    out_dir = args.out_dir or (plotting.ASSETS if not tag else SMOKE_DIR)
    check_out_dir(out_dir, "--out-dir")
    path = plotting.save(fig, out_dir / f"{FILES[figure]}{tag}.png")
    print(f"wrote {cli.rel(path)}")
    if tag and args.out_dir is None:
        note(f"{cli.rel(path)}: not the published figure (differs in {tag.lstrip('-')}), so the "
             "figures in assets/ are left as they are")
    return path


def note(text: str) -> None:
    """What a plot left out or where it drew: for the reader, never part of a table."""
    print(text, file=sys.stderr)


# --- the README tables -------------------------------------------------------------------------

def mean_at(curve: Curve, key: str, index: int) -> float:
    return float(np.mean([r.result[key][index] for r in curve.group.runs]))


def fmt(x: float) -> str:
    return f"{x:.0f}" if abs(x) >= 1000 else f"{x:.4g}"


def table(runs, args, skipped: runlib.Skipped) -> str:
    """The results table (final values of Figures 2 and 5), what the trace-vs-loss view shows,
    and the claims of the README text, all computed from the JSON."""
    chosen = choose(runs, "5", args, skipped)
    rows = ["| model | data | run | train loss | test acc | train Hessian trace |",
            "|---|---|---|---|---|---|"]
    at_loss = ["| model | data | ZO's final train loss | GD's trace at that loss (iteration) "
               "| ZO's final trace | ratio |", "|---|---|---|---|---|---|"]
    ratios: dict[str, list[float]] = {"zo": [], "small": []}
    gaps: dict[str, list[float]] = {"zo": [], "small": []}
    seeds = set()
    for (model, name), curves in chosen.items():
        by = {c.series.label: c for c in curves if c.group}
        for c in curves:
            if c.group is None:
                continue
            seeds |= set(c.group.seeds)
            n = f" ({len(c.group.runs)} seeds)" if len(c.group.runs) > 1 else ""
            rows.append(f"| {SHORT[model]} | {name} | {c.series.label}{n} | "
                        f"{mean_at(c, 'train_loss', -1):.4g} | "
                        f"{100 * mean_at(c, 'test_acc', -1):.2f} % | "
                        f"{fmt(mean_at(c, 'train_hess', 0))} → "
                        f"{fmt(mean_at(c, 'train_hess', -1))} |")
        gd = by.get("GD")
        for kind, s in (("zo", series(model, "5", args)[2]),
                        ("small", series(model, "5", args)[3])):
            zo = by.get(s.label)
            if gd is None or zo is None:
                continue
            ratios[kind].append(mean_at(gd, "train_hess", -1) / mean_at(zo, "train_hess", -1))
            gaps[kind].append(100 * (mean_at(gd, "test_acc", -1) - mean_at(zo, "test_acc", -1)))
            if kind == "zo":
                level = mean_at(zo, "train_loss", -1)
                gd_loss = np.mean([r.result["train_loss"] for r in gd.group.runs], axis=0)
                it = int(np.argmax(gd_loss <= level))
                if gd_loss[it] <= level:
                    gd_hess = mean_at(gd, "train_hess", it)
                    zo_hess = mean_at(zo, "train_hess", -1)
                    at_loss.append(f"| {SHORT[model]} | {name} | {level:.4g} | {fmt(gd_hess)} "
                                   f"({it + 1}) | {fmt(zo_hess)} | {gd_hess / zo_hess:.1f}× |")
    if len(rows) == 2:
        fail("no results with these settings for the table; run svm_logreg/fig2.sh and fig5.sh")
    lines = [f"Seed{'s' if len(seeds) > 1 else ''} {', '.join(map(str, sorted(seeds)))}, "
             f"{args.max_iter} iterations, D = {args.n_params}; final values (the trace from its "
             "initial value):", "", *rows, ""]
    if len(at_loss) > 2:
        lines += ["At the same train loss, ZO's final one, GD's trace (the first iteration "
                  "GD's loss reached that level) against ZO's:", "", *at_loss, ""]
    for kind, what in (("zo", "at the launchers' λ"), ("small", "at the text's smaller λ")):
        if ratios[kind]:
            lines.append(f"ZO {what}: final trace {min(ratios[kind]):.1f}–"
                         f"{max(ratios[kind]):.1f}× below GD's, test accuracy "
                         f"{min(gaps[kind]):.2f}–{max(gaps[kind]):.2f} points below GD's.")
    return "\n".join(lines).rstrip()


def build_parser() -> Parser:
    p = Parser(prog="plot.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--res", type=Path, nargs="+",
                   default=[HERE / "res_svm", HERE / "res_logreg"], help="result folders")
    p.add_argument("--figures", nargs="+", choices=FIGURES, default=list(FIGURES),
                   help="figures to draw")
    p.add_argument("--seeds", type=seed, nargs="+", default=[PAPER_SEED],
                   help="seeds to draw, as svm.py's / logreg.py's (the paper's)")
    p.add_argument("--max_iter", type=positive_int, default=PAPER_ITERS,
                   help="draw the runs of this many iterations")
    p.add_argument("--n_params", type=positive_int, default=PAPER_D,
                   help="draw the runs of this feature dimension D")
    p.add_argument("--svm-gd-lr", type=positive_float,
                   help=f"draw the SVM's GD and SAM runs of this lr (default: the published "
                        f"figure's {default_lr('svm', 'gd'):g}; the authors' train_svm.sh: "
                        f"{LAUNCHER_LR['svm']:g})")
    p.add_argument("--svm-sam-lr", type=positive_float,
                   help="draw the SVM's SAM runs of this lr (default: the SVM's GD lr)")
    p.add_argument("--layout", choices=["paper", "grid"], default="paper",
                   help="paper: panels (a) SVMs, (b) logistic regression, log iterations and "
                        "log trace; grid: one 3 × 4 grid on linear iterations")
    p.add_argument("--out-dir", type=Path,
                   help="where PNGs are written (default: assets/ for the paper's settings and "
                        "seed, else svm_logreg/res_figures/)")
    p.add_argument("--band", choices=["minmax", "std"], default="minmax",
                   help="band over seeds: min–max or mean ± std")
    readme.add_flags(p, TABLE, COMPARE, "the results tables", "svm_logreg/published.py")
    return p


def curve_name(model: str, data_name: str, algo: str) -> str:
    """The name of a Figure 2 curve in published.py: "SVM a5a GD", "logreg w5a ZO"."""
    return f"{SHORT[model]} {data_name.removesuffix('-resplit')} {algo.upper()}"


def compare(runs, args, skipped: runlib.Skipped) -> list[keypoints.Row]:
    """The published Figure 2's key points, measured on the curves Figure 2 draws (the mean over
    seeds where a curve has several)."""
    series_, settings = {}, {}
    for (model, name), curves in choose(runs, "2", args, skipped).items():
        for c in curves:
            if c.group is None:
                continue
            curve = curve_name(model, name, c.series.algo)
            n = len(c.group.runs[0].result["train_loss"])
            for metric in ("train_loss", "train_hess", "test_acc"):
                values = np.mean([r.result[metric] for r in c.group.runs], axis=0)
                series_[(curve, metric)] = (np.arange(1, n + 1), values)
            lam = "" if c.series.lam is None else f", λ {c.series.lam:g}"
            settings[curve] = (f"{name}, {runlib.seed_text(c.group.seeds)}, "
                               f"lr {c.series.lr:g}{lam}")
    return keypoints.compare(published.KEY_POINTS, series_, settings)


def main(argv: list[str] | None = None) -> list[Path]:
    p = build_parser()
    args = p.parse_args(argv)
    readme.check_flags(p, args)
    if args.out_dir is not None and not (args.table or args.compare_published):
        check_out_dir(args.out_dir, "--out-dir")  # before any work; the defaults exist
    runs = load([r for r in args.res if r.is_dir()])
    if not runs:
        fail(f"no results in {' '.join(map(cli.rel, args.res))}; run "
             "`bash svm_logreg/fig2.sh` (and fig5.sh) first")
    skipped = runlib.Skipped()
    if args.table:
        text = table(runs, args, skipped)
        if skipped:
            note(skipped.line())
        readme.emit(text, readme.marker(args, TABLE, COMPARE), args.readme)
        return []
    if args.compare_published:
        rows = compare(runs, args, skipped)
        if skipped:
            note(skipped.line())
        text = keypoints.summary(rows) if args.summary else keypoints.table(rows)
        readme.emit(text, readme.marker(args, TABLE, COMPARE), args.readme)
        return []
    plotting.style()
    written = [path for figure in args.figures if (path := draw(runs, figure, args, skipped))]
    if skipped:
        note(skipped.line())
    if not written:
        fail(f"no results with {args.max_iter} iterations, D = {args.n_params}"
             f"{f', seeds {args.seeds}' if args.seeds else ''} in "
             f"{' '.join(map(cli.rel, args.res))}; run svm_logreg/fig2.sh with those settings")
    return written


if __name__ == "__main__":
    cli.run(main)
