"""Key points of a curve — its start, its end, its value at an iteration, a peak, the first
iteration past a level — read off a published figure and measured on our runs, side by side.

A :class:`KeyPoint` holds what the published figure shows (``published``) and its plotting
accuracy: the interval [``lo``, ``hi``] of values the drawn pixels can stand for (how each
figure was read is documented where its key points are defined, e.g. test_func/published.py).
:func:`measure` computes the same quantity on one of our series, :func:`compare` pairs the two,
and :func:`table` / :func:`summary` write them as markdown.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

# kind → what it measures (``arg``: an iteration for "at", a level for first_below / above)
KINDS = {
    "start": "value at the first iteration",
    "end": "value at the last iteration",
    "at": "value at iteration {arg:g}",
    "max": "largest value",
    "min": "smallest value",
    "argmax": "iteration of the largest value",
    "argmin": "iteration of the smallest value",
    "first_below": "first iteration below {arg:g}",
    "first_above": "first iteration above {arg:g}",
    "flat": "largest relative change from the start",
    "last_iteration": "last iteration logged",
}
ITERATION_KINDS = ("argmax", "argmin", "first_below", "first_above", "last_iteration")


@dataclass(frozen=True)
class KeyPoint:
    """One key point of one published curve."""

    figure: str           # the paper's figure ("1", "4", "2", "3")
    curve: str            # the curve's name (its legend name, with panel where needed)
    metric: str           # the series it is measured on, by our result key
    kind: str             # one of KINDS
    arg: float | None = None
    window: tuple[float, float] | None = None  # iterations [a, b] for max/min/argmax/argmin
    published: float = float("nan")
    lo: float = float("nan")
    hi: float = float("nan")

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown key-point kind {self.kind!r}; expected one of "
                             f"{', '.join(KINDS)}")
        if (self.kind in ("at", "first_below", "first_above")) != (self.arg is not None):
            raise ValueError(f"{self.kind}: arg is needed by at / first_below / first_above "
                             "and only by them")
        if not self.lo <= self.published <= self.hi:
            raise ValueError(f"{self.curve} {self.metric} {self.kind}: published "
                             f"{self.published} is outside its accuracy [{self.lo}, {self.hi}]")

    def describe(self) -> str:
        text = KINDS[self.kind].format(arg=self.arg if self.arg is not None else 0)
        if self.window:
            text += f" in iterations {self.window[0]:g}–{self.window[1]:g}"
        return f"{self.metric}: {text}"

    def within(self, value: float | None) -> bool:
        return value is not None and bool(self.lo <= value <= self.hi)


def measure(kp: KeyPoint, iterations: Sequence[float], values: Sequence[float]) -> float | None:
    """``kp``'s quantity on the series ``values`` logged at the 1-based ``iterations``
    (increasing; every iteration or a subset); None where the series never shows it (a level
    never crossed, a window with no logged iteration)."""
    its = np.asarray(iterations, dtype=float)
    v = np.asarray(values, dtype=float)
    if its.shape != v.shape or its.ndim != 1 or not len(its):
        raise ValueError("iterations and values must be 1-D of one non-zero length")
    if kp.kind == "start":
        return float(v[0])
    if kp.kind == "end":
        return float(v[-1])
    if kp.kind == "last_iteration":
        return float(its[-1])
    if kp.kind == "at":
        i = int(np.searchsorted(its, kp.arg, side="right")) - 1  # last logged ≤ arg
        return float(v[i]) if i >= 0 else None
    if kp.kind == "flat":
        return float(np.max(np.abs(v - v[0])) / abs(v[0]))
    keep = np.ones(len(its), dtype=bool)
    if kp.window is not None:
        keep = (its >= kp.window[0]) & (its <= kp.window[1])
    if not keep.any():
        return None
    w_its, w = its[keep], v[keep]
    if kp.kind == "max":
        return float(w.max())
    if kp.kind == "min":
        return float(w.min())
    if kp.kind == "argmax":
        return float(w_its[int(np.argmax(w))])
    if kp.kind == "argmin":
        return float(w_its[int(np.argmin(w))])
    hit = w < kp.arg if kp.kind == "first_below" else w > kp.arg
    return float(w_its[int(np.argmax(hit))]) if hit.any() else None


@dataclass(frozen=True)
class Row:
    """A key point next to ours: ``ours`` measured on the run(s) of ``setting``."""

    kp: KeyPoint
    ours: float | None
    setting: str

    @property
    def ok(self) -> bool:
        return self.kp.within(self.ours)


def compare(points: Sequence[KeyPoint], series: dict[tuple[str, str], tuple],
            settings: dict[str, str]) -> list[Row]:
    """A :class:`Row` per key point: ``series[(curve, metric)]`` = (iterations, values) of our
    curve, ``settings[curve]`` = the setting that produced it; a curve without a series is
    reported as not run (ours None, setting "no run")."""
    rows = []
    for kp in points:
        got = series.get((kp.curve, kp.metric))
        ours = None if got is None else measure(kp, *got)
        rows.append(Row(kp, ours, settings.get(kp.curve, "no run")))
    return rows


def fmt(value: float | None, kind: str = "") -> str:
    """A number as read on a plot: iterations as integers, others to 4 significant digits."""
    if value is None:
        return "—"
    if kind in ITERATION_KINDS:
        return f"{value:.0f}" if value < 1e4 else f"{value:.3g}"
    if kind == "flat":
        return f"{100 * value:.2g} %"
    if value == 0:
        return "0"
    return f"{value:.4g}" if 1e-3 <= abs(value) < 1e5 else f"{value:.3g}"


def table(rows: Sequence[Row]) -> str:
    """Markdown: one line per key point, published (with its accuracy) next to ours."""
    out = ["| figure | curve | key point | published (plotting accuracy) | ours | within | "
           "our setting |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        k = r.kp
        out.append(f"| {k.figure} | {k.curve} | {k.describe()} | {fmt(k.published, k.kind)} "
                   f"({fmt(k.lo, k.kind)} to {fmt(k.hi, k.kind)}) | {fmt(r.ours, k.kind)} | "
                   f"{'—' if r.ours is None else 'yes' if r.ok else '**no**'} | {r.setting} |")
    return "\n".join(out)


def summary(rows: Sequence[Row]) -> str:
    """Markdown: one line per curve, how many of its key points lie within the published
    curve's plotting accuracy, and the ones that do not."""
    curves: dict[tuple[str, str], list[Row]] = {}
    for r in rows:
        curves.setdefault((r.kp.figure, r.kp.curve), []).append(r)
    out = ["| figure | curve | key points within plotting accuracy | off: ours (published) |",
           "|---|---|---|---|"]
    for (figure, curve), rs in curves.items():
        if all(r.ours is None for r in rs):
            out.append(f"| {figure} | {curve} | — / {len(rs)} | {rs[0].setting} |")
            continue
        off = "; ".join(f"{r.kp.describe()} {fmt(r.ours, r.kp.kind)} "
                        f"({fmt(r.kp.published, r.kp.kind)})" for r in rs if not r.ok)
        out.append(f"| {figure} | {curve} | {sum(r.ok for r in rs)} / {len(rs)} | "
                   f"{off or '—'} |")
    return "\n".join(out)
