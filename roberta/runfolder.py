"""A run folder and who owns it: its name, its lock, what identifies its run, its checkpoint.

    <out>/result.json    config, status and log (rank 0; rewritten atomically at every record)
    <out>/train.log      one line per record
    <out>/checkpoint/    model.safetensors + state.pt (every RNG state, the log, the identity)
    <out>/.lock          an OS lock (``filelock``), held while a run owns the folder
    <out>/.owner.json    who holds it: host, pid, SLURM job and restart count, heartbeat time

Ownership. A run takes the OS lock before it looks at the folder, then reads the owner record
a previous holder may have left. It refuses the folder while that holder may still run: on the
same host while its pid lives; on another host while its heartbeat (rewritten every
``BEAT_S`` by a thread) is younger than ``STALE_S``, unless the record is an earlier
incarnation of this very SLURM job (a requeue raises ``SLURM_RESTART_COUNT``). A shared SLURM job
id alone is never enough: the tasks of ``srun -n 2`` share one. Only then is the folder checked
(and, for ``--overwrite``, cleaned). The OS lock dies with its process; the heartbeat covers file
systems whose locks do not reach other hosts (docs/cluster.md).
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import shutil
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from flatzero.cli import arg, positive_float, rel
from flatzero.results import read_json, run_metadata, write_bytes, write_json
from roberta.data import KSHOT

BEAT_S = 60.0    # heartbeat period
STALE_S = 600.0  # a heartbeat this old from another host: its run is gone
RUN_FILES = ("result.json", "train.log", "checkpoint", "checkpoint.old", "checkpoint.tmp")


def seconds(text: str) -> float:
    """argparse type of --dist-timeout: at least 10 s."""
    value = positive_float(text)
    if value < 10:
        raise argparse.ArgumentTypeError(f"must be at least 10 (processes need that long to "
                                         f"start and meet), got {text}")
    return value


class RunFolderError(Exception):
    """A run folder that cannot be used as asked; the message says what to do."""


class Stopped(Exception):
    """A signal stopped the run at a step boundary, after a checkpoint; ``code`` = 128 + it."""

    def __init__(self, code: int, step: int) -> None:
        super().__init__(f"stopped by {signal.Signals(code - 128).name} at step {step}, after "
                         "a checkpoint: continue with --resume")
        self.code = code


@dataclasses.dataclass(frozen=True)
class Options:
    """Where and how a run goes (train.py's flags besides its Config); none changes a number."""

    out: Path | None = arg(None, "run folder; default roberta/runs/<task>-k<K>-<algo>-seed<seed>"
                           ", followed by the settings that differ from the paper's", type=Path)
    data_dir: Path = arg(KSHOT, "k-shot splits root", type=Path)
    resume: bool = arg(False, "continue from <out>/checkpoint")
    overwrite: bool = arg(False, "start again in a folder that holds a run (deletes its results)")
    allow_device_change: bool = arg(False, "let --resume continue on another device type, "
                                    "torch/CUDA or number of processes (the result records it)")
    device: str = arg("auto", "auto (cuda if available, else cpu), cpu, cuda, cuda:1, ...; under "
                      "torchrun each rank takes the GPU of its local rank")
    nondeterministic: bool = arg(False, "GD on CUDA: allow non-deterministic kernels (faster; a "
                                 "resumed run is then not bit-identical to an uninterrupted one)")
    dist_timeout: float = arg(600.0, "seconds a rank waits for the others (torchrun) before the "
                              "job fails; at least 10", type=seconds)
    wandb: bool = arg(False, "also log to Weights & Biases")
    quiet: bool = arg(False, "no progress bar")


# --- names ------------------------------------------------------------------------------------

def folder_name(base: str, cfg: Any, reference: Any) -> str:
    """``base`` followed by each setting that differs from ``reference`` and names a folder
    (dataclass field metadata ``short``; ``only``: the algorithm it applies to)."""
    parts = []
    for field in dataclasses.fields(cfg):
        short = field.metadata.get("short")
        value = getattr(cfg, field.name)
        if short is None or value == getattr(reference, field.name) or \
                field.metadata.get("only", cfg.algo) != cfg.algo:
            continue
        if field.name == "model":
            value = "".join(c if c.isalnum() or c in "-." else "_" for c in Path(value).name)
        elif isinstance(value, bool):
            value = ""
        elif isinstance(value, float):
            value = f"{value:g}"
        parts.append(f"{short}{value}")
    return "_".join([base, *parts])


def sha256_files(paths: Sequence[Path]) -> dict[str, str]:
    """{file name: SHA-256} of the files a run reads its data from."""
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in paths}


# --- ownership --------------------------------------------------------------------------------

def _me() -> dict[str, Any]:
    return {"host": socket.gethostname(), "pid": os.getpid(),
            "slurm_job_id": os.environ.get("SLURM_JOB_ID"),
            "slurm_restart": int(os.environ.get("SLURM_RESTART_COUNT") or 0),
            "heartbeat": time.time()}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def still_running(owner: Mapping[str, Any], me: Mapping[str, Any], stale_s: float) -> bool:
    """Whether the run of an owner record may still be running, seen from ``me``."""
    if owner.get("host") == me["host"]:
        pid = owner.get("pid")
        return isinstance(pid, int) and pid != me["pid"] and _alive(pid)
    if owner.get("slurm_job_id") is not None and owner.get("slurm_job_id") == me["slurm_job_id"] \
            and int(owner.get("slurm_restart") or 0) < me["slurm_restart"]:
        return False  # SLURM ends every task of a job before it requeues it
    return time.time() - float(owner.get("heartbeat") or 0) < stale_s


def describe(owner: Mapping[str, Any]) -> str:
    if not owner:
        return "its owner record is not written yet"
    job = f", SLURM job {owner['slurm_job_id']}" if owner.get("slurm_job_id") else ""
    beat = owner.get("heartbeat")
    age = f"heartbeat {time.time() - float(beat):.0f} s ago" if beat else "no heartbeat"
    return f"pid {owner.get('pid')} on {owner.get('host')}{job}, {age}"


class Lock:
    """The folder's owner while held: the OS lock, the owner record and its heartbeat."""

    def __init__(self, folder: Path, beat_s: float = BEAT_S, stale_s: float = STALE_S) -> None:
        self.folder, self.beat_s, self.stale_s = folder, beat_s, stale_s
        self.owner_file = folder / ".owner.json"
        self.me = _me()
        self.lost: str | None = None  # why the folder was taken from us (heartbeat thread)
        self._os_lock = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def acquire(self) -> Lock:
        from filelock import FileLock, Timeout

        self._os_lock = FileLock(self.folder / ".lock", timeout=0, thread_local=False)
        try:
            self._os_lock.acquire()
        except Timeout:
            self._os_lock = None
            raise RunFolderError(f"{rel(self.folder)} is in use by another run "
                                 f"({describe(self._owner() or {})}); wait for it") from None
        owner = self._owner()
        if owner and still_running(owner, self.me, self.stale_s):
            self.release()
            raise RunFolderError(
                f"{rel(self.folder)} is in use by another run ({describe(owner)}); wait for it, or "
                f"if it is gone, delete {rel(self.owner_file)} (a heartbeat older than "
                f"{self.stale_s:.0f} s counts as gone)")
        self._write()
        self._thread = threading.Thread(target=self._beat, daemon=True, name="heartbeat")
        self._thread.start()
        return self

    def _owner(self) -> dict[str, Any] | None:
        try:
            owner = json.loads(self.owner_file.read_text())
        except (OSError, ValueError):
            return None
        return owner if isinstance(owner, dict) else None

    def _write(self) -> None:
        self.me["heartbeat"] = time.time()
        write_bytes(self.owner_file, json.dumps(self.me).encode())

    def _beat(self) -> None:
        while not self._stop.wait(self.beat_s):
            owner = self._owner()
            if owner is not None and (owner.get("host"), owner.get("pid")) != \
                    (self.me["host"], self.me["pid"]):
                self.lost = f"{rel(self.folder)} was taken over by {describe(owner)}"
                return
            self._write()

    def release(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
            if self.lost is None:
                self.owner_file.unlink(missing_ok=True)
        if self._os_lock is not None:
            self._os_lock.release()
            self._os_lock = None

    def __enter__(self) -> Lock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


# --- the folder's state -----------------------------------------------------------------------

def checkpoint_folder(out: Path) -> Path:
    """checkpoint/, or checkpoint.old/ when a crash fell between save_checkpoint's renames."""
    return out / "checkpoint" if (out / "checkpoint").exists() else out / "checkpoint.old"


def has_checkpoint(out: Path) -> bool:
    return (checkpoint_folder(out) / "state.pt").exists()


def check_out(out: Path) -> None:
    """Fail before any work unless ``out`` is, or can become, a writable folder."""
    probe = out
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir():
        raise RunFolderError(f"--out {rel(out)}: {rel(probe)} is a file, not a folder")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise RunFolderError(f"--out {rel(out)}: {rel(probe)} is not writable")


def check_options(out: Path, opts: Options) -> Path:
    """``out``, once the options that concern it are found sound (before any work)."""
    if opts.resume and opts.overwrite:
        raise RunFolderError("--resume and --overwrite exclude each other")
    check_out(out)
    return out


def claim(out: Path, resume: bool, overwrite: bool) -> Lock:
    """Create ``out``, own it, and check under the lock that it may be used as asked:
    a folder holding a run needs --resume or --overwrite (which cleans it here)."""
    check_out(out)
    out.mkdir(parents=True, exist_ok=True)
    lock = Lock(out).acquire()
    try:
        held = [n for n in ("result.json", "checkpoint", "checkpoint.old") if (out / n).exists()]
        if resume and not has_checkpoint(out):
            raise RunFolderError(f"--resume: no checkpoint in {rel(out)}; start the run without "
                                 "--resume")
        if held and not (resume or overwrite):
            raise RunFolderError(f"{rel(out)} already holds a run{_status(out)}: pass --resume to "
                                 "continue it, --overwrite to start it again, or another --out")
        if overwrite:
            for name in RUN_FILES:
                shutil.rmtree(out / name, ignore_errors=True)
                (out / name).unlink(missing_ok=True)
    except BaseException:
        lock.release()
        raise
    return lock


def _status(out: Path) -> str:
    if not (out / "result.json").exists():
        return ""
    try:
        return f" ({read_json(out / 'result.json').get('status')})"
    except Exception:
        return " (unreadable result.json)"


# --- checkpoints ----------------------------------------------------------------------------

MACHINE = ("world_size", "device", "torch", "cuda")  # identity keys --allow-device-change frees


def save_checkpoint(out: Path, module: Any, state: Any, identity: Mapping[str, Any]) -> None:
    """Weights, ``state`` (a dataclass; numpy generators saved as their states) and the run's
    identity into checkpoint/, swapped in so that a crash at any point leaves a complete
    checkpoint (or checkpoint.old)."""
    import numpy as np
    import torch
    from safetensors.torch import save_model

    packed = {k: {"rng_state": v.get_state()} if isinstance(v, np.random.RandomState) else v
              for k, v in vars(state).items()}
    final, tmp, old = out / "checkpoint", out / "checkpoint.tmp", out / "checkpoint.old"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    save_model(module, str(tmp / "model.safetensors"))
    torch.save({"state": packed, "identity": dict(identity)}, tmp / "state.pt")
    shutil.rmtree(old, ignore_errors=True)
    if final.exists():
        final.rename(old)
    tmp.rename(final)
    shutil.rmtree(old, ignore_errors=True)


def read_checkpoint(out: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """(state fields, identity) of the checkpoint, without the weights."""
    import numpy as np
    import torch

    folder = checkpoint_folder(out)
    try:
        saved = torch.load(folder / "state.pt", weights_only=False)
        state, identity = dict(saved["state"]), dict(saved["identity"])
    except Exception as exc:  # a truncated or foreign file: pickle / zip errors, other keys
        raise _unreadable(out, folder, exc) from None
    for key, value in state.items():
        if isinstance(value, dict) and "rng_state" in value:
            state[key] = np.random.RandomState()
            state[key].set_state(value["rng_state"])
    return state, identity


def load_weights(out: Path, module: Any, device: Any) -> None:
    from safetensors.torch import load_model

    folder = checkpoint_folder(out)
    try:
        load_model(module, str(folder / "model.safetensors"), device=str(device))
    except Exception as exc:  # safetensors errors, a missing file
        raise _unreadable(out, folder, exc) from None


def _unreadable(out: Path, folder: Path, exc: Exception) -> RunFolderError:
    detail = str(exc).splitlines()[0] if str(exc) else "no detail"
    return RunFolderError(f"--resume: {rel(folder)} is unreadable ({type(exc).__name__}: "
                          f"{detail}); resume from {rel(out / 'checkpoint.old')} if it exists "
                          "(rename it to checkpoint), or start again with --overwrite")


def resume_changes(saved: Mapping[str, Any], now: Mapping[str, Any], fixed: Sequence[str],
                   allow_machine_change: bool) -> list[str]:
    """Compare the checkpoint's identity with this run's. A ``fixed`` key that differs (a setting
    that changes the numbers, the data) is refused; a :data:`MACHINE` key only without
    ``allow_machine_change``. Returns the machine changes accepted, to be recorded."""
    def diff(keys: Sequence[str]) -> list[str]:
        return [f"{k}: {_short(saved.get(k))} → {_short(now.get(k))}" for k in keys
                if saved.get(k) != now.get(k)]

    changed = diff(fixed)
    if changed:
        raise RunFolderError(f"--resume with other settings or data than the checkpoint's "
                             f"({'; '.join(changed)}); pass the original flags and data, or "
                             "start a new run with another --out")
    moved = diff(MACHINE)
    if moved and not allow_machine_change:
        raise RunFolderError(f"--resume on another machine than the checkpoint's "
                             f"({'; '.join(moved)}): the rest of the run would not be the "
                             "trajectory of an uninterrupted one; pass --allow-device-change to "
                             "continue anyway (the result records it)")
    return moved


def _short(value: Any) -> str:
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k}: {str(v)[:8]}" for k, v in value.items()) + "}"
    return str(value)


# --- a run's folder, from start to end ---------------------------------------------------------

class Folder:
    """The run folder of one run: claimed by rank 0 (lock, checks, --overwrite) while every rank
    waits for its verdict, released on exit; what the run reads from it and writes into it."""

    def __init__(self, out: Path, opts: Options, world: Any) -> None:
        self.out, self.opts, self.world = out, opts, world
        self.lock: Lock | None = None
        self.moved: list[str] = []  # machine changes accepted on --resume

    def __enter__(self) -> Folder:
        try:
            if self.world.main:
                self.lock = claim(self.out, self.opts.resume, self.opts.overwrite)
        except BaseException:
            self.world.agree(False)
            raise
        if not self.world.agree(True):
            raise RunFolderError("rank 0 could not take the run folder")
        return self

    def __exit__(self, *exc: object) -> None:
        if self.lock is not None:
            self.lock.release()

    def resume(self, module: Any, identity: Mapping[str, Any], fixed: Sequence[str],
               steps: int) -> dict[str, Any]:
        """The checkpoint's state fields, its weights loaded into ``module``, after checking
        that it is this run's (same settings and data; same machine unless allowed)."""
        state, saved = read_checkpoint(self.out)
        if state["step"] > steps:
            raise RunFolderError(f"--resume --steps {steps}: the checkpoint in {rel(self.out)} "
                                 f"is at step {state['step']} already; pass --steps "
                                 f"{state['step']} or more")
        self.moved = resume_changes(saved, identity, fixed, self.opts.allow_device_change)
        load_weights(self.out, module, self.world.device)
        return state

    @contextmanager
    def stopping(self) -> Iterator[Callable[[], int]]:
        """SIGTERM and SIGINT ask the run to stop at its next step boundary (the loop saves a
        checkpoint first); a second SIGINT stops at once. The poll yielded returns 0 (go on),
        1 (another run took the folder over) or 128 + the signal, the same on every rank."""
        asked: list[int] = []

        def handler(signum: int, frame: object) -> None:
            if asked and signum == signal.SIGINT:
                raise KeyboardInterrupt
            asked.append(signum)

        previous = {s: signal.signal(s, handler) for s in (signal.SIGTERM, signal.SIGINT)}

        def poll() -> int:
            code = 128 + asked[0] if asked else int(bool(self.lock and self.lock.lost))
            return self.world.max_int(code)
        try:
            yield poll
        finally:
            for s, h in previous.items():
                signal.signal(s, h)

    def files(self, config: Mapping[str, Any], log: Sequence[Mapping[str, Any]],
              identity: Mapping[str, Any], wandb: bool = False) -> Files:
        """The run's files (a context manager), started from ``log`` (a resumed run's); with
        ``wandb``, the records go to Weights & Biases too."""
        config = {**config, **({"machine_changes": self.moved} if self.moved else {})}
        files = Files(self, config, log, identity)
        if wandb:
            files.start_wandb(f"flatzero-{config['task']}")
        return files


class Files:
    """result.json, train.log and checkpoint/ of a run; rank 0 writes, the other ranks do not."""

    def __init__(self, folder: Folder, config: Mapping[str, Any],
                 log: Sequence[Mapping[str, Any]], identity: Mapping[str, Any]) -> None:
        self.out, self.main, self.config, self.identity = (folder.out, folder.world.main,
                                                           dict(config), dict(identity))
        self.lock, self.wandb = folder.lock, None
        if self.main:
            # rewritten from the checkpoint's records: a run killed after its last checkpoint
            # must not leave its later records twice
            c = self.config
            header = (f"# {c['task']} K={c['k']} seed={c['seed']} {c['algo']} on {c['device']} "
                      f"× {c['world_size']}, torch {c['torch']}; trace estimate in "
                      f"{c['trace_precision']}\n")
            write_bytes(self.out / "train.log", (header + "".join(map(log_line, log))).encode())

    def start_wandb(self, project: str) -> None:
        if not self.main:
            return
        try:
            import wandb
        except ImportError:
            raise RunFolderError("--wandb needs the wandb package: pip install -e '.[wandb]'"
                                 ) from None
        self.wandb = wandb.init(project=project, name=self.out.name, config=self.config)

    def write(self, log: Sequence[Mapping[str, Any]], status: str, **extra: Any) -> None:
        """result.json: ``config``, ``log`` and ``status`` (running | finished | diverged)."""
        if self.main:
            wall = log[-1]["wall_time_s"] if log else 0.0
            write_json(self.out / "result.json", {"config": run_metadata(
                {**self.config, **extra}, wall), "log": log, "status": status})

    def record(self, log: Sequence[Mapping[str, Any]], rec: Mapping[str, Any],
               status: str) -> None:
        self.write(log, status)
        if self.main:
            with open(self.out / "train.log", "a") as f:
                f.write(log_line(rec))
            if self.wandb is not None:
                self.wandb.log(dict(rec), step=rec["step"])

    def checkpoint(self, module: Any, state: Any) -> None:
        if self.main:
            save_checkpoint(self.out, module, state, self.identity)

    def stop(self, code: int, module: Any, state: Any) -> None:
        """The loop's answer to a non-zero poll of :meth:`Folder.stopping`: a signal saves a
        checkpoint and stops; a folder taken over stops without writing anything."""
        if code == 1:
            raise RunFolderError(self.lock.lost if self.lock and self.lock.lost else
                                 "rank 0 lost the run folder")
        self.checkpoint(module, state)
        raise Stopped(code, state.step)

    def close(self) -> None:
        if self.wandb is not None:
            self.wandb.finish()

    def __enter__(self) -> Files:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def summary(rec: Mapping[str, Any], path: Path) -> str:
    """The line a finished run prints."""
    parts = [f"train loss {rec['train_loss']:.4f}"]
    if "test_acc" in rec:
        parts.append(f"test acc {rec['test_acc']:.4f}")
    if "trace" in rec:
        parts.append(f"trace {rec['trace']:.4g} ± {rec['trace_stderr']:.2g}")
    return f"step {rec['step']}: {', '.join(parts)} → {rel(path)}"


# --- result files -----------------------------------------------------------------------------

def log_line(rec: Mapping[str, Any]) -> str:
    return " ".join(f"{k}={v:.6g}" if isinstance(v, float) else f"{k}={v}"
                    for k, v in rec.items()) + "\n"
