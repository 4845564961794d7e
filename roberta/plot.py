"""Figure 3 (and the seed runs of Figure 6) from the runs' result.json (never reruns anything).

    python roberta/plot.py                  # roberta/runs/*/result.json → assets/roberta.png

One column per task setting (SST-2 K=32, SST-2 K=256, sst-5, trec, ... as present), rows train
loss, Hessian-trace estimate (log scale) and test accuracy vs step; GD dashed, ZO solid.
Several seeds of a setting: mean line and a min–max band.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np

from flatzero import plotting
from flatzero.cli import Parser, fail
from flatzero.results import read_json

plt = plotting.plt
HERE = Path(__file__).resolve().parent
ROWS = (("train_loss", "train loss", "linear"), ("trace", "Hessian trace (estimate)", "log"),
        ("test_acc", "test accuracy", "linear"))
ORDER = {"SST-2": 0, "sst-5": 1, "trec": 2}


def load(root: Path) -> dict[tuple[str, int], dict[str, list[dict]]]:
    """{(task, K): {algo: [result, ...]}} of every result.json below ``root``."""
    runs: dict[tuple[str, int], dict[str, list[dict]]] = defaultdict(lambda: defaultdict(list))
    for path in sorted(root.glob("*/result.json")):
        res = read_json(path)
        c = res["config"]
        if res.get("log"):
            runs[(c["task"], c["k"])][c["algo"]].append(res)
    return runs


def curve(results: list[dict], key: str) -> tuple[np.ndarray, list[np.ndarray]] | None:
    """Steps where every seed logged ``key``, and each seed's values there."""
    per_seed = [{r["step"]: r[key] for r in res["log"] if r.get(key) is not None}
                for res in results]
    steps = sorted(set.intersection(*(set(s) for s in per_seed)))
    if not steps:
        return None
    return np.array(steps), [np.array([s[t] for t in steps]) for s in per_seed]


def main(argv: list[str] | None = None) -> Path:
    p = Parser(prog="plot.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", type=Path, default=HERE / "runs", help="folder of run folders")
    p.add_argument("--out", type=Path, default=plotting.ASSETS / "roberta.png", help="PNG path")
    args = p.parse_args(argv)
    runs = load(args.runs)
    if not runs:
        fail(f"no result.json under {args.runs}; run roberta/examples/fig3.sh first")
    settings = sorted(runs, key=lambda tk: (ORDER.get(tk[0], 9), tk[1]))
    plotting.style()
    fig, axes = plt.subplots(len(ROWS), len(settings), figsize=(3.6 * len(settings), 8),
                             squeeze=False, layout="constrained")
    for col, (task, k) in enumerate(settings):
        axes[0, col].set_title(f"{task}, K = {k}")
        for algo in ("gd", "zo"):
            results = runs[(task, k)].get(algo, [])
            if not results:
                continue
            label = f"{algo.upper()} (lr {results[0]['config']['lr']:g}, {len(results)} seed"
            label += "s)" if len(results) > 1 else ")"
            for row, (key, ylabel, scale) in enumerate(ROWS):
                got = curve(results, key)
                if got is None:
                    continue
                ax = axes[row, col]
                plotting.mean_band(ax, got[0], got[1], color=plotting.COLORS[algo.upper()],
                                   ls=plotting.linestyle(algo.upper()),
                                   label=label if row == 0 else None)
                ax.set_yscale(scale)
                if col == 0:
                    ax.set_ylabel(ylabel)
        axes[-1, col].set_xlabel("step")
        axes[0, col].legend(fontsize=8)
    fig.suptitle("Figure 3 — prompt fine-tuning: ZO vs GD (train loss, Hessian trace, test acc)")
    path = plotting.save(fig, args.out)
    print(f"wrote {path}")
    return path


if __name__ == "__main__":
    main()
