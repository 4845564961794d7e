"""One figure style for every experiment: a colour per method, GD dashed / ZO solid, log-x,
and mean ± band over seeds. Plot scripts only write files, so the backend is Agg."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
from matplotlib import ticker

ASSETS = Path(__file__).resolve().parents[1] / "assets"

COLORS = {
    "GD": "#1f77b4",
    "ZO": "#d62728",
    "DD": "#2ca02c",
    "SAM": "#9467bd",
    "theory": "#222222",
}
# A second palette for sweeps (e.g. several λ), ordered from large to small.
SWEEP = ["#d62728", "#ff7f0e", "#8c564b", "#17becf", "#bcbd22"]


def linestyle(method: str) -> str:
    """GD (first-order) runs are dashed, zeroth-order runs solid."""
    return "--" if method.upper().startswith(("GD", "SAM")) else "-"


def style() -> None:
    plt.rcParams.update({
        "figure.dpi": 120,
        "savefig.dpi": 150,
        "axes.grid": True,
        "grid.alpha": 0.3,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "legend.frameon": False,
        "font.size": 10,
    })


def mean_band(
    ax: plt.Axes,
    x: np.ndarray,
    runs: Sequence[np.ndarray],
    *,
    color: str,
    ls: str = "-",
    label: str | None = None,
    band: str = "minmax",
    lw: float = 1.6,
) -> None:
    """Draw the mean over runs (rows) as a line and a shaded min–max or ±std band around it."""
    y = np.vstack([np.asarray(r, dtype=float) for r in runs])
    mean = y.mean(axis=0)
    ax.plot(x, mean, color=color, ls=ls, lw=lw, label=label)
    if len(y) > 1:
        if band == "std":
            lo, hi = mean - y.std(axis=0), mean + y.std(axis=0)
        else:
            lo, hi = y.min(axis=0), y.max(axis=0)
        ax.fill_between(x, lo, hi, color=color, alpha=0.18, lw=0)


def diverged(ax: plt.Axes, x: np.ndarray, y: np.ndarray, *, color: str, ls: str = "-",
             label: str | None = None, lw: float = 1.0) -> None:
    """One run that diverged, drawn up to its last finite value, which a × marks."""
    ax.plot(x, y, color=color, ls=ls, lw=lw, alpha=0.8, label=label)
    if len(x):
        ax.plot(x[-1:], y[-1:], marker="x", color=color, ms=8, mew=2, ls="none")


def log_ticks(ax: plt.Axes, which: str = "y") -> None:
    """Plain-number labels on a log axis, as many as its span allows (call after drawing).

    Within a decade matplotlib labels only minor ticks, in 4 × 10² form; this labels 1, 1.5, 2,
    3, 5, 7 (under a decade), 1, 2, 5 (under two) or the powers of ten.
    """
    axis = ax.yaxis if which == "y" else ax.xaxis
    lo, hi = ax.get_ylim() if which == "y" else ax.get_xlim()
    if not 0 < lo < hi:
        return
    span = np.log10(hi / lo)
    subs = ((1.0, 1.5, 2.0, 3.0, 5.0, 7.0) if span < 1 else (1.0, 2.0, 5.0) if span < 2
            else (1.0,))
    axis.set_major_locator(ticker.LogLocator(base=10, subs=subs))
    axis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:g}"))
    axis.set_minor_formatter(ticker.NullFormatter())


def legend_below(fig: plt.Figure, axes, loc: str = "outside lower center", **kwargs) -> None:
    """One legend outside the figure (below by default) with each label of ``axes`` once."""
    handles, labels = [], []
    for ax in np.ravel(axes):
        for h, lab in zip(*ax.get_legend_handles_labels(), strict=True):
            if lab not in labels:
                handles.append(h)
                labels.append(lab)
    if labels:
        kwargs.setdefault("ncol", min(len(labels), 4))
        fig.legend(handles, labels, loc=loc, **kwargs)


def save(fig: plt.Figure, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, bbox_inches="tight")
    plt.close(fig)
    return path
