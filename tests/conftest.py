"""Shared fixtures: the tiny random RoBERTa, k-shot splits, the figures plot scripts draw."""

import os
import shutil
import signal
from pathlib import Path

import pytest

# One thread per BLAS / OpenMP pool, before numpy or torch is imported (subprocesses inherit it):
# the tests' arrays and models are small, and on a busy 2-core machine extra threads only
# contend (the suite took 3× its CPU time under load).
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

REPO = Path(__file__).resolve().parents[1]
ORIGINAL = REPO / "roberta" / "data" / "original"
TIMING = ("wall_time_s", "step_time_s", "peak_mem_gib")  # what differs between identical runs


def ctrl_c_reaches() -> None:
    """Popen's preexec_fn for a child a test sends SIGINT: Python turns SIGINT into
    KeyboardInterrupt only if it starts with the default action, and a suite run in the background
    (nohup, ``&`` without job control, some CI runners) hands its children an ignored SIGINT."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def numbers(result: dict) -> list[dict]:
    """A roberta result's log without its timing fields: what must repeat bit for bit."""
    return [{k: v for k, v in rec.items() if k not in TIMING} for rec in result["log"]]


def run_train(tiny_model: Path, kshot: Path, out: Path, *flags: str) -> dict:
    """roberta/train.py in this process, on the tiny model and the K = 8, seed 13 splits of
    ``kshot``, on the CPU: its result.json."""
    from flatzero.results import read_json
    from roberta import train

    return read_json(train.main(["--model", str(tiny_model), "--data-dir", str(kshot), "--out",
                                 str(out), "--quiet", "--k", "8", "--seed", "13", "--device",
                                 "cpu", *flags]))


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    """``--model tiny-random``'s folder (a 2-layer RoBERTa, hidden 32, and a BPE tokenizer in
    which every label word is one token), built here: loaded through the same from_pretrained
    path as roberta-large."""
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    from roberta import tiny_random

    return tiny_random.build(tmp_path_factory.mktemp("models") / tiny_random.NAME)


@pytest.fixture(scope="session")
def originals(tmp_path_factory) -> Path:
    """A copy of the shipped originals and their SHA256SUMS (building sst-5's csv must not write
    into the repo); a csv built there earlier comes without its build record, so it is rebuilt."""
    folder = tmp_path_factory.mktemp("original")
    shutil.copytree(ORIGINAL, folder, dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("build.json", ".*"))
    return folder


@pytest.fixture(scope="session")
def kshot(tmp_path_factory, originals) -> Path:
    """k-shot splits (K = 8, seed 13) of the three tasks, generated from the originals."""
    pytest.importorskip("pandas")
    from roberta import data

    root = tmp_path_factory.mktemp("k-shot")
    for task in data.TASKS:
        data.generate_kshot(task, 8, 13, originals, root)
    return root


@pytest.fixture()
def drawn(monkeypatch):
    """The figures the plot scripts save (flatzero.plotting.save), still open for inspection."""
    from flatzero import plotting

    figs = []

    def save(fig, path):
        figs.append(fig)
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path)
        return path

    monkeypatch.setattr(plotting, "save", save)
    return figs
