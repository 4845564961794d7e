"""The published Figures 1 and 4, as key points: what the paper's test-function figure shows.

Source: the paper's figure of the toy loss (arXiv 2506.05454, Figures 1 and 4; the authors'
file authors-test-func.png, 2238 × 896 px, not part of this repo): panel (a) "Comparison of GD and
ZO." (Figure 1: GD, ZO (λ → 0), ZO) and panel (b) "Effect of λ." (Figure 4: ZO with λ = 0.01,
0.05, 0.1), each with the loss (log) above the trace of the Hessian, against log iterations.

Read with ``python -m flatzero.read_published --figures DIR --only test-func --python`` (its
docstring gives the method): axes calibrated from the tick marks' pixels (x: the six decades
10⁰–10⁵; loss: 10⁻⁹ and 10⁻²⁰ in (a), 10⁻⁵ and 10⁻¹³ in (b); trace: 50, 100, 150), curves found
by colour (GD / λ = 0.01 blue, ZO (λ → 0) / λ = 0.05 orange, ZO / λ = 0.1 green). ``lo``–``hi``
is the plotting accuracy: the values the drawn pixels can stand for (the line is 10 px wide:
± 2.5 trace units, ± half a decade of loss in (a)), widened by 2 px.
"""

from flatzero.keypoints import KeyPoint as K

FIGURE = "the paper's Figures 1 and 4 (authors-test-func.png)"

KEY_POINTS = [
    K("1", "GD", "loss", "start", published=0.9881, lo=0.2029, hi=6.264),
    K("1", "GD", "loss", "first_below", 1e-20, published=39.9, lo=36.01, hi=44.2),
    K("1", "GD", "trace", "start", published=154.7, lo=151.2, hi=158.2),
    K("1", "GD", "trace", "flat", published=0.01292, lo=0, hi=0.02262),
    K("1", "GD", "trace", "end", published=154.7, lo=151.2, hi=158.2),
    K("1", "ZO (λ → 0)", "loss", "first_below", 1e-20, published=123.2, lo=109.6, hi=136.5),
    K("1", "ZO (λ → 0)", "trace", "flat", published=0.01616, lo=0, hi=0.02262),
    K("1", "ZO (λ → 0)", "trace", "end", published=154.2, lo=150.7, hi=158.2),
    K("1", "ZO", "loss", "first_below", 0.001, published=22.53, lo=19.46, hi=23.89),
    K("1", "ZO", "loss", "max", window=(10000, 100000), published=0.032, lo=0.005048, hi=0.2029),
    K("1", "ZO", "trace", "at", 10000, published=131.7, lo=127.2, hi=135.7),
    K("1", "ZO", "trace", "end", published=30.25, lo=26.75, hi=33.75),
    K("4", "ZO (λ = 0.01)", "loss", "min", window=(10000, 100000),
      published=4.51e-20, lo=1.3e-20, hi=1.56e-19),
    K("4", "ZO (λ = 0.01)", "trace", "at", 10000, published=154, lo=150.7, hi=157.2),
    K("4", "ZO (λ = 0.01)", "trace", "end", published=151.2, lo=147.7, hi=154.7),
    K("4", "ZO (λ = 0.05)", "trace", "at", 10000, published=147.5, lo=143.7, hi=150.7),
    K("4", "ZO (λ = 0.05)", "trace", "at", 30000, published=135, lo=131.2, hi=138.7),
    K("4", "ZO (λ = 0.05)", "trace", "end", published=98.25, lo=93.75, hi=102.2),
    K("4", "ZO (λ = 0.1)", "loss", "max", window=(10000, 100000),
      published=0.1557, lo=0.04507, hi=0.538),
    K("4", "ZO (λ = 0.1)", "trace", "at", 10000, published=131.7, lo=127.2, hi=135.7),
    K("4", "ZO (λ = 0.1)", "trace", "end", published=30.25, lo=26.75, hi=33.75),
]
