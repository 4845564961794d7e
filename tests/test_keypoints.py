"""flatzero.keypoints against numpy computed here, the published key points' consistency with
the curves the plots name, roberta.published on a log, and the search's table."""

import numpy as np
import pytest

from flatzero import keypoints
from flatzero.keypoints import KeyPoint

ITS = np.array([1, 2, 5, 10, 50, 100, 500, 1000])
VALS = np.array([3.0, 4.0, 2.5, 6.0, 1.0, 0.5, 0.7, 0.2])


def kp(kind, arg=None, window=None, lo=-1e9, hi=1e9):
    return KeyPoint("2", "c", "m", kind, arg, window, published=0.0 if lo <= 0 <= hi else lo,
                    lo=lo, hi=hi)


@pytest.mark.parametrize("kind, arg, window, expected", [
    ("start", None, None, VALS[0]),
    ("end", None, None, VALS[-1]),
    ("at", 100, None, 0.5),
    ("at", 99, None, 1.0),             # the last logged iteration at or before it
    ("max", None, None, VALS.max()),
    ("max", None, (50, 1000), 1.0),
    ("min", None, (1, 10), 2.5),
    ("argmax", None, None, 10),
    ("argmin", None, (1, 50), 50),
    ("first_below", 1.0, None, 100),   # strictly below
    ("first_above", 3.5, None, 2),
    ("flat", None, None, np.max(np.abs(VALS - 3.0)) / 3.0),
    ("last_iteration", None, None, 1000),
])
def test_measure(kind, arg, window, expected):
    assert keypoints.measure(kp(kind, arg, window), ITS, VALS) == pytest.approx(expected, rel=0,
                                                                               abs=0)


def test_measure_says_when_the_series_never_shows_it():
    assert keypoints.measure(kp("first_below", -1.0), ITS, VALS) is None
    assert keypoints.measure(kp("at", 0.5), ITS, VALS) is None
    assert keypoints.measure(kp("max", window=(2000, 3000)), ITS, VALS) is None
    with pytest.raises(ValueError):
        keypoints.measure(kp("end"), ITS, VALS[:-1])


def test_key_points_check_themselves():
    with pytest.raises(ValueError, match="unknown"):
        KeyPoint("1", "c", "m", "median", published=1, lo=0, hi=2)
    with pytest.raises(ValueError, match="arg"):
        KeyPoint("1", "c", "m", "at", published=1, lo=0, hi=2)
    with pytest.raises(ValueError, match="outside its accuracy"):
        KeyPoint("1", "c", "m", "end", published=3, lo=0, hi=2)


def test_rows_tables_and_summary():
    points = [KeyPoint("1", "GD", "trace", "start", published=155, lo=151, hi=158),
              KeyPoint("1", "GD", "trace", "end", published=155, lo=151, hi=158),
              KeyPoint("1", "ZO", "trace", "end", published=30, lo=27, hi=34)]
    series = {("GD", "trace"): ([1, 2, 3], [154.7, 154.7, 180.0])}
    rows = keypoints.compare(points, series, {"GD": "seed 13"})
    assert [(r.ours, r.ok, r.setting) for r in rows] == [
        (154.7, True, "seed 13"), (180.0, False, "seed 13"), (None, False, "no run")]
    table = keypoints.table(rows).splitlines()
    assert table[2] == ("| 1 | GD | trace: value at the first iteration | 155 (151 to 158) | "
                        "154.7 | yes | seed 13 |")
    assert "| 180 | **no** |" in table[3]
    summary = keypoints.summary(rows).splitlines()
    assert summary[2] == ("| 1 | GD | 1 / 2 | trace: value at the last iteration 180 (155) |")
    assert summary[3] == "| 1 | ZO | — / 1 | no run |"


def test_published_points_name_the_curves_the_plots_draw():
    from roberta import published as rob
    from svm_logreg import plot as svm_plot
    from svm_logreg import published as svm
    from test_func import plot as toy_plot
    from test_func import published as toy

    toy_curves = {name for name, _, _ in toy_plot.FIG1_STYLE.values()} | {
        f"ZO (λ = {lam:g})" for lam in (0.01, 0.05, 0.1)}
    assert {k.curve for k in toy.KEY_POINTS} == toy_curves
    assert {k.metric for k in toy.KEY_POINTS} == set(toy_plot.METRIC_KEYS)
    svm_curves = {svm_plot.curve_name(m, d, a) for m in ("svm", "logreg")
                  for d in ("a5a-resplit", "w5a") for a in ("gd", "zo")}
    assert {k.curve for k in svm.KEY_POINTS} == svm_curves
    rob_curves = {rob.curve_name(t, k, a) for t, k in (("SST-2", 32), ("SST-2", 256),
                                                        ("sst-5", 32), ("trec", 32))
                  for a in ("gd", "zo")}
    assert {k.curve for k in rob.KEY_POINTS} == rob_curves
    for k in (*toy.KEY_POINTS, *svm.KEY_POINTS, *rob.KEY_POINTS):
        assert k.lo <= k.published <= k.hi
    # what the issue measured on the published figures, as read
    by = {(k.curve, k.metric, k.kind): k for k in toy.KEY_POINTS}
    assert 150 < by[("GD", "trace", "start")].published < 160
    assert 22 < by[("ZO (λ = 0.1)", "trace", "end")].published < 38
    k256 = next(k for k in rob.KEY_POINTS
                if k.curve == "SST-2 K=256 ZO" and k.kind == "last_iteration")
    assert k256.lo < 5e4 < k256.hi and not k256.lo < 1e5 < k256.hi


def test_roberta_compare_measures_a_log():
    from roberta import published

    log = [{"step": 0, "train_loss": 0.45, "trace": 900.0, "test_acc": 0.81},
           {"step": 1000, "train_loss": 0.01, "test_acc": 0.9321},   # no trace at this step
           {"step": 50000, "train_loss": 2.9e-5, "trace": 5.0, "test_acc": 0.93}]
    name = published.curve_name("SST-2", 256, "zo")
    rows = published.compare({name: log}, {name: "lr 1e-6, seed 42"})
    mine = {(r.kp.metric, r.kp.kind): r for r in rows if r.kp.curve == name}
    assert mine[("train_loss", "start")].ours == 0.45
    assert mine[("train_loss", "last_iteration")].ours == 50000
    assert mine[("train_loss", "last_iteration")].ok  # K = 256 ends at 5 × 10⁴ steps
    assert mine[("trace", "end")].ours == 5.0          # the last record that has a trace
    assert mine[("test_acc", "at")].ours == 0.9321
    assert mine[("test_acc", "at")].setting == "lr 1e-6, seed 42"
    other = [r for r in rows if r.kp.curve != name]
    assert other and all(r.ours is None and r.setting == "no run" for r in other)
    assert published.series([{"step": 1}], "trace") is None


def test_search_table_marks_what_misses_the_published_curve():
    from svm_logreg import search

    cands = search.candidates()
    assert len({c.name() for c in cands}) == len(cands)  # one cached file each
    assert cands[0] == search.Candidate(cands[0].change)  # the launcher's setting first
    published = {k.metric + k.kind + str(k.arg): k for k in search.published.KEY_POINTS
                 if k.curve == search.CURVE}
    n = 10_000
    on = {m: np.full(n, published[m + "end" + "None"].published) for m in (
        "train_loss", "train_hess", "test_acc")}
    off = {m: v * 3 for m, v in on.items()}
    text = search.rows_for({cands[0]: on, cands[1]: off})
    first, second = text.splitlines()[3:5]
    assert first.startswith("| none: the authors' launcher setting |")
    assert first.count("✗") < second.count("✗") and second.count("✗") >= 5


def test_search_clip_variant_is_the_logistic_loss_with_another_clip():
    from svm_logreg import objectives, search

    rng = np.random.RandomState(0)
    p = np.r_[rng.rand(50), 0.0, 1.0, 1e-17]
    y = np.r_[rng.randint(0, 2, 50), 1, 0, 1]
    eps = np.finfo(float).eps
    assert search._clipped(eps).__func__(p, y) == objectives.Logistic._loss(p, y)
    clipped = search._clipped(1e-15).__func__(p, y)
    q = np.where(y == 1, p, 1 - p)  # the label's probability, clipped as scikit-learn < 1.3
    assert clipped == pytest.approx(np.mean(-np.log(np.clip(q, 1e-15, 1 - 1e-15))), rel=1e-15)
