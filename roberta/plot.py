"""Figure 3 (and the seed runs of Figure 6) from the runs' result.json (never reruns anything).

    python roberta/plot.py                  # roberta/runs/*/result.json → assets/roberta.png

One column per task setting (SST-2 K=32, SST-2 K=256, sst-5, trec, ... as present), rows train
loss, Hessian-trace estimate and test accuracy vs step; GD dashed, ZO solid. Runs share a curve
only when their whole config but the seed agrees, the data they read (config.data_sha256)
included: curves that differ in it are labelled by a data tag. Several seeds: mean line and a
min–max band, and for the trace the standard error of the mean as bars (one seed: a ± s.e.
band). A run that has not finished (status running: live, killed or stopped) is drawn on its
own, dotted, and left out of its finished seed-mates' mean; a curve whose runs are all still
running is their mean over the steps all of them logged. A diverged run is drawn on its own up
to its divergence, marked ×. A value stored as null (JSON's NaN) is a gap in its curve. The trace
axis is symlog, so negative estimates (noise around a small trace) show.

Only runs at the paper's settings (roberta/train.py's defaults; task, K, seed and steps are the
grid) draw into assets/ under the Figure 3 title; others draw beside the runs under a title that
says what differs. Notes go to stderr; stdout has only "wrote <path>".
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from flatzero import cli, plotting, readme
from flatzero import runs as runlib
from flatzero.cli import Parser, check_out_file, fail, nonneg_int
from flatzero.results import ResultError, read_result

plt = plotting.plt
HERE = Path(__file__).resolve().parent
REPO = HERE.parent
ROWS = (("train_loss", "train loss"), ("trace", "Hessian trace (symlog)"),
        ("test_acc", "test accuracy"))
ORDER = {"SST-2": 0, "sst-5": 1, "trec": 2}
PUBLISHED_SEED = 42  # the split and training seed of the paper's Figure 3 (its launchers' SEED)
COMPARE = "roberta-published"
TABLE = "roberta-runs"
# Keys every curve label shows anyway.
ALGO_KEYS = ("algo", "lr")
# What a log record may hold as numbers (null: a NaN, which JSON cannot store).
METRICS = ("train_loss", "trace", "trace_stderr", "test_acc", "dev_acc")
DRAWN = ("train_loss", "trace", "trace_stderr", "test_acc")
CONFIG_TYPES: dict[str, type | tuple[type, ...]] = {
    "task": str, "k": int, "algo": str, "lr": (int, float), "seed": int}
STATUSES = ("running", "finished", "diverged")
PNG = "roberta.png"
PAPER_TITLE = "Figure 3 — prompt fine-tuning, ZO vs GD"
TITLE = "Prompt fine-tuning, ZO vs GD"
# Config fields that may differ from train.py's defaults in the paper's figures: the grid
# (sweep.py's), the algorithm, and eval_steps (checkpoints and the dev accuracy, not drawn).
FREE = ("task", "k", "seed", "steps", "algo", "eval_steps")


def note(message: str) -> None:
    print(f"note: {message}", file=sys.stderr)


# --- reading ------------------------------------------------------------------------------------

def result_files(paths: list[Path]) -> list[Path]:
    """The result.json of each run folder in ``paths``, and of every run folder one level below
    each other folder."""
    found = []
    for path in paths:
        found += [path / "result.json"] if (path / "result.json").exists() else sorted(
            path.glob("*/result.json"))
    return found


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def config_problem(res: dict) -> str | None:
    """Why ``res`` is not a roberta/train.py result (config, log list, status), or None."""
    c = res["config"]
    if not isinstance(c, dict):
        return "config is not an object"
    missing = [k for k in CONFIG_TYPES if k not in c]
    if missing:
        return f"config without {', '.join(missing)}"
    wrong = [k for k, t in CONFIG_TYPES.items() if not isinstance(c[k], t) or
             isinstance(c[k], bool)]
    if wrong:
        return f"config {', '.join(f'{k} {c[k]!r}' for k in wrong)} of the wrong type"
    if not isinstance(res["log"], list):
        return "log is not a list"
    if res.get("status") not in STATUSES:
        return f"status {res.get('status')!r}, not {' | '.join(STATUSES)}"
    return None


def record_problem(log: list) -> str | None:
    """The first malformed record of ``log`` ("log record 3 (step 40) has no 'train_loss'"), or
    None: every record an object with an integer step after the previous one, a train_loss, and
    numbers (or null) as its metrics."""
    last = -1
    for i, rec in enumerate(log):
        if not isinstance(rec, dict):
            return f"log record {i} is not an object"
        step = rec.get("step")
        if not isinstance(step, int) or isinstance(step, bool) or step <= last:
            after = f"after the previous record's {last}" if i else ">= 0"
            return f"log record {i} has step {step!r}, not an integer {after}"
        last = step
        if "train_loss" not in rec:
            return f"log record {i} (step {step}) has no 'train_loss'"
        for key in METRICS:
            if key in rec and rec[key] is not None and not _number(rec[key]):
                return (f"log record {i} (step {step}): {key} is {repr(rec[key])[:30]}, "
                        "not a number")
    return None


def load(paths: list[Path]) -> list[runlib.Run]:
    """Every result.json of ``paths`` (:func:`result_files`), checked before anything is drawn;
    a malformed one is a one-line error naming it (and the record)."""
    runs = []
    for path in result_files(paths):
        try:
            res = read_result(path, ("config", "log"))
        except ResultError as exc:
            fail(str(exc).replace(str(path), cli.rel(path)))
        problem = config_problem(res)
        if problem:
            fail(f"{cli.rel(path)} is not a roberta/train.py result ({problem})")
        problem = record_problem(res["log"])
        if problem:
            fail(f"{cli.rel(path)} is not a whole result: {problem}; move it out of the folder or "
                 "rerun the run that wrote it")
        if res["log"]:
            runs.append(runlib.Run(cli.rel(path.parent), res, res["config"]))
        else:
            note(f"skipped {cli.rel(path)}: no log records yet")
    return runs


def without_duplicates(runs: list[runlib.Run]) -> list[runlib.Run]:
    """``runs`` as :func:`flatzero.runs.group` keeps them (one seed found twice with the same
    settings is one run: the later ``created``), with a note naming each run left out."""
    kept = {id(r) for g in runlib.group(runs) for r in g.runs}
    out = [r for r in runs if id(r) in kept]
    for run in (r for r in runs if id(r) not in kept):
        twin = next(k for k in out if k.seed == run.seed and
                    runlib.identity(k.config) == runlib.identity(run.config))
        when = [str(r.config.get("created", "?")) for r in (twin, run)]
        note(f"found seed {run.seed} of the same settings twice: drew {twin.name} (created "
             f"{when[0]}), not {run.name} (created {when[1]})")
    return out


def status(run: runlib.Run) -> str:
    return "diverged" if run.diverged_at is not None else run.result["status"]


def last_step(run: runlib.Run) -> int:
    return run.result["log"][-1]["step"]


def progress(run: runlib.Run) -> str:
    """E.g. "running, step 25 of 100"."""
    return f"{status(run)}, step {last_step(run)} of {run.config.get('steps', '?')}"


def null_values(run: runlib.Run) -> str | None:
    """Where the drawn metrics of ``run`` are null (NaN), e.g. "train_loss at step 2", or None."""
    steps: dict[str, list[int]] = {}
    for rec in run.result["log"]:
        for key in DRAWN:
            if key in rec and rec[key] is None:
                steps.setdefault(key, []).append(rec["step"])
    return "; ".join(f"{k} at step{'s' if len(v) > 1 else ''} {', '.join(map(str, v))}"
                     for k, v in steps.items()) or None


# --- the paper's settings -------------------------------------------------------------------

def _value(value: Any) -> str:
    return f"{value:g}" if _number(value) and isinstance(value, float) else str(value)


def paper_differences(runs: list[runlib.Run]) -> dict[str, tuple[list[str], list[str]]]:
    """{setting: (the values runs have, the paper's)} for each setting in which some run is not
    at the paper's (roberta/train.Config's defaults for its algorithm; :data:`FREE` may vary)."""
    from roberta import train  # imports torch: only when the figure's place or title is asked

    diffs: dict[str, tuple[list[str], list[str]]] = {}
    for run in runs:
        c = run.config
        paper = train.Config(algo=c["algo"]) if c["algo"] in train.DEFAULT_LR else None
        for f in dataclasses.fields(train.Config):
            if f.name in FREE or f.metadata.get("only", c["algo"]) != c["algo"]:
                continue  # eps is no GD setting, max_grad_norm no ZO one
            want = getattr(paper, f.name, "?")
            got = c.get(f.name, "unset")
            if f.name == "model":  # a hub name, or a local copy of it
                got, want = Path(str(got)).name, Path(str(want)).name
            if got != want:
                have, wants = diffs.setdefault(f.name, ([], []))
                paper_value = _value(want) if f.name != "lr" else f"{c['algo']} {_value(want)}"
                for seen, v in ((have, _value(got)), (wants, paper_value)):
                    if v not in seen:
                        seen.append(v)
    return diffs


def beside(paths: list[Path]) -> Path:
    """The figure's place beside the runs: the first --runs folder (its parent, if it is a run
    folder)."""
    first = paths[0]
    return (first.parent if (first / "result.json").exists() else first) / PNG


def wrapped(head: str, parts: list[str], width: int) -> str:
    """``head`` and ``parts`` joined by "; ", a new line instead where a line would pass
    ``width`` (a part is never split)."""
    lines = [head]
    for i, part in enumerate(parts):
        if len(lines[-1]) + 2 + len(part) > width:
            lines[-1] += ";" if i else ""
            lines.append(part)
        else:
            lines[-1] += f"; {part}" if i else f" {part}"
    return "\n".join(lines)


# --- drawing --------------------------------------------------------------------------------------

def series(runs: list[runlib.Run], key: str) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                      list[int]]:
    """Steps where every run logged ``key``; the runs' values there (runs × steps, null → NaN)
    and their standard errors (``key``_stderr; NaN where none); the steps some run logged
    ``key`` at but not all."""
    per_run = [{r["step"]: (r[key], r.get(f"{key}_stderr")) for r in run.result["log"]
                if key in r} for run in runs]
    steps = sorted(set.intersection(*(set(s) for s in per_run)))
    partial = sorted(set.union(*(set(s) for s in per_run)) - set(steps))

    def table(i: int) -> np.ndarray:
        rows = [[np.nan if s[t][i] is None else s[t][i] for t in steps] for s in per_run]
        return np.array(rows, dtype=float).reshape(len(runs), len(steps))
    return np.array(steps, dtype=int), table(0), table(1), partial


def draw_curve(ax, key: str, steps: np.ndarray, values: np.ndarray, errors: np.ndarray,
               color: str, ls: str, label: str | None) -> str | None:
    """The mean over ``values``' rows with its band; returns the trace band's kind."""
    if not len(steps):
        return None
    if key != "trace":
        plotting.mean_band(ax, steps, list(values), color=color, ls=ls, label=label)
        return None
    mean = values.mean(axis=0)
    ax.plot(steps, mean, color=color, ls=ls, label=label, marker=".", ms=3)
    if len(values) == 1:
        ax.fill_between(steps, mean - errors[0], mean + errors[0], color=color, alpha=0.2, lw=0)
        kind = "se"
    else:  # the spread over seeds, as the other rows; the estimates' own noise as bars
        ax.fill_between(steps, values.min(axis=0), values.max(axis=0), color=color, alpha=0.18,
                        lw=0)
        se = np.sqrt(np.square(errors).sum(axis=0)) / len(values)  # s.e. of the mean
        ax.errorbar(steps, mean, yerr=se, fmt="none", ecolor=color, elinewidth=0.8, capsize=2)
        kind = "spread"
    neg = mean < 0
    if neg.any():  # on a log axis these would vanish; here they sit below 0, ringed
        ax.plot(steps[neg], mean[neg], ls="none", marker="o", mfc="none", color=color, ms=6)
    return kind


def band_legend(ax, kinds: set[str]) -> None:
    """Which trace band is which, for the bands drawn in ``ax``."""
    handles = []
    if "spread" in kinds:
        handles += [Patch(color="0.5", alpha=0.3, lw=0, label="band: min–max over seeds"),
                    Line2D([], [], color="0.3", marker="|", ms=8, ls="none",
                           label="bars: ± s.e. of the mean")]
    if "se" in kinds:
        handles.append(Patch(color="0.5", alpha=0.3, lw=0, label="band: ± s.e. (one seed)"))
    if handles:
        ax.legend(handles=handles, fontsize=7)


def trace_linthresh(runs: list[runlib.Run]) -> float:
    """The symlog axis' linear range: about the typical standard error (a power of ten)."""
    def sizes(key: str) -> list[float]:
        return [abs(r[key]) for run in runs for r in run.result["log"]
                if _number(r.get(key)) and r[key] != 0 and np.isfinite(r[key])]
    se, tr = sizes("trace_stderr"), sizes("trace")
    ref = np.median(se) if se else (np.median(tr) / 10 if tr else 1.0)
    return float(10.0 ** np.floor(np.log10(ref))) if ref > 0 else 1.0


def data_tag(config: Mapping[str, Any]) -> str:
    # sweep's table shows the same tag; imported here, as sweep imports this module in main()
    from roberta.sweep import data_tag as tag

    return tag(config)


def setting_text(key: str, settings: Mapping[str, Any]) -> str:
    return f"data {data_tag(settings)}" if key == "data_sha256" else \
        f"{key} {settings.get(key)}"


def curve_name(settings: Mapping[str, Any], others: list[str], seeds: list) -> str:
    extra = "".join(f", {setting_text(k, settings)}" for k in others)
    return f"{settings['algo'].upper()} (lr {settings['lr']:g}{extra}; {runlib.seed_text(seeds)})"


def model_title(runs: list[runlib.Run]) -> str:
    """The model(s) and trainable-parameter count(s), e.g. "roberta-large, 355.4M parameters"."""
    names = {}
    for run in runs:
        n = run.config.get("n_params")
        names.setdefault(Path(str(run.config.get("model", "?"))).name, set()).add(n)
    parts = []
    for name, counts in names.items():
        known = sorted(n for n in counts if n)
        size = ", ".join(f"{n / 1e6:.1f}M" for n in known) + " parameters" if known else ""
        parts.append(f"{name}{f', {size}' if size else ''}")
    return "; ".join(parts)


def draw_group(axes, col: int, where: str, grp: runlib.Group, others: list[str], color: str,
               ls: str) -> set[str]:
    """One curve: the mean of the finished runs, each unfinished run dotted on its own (or, when
    none has finished, the mean of the running ones over their common steps); returns the trace
    band kinds drawn."""
    finished = [r for r in grp.runs if status(r) == "finished"]
    running = [r for r in grp.runs if status(r) != "finished"]
    total = grp.settings.get("steps", "?")
    name = curve_name(grp.settings, others, [r.seed for r in finished or running])
    kinds: set[str] = set()
    if finished:
        label, curve_runs = name, finished
    else:
        curve_runs, running = running, []
        common = series(curve_runs, "train_loss")[0]
        last = int(common[-1]) if len(common) else None
        label = f"{name}: running, to step {last} of {total}"
        later = [f"seed {r.seed} (at step {last_step(r)})" for r in curve_runs
                 if last_step(r) != last]
        note(f"{where}: {name}: " + (
            f"every run still running: drawn as their mean over the steps all logged (to step "
            f"{last} of {total})" if len(curve_runs) > 1 else
            f"still running: drawn to its last record (step {last} of {total})") +
            (f"; left out: the later records of {', '.join(later)}" if later else ""))
    for row, (metric, _) in enumerate(ROWS):
        steps, values, errors, partial = series(curve_runs, metric)
        kind = draw_curve(axes[row, col], metric, steps, values, errors, color, ls,
                          label if row == 0 else None)
        kinds |= {kind} if kind else set()
        if partial and finished:
            note(f"{where}: {name}: {metric} at step(s) {', '.join(map(str, partial))} not "
                 "logged by every seed, left out of the mean")
    for run in running:
        for row, (metric, _) in enumerate(ROWS):
            steps, (values,), _, _ = series([run], metric)
            axes[row, col].plot(steps, values, color=color, ls=":", lw=1.0, label=(
                f"{curve_name(grp.settings, others, [run.seed])}: {progress(run)}"
                if row == 0 else None))
    if running:
        alone = ", ".join(f"{r.name} ({progress(r)})" for r in running)
        note(f"{where}: {alone} left out of the mean of {name}: not finished; drawn dotted on "
             "its own")
    return kinds


# --- tables: the published key points, each run's numbers ---------------------------------------

def compare_published(runs: list[runlib.Run], summary: bool) -> str:
    """The published Figure 3's key points next to ours, measured on the finished runs at the
    paper's settings and the published seed (roberta/published.py)."""
    from flatzero import keypoints
    from roberta import published

    logs, settings = {}, {}
    for run in runs:
        c = run.config
        if run.seed != PUBLISHED_SEED or status(run) != "finished" or paper_differences([run]):
            continue
        curve = published.curve_name(c["task"], c["k"], c["algo"])
        logs[curve] = run.result["log"]
        settings[curve] = f"seed {run.seed}, lr {c['lr']:g}, {c['steps']} steps"
    rows = published.compare(logs, settings)
    return keypoints.summary(rows) if summary else keypoints.table(rows)


def _span(values: list) -> str:
    nums = [v for v in values if _number(v)]
    return "—" if not nums else f"{nums[0]:.4g} → {nums[-1]:.4g}"


def table(runs: list[runlib.Run]) -> str:
    """Markdown: per run, the train loss, trace ± s.e. and test accuracy from its first record
    to its last."""
    out = ["| run | model | lr | steps | train loss | trace ± s.e. (first → last estimate) | "
           "test accuracy (range) |", "|---|---|---|---|---|---|---|"]
    for run in sorted(runs, key=lambda r: (r.config["task"], r.config["k"], r.config["algo"],
                                           r.seed)):
        c, log = run.config, run.result["log"]
        traces = [r for r in log if _number(r.get("trace"))]
        trace = " → ".join(f"{r['trace']:.4g} ± {r.get('trace_stderr') or float('nan'):.2g}"
                           for r in traces[:1] + traces[-1:]) if traces else "—"
        accs = [r["test_acc"] for r in log if _number(r.get("test_acc"))]
        acc = f"{min(accs):.4f} – {max(accs):.4f}" if accs else "—"
        out.append(f"| {c['task']} K = {c['k']}, {c['algo'].upper()}, seed {run.seed} | "
                   f"{Path(str(c['model'])).name} | {c['lr']:g} | {log[-1]['step']} | "
                   f"{_span([r.get('train_loss') for r in log])} | {trace} | {acc} |")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> Path:
    p = Parser(prog="plot.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", type=Path, nargs="+", default=[HERE / "runs"],
                   help="run folders, or folders of run folders")
    p.add_argument("--out", type=Path, default=None,
                   help=f"PNG path (default: assets/{PNG} when every run drawn is at the "
                        f"paper's settings, else {PNG} beside the runs, in the first --runs "
                        "folder)")
    p.add_argument("--seeds", type=nonneg_int, nargs="+",
                   help="seeds to draw (default: every seed found)")
    p.add_argument("--title", default=None,
                   help=f"figure title (default: '{PAPER_TITLE}' at the paper's settings, else "
                        "one that says what differs); the model and its parameter count are "
                        "added below it")
    readme.add_flags(p, TABLE, COMPARE, "each run's numbers (first → last record)",
                     f"roberta/published.py; ours: the finished runs at the paper's settings, "
                     f"seed {PUBLISHED_SEED}")
    args = p.parse_args(argv)
    readme.check_flags(p, args)
    if args.out is not None:
        check_out_file(args.out, suffixes=(".png", ".pdf", ".svg"))
    runs = [r for r in load([r for r in args.runs if r.exists()] if args.compare_published
                            else args.runs) if args.seeds is None or r.seed in args.seeds]
    if args.compare_published:
        text = compare_published(without_duplicates(runs), args.summary)
        readme.emit(text, readme.marker(args, TABLE, COMPARE), args.readme)
        return args.readme
    if not runs:
        fail(f"no result.json{f' of seeds {args.seeds}' if args.seeds else ''} in "
             f"{' '.join(cli.rel(p) for p in args.runs)}; run roberta/examples/fig3.sh first")
    runs = without_duplicates(runs)
    if args.table:
        readme.emit(table(runs), readme.marker(args, TABLE, COMPARE), args.readme)
        return args.readme
    for run in runs:
        if nulls := null_values(run):
            note(f"{run.name}: null (NaN in result.json) {nulls}: a gap in its curves")
    diffs = paper_differences(runs) if args.out is None or args.title is None else {}
    out, title = args.out, args.title
    running = [Path(r.name).name for r in runs if status(r) == "running"]
    if out is None:
        out = plotting.ASSETS / PNG if not diffs and not running else beside(args.runs)
        check_out_file(out, suffixes=(".png",))
        if diffs:
            details = "; ".join(f"{k} {', '.join(v)} (paper: {', '.join(w)})"
                                for k, (v, w) in diffs.items())
            note(f"these runs are not at the paper's settings ({details}): drawing beside them "
                 f"into {cli.rel(out)}, not assets/{PNG} (--out chooses)")
        elif running:
            note(f"{len(running)} run(s) still running ({', '.join(running[:2])}"
                 f"{', ...' if len(running) > 2 else ''}): drawing beside them into "
                 f"{cli.rel(out)}; assets/{PNG} holds finished runs only (--out chooses)")

    multi_model = len({str(r.config.get("model")) for r in runs}) > 1
    columns: dict[tuple, list[runlib.Run]] = {}
    for run in runs:
        c = run.config
        key = ((Path(str(c.get("model"))).name,) if multi_model else ()) + (c["task"], c["k"])
        columns.setdefault(key, []).append(run)
    order = sorted(columns, key=lambda t: (t[:-2], ORDER.get(t[-2], 9), t[-1]))

    plotting.style()
    width = 3.8 * len(order) + 0.6
    fig, axes = plt.subplots(len(ROWS), len(order), figsize=(width, 8.4),
                             squeeze=False, sharex="col", layout="constrained")
    diverged_total = 0
    for col, key in enumerate(order):
        col_runs = columns[key]
        where = f"{key[-2]}, K = {key[-1]}" + (f" ({key[0]})" if multi_model else "")
        groups = runlib.group([r for r in col_runs if status(r) != "diverged"])
        others = [k for k in runlib.varying(groups) if k not in ALGO_KEYS]
        if "data_sha256" in others:
            tags = [f"{data_tag(g.settings)} ({', '.join(r.name for r in g.runs)})"
                    for g in groups]
            note(f"{where}: curves differ in the data their runs read (config.data_sha256), "
                 f"labelled by a data tag: {'; '.join(tags)}")
        palette = {"zo": iter([plotting.COLORS["ZO"], *plotting.SWEEP[1:]]),
                   "gd": iter([plotting.COLORS["GD"], "#17becf", "#7f7f7f", "#bcbd22"])}
        kinds: set[str] = set()
        for grp in sorted(groups, key=lambda g: (g.settings["algo"], g.settings["lr"])):
            algo = grp.settings["algo"]
            color = next(palette.get(algo, iter([plotting.COLORS.get(algo.upper(), "k")])),
                         "#444444")
            kinds |= draw_group(axes, col, where, grp, others, color,
                                plotting.linestyle(algo.upper()))
        for run in (r for r in col_runs if status(r) == "diverged"):
            diverged_total += 1
            algo = run.config["algo"]
            color = plotting.COLORS.get(algo.upper(), "k")
            for row, (metric, _) in enumerate(ROWS):
                steps, (values,), _, _ = series([run], metric)
                finite = np.flatnonzero(np.isfinite(values))  # the × marks the last number
                n = finite[-1] + 1 if len(finite) else 0
                plotting.diverged(axes[row, col], steps[:n], values[:n], color=color, ls=":",
                                  label=(f"{algo.upper()} (lr {run.config['lr']:g}; seed "
                                         f"{run.seed}): diverged" + (
                                             f" at step {run.diverged_at}"
                                             if run.diverged_at is not None else "")
                                         if row == 0 else None))
        title_ = f"{key[-2]}, K = {key[-1]}" + (f"\n{key[0]}" if multi_model else "")
        axes[0, col].set_title(title_, fontsize=10)
        axes[1, col].set_yscale("symlog", linthresh=trace_linthresh(col_runs))
        axes[1, col].axhline(0, color="k", lw=0.6)
        band_legend(axes[1, col], kinds)
        axes[-1, col].set_xlabel("step")
        axes[0, col].legend(fontsize=7)
    for row, (_, ylabel) in enumerate(ROWS):
        axes[row, 0].set_ylabel(ylabel)
    if title is None:
        title = PAPER_TITLE if not diffs else wrapped(
            f"{TITLE} — not the paper's settings:",
            [f"{k} {', '.join(v)}" for k, (v, _) in diffs.items()], max(50, int(11 * width)))
    fig.suptitle(f"{title}\n{model_title(runs)}")
    path = plotting.save(fig, out)
    if diverged_total:
        note(f"drew {diverged_total} diverged run(s) on their own, up to the divergence (×)")
    print(f"wrote {cli.rel(path)}")
    return path


if __name__ == "__main__":
    cli.run(main)
