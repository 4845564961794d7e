"""roberta/sweep.py: the launchers' grid, local submitit jobs that resume, SLURM array files."""

import contextlib
import io
import os
import shlex
import signal
import subprocess
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

pytest.importorskip("torch")
pytest.importorskip("submitit")

from flatzero.results import ResultError, read_json, write_json
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


# --- the grid ----------------------------------------------------------------------------------

def dry_run(capsys, *argv) -> list[tuple[str, str, int, dict]]:
    """(state, run folder, steps, train.py's parsed settings) of each run a dry run lists."""
    argv = list(argv)
    argv.insert(argv.index("--") if "--" in argv else len(argv), "--dry-run")
    assert sweep.main(argv) is None
    out = capsys.readouterr().out.splitlines()
    listed = []
    for line, cmd in zip(out[1::2], out[2::2], strict=True):
        state, name, steps = line.split()[0], line.split()[1], int(line.split("(")[1].split()[0])
        argv = shlex.split(cmd)[2:]  # python roberta/train.py ...
        cfg, opts = train.parse(argv)
        assert opts.out.name == name == train.default_out(cfg).name
        listed.append((state, name, steps, cfg))
    return listed


def test_fig3_is_the_published_figure_k256_at_half_the_steps(capsys, monkeypatch, tmp_path):
    clean_env(monkeypatch)
    listed = dry_run(capsys, "fig3", "--runs", str(tmp_path / "runs"))
    assert [(c.task, c.k, c.algo, c.seed) for *_, c in listed] == [
        (t, k, a, 42) for t, k in (("SST-2", 32), ("SST-2", 256), ("sst-5", 32), ("trec", 32))
        for a in ("zo", "gd")]
    assert {(c.k, steps) for _, _, steps, c in listed} == {(32, 100_000), (256, 50_000)}
    assert all(c == train.Config(task=c.task, k=c.k, algo=c.algo, steps=c.steps)
               for *_, c in listed)  # train.py's defaults otherwise: lr, ε, test every 100
    assert not (tmp_path / "runs").exists()  # a dry run writes nothing


def test_env_overrides_and_extra_flags_reach_every_run(capsys, monkeypatch, tmp_path):
    clean_env(monkeypatch, SEEDS="21  87", STEP="5", EVAL_STEP="3", MODEL="m", BS="4",
              LR="0.1", EPS="")
    listed = dry_run(capsys, "fig6", "--runs", str(tmp_path), "--", "--dtype", "bf16")
    assert [(c.seed, c.algo) for *_, c in listed] == [(21, "zo"), (21, "gd"), (87, "zo"),
                                                      (87, "gd")]
    for *_, c in listed:
        assert (c.steps, c.eval_steps, c.model, c.batch_size, c.lr, c.eps, c.dtype) == (
            5, 3, "m", 4, 0.1, 2e-3, "bf16")  # EPS empty: unset, as ${EPS:-2e-3}
    clean_env(monkeypatch, STEP="7", EPS="0.01")
    for *_, c in dry_run(capsys, "fig3", "--runs", str(tmp_path)):
        assert c.steps == 7 and c.eps == (0.01 if c.algo == "zo" else 2e-3)  # K = 256 too


def test_the_launchers_hand_over_to_the_sweep(tmp_path):
    """fig3.sh / fig6.sh: sweep.py with a local executor and the caller's arguments."""
    fake = tmp_path / "fake-python"
    fake.write_text(f"#!/bin/sh\necho \"$@\" > {tmp_path}/args\n")
    fake.chmod(0o755)
    for figure in ("fig3", "fig6"):
        subprocess.run(["bash", str(LAUNCHERS / f"{figure}.sh"), "--dry-run", "--", "--quiet"],
                       check=True, env={**os.environ, "PYTHON": str(fake)})
        args = (tmp_path / "args").read_text().split()
        assert Path(args[0]).name == "sweep.py"
        assert args[1:] == [figure, "--executor", "local", "--dry-run", "--", "--quiet"]


def test_default_folders_are_train_py_s_and_the_grid_must_not_collide(monkeypatch, capsys):
    clean_env(monkeypatch)
    for run in sweep.plan("fig6", os.environ, [], None, 1):
        assert run.job.out == train.default_out(train.parse(run.job.argv)[0])
    with pytest.raises(SystemExit):
        sweep.plan("fig6", os.environ, ["--seed", "1"], None, 1)
    assert "share the folder" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        sweep.plan("fig3", os.environ, ["--resume"], None, 1)


@pytest.mark.parametrize("argv, message", [
    (["fig6", "--slurm-param", "time=10"], "time is set by the sweep itself: use --time"),
    (["fig6", "--slurm-param", "gpus-per-node=2"], "use --gpus-per-job"),
    (["fig6", "--runs", "README.md"], "is a file, not a folder"),
    (["fig6", "--png", "README.md"], "give a file ending in .png"),
    (["fig6", "--gpus-per-job", "4"], "pass --chunk-size 16 or less"),
])
def test_bad_sweeps_fail_in_one_line_before_any_work(argv, message, monkeypatch, capsys):
    clean_env(monkeypatch)
    monkeypatch.chdir(ROOT)
    with pytest.raises(SystemExit):
        sweep.main(argv)
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_run_states_and_a_bad_result_file(tmp_path, monkeypatch, capsys):
    """A run stopped before its first checkpoint is started again (restart, not new); a
    truncated result.json is named in one line; a trace without standard error prints."""
    clean_env(monkeypatch, SEEDS="13")
    runs = tmp_path / "runs"
    zo, gd = (runs / f"SST-2-k32-{a}-seed13" for a in ("zo", "gd"))
    zo.mkdir(parents=True)
    write_json(zo / "result.json", {"config": {"steps": 100_000, "wall_time_s": 1.0},
                                    "status": "running", "log": [
        {"step": 0, "train_loss": 0.7, "trace": 3.0, "trace_stderr": None}]})
    plan = sweep.plan("fig6", os.environ, [], runs, 1)
    assert [r.state for r in plan] == ["restart", "new"]
    assert "--overwrite" in plan[0].job.command()
    assert "| 3 " in sweep.table(plan) and "not started" in sweep.table(plan)
    gd.mkdir()
    (gd / "result.json").write_text('{"config": ')
    with pytest.raises(SystemExit):
        sweep.plan("fig6", os.environ, [], runs, 1)
    err = capsys.readouterr().err
    assert "result.json is not a train.py result" in err and len(err.splitlines()) == 1


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


@pytest.mark.slow
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
            sweep.data_tag(res["config"]), f"{res['config']['wall_time_s'] / 3600:.3g}"]


@pytest.mark.slow
def test_preempted_job_requeues_itself_and_continues(swept, uninterrupted):
    assert f"preempt {swept.outs['zo'].name}" in swept.sent
    assert f"{swept.outs['zo'].name}: done" in swept.first[1]  # the same job, requeued, finished
    log = job_log(swept.runs, swept.outs["zo"])
    commands = [line for line in log.splitlines() if "train.py" in line]
    assert "Requeued" in log and len(commands) == 2 and "--resume" in commands[1]
    # train.py checkpointed where SIGTERM found it, not only at its last --eval-steps
    assert "stopped by SIGTERM at step" in log
    assert numbers(read_json(swept.outs["zo"] / "result.json")) == numbers(uninterrupted["zo"])


@pytest.mark.slow
def test_killed_run_resumes_when_the_sweep_is_rerun(swept, uninterrupted):
    assert f"crash {swept.outs['gd'].name}" in swept.sent
    code, out = swept.first
    assert code == 1 and f"{swept.outs['gd'].name}: FAILED" in out and "killed by SIGKILL" in out
    code, out = swept.second
    assert "1 to run" in out and "resume    SST-2-k8-gd-seed13" in out
    assert "finished  SST-2-k8-zo-seed13" in out
    assert numbers(read_json(swept.outs["gd"] / "result.json")) == numbers(uninterrupted["gd"])


@pytest.mark.slow
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
    runs = sweep.plan("fig6", os.environ, ["--chunk-size", "32"], tmp_path / "runs",
                      args.gpus_per_job)
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
