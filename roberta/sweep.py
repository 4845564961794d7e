"""Figures 3 and 6: the grids of runs (defined here only), as one submitit job array on SLURM or
as local jobs, resumable, then the table and the figure.

    python roberta/sweep.py fig3 --dry-run                   # the grid: runs, states, commands
    python roberta/sweep.py fig3 --partition gpu --time 240  # one SLURM job array, then the figure
    STEP=2000 python roberta/sweep.py fig6 --executor local -- --dtype tf32

fig3: SST-2 K = 32 and 256, sst-5 and trec K = 32, each ZO and GD, seed 42, 100,000 steps but
50,000 for K = 256 (the published curves end there); fig6: SST-2 K = 32 over LM-BFF's split
seeds. The paper's launchers' env overrides apply to every run (SEED, SEEDS for fig6, TASK, K,
BS, LR, EPS, STEP, EVAL_STEP, MODEL), and the arguments after `--` go to every train.py call.
A job runs train.py (through torchrun with --gpus-per-job > 1), with --resume whenever its
folder holds a checkpoint: a preempted job or one at its time limit is requeued by submitit and
continues, and re-running the sweep skips finished runs and resumes the others.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import submitit

from flatzero.cli import Parser, check_out_file, fail, positive_int, rel
from flatzero.plotting import ASSETS
from flatzero.results import ResultError, read_json

HERE = Path(__file__).resolve().parent
TRAIN = HERE / "train.py"
# The grids, each cell a run of ZO and one of GD: what it sets besides train.py's defaults.
GRIDS: dict[str, list[dict[str, Any]]] = {
    "fig3": [{"task": "SST-2", "k": 32}, {"task": "SST-2", "k": 256, "steps": 50_000},
             {"task": "sst-5", "k": 32}, {"task": "trec", "k": 32}],
    "fig6": [{"task": "SST-2", "k": 32, "seed": s} for s in (13, 21, 42, 87, 100)],
}
FIGURE_PNG = {"fig3": "roberta.png", "fig6": "roberta-seeds.png"}
TITLES = {"fig3": "Figure 3 — prompt fine-tuning, ZO vs GD",
          "fig6": "Figure 6 — SST-2, K = 32, over LM-BFF's five split seeds"}
# The paper's launchers' env overrides (flat-zo.sh, flat-gd.sh) → train.py's flags.
ENV_FLAGS = {"TASK": "--task", "K": "--k", "SEED": "--seed", "BS": "--batch-size", "LR": "--lr",
             "EPS": "--eps", "STEP": "--steps", "EVAL_STEP": "--eval-steps", "MODEL": "--model"}
ALGOS = ("zo", "gd")
SLURM_TIME_MIN = 240  # a run continues over several allocations: see --max-timeouts
NO_LIMIT_MIN = 30 * 24 * 60  # local jobs: no time limit unless --time
POLL_S = {"local": 0.5, "slurm": 30.0}
# #SBATCH keys the sweep sets from its own flags; --slurm-param may not set them again.
OWN_SLURM = {"time": "--time", "partition": "--partition", "gpus-per-node": "--gpus-per-job",
             "gres": "--gpus-per-job", "nodes": None, "ntasks-per-node": None, "array": None,
             "job-name": None, "signal": None, "output": None, "error": None}


# --- the grid -----------------------------------------------------------------------------------

def grid(figure: str, env: Mapping[str, str], extra: Sequence[str]) -> list[list[str]]:
    """train.py arguments of every run of ``figure``: the cell's settings, then the env
    overrides (empty means unset, as `${VAR:-default}`), then ``extra``."""
    cells = GRIDS[figure]
    if figure == "fig6" and env.get("SEEDS"):
        cells = [{**cells[0], "seed": int(s)} for s in env["SEEDS"].split()]
    runs = []
    for cell in cells:
        for algo in ALGOS:
            argv = ["--algo", algo]
            for key, value in cell.items():
                argv += [f"--{key.replace('_', '-')}", str(value)]
            for var, flag in ENV_FLAGS.items():
                if env.get(var) and (flag != "--eps" or algo == "zo"):
                    argv += [flag, env[var]]
            runs.append(argv + list(extra))
    return runs


def has_checkpoint(out: Path) -> bool:
    from roberta import runfolder

    return runfolder.has_checkpoint(out)


def run_state(out: Path, steps: int) -> str:
    """finished | diverged (both skipped), resume (a checkpoint exists), restart (a run that
    stopped before its first checkpoint: its files are replaced) or new."""
    if (out / "result.json").exists():
        try:
            res = read_json(out / "result.json")
            status, done = res["status"], res["config"]["steps"]
        except (ResultError, KeyError, TypeError):
            fail(f"{out / 'result.json'} is not a train.py result (truncated?); move the run "
                 "folder away, or delete that file to start the run again")
        if status == "diverged":
            return "diverged"
        if status == "finished" and done >= steps:
            return "finished"
    if has_checkpoint(out):
        return "resume"
    return "restart" if (out / "result.json").exists() else "new"


class TrainJob:
    """One run as a submitit job: train.py in a subprocess, resumed from its checkpoint.

    submitit calls checkpoint() when SLURM signals a preemption or the coming time limit and
    requeues the returned submission; train.py has checkpointed every --eval-steps steps, so
    the requeued call passes --resume and continues from there.
    """

    def __init__(self, argv: list[str], out: Path, gpus: int) -> None:
        self.argv, self.out, self.gpus = argv, out, gpus

    def command(self) -> list[str]:
        argv = [*self.argv, "--out", str(self.out)]
        if has_checkpoint(self.out):
            argv.append("--resume")
        elif (self.out / "result.json").exists():  # stopped before its first checkpoint
            argv.append("--overwrite")
        if self.gpus > 1:
            return [sys.executable, "-m", "torch.distributed.run", "--standalone",
                    "--nproc_per_node", str(self.gpus), str(TRAIN), *argv]
        return [sys.executable, str(TRAIN), *argv]

    def __call__(self) -> Path:
        cmd = self.command()
        print(shlex.join(cmd), flush=True)
        with usr2_ignored():  # inherited: only this process reacts (checkpoint and requeue)
            proc = subprocess.Popen(cmd)
        try:
            code = proc.wait()
        except BaseException:  # requeue, cancel: train.py ends with its job
            proc.terminate()  # torchrun passes SIGTERM on to its workers
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
            raise
        if code != 0:
            why = (f"was killed by {signal.Signals(-code).name}" if code < 0 else
                   f"exited with status {code} (its error is above in this log)")
            raise RuntimeError(f"train.py {why}")
        return self.out / "result.json"

    def checkpoint(self) -> submitit.helpers.DelayedSubmission:
        return submitit.helpers.DelayedSubmission(self)


@contextmanager
def usr2_ignored():
    previous = signal.signal(signal.SIGUSR2, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGUSR2, previous)


@dataclass
class Run:
    job: TrainJob
    steps: int
    state: str

    @property
    def name(self) -> str:
        return self.job.out.name


def plan(figure: str, env: Mapping[str, str], extra: Sequence[str], runs: Path | None,
         gpus: int) -> list[Run]:
    """The grid's runs with their folders (train.py's default folders, under ``runs`` if
    given) and states; a grid that cannot run as asked is a one-line error."""
    from roberta import data, distributed, train

    result, folders = [], {}
    for argv in grid(figure, env, extra):
        cfg, opts = train.parse(argv)
        if opts.out is not None or opts.resume or opts.overwrite:
            fail("the sweep sets --out, --resume and --overwrite of each run itself; use "
                 "--runs DIR for another folder of run folders")
        out = train.default_out(cfg) if runs is None else runs / train.default_out(cfg).name
        if out in folders:
            fail(f"two runs of the grid share the folder {out} ({shlex.join(folders[out])} and "
                 f"{shlex.join(argv)}); do not override what the grid varies")
        folders[out] = argv
        rows = cfg.k * data.NUM_LABELS[cfg.task]
        try:  # every process of a job must have chunks to compute (train.py refuses otherwise)
            distributed.World(0, gpus).check_chunks(min(cfg.batch_size or rows, rows),
                                                    cfg.chunk_size)
        except distributed.DeviceError as exc:
            fail(f"{out.name}: {exc} (after `--`)")
        result.append(Run(TrainJob(argv, out, gpus), cfg.steps, run_state(out, cfg.steps)))
    return result


# --- executors ------------------------------------------------------------------------------------

def slurm_executor(args, logs: Path) -> submitit.SlurmExecutor:
    executor = submitit.SlurmExecutor(folder=logs, max_num_timeout=args.max_timeouts)
    extra = dict(p.split("=", 1) for p in args.slurm_param)
    executor.update_parameters(job_name=f"flatzero-{args.figure}", time=args.time or SLURM_TIME_MIN,
                               nodes=1, ntasks_per_node=1, gpus_per_node=args.gpus_per_job,
                               array_parallelism=args.array_parallelism,
                               partition=args.partition, additional_parameters=extra)
    return executor


def submit_slurm(executor: submitit.SlurmExecutor, todo: list[Run]) -> list[submitit.Job]:
    """All runs as one job array."""
    with executor.batch():
        jobs = [executor.submit(run.job) for run in todo]
    print(f"submitted job array {jobs[0].job_id.split('_')[0]} ({len(jobs)} jobs); waiting "
          "(stopping this command does not stop the jobs)", flush=True)
    return jobs


def local_executor(args, logs: Path) -> submitit.LocalExecutor:
    executor = submitit.LocalExecutor(folder=logs, max_num_timeout=args.max_timeouts)
    executor.update_parameters(timeout_min=args.time or NO_LIMIT_MIN)
    return executor


def run_local(executor: submitit.LocalExecutor, todo: list[Run], parallel: int,
              gpus_per_job: int, n_gpus: int) -> dict[str, str]:
    """The runs as local jobs, ``parallel`` at a time, each on GPUs of its own when there are
    any; returns the failures."""
    failures: dict[str, str] = {}
    free, running = list(range(parallel)), {}  # slot → (run, job)
    queue = list(todo)
    while queue or running:
        while queue and free:
            slot = free.pop(0)
            gpus = tuple(range(slot * gpus_per_job, (slot + 1) * gpus_per_job)) if n_gpus else ()
            executor.update_parameters(gpus_per_node=len(gpus), visible_gpus=gpus)
            run = queue.pop(0)
            running[slot] = (run, executor.submit(run.job))
        ended = [slot for slot, (_, job) in running.items() if job.done()]
        for slot in ended:
            report(*running.pop(slot), len(todo) - len(queue) - len(running), len(todo),
                   failures)
            free.append(slot)
        if not ended:
            time.sleep(POLL_S["local"])
    return failures


def wait_slurm(jobs: list[submitit.Job], todo: list[Run]) -> dict[str, str]:
    failures: dict[str, str] = {}
    run_of = {job.job_id: run for job, run in zip(jobs, todo, strict=True)}
    for k, job in enumerate(submitit.helpers.as_completed(jobs, poll_frequency=POLL_S["slurm"])):
        report(run_of[job.job_id], job, k + 1, len(jobs), failures)
    return failures


def report(run: Run, job: submitit.Job, k: int, n: int, failures: dict[str, str]) -> None:
    """One line when a job ends; a failure also goes into ``failures``."""
    try:
        error = job.exception()
    except submitit.core.utils.UncompletedJobError as exc:
        error = exc
    if error is None:
        print(f"[{k}/{n}] {run.name}: done", flush=True)
        return
    lines = [ln for ln in str(error).splitlines() if ln.strip() and not ln.startswith("-")]
    reason = next((ln for ln in reversed(lines) if "Error" in ln), lines[-1] if lines else "?")
    failures[run.name] = f"{reason.strip()} (log: {job.paths.stderr})"
    print(f"[{k}/{n}] {run.name}: FAILED: {failures[run.name]}", flush=True)


# --- the report -----------------------------------------------------------------------------------

def last(log: list[dict[str, Any]], key: str) -> dict[str, Any] | None:
    return next((rec for rec in reversed(log) if rec.get(key) is not None), None)


def data_tag(config: Mapping[str, Any]) -> str:
    """8 hex digits naming the data a run read (its split files' SHA-256 sums)."""
    sums = config.get("data_sha256")
    if not isinstance(sums, Mapping):
        return "?"
    return hashlib.sha256(repr(sorted(sums.items())).encode()).hexdigest()[:8]


def table(runs: list[Run]) -> str:
    """run, status, steps done, final train loss, trace ± s.e., test accuracy, the data it read
    and GPU-hours (the run's wall time × its processes), as a Markdown table."""
    rows = [("run", "status", "steps", "train loss", "trace ± s.e.", "test acc", "data", "GPU-h")]
    for run in runs:
        path = run.job.out / "result.json"
        if not path.exists():
            rows.append((run.name, "not started", f"0/{run.steps}", "", "", "", "", ""))
            continue
        res = read_json(path)
        log, cfg = res["log"], res["config"]
        tr, acc = last(log, "trace"), last(log, "test_acc")
        se = tr.get("trace_stderr") if tr else None
        rows.append((
            run.name, res.get("status", "?"), f"{log[-1]['step'] if log else 0}/{cfg['steps']}",
            f"{log[-1]['train_loss']:.4f}" if log else "",
            f"{tr['trace']:.4g}" + (f" ± {se:.2g}" if se is not None else "") if tr else "",
            f"{acc['test_acc']:.4f}" if acc else "", data_tag(cfg),
            f"{cfg['wall_time_s'] * cfg.get('world_size', 1) / 3600:.3g}"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |"
             for r in rows]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


# --- command line ---------------------------------------------------------------------------------

def key_value(text: str) -> str:
    if "=" not in text or text.startswith("="):
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    key = text.split("=", 1)[0].lstrip("-")
    if key in OWN_SLURM:
        own = OWN_SLURM[key]
        raise argparse.ArgumentTypeError(
            f"{key} is set by the sweep itself" + (f": use {own}" if own else ""))
    return text


def build_parser() -> Parser:
    p = Parser(prog="sweep.py", description=__doc__.split("\n\n")[0],
               epilog="Arguments after `--` go to every train.py call, e.g. `-- --dtype tf32`; "
                      "the env overrides of the paper's launchers apply to every run.")
    p.add_argument("figure", choices=sorted(GRIDS), help="fig3: 4 settings × ZO/GD; "
                   "fig6: SST-2 K = 32 × the split seeds (SEEDS) × ZO/GD")
    p.add_argument("--executor", choices=["slurm", "local"],
                   default="slurm" if shutil.which("sbatch") else "local",
                   help="slurm: one job array; local: jobs on this machine; the default is "
                        "slurm where sbatch is on PATH")
    p.add_argument("--dry-run", action="store_true",
                   help="print the runs, their state and their commands; submit nothing")
    p.add_argument("--gpus-per-job", type=positive_int, default=1,
                   help="GPUs (processes) per run; > 1 runs train.py under torchrun")
    p.add_argument("--time", type=positive_int, default=None,
                   help="time limit per job in minutes; at the limit the job is requeued and "
                        "resumes (default: 240 on SLURM, none locally)")
    p.add_argument("--max-timeouts", type=positive_int, default=20,
                   help="time-limit requeues per job (preemptions do not count)")
    p.add_argument("--runs", type=Path, default=None,
                   help="folder for the run folders (default: train.py's, roberta/runs)")
    p.add_argument("--png", type=Path, default=None,
                   help="figure path (default: assets/roberta.png for fig3, "
                        "assets/roberta-seeds.png for fig6 at the paper's settings; else "
                        "<runs>/<figure>.png)")
    slurm = p.add_argument_group("SLURM")
    slurm.add_argument("--partition", default=None, help="SLURM partition")
    slurm.add_argument("--array-parallelism", type=positive_int, default=256,
                       help="at most this many jobs of the array at once")
    slurm.add_argument("--slurm-param", type=key_value, action="append", default=[],
                       metavar="KEY=VALUE",
                       help="extra #SBATCH --KEY=VALUE (repeatable), e.g. account=abc, "
                            "cpus-per-task=8, qos=high; not what the flags above set")
    local = p.add_argument_group("local")
    local.add_argument("--local-parallel", type=positive_int, default=1,
                       help="local jobs at once (each on --gpus-per-job GPUs of its own)")
    return p


def shown(cmd: Sequence[str]) -> str:
    """A command as one would type it here: `python`, and paths relative to this folder."""
    cwd = Path.cwd()

    def one(arg: str) -> str:
        if arg == sys.executable:
            return "python"
        path = Path(arg)
        return str(path.relative_to(cwd)) if path.is_absolute() and path.is_relative_to(cwd) \
            else arg
    return shlex.join(map(one, cmd))


def figure_path(args, env: Mapping[str, str], extra: Sequence[str], root: Path) -> Path:
    """--png, or assets/ for the paper's grid (no env override, no extra flag, the default
    folders), else beside the runs: a smoke sweep never replaces the paper's figure."""
    if args.png is not None:
        return args.png
    paper = not extra and args.runs is None and not any(
        env.get(v) for v in [*ENV_FLAGS, "SEEDS"])
    return (ASSETS / FIGURE_PNG[args.figure]) if paper else root / f"{args.figure}.png"


def main(argv: Sequence[str] | None = None) -> Path | None:
    """Run (or with --dry-run print) the sweep; returns the figure's path when one was drawn."""
    argv = list(sys.argv[1:] if argv is None else argv)
    own, extra = (argv[:argv.index("--")], argv[argv.index("--") + 1:]) if "--" in argv else \
        (argv, [])
    args = build_parser().parse_args(own)
    if args.runs is not None and args.runs.exists() and not args.runs.is_dir():
        fail(f"--runs {args.runs} is a file, not a folder")
    runs = plan(args.figure, os.environ, extra, args.runs, args.gpus_per_job)
    root = args.runs or runs[0].job.out.parent
    png = check_out_file(figure_path(args, os.environ, extra, root), "--png",
                         (".png", ".pdf", ".svg"))
    todo = [run for run in runs if run.state in ("new", "restart", "resume")]
    if args.executor == "slurm":
        where = (f"one SLURM array, partition {args.partition or '(default)'}, "
                 f"{args.time or SLURM_TIME_MIN} min per job, at most {args.array_parallelism} "
                 f"at once, {args.gpus_per_job} GPU(s) per job")
    else:
        import torch

        n_gpus = torch.cuda.device_count()
        where = f"local jobs, {args.local_parallel} at a time, " + (
            f"{args.gpus_per_job} GPU(s) per job" if n_gpus else "on the CPU (no GPU here)")
    print(f"{args.figure}: {len(runs)} runs in {rel(root)}, {len(todo)} to run ({where})")
    for run in runs:
        print(f"  {run.state:<9} {run.name}  ({run.steps} steps)")
        if args.dry_run and run in todo:
            print(f"            {shown(run.job.command())}")
    if args.dry_run:
        return None
    failures: dict[str, str] = {}
    if todo:
        logs = root / "sweep-logs"
        if args.executor == "slurm":
            if not shutil.which("sbatch"):
                fail("--executor slurm needs sbatch (run this on a SLURM login node), or use "
                     "--executor local")
            jobs = submit_slurm(slurm_executor(args, logs), todo)
            print(f"logs in {logs}", flush=True)
            failures = wait_slurm(jobs, todo)
        else:
            if n_gpus and args.local_parallel * args.gpus_per_job > n_gpus:
                fail(f"--local-parallel {args.local_parallel} × --gpus-per-job "
                     f"{args.gpus_per_job} needs more than the {n_gpus} GPUs here")
            print(f"logs in {logs}", flush=True)
            failures = run_local(local_executor(args, logs), todo, args.local_parallel,
                                 args.gpus_per_job, n_gpus)
    print(table(runs))
    drawn = [run.job.out for run in runs if (run.job.out / "result.json").exists()]
    if drawn:
        from roberta import plot

        png = plot.main(["--out", str(png), "--title", TITLES[args.figure], "--runs",
                         *map(str, drawn)])
    if failures:
        fail(f"{len(failures)} run(s) failed: {', '.join(failures)}; re-run the same command to "
             "resume them after fixing the cause")
    return png if drawn else None


if __name__ == "__main__":
    from roberta.sweep import main as sweep_main  # jobs pickle roberta.sweep.TrainJob by name

    sweep_main()
