"""Pixel geometry of a matplotlib figure saved as PNG: axes frames, tick marks, curve pixels.

Used by read_published.py to read key points off the paper's figures; only numpy and PIL.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image


def load(path: str | Path) -> np.ndarray:
    """The image as an H × W × 3 int array."""
    return np.asarray(Image.open(path).convert("RGB")).astype(int)


def runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """(first, last) index of each run of True in a 1-D mask."""
    idx = np.flatnonzero(mask)
    if not len(idx):
        return []
    breaks = np.flatnonzero(np.diff(idx) > 1)
    starts = np.r_[idx[0], idx[breaks + 1]]
    ends = np.r_[idx[breaks], idx[-1]]
    return list(zip(starts.tolist(), ends.tolist(), strict=True))


def dark(im: np.ndarray) -> np.ndarray:
    """Black-ish pixels: frames, ticks and text (every channel below 100)."""
    return im.max(axis=2) < 100


@dataclass(frozen=True)
class Frame:
    """An axes box in pixels: left/right columns and top/bottom rows of its frame lines."""

    left: int
    right: int
    top: int
    bottom: int


def frames(im: np.ndarray, min_len: int = 150) -> list[Frame]:
    """Every axes frame: pairs of long dark horizontal lines over the same columns, joined by
    dark vertical lines; sorted by rows, then columns."""
    d = dark(im)
    lines: dict[tuple[int, int], list[int]] = {}
    for r in range(d.shape[0]):
        for a, b in runs(d[r]):
            if b - a >= min_len:
                lines.setdefault((a, b), []).append(r)
    out = []
    for (a, b), rows in lines.items():
        rows = sorted(rows)
        # consecutive rows of one line (a 2-px frame line) collapse to the first / last
        groups = [list(g) for g in np.split(np.array(rows), np.flatnonzero(np.diff(rows) > 1) + 1)]
        edges = [g[0] for g in groups]
        ends = [g[-1] for g in groups]
        for top, bottom in zip(edges[0::2], ends[1::2], strict=False):
            if d[top:bottom, a].mean() > 0.8 and d[top:bottom, b].mean() > 0.8:
                out.append(Frame(a, b, top, bottom))
    return sorted(out, key=lambda f: (f.top, f.left))


def ticks(im: np.ndarray, f: Frame, side: str, depth: int = 14) -> list[tuple[float, int]]:
    """Tick marks outside the frame on ``side`` ("bottom" or "left"): (pixel centre, length)."""
    d = dark(im)
    if side == "bottom":
        band = d[f.bottom + 1:f.bottom + 1 + depth, f.left:f.right + 1]
        length = _lengths(band)
        return [((a + b) / 2 + f.left, int(length[a:b + 1].max()))
                for a, b in runs(length > 0) if b - a < 6]
    band = d[f.top:f.bottom + 1, f.left - depth:f.left][:, ::-1]
    length = _lengths(band.T)
    return [((a + b) / 2 + f.top, int(length[a:b + 1].max()))
            for a, b in runs(length > 0) if b - a < 6]


def _lengths(band: np.ndarray) -> np.ndarray:
    """For each column of ``band`` (rows: distance from the frame), the run of dark pixels that
    starts at the frame."""
    out = np.zeros(band.shape[1], dtype=int)
    for c in range(band.shape[1]):
        col = band[:, c]
        out[c] = int(np.argmin(col)) if not col.all() else len(col)
    return out


@dataclass(frozen=True)
class Axis:
    """A pixel ↔ data map fitted to two or more ticks (least squares on the value, or on its
    log10 for a log axis)."""

    pixels: tuple[float, ...]
    values: tuple[float, ...]
    log: bool

    def _fit(self) -> tuple[float, float]:
        v = np.log10(self.values) if self.log else np.asarray(self.values, float)
        slope, icpt = np.polyfit(np.asarray(self.pixels, float), v, 1)
        return float(slope), float(icpt)

    def value(self, pixel: float | np.ndarray) -> float | np.ndarray:
        slope, icpt = self._fit()
        v = slope * np.asarray(pixel, float) + icpt
        return 10.0**v if self.log else v

    def pixel(self, value: float | np.ndarray) -> float | np.ndarray:
        slope, icpt = self._fit()
        v = np.log10(value) if self.log else np.asarray(value, float)
        return (v - icpt) / slope

    def residual_px(self) -> float:
        """Largest distance in pixels between a tick and the fitted map (the fit's accuracy)."""
        return float(np.max(np.abs(self.pixel(np.asarray(self.values)) - self.pixels)))


def colour_mask(im: np.ndarray, rgb: tuple[int, int, int], tol: int = 40) -> np.ndarray:
    """Pixels within ``tol`` (max over channels) of the colour ``rgb``."""
    return np.abs(im - np.asarray(rgb)).max(axis=2) <= tol


@dataclass
class Trace:
    """A curve read column by column inside a frame: for each pixel column, the rows of its
    pixels (lowest on screen, median, highest), NaN where the colour is absent; ``bottom`` and
    ``top`` extend that extent through adjacent ink (any pixel that is not white: other curves,
    and the anti-aliased pixels between them), under which this curve may continue."""

    cols: np.ndarray
    low: np.ndarray
    mid: np.ndarray
    high: np.ndarray
    bottom: np.ndarray
    top: np.ndarray


def trace(im: np.ndarray, f: Frame, rgb: tuple[int, int, int], tol: int = 40,
          exclude: tuple[tuple[int, int, int, int], ...] = ()) -> Trace:
    """The pixels of colour ``rgb`` strictly inside the frame, minus ``exclude`` boxes
    (left, top, right, bottom; legends), column by column."""
    inner = np.zeros(im.shape[:2], dtype=bool)
    inner[f.top + 2:f.bottom - 1, f.left + 2:f.right - 1] = True
    for x0, y0, x1, y1 in exclude:
        inner[y0:y1 + 1, x0:x1 + 1] = False
    mask = colour_mask(im, rgb, tol) & inner
    cover = (im.min(axis=2) < 200) & inner  # ink: whatever is not (near) white
    cols = np.arange(f.left + 2, f.right - 1)
    low, mid, high, bottom, top = (np.full(len(cols), np.nan) for _ in range(5))
    for i, c in enumerate(cols):
        rows = np.flatnonzero(mask[:, c])
        if len(rows):
            # rows grow downwards: the lowest point on screen is the largest row
            low[i], mid[i], high[i] = rows.max(), np.median(rows), rows.min()
            b, t = int(rows.max()), int(rows.min())
            while b + 1 < cover.shape[0] and cover[b + 1, c]:
                b += 1
            while t - 1 >= 0 and cover[t - 1, c]:
                t -= 1
            bottom[i], top[i] = b, t
    return Trace(cols, low, mid, high, bottom, top)


def legend_boxes(im: np.ndarray, f: Frame, grey: int = 204, tol: int = 12,
                 min_len: int = 60) -> list[tuple[int, int, int, int]]:
    """Boxes (left, top, right, bottom) of matplotlib legends inside a frame: the bounding box of
    the long light-grey lines of a legend's frame (edge colour 0.8 grey)."""
    m = (np.abs(im - grey).max(axis=2) <= tol)
    y0, x0 = f.top + 4, f.left + 4  # inside the frame line and its anti-aliased edge
    sub = m[y0:f.bottom - 3, x0:f.right - 3]
    rows = [(r, a, b) for r in range(sub.shape[0]) for a, b in runs(sub[r]) if b - a >= min_len]
    if not rows:
        return []
    top = min(r for r, _, _ in rows)
    bottom = max(r for r, _, _ in rows)
    left = min(a for _, a, _ in rows)
    right = max(b for _, _, b in rows)
    return [(x0 + left - 3, y0 + top - 3, x0 + right + 3, y0 + bottom + 3)]
