"""Read the key points of the paper's published figures off their PNGs (how the constants of
test_func/published.py, svm_logreg/published.py and roberta/published.py were obtained).

    python -m flatzero.read_published --figures DIR           # every figure, as a table
    python -m flatzero.read_published --figures DIR --python  # as published.py lines

DIR holds the authors' PNGs (authors-test-func.png, authors-svm-logreg.png, authors-roberta.png:
the figures of arXiv 2506.05454 as published; they are not part of this repo). Needs numpy and
PIL (matplotlib's dependency).

Method, per panel:
1. Axes frames are found as pairs of long black horizontal lines joined by vertical ones.
2. Tick marks are the short black runs just outside the frame (bottom: x, left: y); the major
   ones are the longest. Their values are read by eye from the tick labels and given below
   (AXES); a least-squares fit of pixel → value (or → log10 value) calibrates the axis. The fit's
   worst residual is printed (≤ 0.4 px for every panel).
3. A curve's pixels are those within 40 (per RGB channel) of its colour, inside the frame and
   outside the legend box; column by column they give the line's extent (top and bottom row).
4. Key points, with a plotting accuracy that is the set of values the drawn pixels can stand for,
   widened by 2 px on each side (calibration and anti-aliasing):
   - a value at an iteration (start, end, at N): the centre of the line's extent in the column of
     that iteration; accuracy: the extent ± 2 px (for a noisy band: the band's extent there).
     Across a gap (a dash, or a stretch hidden under a curve drawn later) the centre is
     interpolated between the nearest columns on either side, within 25 px, and the extent is
     the union of theirs.
   - the largest / smallest value in a window of iterations: the band's outer edge moved inwards
     by half the line width (the centre of the extreme point); accuracy: edge − 2 px to edge +
     line width + 2 px.
   - the iteration of a peak / dip: the column where the line's centre is extreme; accuracy: the
     columns where the centre lies within half a line width + 2 px of the extreme, ± 2 px.
   - the first iteration below / above a level: the column where the line's centre crosses it;
     accuracy: from the column where its near edge crosses to where its far edge does, ± 2 px.
   - flat: the largest relative deviation of the centre from its start value; accuracy: up to
     half a line width + 2 px (relative to the start), the most a flat line can show.
   - the last iteration: the line's last column, less half a line width (its cap); a dashed line
     may end in a gap of its pattern, so its accuracy reaches 1.65 line widths further.
   Line widths are the heights of the legend's sample lines (test functions and SVM: 10 px,
   RoBERTa: 9 px). Where other curves touch the line, its extent continues through them (it may
   lie underneath), so the accuracy widens there.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from flatzero import pngaxes as P

BLUE_T, ORANGE_T, GREEN_T = (86, 137, 247), (241, 155, 56), (102, 192, 76)  # test functions
BLUE, RED = (0, 0, 245), (234, 51, 35)  # SVM / logistic regression and RoBERTa: GD, ZO

# --- the figures: panels (frame index in reading order, y tick values), curves, key points ---

DECADES = tuple(10.0**k for k in range(6))


@dataclass(frozen=True)
class Panel:
    frame: int               # index among the frames found (top to bottom, left to right)
    x_values: tuple          # values of the major x ticks, left to right
    y_values: tuple          # values of the y ticks used, top to bottom
    y_log: bool
    y_minor: bool = False    # y_values include the minor ticks (log axes with few majors)
    legend: bool = False     # the panel holds a legend box (masked out)


@dataclass(frozen=True)
class Spec:
    figure: str              # the paper's figure number(s)
    curve: str               # the curve's legend name
    panel: str               # key of the panel in the figure's PANELS
    metric: str              # our series' name
    colour: tuple
    kind: str
    arg: float | None = None
    window: tuple | None = None


FIGURES = {
    "test-func": {
        "file": "authors-test-func.png",
        "lw": 10, "last": 100_000,
        "panels": {
            "a-loss": Panel(0, DECADES, (1e-9, 1e-20), True),
            "b-loss": Panel(1, DECADES, (1e-5, 1e-13), True),
            "a-trace": Panel(2, DECADES, (150, 100, 50), False, legend=True),
            "b-trace": Panel(3, DECADES, (150, 100, 50), False, legend=True),
        },
        "specs": [
            Spec("1", "GD", "a-loss", "loss", BLUE_T, "start"),
            Spec("1", "GD", "a-loss", "loss", BLUE_T, "first_below", 1e-20),
            Spec("1", "GD", "a-trace", "trace", BLUE_T, "start"),
            Spec("1", "GD", "a-trace", "trace", BLUE_T, "flat"),
            Spec("1", "GD", "a-trace", "trace", BLUE_T, "end"),
            Spec("1", "ZO (λ → 0)", "a-loss", "loss", ORANGE_T, "first_below", 1e-20),
            Spec("1", "ZO (λ → 0)", "a-trace", "trace", ORANGE_T, "flat"),
            Spec("1", "ZO (λ → 0)", "a-trace", "trace", ORANGE_T, "end"),
            Spec("1", "ZO", "a-loss", "loss", GREEN_T, "first_below", 1e-3),
            Spec("1", "ZO", "a-loss", "loss", GREEN_T, "max", window=(1e4, 1e5)),
            Spec("1", "ZO", "a-trace", "trace", GREEN_T, "at", 1e4),
            Spec("1", "ZO", "a-trace", "trace", GREEN_T, "end"),
            Spec("4", "ZO (λ = 0.01)", "b-loss", "loss", BLUE_T, "min", window=(1e4, 1e5)),
            Spec("4", "ZO (λ = 0.01)", "b-trace", "trace", BLUE_T, "at", 1e4),
            Spec("4", "ZO (λ = 0.01)", "b-trace", "trace", BLUE_T, "end"),
            Spec("4", "ZO (λ = 0.05)", "b-trace", "trace", ORANGE_T, "at", 1e4),
            Spec("4", "ZO (λ = 0.05)", "b-trace", "trace", ORANGE_T, "at", 3e4),
            Spec("4", "ZO (λ = 0.05)", "b-trace", "trace", ORANGE_T, "end"),
            Spec("4", "ZO (λ = 0.1)", "b-loss", "loss", GREEN_T, "max", window=(1e4, 1e5)),
            Spec("4", "ZO (λ = 0.1)", "b-trace", "trace", GREEN_T, "at", 1e4),
            Spec("4", "ZO (λ = 0.1)", "b-trace", "trace", GREEN_T, "end"),
        ],
    },
}


def _svm_specs() -> list[Spec]:
    s = []

    def add(curve, metric, colour, kind, arg=None, window=None):
        model, data, _ = curve.split()
        panel = f"{model} {data} {metric}"
        s.append(Spec("2", curve, panel, metric, colour, kind, arg, window))

    for model in ("SVM", "logreg"):
        for data in ("a5a", "w5a"):
            gd, zo = f"{model} {data} GD", f"{model} {data} ZO"
            add(gd, "train_loss", BLUE, "start")
            add(gd, "train_loss", BLUE, "at", 100)
            add(gd, "train_loss", BLUE, "end")
            add(gd, "train_hess", BLUE, "start")
            if (model, data) == ("SVM", "a5a"):
                add(gd, "train_hess", BLUE, "argmin", window=(1, 100))
            add(gd, "train_hess", BLUE, "argmax")
            add(gd, "train_hess", BLUE, "max")
            add(gd, "train_hess", BLUE, "end")
            if data == "a5a":
                add(gd, "test_acc", BLUE, "at", 100)
            else:
                add(gd, "test_acc", BLUE, "at", 200)
                add(gd, "test_acc", BLUE, "first_above", 0.9)
            add(gd, "test_acc", BLUE, "end")
            if model == "logreg" and data == "a5a":
                add(zo, "train_loss", RED, "max", window=(1, 100))
            add(zo, "train_loss", RED, "at", 100)
            add(zo, "train_loss", RED, "at", 1000)
            add(zo, "train_loss", RED, "end")
            add(zo, "train_hess", RED, "at", 100)
            add(zo, "train_hess", RED, "at", 1000)
            add(zo, "train_hess", RED, "end")
            add(zo, "test_acc", RED, "at", 1000)
            if data == "w5a":
                add(zo, "test_acc", RED, "first_above", 0.9)
            add(zo, "test_acc", RED, "end")
    return s


_IT = (10.0, 1000.0)  # the labelled x ticks of Figures 2 (10¹, 10³)
FIGURES["svm-logreg"] = {
    "file": "authors-svm-logreg.png",
    "lw": 10, "last": 10_000,
    "panels": {
        "SVM a5a train_loss": Panel(0, _IT, (50, 25, 0), False),
        "SVM w5a train_loss": Panel(1, _IT, (20, 0), False),
        "logreg a5a train_loss": Panel(2, _IT, (4.0, 2.0), False),
        "logreg w5a train_loss": Panel(3, _IT, (2.0, 0.0), False),
        # trace axes are log; their labels are ×10³ (SVM) and ×10² (logistic regression)
        "SVM a5a train_hess": Panel(4, _IT, (12e3, 9e3, 8e3, 7e3, 6e3, 5e3), True, True),
        "SVM w5a train_hess": Panel(5, _IT, tuple(k * 1e3 for k in (10, 9, 8, 7, 6, 5, 4, 3,
                                                                    2, 1)), True, True),
        "logreg a5a train_hess": Panel(6, _IT, tuple(k * 100.0 for k in (10, 9, 8, 7, 6, 5, 4,
                                                                         3, 2)), True, True),
        "logreg w5a train_hess": Panel(7, _IT, tuple(k * 100.0 for k in (
            10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3)), True, True),
        "SVM a5a test_acc": Panel(8, _IT, (0.8, 0.6), False),
        "SVM w5a test_acc": Panel(9, _IT, (1.0, 0.8, 0.6), False),
        "logreg a5a test_acc": Panel(10, _IT, (0.8, 0.6), False),
        "logreg w5a test_acc": Panel(11, _IT, (1.0, 0.8, 0.6), False),
    },
    "specs": _svm_specs(),
}


def _roberta_specs() -> list[Spec]:
    s = []
    for curve in ("SST-2 K=32", "SST-2 K=256", "SST-5 K=32", "TREC K=32"):
        for algo, colour in (("GD", BLUE), ("ZO", RED)):
            name = f"{curve} {algo}"
            for metric in ("train_loss", "trace", "test_acc"):
                panel = f"{curve} {metric}"
                if metric == "train_loss":
                    s.append(Spec("3", name, panel, metric, colour, "start"))
                if metric == "test_acc":
                    s.append(Spec("3", name, panel, metric, colour, "at", 1000))
                s.append(Spec("3", name, panel, metric, colour, "end"))
                if metric == "train_loss":
                    s.append(Spec("3", name, panel, metric, colour, "last_iteration"))
    return s


_STEPS = (10.0, 1e3, 1e5)  # the labelled x ticks of Figure 3
FIGURES["roberta"] = {
    "file": "authors-roberta.png",
    "lw": 9, "last": None,  # per curve: the run's last step, read as a key point
    "patterned": (BLUE,),  # GD is dashed
    "panels": {
        "SST-2 K=32 train_loss": Panel(0, _STEPS, (1e-2, 1e-4), True),
        "SST-2 K=256 train_loss": Panel(1, _STEPS, (1e-1, 1e-3), True),
        "SST-5 K=32 train_loss": Panel(2, _STEPS, (1.0, 1e-3), True),
        "TREC K=32 train_loss": Panel(3, _STEPS, (1.0, 1e-3), True),
        "SST-2 K=32 trace": Panel(4, _STEPS, (1e3, 1e-1), True),
        "SST-2 K=256 trace": Panel(5, _STEPS, (1e4, 1e1), True),
        "SST-5 K=32 trace": Panel(6, _STEPS, (1e5, 1e2), True),
        "TREC K=32 trace": Panel(7, _STEPS, (1e4, 1e1), True),
        "SST-2 K=32 test_acc": Panel(8, _STEPS, (0.90, 0.85), False),
        "SST-2 K=256 test_acc": Panel(9, _STEPS, (0.90, 0.85), False),
        "SST-5 K=32 test_acc": Panel(10, _STEPS, (0.5, 0.4), False),
        "TREC K=32 test_acc": Panel(11, _STEPS, (0.9, 0.5), False),
    },
    "specs": _roberta_specs(),
}


# --- reading -----------------------------------------------------------------------------------

class Hidden(Exception):
    """The curve cannot be seen where the key point is (under other curves)."""


@dataclass
class Reading:
    spec: Spec
    value: float
    lo: float
    hi: float


class Figure:
    def __init__(self, path: Path, fig: dict) -> None:
        self.im = P.load(path)
        self.fig = fig
        self.frames = P.frames(self.im)
        self.hw = fig["lw"] / 2
        self.axes: dict[str, tuple[P.Frame, P.Axis, P.Axis, tuple]] = {}
        for name, panel in fig["panels"].items():
            f = self.frames[panel.frame]
            xt = P.ticks(self.im, f, "bottom")
            major = max(length for _, length in xt)
            xs = tuple(p for p, length in xt if length == major)
            yt = P.ticks(self.im, f, "left")
            ymajor = max(length for _, length in yt)
            ys = tuple(p for p, length in yt if panel.y_minor or length == ymajor)
            if len(xs) != len(panel.x_values) or len(ys) != len(panel.y_values):
                raise SystemExit(f"{path.name} {name}: found x ticks {xs}, y ticks {ys}; the "
                                 "spec gives other counts")
            x = P.Axis(xs, panel.x_values, True)
            y = P.Axis(ys, panel.y_values, panel.y_log)
            exclude = tuple(P.legend_boxes(self.im, f)) if panel.legend else ()
            self.axes[name] = (f, x, y, exclude)

    def residuals(self) -> dict[str, float]:
        return {n: max(x.residual_px(), y.residual_px()) for n, (_, x, y, _) in self.axes.items()}

    def read(self, spec: Spec) -> Reading:
        f, X, Y, exclude = self.axes[spec.panel]
        t = P.trace(self.im, f, spec.colour, 40, exclude)
        have = ~np.isnan(t.mid)
        cols, top, mid, bot = t.cols[have], t.high[have], t.mid[have], t.low[have]
        # the extent, continued under adjacent pixels of other curves (for the accuracy)
        ctop, cbot = t.top[have], t.bottom[have]
        hw = self.hw

        def at_col(c: float) -> Reading:
            """The line's centre and extent at column ``c``; across a gap (a dash, or a stretch
            hidden under a later curve) the centre is interpolated between the nearest columns
            on either side (within 25 px) and the extent is the union of theirs."""
            i = int(np.argmin(np.abs(cols - c)))
            if abs(cols[i] - c) <= 3:
                return extent(i, i)
            left, right = cols[cols < c], cols[cols > c]
            li = int(np.flatnonzero(cols < c)[-1]) if len(left) else None
            ri = int(np.flatnonzero(cols > c)[0]) if len(right) else None
            if li is not None and c - cols[li] > 25:
                li = None
            if ri is not None and cols[ri] - c > 25:
                ri = None
            if li is None and ri is None:
                raise Hidden(f"no pixels of the curve within 25 px of column {c:.0f}")
            if li is None or ri is None:
                j = li if ri is None else ri
                return extent(j, j)
            w = (c - cols[li]) / (cols[ri] - cols[li])
            centre = (1 - w) * mid[li] + w * mid[ri]
            r = extent(li, ri)
            return Reading(spec, float(Y.value(centre)), r.lo, r.hi)

        def extent(i: int, j: int) -> Reading:
            v = float(Y.value((mid[i] + mid[j]) / 2))
            a = float(Y.value(max(cbot[i], cbot[j]) + 2))
            b = float(Y.value(min(ctop[i], ctop[j]) - 2))
            return Reading(spec, v, min(a, b), max(a, b))

        last = self.fig["last"] or float(X.value(cols[-1] - hw))
        if spec.kind == "start":
            return at_col(X.pixel(1.0))
        if spec.kind == "end":
            return at_col(X.pixel(last))
        if spec.kind == "at":
            return at_col(X.pixel(spec.arg))
        if spec.kind == "last_iteration":
            # the line ends half a line width (its cap) beyond its last point; a dashed or
            # dotted line may end in a gap of its pattern (matplotlib: 1.6 / 1.65 line widths)
            c = cols[-1] - hw
            gap = 1.65 * self.fig["lw"] if spec.colour in self.fig.get("patterned", ()) else 0
            return Reading(spec, float(X.value(c)), float(X.value(c - hw - 2)),
                           float(X.value(c + gap + 2)))
        lo_it, hi_it = spec.window or (1.0, last)
        inside = (cols >= X.pixel(lo_it) - 1) & (cols <= X.pixel(hi_it) + 1)
        up = Y.value(0.0) > Y.value(1.0)  # values grow upwards (always, here)
        assert up
        if spec.kind in ("max", "min"):
            edge = top[inside].min() if spec.kind == "max" else bot[inside].max()
            sign = 1 if spec.kind == "max" else -1  # inwards: down for a max, up for a min
            centre = edge + sign * hw
            a, b = float(Y.value(edge - sign * 2)), float(Y.value(edge + sign * (2 * hw + 2)))
            return Reading(spec, float(Y.value(centre)), min(a, b), max(a, b))
        if spec.kind in ("argmax", "argmin"):
            m = mid[inside]
            c = cols[inside]
            j = int(np.argmin(m)) if spec.kind == "argmax" else int(np.argmax(m))
            near = np.abs(m - m[j]) <= hw + 2
            return Reading(spec, float(X.value(c[j])), float(X.value(c[near].min() - 2)),
                           float(X.value(c[near].max() + 2)))
        if spec.kind in ("first_below", "first_above"):
            row = Y.pixel(spec.arg)
            c = cols[inside]
            if spec.kind == "first_below":  # rows grow downwards
                centre, near, far = mid[inside] > row, bot[inside] > row, top[inside] > row
            else:
                centre, near, far = mid[inside] < row, top[inside] < row, bot[inside] < row
            j, jn = int(np.argmax(centre)), int(np.argmax(near))
            jf = int(np.argmax(far)) if far.any() else len(c) - 1
            return Reading(spec, float(X.value(c[j])), float(X.value(c[jn] - 2)),
                           float(X.value(c[jf] + 2)))
        if spec.kind == "flat":
            start = at_col(X.pixel(1.0)).value
            vals = Y.value(mid[inside])
            dev = float(np.max(np.abs(vals - start)) / abs(start))
            limit = abs(float(Y.value(Y.pixel(start) - hw - 2)) - start) / abs(start)
            return Reading(spec, dev, 0.0, max(dev, limit))
        raise ValueError(spec.kind)


def _g(v: float) -> str:
    if v == 0:
        return "0"
    digits = 4 if abs(v) < 1e4 else 5
    return f"{v:.{digits}g}" if 1e-3 <= abs(v) < 1e6 else f"{v:.3g}"


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--figures", type=Path, required=True, help="folder with the authors' PNGs")
    p.add_argument("--only", choices=list(FIGURES), nargs="+", default=list(FIGURES),
                   help="which figures to read")
    p.add_argument("--python", action="store_true",
                   help="print the readings as the KeyPoint lines of the published.py files")
    args = p.parse_args(argv)
    for key in args.only:
        fig = FIGURES[key]
        path = args.figures / fig["file"]
        if not path.is_file():
            raise SystemExit(f"error: {path} not found")
        figure = Figure(path, fig)
        worst = max(figure.residuals().values())
        print(f"# {fig['file']}: {len(figure.frames)} panels, worst tick-fit residual "
              f"{worst:.2f} px")
        for spec in fig["specs"]:
            try:
                r = figure.read(spec)
            except Hidden as exc:
                print(f"# {spec.curve} {spec.metric} {spec.kind}: not read, {exc}")
                continue
            arg = "" if spec.arg is None else f", {spec.arg:g}"
            win = "" if spec.window is None else f", window=({spec.window[0]:g}, " \
                f"{spec.window[1]:g})"
            if args.python:
                head = f'    K("{spec.figure}", "{spec.curve}", "{spec.metric}", "{spec.kind}"' \
                    f"{arg}{win},"
                tail = f"published={_g(r.value)}, lo={_g(r.lo)}, hi={_g(r.hi)}),"
                sep = " " if len(head) + len(tail) < 100 else "\n      "
                print(head + sep + tail)
            else:
                what = spec.kind + (f" {spec.arg:g}" if spec.arg is not None else "") + (
                    f" in {spec.window}" if spec.window else "")
                print(f"{spec.curve:24s} {spec.metric:10s} {what:28s} {_g(r.value):>10s} "
                      f"[{_g(r.lo)}, {_g(r.hi)}]")


if __name__ == "__main__":
    main()
