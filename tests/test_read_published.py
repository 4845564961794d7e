"""flatzero/read_published.py, the reading of key points off a figure's PNG, on a figure drawn here
with known curves: what it reads must be the drawn values, within its stated accuracy."""

import numpy as np
import pytest

from flatzero import pngaxes
from flatzero import read_published as rp

RED, BLUE = (234, 51, 35), (0, 0, 245)


@pytest.fixture(scope="module")
def png(tmp_path_factory):
    """One panel, as the paper draws them: log iterations 1..10⁴, a linear axis, a red line
    y = 50 − 10·log10(x) and a blue dashed one with a peak of 40 at x = 100."""
    from flatzero import plotting

    plt = plotting.plt
    fig, ax = plt.subplots(figsize=(4, 3), dpi=150)
    x = np.arange(1, 10_001)
    ax.plot(x, 50 - 10 * np.log10(x), color=np.array(RED) / 255, lw=3)
    ax.plot(x, 40 - 8 * np.log10(x / 100) ** 2, color=np.array(BLUE) / 255, lw=3, ls="--")
    ax.set_xscale("log")
    ax.set_xticks([10, 1000])
    ax.set_yticks([0, 25, 50])
    ax.set_ylim(-2, 55)
    ax.minorticks_off()
    path = tmp_path_factory.mktemp("png") / "fig.png"
    fig.savefig(path)
    plt.close(fig)
    return path


def test_frames_ticks_and_calibration(png):
    im = pngaxes.load(png)
    frames = pngaxes.frames(im)
    assert len(frames) == 1
    xt = [p for p, _ in pngaxes.ticks(im, frames[0], "bottom")]
    yt = [p for p, _ in pngaxes.ticks(im, frames[0], "left")]
    assert len(xt) == 2 and len(yt) == 3
    x = pngaxes.Axis(tuple(xt), (10.0, 1000.0), True)
    y = pngaxes.Axis(tuple(yt), (50.0, 25.0, 0.0), False)
    assert x.residual_px() < 0.5 and y.residual_px() < 0.5
    assert x.value(x.pixel(100.0)) == pytest.approx(100.0)


def test_key_points_read_are_the_drawn_values(png):
    fig = {"lw": 6, "last": 10_000,  # 3 pt at 150 dpi ≈ 6 px
           "panels": {"p": rp.Panel(0, (10.0, 1000.0), (50.0, 25.0, 0.0), False)},
           "specs": []}
    figure = rp.Figure(png, fig)

    def read(colour, kind, arg=None, window=None):
        r = figure.read(rp.Spec("2", "c", "p", "m", colour, kind, arg, window))
        assert r.lo <= r.value <= r.hi
        return r

    for kind, arg, truth in (("start", None, 50.0), ("at", 100.0, 30.0), ("end", None, 10.0)):
        r = read(RED, kind, arg)
        assert r.lo <= truth <= r.hi and abs(r.value - truth) < 1.0
    r = read(RED, "first_below", 35.0)  # 50 − 10·log10(x) < 35 from x = 10^1.5
    assert r.lo <= 10**1.5 <= r.hi
    r = read(BLUE, "argmax")
    assert r.lo <= 100 <= r.hi
    r = read(BLUE, "max")
    assert r.lo <= 40 <= r.hi and abs(r.value - 40) < 1.0
