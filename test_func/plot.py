"""Figures 1 and 4 from the JSON written by run_toy.py (never reruns an experiment).

    python test_func/plot.py                     # test_func/res → assets/test-func{,-lam}.png

Figure 1: loss and Hessian trace vs iteration for GD, ZO and DD. Figure 4: the same for ZO at each
λ of the sweep, with the theory drawn in (GD on the smoothed loss F = f + (λ²/2)·Tr∇²f from the
same initialisation, and the trace of its minimisers). Several seeds: mean line and a band.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from flatzero import plotting
from flatzero.cli import Parser, fail, positive_int
from flatzero.results import log_spaced_iterations, read_json
from test_func import theory, toy
from test_func.run_toy import DEFAULT_OUT

plt = plotting.plt


def build_parser() -> Parser:
    p = Parser(prog="plot.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--res", type=Path, default=DEFAULT_OUT, help="folder with run_toy.py JSON")
    p.add_argument("--seeds", type=int, nargs="+", help="seeds to average (default: all found)")
    p.add_argument("--out-dir", type=Path, default=plotting.ASSETS, help="where PNGs are written")
    p.add_argument("--band", choices=["minmax", "std"], default="minmax",
                   help="band over seeds: min–max or mean ± std")
    p.add_argument("--theory", choices=["none", "fig4", "both"], default="fig4",
                   help="draw GD on the smoothed loss F (the predicted ZO path) in these figures")
    p.add_argument("--points", type=positive_int, default=1500,
                   help="log-spaced points drawn per curve")
    return p


def seeds_in(res: Path, prefix: str) -> list[int]:
    return sorted(int(p.stem.split("-", 1)[1]) for p in res.glob(f"{prefix}-*.json"))


def thin(num_iter: list[int], points: int) -> np.ndarray:
    """Indices of about ``points`` log-spaced logged iterations (drawing 10⁵ points is slow)."""
    its = np.asarray(num_iter)
    return np.unique(np.searchsorted(its, log_spaced_iterations(int(its[-1]), points)))


def stack(records: list[dict], points: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(iterations, losses, traces) of records logged at the same iterations, thinned."""
    idx = thin(records[0]["num_iter"], points)
    its = np.asarray(records[0]["num_iter"])[idx]
    for r in records[1:]:
        if len(r["num_iter"]) != len(records[0]["num_iter"]):
            fail("the seeds were logged at different iterations; rerun them with the same flags")
    loss = np.array([np.asarray(r["list_loss"])[idx] for r in records])
    hess = np.array([np.asarray(r["list_hess"])[idx] for r in records])
    return its, loss, hess


def theory_paths(records: list[dict], its: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """GD on F for each record's seed and setting, at the iterations ``its``."""
    paths = []
    for r in records:
        c = r["config"]
        paths.append(theory.smoothed_gd_path(c["seed"], c["d"], c["lr"], c["lam"], c["T"]))
    return (np.array([p.loss[its - 1] for p in paths]),
            np.array([p.trace[its - 1] for p in paths]))


def axes_pair(title: str) -> tuple[plt.Figure, np.ndarray]:
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.4), layout="constrained")
    for ax in axes:
        ax.set_xscale("log")
        ax.set_xlabel("iteration")
    axes[0].set_yscale("log")
    axes[0].set_ylabel("training loss f")
    axes[1].set_ylabel(r"Hessian trace  $\|x\|^2+\|y\|^2$")
    fig.suptitle(title)
    return fig, axes


def mark_min_trace(ax: plt.Axes) -> None:
    ax.axhline(toy.MIN_TRACE, color=plotting.COLORS["theory"], lw=0.8, ls=":",
               label="flat minima (Tr = 2)")


def subtitle(records: list[dict], seeds: list[int]) -> str:
    c = records[0]["config"]
    seed_txt = f"seed {seeds[0]}" if len(seeds) == 1 else f"{len(seeds)} seeds"
    return rf"$f(x,y)=(x^\top y-1)^2/2$,  d = {c['d']},  {seed_txt}"


def figure1(res: Path, seeds: list[int], args) -> Path | None:
    found = {m: [s for s in seeds if (res / f"{m}-{s}.json").exists()] for m in toy.METHODS}
    if not any(found.values()):
        return None
    fig, (ax_l, ax_h) = axes_pair("Figure 1 — GD, ZO and DD on the toy loss")
    for method in toy.METHODS:
        if not found[method]:
            continue
        recs = [read_json(res / f"{method}-{s}.json") for s in found[method]]
        its, loss, hess = stack(recs, args.points)
        c = recs[0]["config"]
        label = (f"ZO (λ = {c['lam']:g}, lr {c['lr']:g})" if method == "ZO"
                 else f"{method}{', λ→0' if method == 'DD' else ''} (lr {c['lr']:g})")
        kw = dict(color=plotting.COLORS[method], ls=plotting.linestyle(method), band=args.band)
        plotting.mean_band(ax_l, its, loss, label=label, **kw)
        plotting.mean_band(ax_h, its, hess, **kw)
        if method == "ZO" and args.theory == "both":
            t_loss, t_hess = theory_paths(recs, its)
            kw = dict(color=plotting.COLORS["theory"], ls="-.", lw=1.0, band=args.band)
            plotting.mean_band(ax_l, its, t_loss, label="GD on smoothed loss F", **kw)
            plotting.mean_band(ax_h, its, t_hess, **kw)
    mark_min_trace(ax_h)
    ax_l.set_title(subtitle(recs, seeds), fontsize=9)
    fig.legend(loc="outside lower center", ncol=4)
    return plotting.save(fig, args.out_dir / "test-func.png")


def figure4(res: Path, seeds: list[int], args) -> Path | None:
    seeds = [s for s in seeds if (res / f"lam-{s}.json").exists()]
    if not seeds:
        return None
    files = [read_json(res / f"lam-{s}.json") for s in seeds]
    lams = sorted(files[0], key=float, reverse=True)
    fig, (ax_l, ax_h) = axes_pair("Figure 4 — ZO with different smoothing λ")
    for color, lam in zip(plotting.SWEEP * 4, lams, strict=False):
        recs = [f[lam] for f in files if lam in f]
        its, loss, hess = stack(recs, args.points)
        kw = dict(color=color, ls="-", band=args.band)
        plotting.mean_band(ax_l, its, loss, label=f"ZO, λ = {lam}", **kw)
        plotting.mean_band(ax_h, its, hess, **kw)
        if args.theory != "none":
            t_loss, t_hess = theory_paths(recs, its)
            limit = theory.predicted_limit_trace(float(lam))
            kw = dict(color=color, ls=":", lw=1.2, band=args.band)
            plotting.mean_band(ax_l, its, t_loss, **kw)
            plotting.mean_band(ax_h, its, t_hess,
                               label=f"GD on F, λ = {lam} (limit Tr = {limit:.4g})", **kw)
    mark_min_trace(ax_h)
    ax_l.set_title(subtitle(recs, seeds), fontsize=9)
    fig.legend(loc="outside lower center", ncol=3)
    return plotting.save(fig, args.out_dir / "test-func-lam.png")


def main(argv: list[str] | None = None) -> list[Path]:
    args = build_parser().parse_args(argv)
    res = args.res
    seeds = args.seeds or sorted(set(seeds_in(res, "GD") + seeds_in(res, "ZO")
                                     + seeds_in(res, "DD") + seeds_in(res, "lam")))
    if not seeds:
        fail(f"no run_toy.py results in {res}; run `python test_func/run_toy.py --out {res}` first")
    plotting.style()
    written = [p for p in (figure1(res, seeds, args), figure4(res, seeds, args)) if p]
    if not written:
        fail(f"no results for seeds {seeds} in {res}")
    for p in written:
        print(f"wrote {p}")
    return written


if __name__ == "__main__":
    main()
