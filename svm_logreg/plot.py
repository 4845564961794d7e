"""Figures 2 and 5 from the JSON written by svm.py / logreg.py (never reruns an experiment).

    python svm_logreg/plot.py          # res_svm/, res_logreg/ → assets/svm-logreg{,-extra}.png

Grid: one column per model and data set, rows train loss, train Hessian trace and test accuracy
vs iteration. Figure 2: GD (dashed) vs ZO (solid) at the launchers' settings. Figure 5: the
complementary runs, SAM and ZO at the smaller λ the paper's text reports. Several seeds: mean
line and a band.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np

from flatzero import plotting
from flatzero.cli import Parser, fail
from flatzero.results import read_json
from svm_logreg.train import DEFAULTS, HERE

plt = plotting.plt
# λ of the ZO runs the paper's text reports (Figure 5): SVM 0.005, logistic regression 0.01.
TEXT_LAM = {"svm": 0.005, "logreg": 0.01}
MODELS = {"svm": "SVM (squared hinge)", "logreg": "logistic regression"}
ROWS = (("train_loss", "train loss", "log"), ("train_hess", "train Hessian trace", "linear"),
        ("test_acc", "test accuracy", "linear"))


def series(model: str, figure: int) -> list[tuple[str, str, float | None, str, str]]:
    """(label, algo, λ, colour, line style) of the curves of a figure for one model.

    Labels are shared across models (one legend); each column's title gives its λ values.
    """
    lam = DEFAULTS[model]["lam"]
    gd = ("GD", "gd", None, plotting.COLORS["GD"], "--")
    zo = ("ZO", "zo", lam, plotting.COLORS["ZO"], "-")
    if figure == 2:
        return [gd, zo]
    return [gd, ("SAM (radius λ)", "sam", lam, plotting.COLORS["SAM"], "-."), zo,
            ("ZO, the text's smaller λ", "zo", TEXT_LAM[model], plotting.SWEEP[1], "-")]


def column_title(model: str, name: str, figure: int) -> str:
    lam = f"λ = {DEFAULTS[model]['lam']:g}"
    if figure == 5:
        lam += f", smaller λ = {TEXT_LAM[model]:g}"
    stand_in = " (offline stand-in)" if name.endswith("-resplit") else ""
    return f"{MODELS[model]}, {lam}\n{name}{stand_in}"


def load_runs(folders: list[Path]) -> dict[tuple, list[dict]]:
    """Result files grouped by (model, data, algo, lr, λ): one entry per seed."""
    runs: dict[tuple, list[dict]] = defaultdict(list)
    for folder in folders:
        for path in sorted(folder.glob("*.json")):
            rec = read_json(path)
            c = rec.get("config", {})
            if "train_loss" in rec and "model" in c:
                runs[(c["model"], c["data"], c["algo"], c["lr"], c["lam"])].append(rec)
    return runs


def pick_data(runs: dict[tuple, list[dict]], family: str) -> str | None:
    """The real data set of a family (a5a / w5a) if it has results, else its offline stand-in."""
    present = {key[1] for key in runs}
    for name in (family, f"{family}-resplit"):
        if name in present:
            return name
    return None


def figure(runs: dict[tuple, list[dict]], number: int, band: str, out: Path) -> Path | None:
    columns = [(m, d) for m in MODELS for d in (pick_data(runs, "a5a"), pick_data(runs, "w5a"))
               if d is not None]
    if not columns:
        return None
    fig, axes = plt.subplots(len(ROWS), len(columns), figsize=(3.6 * len(columns), 8.2),
                             squeeze=False, sharex=True, layout="constrained")
    drawn = {}
    for col, (model, name) in enumerate(columns):
        axes[0, col].set_title(column_title(model, name, number), fontsize=9)
        for label, algo, lam, color, ls in series(model, number):
            lr = DEFAULTS[model]["lr"]
            recs = runs.get((model, name, algo, lr, lam), [])
            if not recs:
                print(f"missing: {model} {algo} λ={lam} on {name} (run fig{number}.sh)")
                continue
            its = np.arange(1, len(recs[0]["train_loss"]) + 1)
            for row, (key, ylabel, scale) in enumerate(ROWS):
                ax = axes[row, col]
                plotting.mean_band(ax, its, [r[key] for r in recs], color=color, ls=ls,
                                   label=label, band=band, lw=1.3)
                ax.set_yscale(scale)
                if col == 0:
                    ax.set_ylabel(ylabel)
            drawn[label] = True
        axes[-1, col].set_xlabel("iteration")
    if not drawn:
        plt.close(fig)
        return None
    handles, labels = [], []
    for ax in axes.flat:  # one legend entry per label across the grid
        for h, lab in zip(*ax.get_legend_handles_labels(), strict=True):
            if lab not in labels:
                handles.append(h)
                labels.append(lab)
    fig.legend(handles, labels, loc="outside lower center", ncol=len(labels))
    what = "GD vs ZO" if number == 2 else "SAM and ZO with smaller λ"
    fig.suptitle(f"Figure {number} — over-parameterised convex classification (D = 10000): "
                 f"{what}")
    return plotting.save(fig, out)


def main(argv: list[str] | None = None) -> list[Path]:
    p = Parser(prog="plot.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--res", type=Path, nargs="+",
                   default=[HERE / "res_svm", HERE / "res_logreg"], help="result folders")
    p.add_argument("--out-dir", type=Path, default=plotting.ASSETS, help="where PNGs are written")
    p.add_argument("--band", choices=["minmax", "std"], default="minmax",
                   help="band over seeds: min–max or mean ± std")
    args = p.parse_args(argv)
    runs = load_runs(args.res)
    if not runs:
        fail(f"no results in {' '.join(map(str, args.res))}; run "
             "`bash svm_logreg/fig2.sh` (and fig5.sh) first")
    plotting.style()
    written = [path for path in (
        figure(runs, 2, args.band, args.out_dir / "svm-logreg.png"),
        figure(runs, 5, args.band, args.out_dir / "svm-logreg-extra.png")) if path]
    for path in written:
        print(f"wrote {path}")
    return written


if __name__ == "__main__":
    main()
