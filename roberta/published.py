"""The published Figure 3, as key points: what the paper's RoBERTa-large figure shows, and
:func:`compare`, which measures the same key points on our runs' logs.

Source: the paper's Figure 3 (arXiv 2506.05454; the authors' file authors-roberta.png,
2224 × 1176 px, not part of this repo): panels (a) SST-2 (K = 32, K = 256) and (b) SST-5 and
TREC (K = 32), rows train loss (log), train Hessian trace (log) and test accuracy, against log
steps; GD blue dashed, ZO red. The SST-2 K = 256 curves end at 5 × 10⁴ steps, the others at 10⁵.

Read with ``python -m flatzero.read_published --figures DIR --only roberta --python`` (its
docstring gives the method): axes calibrated from the tick marks' pixels (x: 10¹, 10³, 10⁵;
y: the labelled ticks), curves found by colour. ``lo``–``hi`` is the plotting accuracy: the
values the drawn pixels can stand for (lines are 9 px wide), widened by 2 px; where curves touch,
the extent continues through them, and the noisy trace's is its band. A dashed line may end in a
gap of its pattern, so GD's last step reaches 1.65 line widths further. Not read: GD's train loss
at step 1 where it is hidden under ZO (SST-2 K = 256, SST-5, TREC).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from flatzero import keypoints
from flatzero.keypoints import KeyPoint as K

FIGURE = "the paper's Figure 3 (authors-roberta.png)"
METRICS = ("train_loss", "trace", "test_acc")

KEY_POINTS = [
    K("3", "SST-2 K=32 GD", "train_loss", "start", published=0.5664, lo=0.2863, hi=0.6346),
    K("3", "SST-2 K=32 GD", "train_loss", "end", published=2.7e-06, lo=1.87e-06, hi=4.14e-06),
    K("3", "SST-2 K=32 GD", "train_loss", "last_iteration",
      published=83210, lo=67997, hi=1.4044e+05),
    K("3", "SST-2 K=32 GD", "trace", "end", published=5.95e-05, lo=2.1e-05, hi=32.82),
    K("3", "SST-2 K=32 GD", "test_acc", "at", 1000, published=0.9153, lo=0.9068, hi=0.9182),
    K("3", "SST-2 K=32 GD", "test_acc", "end", published=0.9295, lo=0.925, hi=0.9335),
    K("3", "SST-2 K=32 ZO", "train_loss", "start", published=0.4512, lo=0.3208, hi=0.6717),
    K("3", "SST-2 K=32 ZO", "train_loss", "end", published=8.93e-06, lo=5.83e-06, hi=1.29e-05),
    K("3", "SST-2 K=32 ZO", "train_loss", "last_iteration",
      published=1.0342e+05, lo=84513, hi=1.1005e+05),
    K("3", "SST-2 K=32 ZO", "trace", "end", published=0.06404, lo=2.1e-05, hi=32.82),
    K("3", "SST-2 K=32 ZO", "test_acc", "at", 1000, published=0.9105, lo=0.9068, hi=0.9182),
    K("3", "SST-2 K=32 ZO", "test_acc", "end", published=0.9179, lo=0.9125, hi=0.9233),
# SST-2 K=256 GD train_loss start: not read, no pixels of the curve within 25 px of column 664
    K("3", "SST-2 K=256 GD", "train_loss", "end", published=1.69e-05, lo=1.3e-05, hi=4.32e-05),
    K("3", "SST-2 K=256 GD", "train_loss", "last_iteration", published=46116, lo=37685, hi=77835),
    K("3", "SST-2 K=256 GD", "trace", "end", published=0.1143, lo=0.03799, hi=67),
    K("3", "SST-2 K=256 GD", "test_acc", "at", 1000, published=0.9197, lo=0.9159, hi=0.9235),
    K("3", "SST-2 K=256 GD", "test_acc", "end", published=0.9229, lo=0.9218, hi=0.9335),
    K("3", "SST-2 K=256 ZO", "train_loss", "start", published=0.4754, lo=0.3565, hi=0.6651),
    K("3", "SST-2 K=256 ZO", "train_loss", "end", published=2.87e-05, lo=1.74e-05, hi=4.12e-05),
    K("3", "SST-2 K=256 ZO", "train_loss", "last_iteration", published=50621, lo=41365, hi=53865),
    K("3", "SST-2 K=256 ZO", "trace", "end", published=5.13, lo=0.3008, hi=67),
    K("3", "SST-2 K=256 ZO", "test_acc", "at", 1000, published=0.9321, lo=0.9282, hi=0.9359),
    K("3", "SST-2 K=256 ZO", "test_acc", "end", published=0.9276, lo=0.9218, hi=0.9329),
# SST-5 K=32 GD train_loss start: not read, no pixels of the curve within 25 px of column 1328
    K("3", "SST-5 K=32 GD", "train_loss", "end", published=2.29e-05, lo=1.2e-05, hi=4.37e-05),
    K("3", "SST-5 K=32 GD", "train_loss", "last_iteration",
      published=97192, lo=79422, hi=1.6404e+05),
    K("3", "SST-5 K=32 GD", "trace", "end", published=11.86, lo=0.5995, hi=652.9),
    K("3", "SST-5 K=32 GD", "test_acc", "at", 1000, published=0.4379, lo=0.4306, hi=0.446),
    K("3", "SST-5 K=32 GD", "test_acc", "end", published=0.521, lo=0.5121, hi=0.5298),
    K("3", "SST-5 K=32 ZO", "train_loss", "start", published=1.715, lo=1.241, hi=2.503),
    K("3", "SST-5 K=32 ZO", "train_loss", "end", published=0.000143, lo=9.82e-05, hi=0.000221),
    K("3", "SST-5 K=32 ZO", "train_loss", "last_iteration",
      published=1.0342e+05, lo=84513, hi=1.1005e+05),
    K("3", "SST-5 K=32 ZO", "trace", "end", published=349.3, lo=186.9, hi=616.8),
    K("3", "SST-5 K=32 ZO", "test_acc", "at", 1000, published=0.4706, lo=0.4573, hi=0.4823),
    K("3", "SST-5 K=32 ZO", "test_acc", "end", published=0.4891, lo=0.4782, hi=0.5008),
# TREC K=32 GD train_loss start: not read, no pixels of the curve within 25 px of column 1817
    K("3", "TREC K=32 GD", "train_loss", "end", published=2.76e-06, lo=1.58e-06, hi=4.51e-06),
    K("3", "TREC K=32 GD", "train_loss", "last_iteration",
      published=94220, lo=76993, hi=1.5902e+05),
    K("3", "TREC K=32 GD", "trace", "end", published=0.1633, lo=0.03609, hi=68.56),
    K("3", "TREC K=32 GD", "test_acc", "at", 1000, published=0.4265, lo=0.3853, hi=0.4647),
    K("3", "TREC K=32 GD", "test_acc", "end", published=0.9412, lo=0.9176, hi=0.9618),
    K("3", "TREC K=32 ZO", "train_loss", "start", published=2.851, lo=1.925, hi=4.508),
    K("3", "TREC K=32 ZO", "train_loss", "end", published=1.78e-05, lo=1.13e-05, hi=2.82e-05),
    K("3", "TREC K=32 ZO", "train_loss", "last_iteration",
      published=1.0026e+05, lo=81928, hi=1.0669e+05),
    K("3", "TREC K=32 ZO", "trace", "end", published=6.602, lo=0.03609, hi=68.56),
    K("3", "TREC K=32 ZO", "test_acc", "at", 1000, published=0.7162, lo=0.6618, hi=0.7647),
    K("3", "TREC K=32 ZO", "test_acc", "end", published=0.8897, lo=0.8676, hi=0.9147),
]


def curve_name(task: str, k: int, algo: str) -> str:
    """The name of a curve in :data:`KEY_POINTS`: "SST-2 K=32 ZO", "SST-5 K=32 GD", "TREC ..."."""
    names = {"sst-2": "SST-2", "sst-5": "SST-5", "trec": "TREC"}
    return f"{names.get(task.lower(), task)} K={k} {algo.upper()}"


def series(log: Sequence[Mapping[str, Any]], metric: str) -> tuple[list, list] | None:
    """(steps, values) of ``metric`` over the records of a run's log that have it (a record may
    lack a metric, e.g. the trace between estimates); None when no record has it. Steps are
    logged 0-based or 1-based as the run does: a key point at step N reads the last record with
    step ≤ N."""
    pairs = [(r["step"], r[metric]) for r in log
             if r.get(metric) is not None and r.get("step") is not None]
    if not pairs:
        return None
    pairs.sort(key=lambda p: p[0])
    return [p[0] for p in pairs], [p[1] for p in pairs]


def compare(runs: Mapping[str, Sequence[Mapping[str, Any]]],
            settings: Mapping[str, str] | None = None) -> list[keypoints.Row]:
    """Our runs next to the published Figure 3: ``runs`` maps a curve name (:func:`curve_name`)
    to its log (records with ``step`` and some of ``train_loss``, ``trace``, ``test_acc``);
    ``settings`` maps it to a description of the setting that produced it. Returns a row per
    key point, for :func:`flatzero.keypoints.table` / :func:`~flatzero.keypoints.summary`;
    curves without a run are rows marked "no run"."""
    got = {}
    for curve, log in runs.items():
        for metric in METRICS:
            s = series(log, metric)
            if s is not None:
                got[(curve, metric)] = s
    return keypoints.compare(KEY_POINTS, got, dict(settings or {}))
