"""Few-shot text classification data in LM-BFF's layout: originals, k-shot splits, examples.

    python roberta/data.py --k 32 256       # originals → data/k-shot-1k-test/<TASK>/<K>-<seed>/

Originals (``data/original/<TASK>/``, shipped with SHA256SUMS): SST-2 is GLUE's (train.tsv with
67349 rows, dev.tsv with 872 that serve as the test set; the paper's script swaps LM-BFF's
6920-row SST-2 for it); sst-5 is LM-BFF's header-less ``train.csv``/``test.csv``
(``label,sentence``), built here from the upstream ``stsa.fine.train``/``stsa.fine.test``
(``label sentence``); trec is ``train.csv``/``test.csv`` (``label,question``, labels 0–5).

The k-shot splits follow LM-BFF's ``generate_k_shot_data.py --mode k-shot-1k-test`` step for
step: seed numpy's legacy RNG, shuffle the train lines (header aside), group them by label in
order of first appearance, train = first K per label, dev = next K per label; test = the
original test set, subsampled to 1000 rows when larger (GLUE style: seed 42 + shuffle + first
1000; csv tasks: ``DataFrame.sample(n=1000, random_state=42)``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from flatzero.cli import Parser, fail, positive_int

HERE = Path(__file__).resolve().parent
ORIGINAL = HERE / "data" / "original"
KSHOT = HERE / "data" / "k-shot-1k-test"
SEEDS = (13, 21, 42, 87, 100)
GLUE_STYLE = ("SST-2",)  # tsv with a header; the others are header-less csv
NUM_LABELS = {"SST-2": 2, "sst-5": 5, "trec": 6}
TASKS = tuple(NUM_LABELS)
PREPARE = "run `bash roberta/data/prepare_datasets.sh`"


class DataError(Exception):
    """Missing or inconsistent data; the message says what to do."""


@dataclass
class Example:
    text: str
    label: int


# --- originals ---------------------------------------------------------------------------------

def check_originals(task: str, root: Path = ORIGINAL) -> None:
    """Verify the shipped original files of ``task`` against root/SHA256SUMS."""
    manifest = root / "SHA256SUMS"
    if not manifest.exists():
        return
    for line in manifest.read_text().splitlines():
        digest, name = line.split()
        if not name.startswith(f"{task}/"):
            continue
        path = root / name
        if not path.exists():
            raise DataError(f"{path} is missing: restore it with `git checkout -- {path}` or "
                            f"{PREPARE} (needs internet)")
        if hashlib.sha256(path.read_bytes()).hexdigest() != digest:
            raise DataError(f"{path} is corrupt (sha256 differs from {manifest}); restore it "
                            f"with `git checkout -- {path}`")


def build_sst5_csv(root: Path = ORIGINAL) -> None:
    """LM-BFF's sst-5 train.csv / test.csv from the upstream ``label sentence`` files."""
    for split in ("train", "test"):
        src, dst = root / "sst-5" / f"stsa.fine.{split}", root / "sst-5" / f"{split}.csv"
        if dst.exists():
            continue
        if not src.exists():
            raise DataError(f"{src} is missing: {PREPARE}, or put the SST-5 files "
                            f"stsa.fine.train / stsa.fine.test in {src.parent}")
        rows = [line.rstrip("\n").split(" ", 1) for line in src.read_text().splitlines()
                if line.strip()]
        frame = pd.DataFrame([(int(label), text) for label, text in rows])
        _atomic_csv(frame, dst)


def _atomic_csv(frame: pd.DataFrame, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    frame.to_csv(tmp, header=False, index=False)
    tmp.replace(path)


def _atomic_text(lines: list[str], path: Path) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text("".join(lines), encoding="utf-8")
    tmp.replace(path)


def _original_files(task: str, root: Path) -> tuple[Path, Path]:
    if task in GLUE_STYLE:
        return root / task / "train.tsv", root / task / "dev.tsv"
    return root / task / "train.csv", root / task / "test.csv"


# --- k-shot splits (LM-BFF's generate_k_shot_data.py, mode k-shot-1k-test) -----------------

def generate_kshot(task: str, k: int, seed: int, root: Path = ORIGINAL,
                   out: Path = KSHOT) -> Path:
    """Write train / dev / test of one (task, K, seed) split; returns its folder."""
    if task not in NUM_LABELS:
        raise DataError(f"unknown task {task!r}; choose one of {', '.join(TASKS)}")
    if task == "sst-5":
        build_sst5_csv(root)
    train_file, test_file = _original_files(task, root)
    for path in (train_file, test_file):
        if not path.exists():
            raise DataError(f"{path} is missing: {PREPARE} (needs internet), or put LM-BFF's "
                            f"original {task} files in {path.parent}")
    folder = out / task / f"{k}-{seed}"
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.RandomState(seed)

    if task in GLUE_STYLE:
        lines = train_file.read_text(encoding="utf-8").splitlines(keepends=True)
        header, train_lines = lines[:1], lines[1:]
        rng.shuffle(train_lines)
        test_lines = test_file.read_text(encoding="utf-8").splitlines(keepends=True)
        test_header, test_lines = test_lines[:1], test_lines[1:]
        if len(test_lines) > 1000:
            test_rng = np.random.RandomState(42)
            test_rng.shuffle(test_lines)
            test_lines = test_lines[:1000]
        _atomic_text(test_header + test_lines, folder / "test.tsv")
        train, dev = _first_k_per_label(train_lines, lambda line: line.strip().split("\t")[-1], k)
        _atomic_text(header + train, folder / "train.tsv")
        _atomic_text(header + dev, folder / "dev.tsv")
    else:
        rows = pd.read_csv(train_file, header=None).values.tolist()
        rng.shuffle(rows)
        test = pd.read_csv(test_file, header=None)
        if len(test.index) > 1000:
            test = test.sample(n=1000, random_state=42)
        _atomic_csv(test, folder / "test.csv")
        train, dev = _first_k_per_label(rows, lambda row: row[0], k)
        _atomic_csv(pd.DataFrame(train), folder / "train.csv")
        _atomic_csv(pd.DataFrame(dev), folder / "dev.csv")
    return folder


def _first_k_per_label(items: list, label: Callable[[Any], object], k: int,
                       ) -> tuple[list, list]:
    """(train, dev): the first K items of each label, then the next K, labels in order of first
    appearance — LM-BFF's split of the shuffled train set."""
    by_label: dict[object, list] = {}
    for item in items:
        by_label.setdefault(label(item), []).append(item)
    return ([x for v in by_label.values() for x in v[:k]],
            [x for v in by_label.values() for x in v[k:2 * k]])


# --- reading a split -----------------------------------------------------------------------------

def read_split(task: str, folder: Path, split: str) -> list[Example]:
    """Examples of ``split`` (train / dev / test) of a k-shot folder."""
    path = folder / f"{split}.{'tsv' if task in GLUE_STYLE else 'csv'}"
    if not path.exists():
        raise DataError(f"{path} is missing: generate the splits with `python roberta/data.py "
                        f"--k {folder.name.split('-')[0]}` ({PREPARE})")
    if task in GLUE_STYLE:
        lines = path.read_text(encoding="utf-8").splitlines()[1:]
        rows = [line.split("\t") for line in lines if line.strip()]
        # Text as LM-BFF reads it: not stripped (GLUE SST-2 sentences end with a space).
        return [Example(text, int(label)) for text, label in rows]
    frame = pd.read_csv(path, header=None)
    return [Example(str(text), int(label)) for label, text in frame.itertuples(index=False)]


def load_task(task: str, k: int, seed: int, root: Path = KSHOT) -> dict[str, list[Example]]:
    """train / dev / test of a k-shot split, generated from the originals when missing."""
    if task not in NUM_LABELS:
        raise DataError(f"unknown task {task!r}; choose one of {', '.join(TASKS)}")
    folder = root / task / f"{k}-{seed}"
    if not folder.exists() and root == KSHOT:
        check_originals(task)
        generate_kshot(task, k, seed)
    splits = {s: read_split(task, folder, s) for s in ("train", "dev", "test")}
    bad = {e.label for s in splits.values() for e in s} - set(range(NUM_LABELS[task]))
    if bad:
        raise DataError(f"{folder} has labels {sorted(bad)} outside 0..{NUM_LABELS[task] - 1}")
    return splits


def main(argv: list[str] | None = None) -> None:
    p = Parser(prog="data.py", description="Generate LM-BFF k-shot-1k-test splits.")
    p.add_argument("--k", type=positive_int, nargs="+", default=[32, 256], help="K per label")
    p.add_argument("--task", nargs="+", choices=TASKS, default=list(TASKS), help="tasks")
    p.add_argument("--seed", type=int, nargs="+", default=list(SEEDS), help="split seeds")
    p.add_argument("--data-dir", type=Path, default=ORIGINAL, help="LM-BFF originals")
    p.add_argument("--output-dir", type=Path, default=KSHOT, help="where splits are written")
    args = p.parse_args(argv)
    try:
        for task in args.task:
            if args.data_dir == ORIGINAL:
                check_originals(task)
            for k in args.k:
                for seed in args.seed:
                    folder = generate_kshot(task, k, seed, args.data_dir, args.output_dir)
            print(f"{task}: K = {args.k}, seeds {args.seed} → {folder.parent}")
    except DataError as exc:
        fail(str(exc))


if __name__ == "__main__":
    main()
