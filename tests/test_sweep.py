"""roberta/sweep.py: the launchers' grid, local submitit jobs that resume, SLURM array files."""

import contextlib
import io
import json
import os
import shlex
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

pytest.importorskip("torch")
pytest.importorskip("submitit")

from flatzero.results import ResultError, read_json
from roberta import sweep, train

ROOT = Path(__file__).resolve().parents[1]
LAUNCHERS = ROOT / "roberta" / "examples"
ENV_KEYS = ("TASK", "K", "SEED", "SEEDS", "BS", "LR", "EPS", "STEP", "EVAL_STEP", "MODEL")
TIMING = ("wall_time_s", "step_time_s", "peak_mem_gib")
STEPS, EVAL_STEP = 30, 10  # a run is signalled between its checkpoints at steps 10 and 30


def numbers(result):
    return [{k: v for k, v in rec.items() if k not in TIMING} for rec in result["log"]]


def clean_env(monkeypatch, **env):
    for key in ENV_KEYS:
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)


# --- the grid is the launchers' ------------------------------------------------------------------

def launcher_calls(script: str, tmp_path: Path, env: dict, extra: list[str]) -> list[list[str]]:
    """train.py arguments of every call the launcher makes, recorded by a fake interpreter."""
    record = tmp_path / f"{script}.jsonl"
    fake = tmp_path / "fake-python"
    fake.write_text(f"#!{sys.executable}\nimport json, sys\n"
                    f"open({str(record)!r}, 'a').write(json.dumps(sys.argv[1:]) + '\\n')\n")
    fake.chmod(0o755)
    base = {k: v for k, v in os.environ.items() if k not in ENV_KEYS}
    subprocess.run(["bash", str(LAUNCHERS / f"{script}.sh"), *extra], check=True,
                   env={**base, **env, "PYTHON": str(fake)})
    calls = [json.loads(line) for line in record.read_text().splitlines()]
    assert Path(calls[-1][0]).name == "plot.py"  # and then the figure
    return [c[1:] for c in calls if Path(c[0]).name == "train.py"]


def parsed(argv: list[str]) -> dict:
    return vars(train.build_parser().parse_args(argv))


@pytest.mark.parametrize("figure, env", [
    ("fig3", {}),
    ("fig3", {"SEED": "13", "STEP": "7", "EVAL_STEP": "3", "MODEL": "m", "BS": "4", "LR": "0.1",
              "EPS": "0.01"}),
    ("fig6", {}),
    ("fig6", {"SEEDS": "21  87", "TASK": "trec", "K": "8", "STEP": "5", "EPS": ""}),
])
def test_dry_run_grid_equals_the_launchers(figure, env, tmp_path, monkeypatch, capsys):
    extra = ["--trace-every", "3", "--dtype", "bf16"]
    expected = launcher_calls(figure, tmp_path, env, extra)
    assert len(expected) == {"fig3": 8, "fig6": 10}[figure] - (6 if "SEEDS" in env else 0)
    clean_env(monkeypatch, **env)
    runs = tmp_path / "runs"
    assert sweep.main([figure, "--dry-run", "--runs", str(runs), "--", *extra]) is None
    commands = [shlex.split(line) for line in capsys.readouterr().out.splitlines()
                if "train.py" in line]
    got = [c[[Path(a).name for a in c].index("train.py") + 1:] for c in commands]
    assert len(got) == len(expected)
    # Compared as parsed by train.py: the sweep writes train.py's defaults as Python prints
    # them (1e-05 where flat-zo.sh says 1e-5).
    for argv, launcher in zip(got, expected, strict=True):
        ours = train.build_parser().parse_args(argv)
        # the launcher's folder (train.py's default) moved under --runs, and nothing else
        assert ours.out == runs / train.default_out(train.config_from_args(ours)).name
        assert parsed(launcher) == {**vars(ours), "out": None}
    assert not runs.exists()  # a dry run writes nothing


def test_default_folders_are_the_launchers_and_the_grid_must_not_collide(monkeypatch, capsys):
    clean_env(monkeypatch)
    runs = sweep.plan("fig6", os.environ, [], None, 1)
    for run in runs:
        cfg = train.config_from_args(train.build_parser().parse_args(run.job.argv))
        assert run.job.out == train.default_out(cfg)
    with pytest.raises(SystemExit):
        sweep.plan("fig6", os.environ, ["--seed", "1"], None, 1)
    assert "share the folder" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        sweep.plan("fig3", os.environ, ["--resume"], None, 1)


# --- local jobs: run, plot, requeue, resume, skip -------------------------------------------------

def use_sweep_env(mp: pytest.MonkeyPatch, tiny_model: Path) -> None:
    """fig6 reduced to SST-2 K = 8, seed 13 (the kshot fixture), ZO and GD, on the tiny model."""
    clean_env(mp, SEEDS="13", K="8", STEP=str(STEPS), EVAL_STEP=str(EVAL_STEP), LR="1e-3",
              EPS="1e-2", MODEL=str(tiny_model))
    mp.setenv("OMP_NUM_THREADS", "1")  # two jobs on two cores


def extra_args(kshot: Path) -> list[str]:
    return ["--data-dir", str(kshot), "--trace-every", "20", "--trace-samples", "2",
            "--device", "cpu", "--quiet"]


def run_sweep(runs: Path, kshot: Path) -> tuple[int, str]:
    """Exit status and stdout of one sweep over ``runs`` (two local jobs at a time)."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        try:
            sweep.main(["fig6", "--executor", "local", "--local-parallel", "2", "--runs", str(runs),
                        "--png", str(runs / "fig6.png"), "--", *extra_args(kshot)])
            code = 0
        except SystemExit as exc:
            code = exc.code
    return code, out.getvalue()


def checkpointed_after_step(out: Path, step: int) -> bool:
    """The run has logged ``step`` and saved the checkpoint that follows that record."""
    state, result = out / "checkpoint" / "state.pt", out / "result.json"
    try:
        return (read_json(result)["log"][-1]["step"] >= step
                and state.stat().st_mtime >= result.stat().st_mtime)
    except (FileNotFoundError, ValueError, ResultError):  # not written yet, or mid-rename
        return False


def trainers(out: Path) -> list[tuple[int, int]]:
    """(pid, parent pid) of the train.py processes writing into ``out``."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
            parent = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if str(out).encode() in argv and any(a.endswith(b"train.py") for a in argv):
            found.append((int(proc.name), parent))
    return found


def interrupt(actions: dict[Path, str], sent: list[str], stop: threading.Event) -> None:
    """Once a run has checkpointed after step EVAL_STEP: "preempt" sends its job SIGUSR2 (what
    SLURM sends before a preemption or the time limit), "crash" kills its train.py outright."""
    while actions and not stop.is_set():
        for out in [o for o in actions if checkpointed_after_step(o, EVAL_STEP)]:
            for pid, job in trainers(out)[:1]:
                action = actions.pop(out)
                if action == "preempt":
                    os.kill(job, signal.SIGUSR2)
                else:
                    os.kill(pid, signal.SIGKILL)
                sent.append(f"{action} {out.name}")
        time.sleep(0.01)


@pytest.fixture(scope="module")
def swept(tmp_path_factory, tiny_model, kshot):
    """fig6 reduced to two runs, swept three times: (1) both jobs start, the ZO job is preempted
    after its checkpoint at step 10 and requeues itself, GD's train.py is killed there, so the
    sweep fails; (2) the rerun resumes GD; (3) a third sweep finds nothing to do."""
    runs = tmp_path_factory.mktemp("sweep") / "runs"
    with pytest.MonkeyPatch.context() as mp:
        use_sweep_env(mp, tiny_model)
        outs = {run.job.argv[1]: run.job.out  # algo → run folder
                for run in sweep.plan("fig6", os.environ, extra_args(kshot), runs, 1)}
        sent: list[str] = []
        stop = threading.Event()
        signaller = threading.Thread(target=interrupt, args=(
            {outs["zo"]: "preempt", outs["gd"]: "crash"}, sent, stop))
        signaller.start()
        try:
            first = run_sweep(runs, kshot)
        finally:
            stop.set()
            signaller.join()
        second = run_sweep(runs, kshot)
        before = {algo: (out / "result.json").read_bytes() for algo, out in outs.items()}
        third = run_sweep(runs, kshot)
    return SimpleNamespace(runs=runs, outs=outs, sent=sent, first=first, second=second,
                           third=third, before=before)


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory, tiny_model, kshot):
    """The same two runs through train.py, in this process, start to end."""
    import torch

    root = tmp_path_factory.mktemp("uninterrupted")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as OMP_NUM_THREADS=1 in the jobs
    try:
        with pytest.MonkeyPatch.context() as mp:
            use_sweep_env(mp, tiny_model)
            return {run.job.argv[1]: read_json(train.main([*run.job.argv, "--out",
                                                           str(run.job.out)]))
                    for run in sweep.plan("fig6", os.environ, extra_args(kshot), root, 1)}
    finally:
        torch.set_num_threads(threads)


def job_log(runs: Path, out: Path) -> str:
    """stdout + stderr of the submitit job that ran ``out``."""
    for stdout in sorted((runs / "sweep-logs").glob("*_log.out")):
        text = stdout.read_text()
        if str(out) in text:
            return text + stdout.with_suffix(".err").read_text()
    raise AssertionError(f"no job log mentions {out}")


def test_two_job_sweep_runs_prints_the_table_and_plots(swept):
    code, out = swept.first
    assert "2 to run" in out and "new       SST-2-k8-zo-seed13" in out
    assert (swept.runs / "fig6.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    code, out = swept.second
    assert code == 0
    rows = {line.split("|")[1].strip(): [c.strip() for c in line.split("|")[2:-1]]
            for line in out.splitlines() if line.startswith("| SST-2")}
    for out_dir in swept.outs.values():
        res = read_json(out_dir / "result.json")
        log = res["log"]
        trace = [r for r in log if "trace" in r][-1]
        assert res["status"] == "finished" and log[-1]["step"] == STEPS
        assert rows[out_dir.name] == [
            "finished", f"{STEPS}/{STEPS}", f"{log[-1]['train_loss']:.4f}",
            f"{trace['trace']:.4g} ± {trace['trace_stderr']:.2g}", f"{log[-1]['test_acc']:.4f}",
            f"{res['config']['wall_time_s'] / 3600:.3g}"]


def test_preempted_job_requeues_itself_and_continues(swept, uninterrupted):
    assert f"preempt {swept.outs['zo'].name}" in swept.sent
    assert f"{swept.outs['zo'].name}: done" in swept.first[1]  # the same job, requeued, finished
    log = job_log(swept.runs, swept.outs["zo"])
    assert "Requeued" in log and log.count("train.py") == 2 and log.count("--resume") == 1
    assert numbers(read_json(swept.outs["zo"] / "result.json")) == numbers(uninterrupted["zo"])


def test_killed_run_resumes_when_the_sweep_is_rerun(swept, uninterrupted):
    assert f"crash {swept.outs['gd'].name}" in swept.sent
    code, out = swept.first
    assert code == 1 and f"{swept.outs['gd'].name}: FAILED" in out and "killed by SIGKILL" in out
    code, out = swept.second
    assert "1 to run" in out and "resume    SST-2-k8-gd-seed13" in out
    assert "finished  SST-2-k8-zo-seed13" in out
    assert numbers(read_json(swept.outs["gd"] / "result.json")) == numbers(uninterrupted["gd"])


def test_rerun_skips_finished_runs(swept):
    code, out = swept.third
    assert code == 0 and "0 to run" in out and out.count("finished  SST-2-k8-") == 2
    assert swept.before == {algo: (out_dir / "result.json").read_bytes()
                            for algo, out_dir in swept.outs.items()}


# --- SLURM: one array, with the requested resources ----------------------------------------------

def test_slurm_submits_one_array_with_the_requested_resources(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "sbatch").write_text(f"#!/bin/sh\ncp \"$1\" {tmp_path}/submitted.sh\n"
                                    "echo Submitted batch job 4242\n")
    (bin_dir / "srun").write_text("#!/bin/sh\nexit 1\n")  # submitit looks for it; never run
    for tool in ("sbatch", "srun"):
        (bin_dir / tool).chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    clean_env(monkeypatch, SEEDS="13 21")
    args = sweep.build_parser().parse_args([
        "fig6", "--executor", "slurm", "--partition", "gpu", "--gpus-per-job", "2", "--time",
        "90", "--array-parallelism", "3", "--slurm-param", "account=abc", "--slurm-param",
        "cpus-per-task=8"])
    runs = sweep.plan("fig6", os.environ, [], tmp_path / "runs", args.gpus_per_job)
    jobs = sweep.submit_slurm(sweep.slurm_executor(args, tmp_path / "logs"), runs)
    assert [j.job_id for j in jobs] == [f"4242_{i}" for i in range(4)]
    script = (tmp_path / "submitted.sh").read_text()
    for line in ("--partition=gpu", "--gpus-per-node=2", "--time=90", "--array=0-3%3",
                 "--account=abc", "--cpus-per-task=8", "--ntasks-per-node=1", "--signal=USR2@"):
        assert f"#SBATCH {line}" in script
    # each array element is its run, launched on 2 GPUs through torchrun
    import submitit

    for job, run in zip(jobs, runs, strict=True):
        delayed = submitit.core.utils.DelayedSubmission.load(job.paths.submitted_pickle)
        cmd = delayed.function.command()
        assert cmd[1:7] == ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node",
                            "2", str(sweep.TRAIN)]
        assert cmd[7:] == [*run.job.argv, "--out", str(run.job.out)]
        assert delayed.function.checkpoint().function is delayed.function
