"""roberta/runfolder.py and the run-folder guarantees of train.py: one owner per folder (an OS lock
and a heartbeat), checks under the lock, SIGTERM/SIGINT that checkpoint and release, and a resume
that refuses other data or another machine."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from conftest import REPO, numbers, run_train  # noqa: E402

from flatzero.results import read_json  # noqa: E402
from roberta import data, runfolder, train  # noqa: E402

HOST = socket.gethostname()
QUICK = ("--lr", "1e-3", "--trace-every", "0")


def flags(tiny_model, kshot, out, *more):
    """The command line of conftest.run_train, for a run in a process of its own."""
    return ["--model", str(tiny_model), "--data-dir", str(kshot), "--out", str(out), "--quiet",
            "--k", "8", "--seed", "13", "--device", "cpu", *QUICK, *more]


def spawn(*argv, env=None):
    """train.py in a process of its own (stderr captured)."""
    return subprocess.Popen([sys.executable, str(REPO / "roberta" / "train.py"), *argv],
                            env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})},
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def wait_for(predicate, timeout=60.0):
    end = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.02)


def logged_step(out: Path) -> int:
    try:
        return read_json(out / "result.json")["log"][-1]["step"]
    except Exception:
        return -1


# --- who may run: the owner record -------------------------------------------------------------

ME = {"host": HOST, "pid": os.getpid(), "slurm_job_id": "778", "slurm_restart": 1}


@pytest.mark.parametrize("owner, running", [
    ({"host": HOST, "pid": os.getpid()}, False),            # this very process
    ({"host": "elsewhere", "heartbeat": time.time()}, True),           # fresh heartbeat
    ({"host": "elsewhere", "heartbeat": time.time() - 3600}, False),   # stale heartbeat
    # the same SLURM job: a shared id is no proof while the heartbeat is fresh (srun -n 2)...
    ({"host": "elsewhere", "slurm_job_id": "778", "slurm_restart": 1,
      "heartbeat": time.time()}, True),
    # ...but an earlier incarnation of it is gone: SLURM ends every task before a requeue
    ({"host": "elsewhere", "slurm_job_id": "778", "slurm_restart": 0,
      "heartbeat": time.time()}, False),
])
def test_still_running(owner, running):
    assert runfolder.still_running(owner, ME, stale_s=600) is running


def test_same_host_owner_counts_while_its_pid_lives():
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        owner = {"host": HOST, "pid": sleeper.pid, "slurm_job_id": "778"}
        assert runfolder.still_running(owner, ME, stale_s=600)  # same job id: not enough
    finally:
        sleeper.kill()
        sleeper.wait()
    assert not runfolder.still_running(owner, ME, stale_s=600)


def test_the_os_lock_refuses_a_second_owner_even_in_this_process(tmp_path):
    with runfolder.Lock(tmp_path):
        owner = json.loads((tmp_path / ".owner.json").read_text())
        assert (owner["host"], owner["pid"]) == (HOST, os.getpid())
        with pytest.raises(runfolder.RunFolderError, match="in use by another run"):
            runfolder.Lock(tmp_path).acquire()
    assert not (tmp_path / ".owner.json").exists()
    runfolder.Lock(tmp_path).acquire().release()  # free again


def test_heartbeat_and_a_takeover_is_noticed(tmp_path):
    lock = runfolder.Lock(tmp_path, beat_s=0.02).acquire()
    first = json.loads((tmp_path / ".owner.json").read_text())["heartbeat"]
    wait_for(lambda: json.loads((tmp_path / ".owner.json").read_text())["heartbeat"] > first)
    assert lock.lost is None

    def rival_beats():  # written as a run writes it (whole, by a rename) and, as a run's
        taken = tmp_path / ".owner.tmp"  # heartbeat, again: our own beat may land in between
        taken.write_text(json.dumps({"host": "elsewhere", "pid": 1}))
        taken.replace(tmp_path / ".owner.json")
        return lock.lost is not None

    wait_for(rival_beats)
    assert "taken over by pid 1 on elsewhere" in lock.lost
    lock.release()  # the new owner's record stays
    assert json.loads((tmp_path / ".owner.json").read_text())["host"] == "elsewhere"


def test_a_live_owner_refuses_and_a_dead_one_is_taken_over(tiny_model, kshot, tmp_path, capsys):
    out = tmp_path / "r"
    out.mkdir()
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (out / ".owner.json").write_text(json.dumps({"host": HOST, "pid": sleeper.pid,
                                                     "heartbeat": time.time()}))
        with pytest.raises(SystemExit) as exc:
            run_train(tiny_model, kshot, out, *QUICK, "--steps", "2")
        err = capsys.readouterr().err
        assert exc.value.code == 1 and f"pid {sleeper.pid}" in err and "delete" in err
        assert not (out / "result.json").exists()
    finally:
        sleeper.kill()
        sleeper.wait()
    assert run_train(tiny_model, kshot, out, *QUICK, "--steps", "2")["status"] == "finished"
    assert not (out / ".owner.json").exists()


@pytest.mark.slow
def test_one_slurm_job_id_is_not_an_owner(tiny_model, kshot, tmp_path, capsys, monkeypatch):
    """Two tasks of one SLURM job on one folder (srun -n 2): the second is refused."""
    out = tmp_path / "r"
    out.mkdir()
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from pathlib import Path; "
         "from roberta.runfolder import Lock; Lock(Path(sys.argv[1])).acquire(); "
         "print('held', flush=True); time.sleep(60)", str(out)],
        env={**os.environ, "PYTHONPATH": str(REPO), "SLURM_JOB_ID": "778"},
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        monkeypatch.setenv("SLURM_JOB_ID", "778")
        with pytest.raises(SystemExit):
            run_train(tiny_model, kshot, out, *QUICK, "--steps", "2")
        assert "in use by another run" in capsys.readouterr().err
    finally:
        holder.kill()
        holder.wait()
    assert not (out / "result.json").exists()


@pytest.mark.slow
def test_a_second_run_on_a_busy_or_used_folder_is_refused(tiny_model, kshot, tmp_path):
    """The issue's race: a run starts while another trains the folder, or after it stopped; the
    folder is checked only under the lock, so the second run never replaces the first."""
    out = tmp_path / "r"
    first = spawn(*flags(tiny_model, kshot, out, "--steps", "100000", "--test-every", "5"))
    wait_for(lambda: logged_step(out) >= 0 or first.poll() is not None)
    second = spawn(*flags(tiny_model, kshot, out, "--steps", "2", "--lr", "5e-3"))
    assert second.wait(timeout=120) == 1 and "in use by another run" in second.stderr.read()
    first.send_signal(signal.SIGTERM)
    assert first.wait(timeout=60) == 143
    third = spawn(*flags(tiny_model, kshot, out, "--steps", "2", "--lr", "5e-3"))
    assert third.wait(timeout=120) == 1
    assert "already holds a run (running): pass --resume" in third.stderr.read()
    assert read_json(out / "result.json")["config"]["lr"] == 1e-3


# --- signals: checkpoint, release, exit 143 / 130 ----------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("sig, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_checkpoints_releases_and_the_rerun_continues(tiny_model, kshot, tmp_path,
                                                               sig, code):
    more = ("--steps", "150", "--test-every", "5", "--eval-steps", "50")
    out = tmp_path / "r"
    proc = spawn(*flags(tiny_model, kshot, out, *more))
    wait_for(lambda: logged_step(out) >= 10 or proc.poll() is not None)
    proc.send_signal(sig)
    assert proc.wait(timeout=60) == code
    err = proc.stderr.read().strip().splitlines()
    assert len(err) == 1 and f"stopped by {sig.name} at step" in err[0] and "--resume" in err[0]
    stopped_at = int(err[0].split("at step ")[1].split(",")[0])
    assert 10 <= stopped_at < 150
    state, _ = runfolder.read_checkpoint(out)
    assert state["step"] == stopped_at  # not the last --eval-steps: nothing to redo
    assert not (out / ".owner.json").exists()
    resumed = run_train(tiny_model, kshot, out, *QUICK, *more, "--resume")
    whole = run_train(tiny_model, kshot, tmp_path / "whole", *QUICK, *more)
    assert numbers(resumed) == numbers(whole)


# --- resume: the same settings, data and machine ---------------------------------------------

def test_resume_refuses_other_data(tiny_model, kshot, originals, tmp_path, capsys):
    """Another valid split of the same task, K and seed (sst-5 with LM-BFF's whole test set
    instead of MeZO's 1000 rows): a resumed run would mix two data sets."""
    other = tmp_path / "k-shot"
    data.generate_kshot("sst-5", 8, 13, originals, other, mode="k-shot")
    out = tmp_path / "r"
    more = ("--task", "sst-5", "--eval-steps", "2")
    first = run_train(tiny_model, kshot, out, *QUICK, "--steps", "2", *more)
    assert set(first["config"]["data_sha256"]) == {"train.csv", "dev.csv", "test.csv"}
    with pytest.raises(SystemExit) as exc:
        run_train(tiny_model, other, out, *QUICK, "--steps", "4", "--resume", *more)
    err = capsys.readouterr().err
    assert exc.value.code == 1 and "data_sha256" in err and "test.csv" in err
    assert read_json(out / "result.json") == first


def test_resume_below_the_checkpoint_is_refused_and_steps_may_grow(tiny_model, kshot,
                                                                  tmp_path, capsys):
    out = tmp_path / "r"
    run_train(tiny_model, kshot, out, *QUICK, "--steps", "4", "--eval-steps", "2")
    with pytest.raises(SystemExit):
        run_train(tiny_model, kshot, out, *QUICK, "--steps", "2", "--eval-steps", "2", "--resume")
    assert "at step 4 already" in capsys.readouterr().err
    assert read_json(out / "result.json")["status"] == "finished"
    grown = run_train(tiny_model, kshot, out, *QUICK, "--steps", "6", "--eval-steps", "2",
                           "--resume")
    assert grown["log"][-1]["step"] == 6 and grown["status"] == "finished"


def test_resume_with_the_default_folder_finds_a_shorter_run(tiny_model, kshot, tmp_path,
                                                            monkeypatch):
    """--steps names no folder, so `--resume --steps 40` continues the run of `--steps 20`."""
    monkeypatch.setattr(train, "RUNS", tmp_path / "runs")
    base = flags(tiny_model, kshot, "x", "--eval-steps", "2")
    base = base[:base.index("--out")] + base[base.index("--out") + 2:]
    train.main([*base, "--steps", "2"])
    assert read_json(train.main([*base, "--steps", "4", "--resume"]))["log"][-1]["step"] == 4


def test_resume_changes():
    saved = {"lr": 1e-3, "world_size": 2, "device": "cpu (x86_64)", "torch": "2.13.0",
             "cuda": None}
    with pytest.raises(runfolder.RunFolderError, match=r"lr: 0\.001 → 0\.002"):
        runfolder.resume_changes(saved, {**saved, "lr": 2e-3}, ["lr"], True)
    now = {**saved, "world_size": 1}
    with pytest.raises(runfolder.RunFolderError, match="--allow-device-change"):
        runfolder.resume_changes(saved, now, ["lr"], False)
    assert runfolder.resume_changes(saved, now, ["lr"], True) == ["world_size: 2 → 1"]
