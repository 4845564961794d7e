"""Result files: atomic JSON writes, run metadata, reading results back.

Every runner writes one JSON per run with its metric lists and a ``config`` block. Files are
written to a temporary name and renamed, so a crash never leaves a half-written result.
"""

from __future__ import annotations

import datetime as _dt
import functools
import os
import platform
import subprocess
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from flatzero import __version__

# Keys of the config block that legitimately differ between two runs with identical seeds.
VOLATILE_KEYS = ("wall_time_s", "created")
# Keys run_metadata adds, and the machine a run reports: what ran the code, not what was run.
METADATA_KEYS = ("package_version", "git_sha", "python", "numpy", "torch", "cuda", "device",
                 *VOLATILE_KEYS)

_REPO = Path(__file__).resolve().parents[1]


@functools.lru_cache(maxsize=1)
def git_sha() -> str | None:
    """The commit of the checkout this code runs from, or None outside a git checkout."""
    try:
        out = subprocess.run(
            ["git", "-C", str(_REPO), "rev-parse", "HEAD"],
            capture_output=True, text=True, timeout=5, check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def run_metadata(config: Mapping[str, Any], wall_time_s: float) -> dict[str, Any]:
    """``config`` plus what is needed to trust a number later: versions, commit, wall time."""
    return {
        **config,
        "package_version": __version__,
        "git_sha": git_sha(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "wall_time_s": round(float(wall_time_s), 6),
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }


class ResultError(Exception):
    """A result file cannot be read or is not the kind of result expected; names the file."""


def write_json(path: str | os.PathLike[str], obj: Any, *, allow_nan: bool = True) -> Path:
    """Write ``obj`` as compact JSON atomically (temp file in the same folder, then rename).

    numpy arrays and scalars are serialised natively; floats are written in their shortest
    round-trip form, so reading a file back gives the exact float64 values that were written.
    JSON has no NaN or infinity (orjson writes them as null): with ``allow_nan=False`` a
    non-finite float raises ValueError instead, before anything is written.
    """
    path = Path(path)
    if not allow_nan:
        _check_finite(obj, path)
    return write_bytes(path, orjson.dumps(
        obj, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS))


def write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically: a temp file in the same folder, then a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # A name unique to this process and thread; plain open() so the file gets the usual umask.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def _check_finite(obj: Any, path: Path) -> None:
    if isinstance(obj, np.ndarray):
        if obj.dtype.kind == "f" and not np.isfinite(obj).all():
            raise ValueError(f"{path}: refusing to write NaN/inf (JSON would store null)")
    elif isinstance(obj, Mapping):
        for v in obj.values():
            _check_finite(v, path)
    elif isinstance(obj, (list, tuple)):
        if obj and all(isinstance(v, float) for v in obj):
            _check_finite(np.asarray(obj), path)
        else:
            for v in obj:
                _check_finite(v, path)
    elif isinstance(obj, float) and not np.isfinite(obj):
        raise ValueError(f"{path}: refusing to write NaN/inf (JSON would store null)")


def read_json(path: str | os.PathLike[str]) -> Any:
    """Read a result file written by :func:`write_json` (or any JSON file).

    Raises :class:`ResultError` naming the file when it cannot be read or is not JSON.
    """
    path = Path(path)
    try:
        return orjson.loads(path.read_bytes())
    except OSError as exc:
        raise ResultError(f"cannot read {path}: {exc.strerror}") from None
    except orjson.JSONDecodeError as exc:
        raise ResultError(f"{path} is not valid JSON ({exc}); move it out of the "
                          "results folder or rerun the run that wrote it") from None


def read_result(path: str | os.PathLike[str], keys: tuple[str, ...] = ("config",)) -> dict:
    """A result file that must be a JSON object holding ``keys``; ResultError names the file."""
    obj = read_json(path)
    missing = [k for k in keys if not isinstance(obj, dict) or k not in obj]
    if missing:
        raise ResultError(f"{path} is not a result file of this experiment (no "
                          f"{', '.join(repr(k) for k in missing)}); move it out of the folder")
    return obj


def check_series(path: str | os.PathLike[str], obj: dict, keys: tuple[str, ...]) -> dict:
    """``obj`` with a dict ``config`` and ``keys`` lists of numbers of one non-zero length, or a
    ResultError naming the file (a hand-edited or truncated result must not reach a plot)."""
    def numbers(v: Any) -> bool:
        return isinstance(v, list) and all(
            isinstance(x, (int, float)) and not isinstance(x, bool) for x in v)

    if not isinstance(obj.get("config"), dict) or not all(numbers(obj[k]) for k in keys) or \
            len({len(obj[k]) for k in keys}) != 1 or not obj[keys[0]]:
        raise ResultError(f"{path} is not a whole result: 'config' must be an object and "
                          f"{', '.join(keys)} lists of numbers of one non-zero length; move it "
                          "out of the folder or rerun the run that wrote it")
    return obj


def strip_volatile(obj: Any) -> Any:
    """A copy of a result without the keys that change between identical runs (wall time...)."""
    if isinstance(obj, Mapping):
        return {k: strip_volatile(v) for k, v in obj.items() if k not in VOLATILE_KEYS}
    if isinstance(obj, list):
        return [strip_volatile(v) for v in obj]
    return obj


def log_spaced_iterations(total: int, n: int) -> np.ndarray:
    """About ``n`` distinct 1-based iteration numbers, log-spaced, always with 1 and ``total``."""
    if n >= total:
        return np.arange(1, total + 1)
    its = np.unique(np.round(np.geomspace(1, total, n)).astype(np.int64))
    its[0], its[-1] = 1, total
    return its
