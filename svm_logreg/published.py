"""The published Figure 2, as key points: what the paper's SVM / logistic-regression figure shows.

Source: the paper's Figure 2 (arXiv 2506.05454; the authors' file authors-svm-logreg.png,
2246 × 1302 px, not part of this repo): panels (a) SVMs and (b) Logistic Regression, columns a5a
and w5a, rows train loss (linear), train Hessian trace (log; labels ×10³ for the SVMs, ×10² for
logistic regression) and test accuracy, against log iterations 1–10⁴; GD blue dashed, ZO red.

Read with ``python -m flatzero.read_published --figures DIR --only svm-logreg --python`` (its
docstring gives the method): axes calibrated from the tick marks' pixels (x: 10¹ and 10³; y:
the labelled ticks, and on the log trace axes the minor ticks too), curves found by colour.
``lo``–``hi`` is the plotting accuracy: the values the drawn pixels can stand for (lines are
10 px wide), widened by 2 px; where curves touch, the extent continues through them. A GD loss
read slightly below 0 is a line drawn at 0. Not read: SVM w5a GD's trace at iteration 1, hidden
under ZO.
"""

from flatzero.keypoints import KeyPoint as K

FIGURE = "the paper's Figure 2 (authors-svm-logreg.png)"

KEY_POINTS = [
    K("2", "SVM a5a GD", "train_loss", "start", published=57.54, lo=55.4, hi=62.19),
    K("2", "SVM a5a GD", "train_loss", "at", 100, published=0.5025, lo=-1.131, hi=2.387),
    K("2", "SVM a5a GD", "train_loss", "end", published=-0.3769, lo=-1.382, hi=3.392),
    K("2", "SVM a5a GD", "train_hess", "start", published=11127, lo=11001, hi=11980),
    K("2", "SVM a5a GD", "train_hess", "argmin", window=(1, 100),
      published=15.83, lo=6.011, hi=21.32),
    K("2", "SVM a5a GD", "train_hess", "argmax", published=104.4, lo=70.2, hi=204.2),
    K("2", "SVM a5a GD", "train_hess", "max", published=17139, lo=16471, hi=17835),
    K("2", "SVM a5a GD", "train_hess", "end", published=11980, lo=11190, hi=12117),
    K("2", "SVM a5a GD", "test_acc", "at", 100, published=0.8163, lo=0.805, hi=0.8277),
    K("2", "SVM a5a GD", "test_acc", "end", published=0.8454, lo=0.8348, hi=0.8546),
    K("2", "SVM a5a ZO", "train_loss", "at", 100, published=25.25, lo=21.23, hi=29.52),
    K("2", "SVM a5a ZO", "train_loss", "at", 1000, published=2.638, lo=-1.382, hi=4.397),
    K("2", "SVM a5a ZO", "train_loss", "end", published=1.382, lo=-1.382, hi=3.392),
    K("2", "SVM a5a ZO", "train_hess", "at", 100, published=8915, lo=8327, hi=9544),
    K("2", "SVM a5a ZO", "train_hess", "at", 1000, published=5722, lo=5254, hi=6196),
    K("2", "SVM a5a ZO", "train_hess", "end", published=4650, lo=4258, hi=5107),
    K("2", "SVM a5a ZO", "test_acc", "at", 1000, published=0.7277, lo=0.7099, hi=0.744),
    K("2", "SVM a5a ZO", "test_acc", "end", published=0.8106, lo=0.7922, hi=0.8305),
    K("2", "SVM w5a GD", "train_loss", "start", published=32.11, lo=31.56, hi=34.05),
    K("2", "SVM w5a GD", "train_loss", "at", 100, published=0.8304, lo=-0.1384, hi=1.799),
    K("2", "SVM w5a GD", "train_loss", "end", published=-0.5536, lo=-0.9689, hi=2.215),
# SVM w5a GD train_hess start: not read, no pixels of the curve within 25 px of column 683
    K("2", "SVM w5a GD", "train_hess", "argmax", published=332.3, lo=229.2, hi=531.9),
    K("2", "SVM w5a GD", "train_hess", "max", published=12647, lo=11766, hi=13594),
    K("2", "SVM w5a GD", "train_hess", "end", published=5000, lo=4652, hi=5430),
    K("2", "SVM w5a GD", "test_acc", "at", 200, published=0.9626, lo=0.9457, hi=0.9795),
    K("2", "SVM w5a GD", "test_acc", "first_above", 0.9, published=111.8, lo=101.2, hi=123.4),
    K("2", "SVM w5a GD", "test_acc", "end", published=0.9931, lo=0.957, hi=0.9998),
    K("2", "SVM w5a ZO", "train_loss", "at", 100, published=18.06, lo=16.47, hi=19.79),
    K("2", "SVM w5a ZO", "train_loss", "at", 1000, published=2.699, lo=1.246, hi=4.152),
    K("2", "SVM w5a ZO", "train_loss", "end", published=0.2768, lo=-0.692, hi=1.384),
    K("2", "SVM w5a ZO", "train_hess", "at", 100, published=7210, lo=6470, hi=7952),
    K("2", "SVM w5a ZO", "train_hess", "at", 1000, published=5292, lo=4749, hi=5958),
    K("2", "SVM w5a ZO", "train_hess", "end", published=1309, lo=1032, hi=1676),
    K("2", "SVM w5a ZO", "test_acc", "at", 1000, published=0.6043, lo=0.5559, hi=0.6528),
    K("2", "SVM w5a ZO", "test_acc", "first_above", 0.9, published=4817, lo=2025, hi=5319),
    K("2", "SVM w5a ZO", "test_acc", "end", published=0.975, lo=0.957, hi=0.9998),
    K("2", "logreg a5a GD", "train_loss", "start", published=3.519, lo=3.477, hi=3.73),
    K("2", "logreg a5a GD", "train_loss", "at", 100, published=0.4428, lo=0.3376, hi=0.6076),
    K("2", "logreg a5a GD", "train_loss", "end", published=0.3122, lo=0.1857, hi=0.4219),
    K("2", "logreg a5a GD", "train_hess", "start", published=350.2, lo=306.7, hi=357.4),
    K("2", "logreg a5a GD", "train_hess", "argmax", published=175.9, lo=71.97, hi=399.1),
    K("2", "logreg a5a GD", "train_hess", "max", published=1524, lo=1419, hi=1637),
    K("2", "logreg a5a GD", "train_hess", "end", published=900.6, lo=834.2, hi=962.5),
    K("2", "logreg a5a GD", "test_acc", "at", 100, published=0.8, lo=0.7895, hi=0.8105),
    K("2", "logreg a5a GD", "test_acc", "end", published=0.8477, lo=0.8175, hi=0.854),
    K("2", "logreg a5a ZO", "train_loss", "max", window=(1, 100),
      published=4.338, lo=4.219, hi=4.456),
    K("2", "logreg a5a ZO", "train_loss", "at", 100, published=2.852, lo=2.667, hi=3.105),
    K("2", "logreg a5a ZO", "train_loss", "at", 1000, published=1.544, lo=1.35, hi=1.738),
    K("2", "logreg a5a ZO", "train_loss", "end", published=1.207, lo=1.046, hi=1.367),
    K("2", "logreg a5a ZO", "train_hess", "at", 100, published=217.8, lo=184, hi=255.2),
    K("2", "logreg a5a ZO", "train_hess", "at", 1000, published=199.7, lo=159.5, hi=250),
    K("2", "logreg a5a ZO", "train_hess", "end", published=160.3, lo=128.7, hi=201.8),
    K("2", "logreg a5a ZO", "test_acc", "at", 1000, published=0.7818, lo=0.7572, hi=0.8049),
    K("2", "logreg a5a ZO", "test_acc", "end", published=0.8316, lo=0.8189, hi=0.8456),
    K("2", "logreg w5a GD", "train_loss", "start", published=2.711, lo=2.688, hi=2.86),
    K("2", "logreg w5a GD", "train_loss", "at", 100, published=0.4241, lo=0.3266, hi=0.5215),
    K("2", "logreg w5a GD", "train_loss", "end", published=0.03438, lo=-0.04011, hi=0.2464),
    K("2", "logreg w5a GD", "train_hess", "start", published=354.7, lo=290.7, hi=365.7),
    K("2", "logreg w5a GD", "train_hess", "argmax", published=106.4, lo=101.2, hi=286.4),
    K("2", "logreg w5a GD", "train_hess", "max", published=1152, lo=1035, hi=1283),
    K("2", "logreg w5a GD", "train_hess", "end", published=304.4, lo=281.9, hi=323.6),
    K("2", "logreg w5a GD", "test_acc", "at", 200, published=0.9775, lo=0.9617, hi=0.9934),
    K("2", "logreg w5a GD", "test_acc", "first_above", 0.9, published=94, lo=73.38, hi=103.8),
    K("2", "logreg w5a GD", "test_acc", "end", published=0.9957, lo=0.9662, hi=1),
    K("2", "logreg w5a ZO", "train_loss", "at", 100, published=1.954, lo=1.84, hi=2.069),
    K("2", "logreg w5a ZO", "train_loss", "at", 1000, published=0.4011, lo=0.2808, hi=0.533),
    K("2", "logreg w5a ZO", "train_loss", "end", published=0.1662, lo=0.04011, hi=0.2464),
    K("2", "logreg w5a ZO", "train_hess", "at", 100, published=321.1, lo=277.7, hi=371.3),
    K("2", "logreg w5a ZO", "train_hess", "at", 1000, published=231.1, lo=183.7, hi=290.7),
    K("2", "logreg w5a ZO", "train_hess", "end", published=36.84, lo=27.13, hi=50.03),
    K("2", "logreg w5a ZO", "test_acc", "at", 1000, published=0.9356, lo=0.905, hi=0.9662),
    K("2", "logreg w5a ZO", "test_acc", "first_above", 0.9, published=790.4, lo=587.2, hi=987.7),
    K("2", "logreg w5a ZO", "test_acc", "end", published=0.9821, lo=0.9662, hi=0.9979),
]
