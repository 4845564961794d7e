"""argparse helpers shared by the runners: one-line errors, validated number types, a help that
states each default once, output checks before any work, and Ctrl-C without a traceback."""

from __future__ import annotations

import argparse
import dataclasses
import os
import re
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

_REPO = Path(__file__).resolve().parents[1]
INTERRUPTED = 130  # the shell's status for a command ended by Ctrl-C (128 + SIGINT)
_STATES_DEFAULT = re.compile(r"\(default\b|\bdefault:")


class HelpFormatter(argparse.HelpFormatter):
    """Appends "(default: X)" to an option's help unless the help already states its default
    or there is none to state (None, a flag's False); paths in the repo are shown relative."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if (_STATES_DEFAULT.search(text) or default is None or default is False
                or default == argparse.SUPPRESS or action.nargs == 0 or not action.option_strings):
            return text
        if isinstance(default, (list, tuple)):
            shown = " ".join(map(_shown, default)) if default else "none"
        else:
            shown = _shown(default)
        return f"{text} (default: {shown.replace('%', '%%')})"


def rel(path: str | os.PathLike[str]) -> str:
    """A path as messages show it: relative to the repo when it lies inside, else as given."""
    p = Path(path)
    try:
        return str(p.resolve().relative_to(_REPO))
    except (ValueError, OSError):
        return str(p)


def _shown(value: object) -> str:
    if isinstance(value, Path) and value.is_relative_to(_REPO):
        return str(value.relative_to(_REPO))
    return str(value)


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line on stderr (exit status 2), not a usage dump."""

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(**kwargs)

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def fail(message: str, code: int = 1) -> NoReturn:
    """Exit with a one-line error message (for problems found after parsing: data, files)."""
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(code)


def run(main: Callable[[], object]) -> None:
    """Call a CLI's ``main``; Ctrl-C ends it with one line and status 130, not a traceback.

    Runners that can keep partial work catch KeyboardInterrupt themselves and say what they kept.
    """
    try:
        main()
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        raise SystemExit(INTERRUPTED) from None


def check_out_dir(folder: str | os.PathLike[str], flag: str = "--out") -> Path:
    """Fail with one line, before any work, unless ``folder`` is (or can become) a writable folder.

    Nothing is created: the nearest existing ancestor must be a folder we can write into, which a
    probe file (removed at once) proves, whatever the permission bits say (root, read-only mounts).
    """
    folder = Path(folder)
    probe = folder
    while not probe.exists():
        if probe.is_symlink():
            fail(f"{flag} {folder}: {probe} is a broken symbolic link")
        probe = probe.parent
    if not probe.is_dir():
        fail(f"{flag} {folder}: {probe} is a file, not a folder; choose another {flag}")
    try:
        fd, name = tempfile.mkstemp(dir=probe, prefix=".write-check-")
    except OSError as exc:
        fail(f"{flag} {folder}: cannot write into {probe} ({exc.strerror}); choose another {flag}")
    os.close(fd)
    os.unlink(name)
    return folder


def check_out_file(path: str | os.PathLike[str], flag: str = "--out",
                   suffixes: tuple[str, ...] = ()) -> Path:
    """:func:`check_out_dir` for the folder of an output file, which must not be a folder (and,
    given ``suffixes``, must end in one of them)."""
    path = Path(path)
    if path.is_dir():
        fail(f"{flag} {path} is a folder; give a file name")
    if suffixes and path.suffix.lower() not in suffixes:
        fail(f"{flag} {path}: give a file ending in {' or '.join(suffixes)}")
    check_out_dir(path.parent, flag)
    return path


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def nonneg_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
    return value


def positive_float(text: str) -> float:
    value = float(text)
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive finite number, got {text}")
    return value


MAX_SEED = 2**32 - 2
SEED_HELP = "0 ≤ seed ≤ 2**32 − 2"


def seed(text: str) -> int:
    """A seed every runner accepts: numpy's legacy RandomState takes 0 ≤ seed < 2**32, and the
    RoBERTa runs also seed a generator with seed + 1, hence the upper bound 2**32 − 2."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= MAX_SEED:
        raise argparse.ArgumentTypeError(
            f"a seed must be an integer with {SEED_HELP} (numpy's legacy RNG takes < 2**32, "
            f"and seed + 1 seeds the RoBERTa trace generator), got {text}")
    return value


# The smallest ZO smoothing λ accepted: √ε of float64. The smoothing term (λ²/2)·Tr ∇²f that ZO
# minimises is then at least ε relative to the Hessian trace, i.e. not below the rounding of the
# loss itself; a smaller λ studies nothing, and at λ ≲ 1e-16 x ± λu == x and nothing trains.
MIN_LAM = 1.4901161193847656e-08  # 2**-26 = sqrt(2.220446049250313e-16)
LAM_HELP = f"λ ≥ √ε ≈ {MIN_LAM:.2g} (float64)"


def smoothing(text: str) -> float:
    """A ZO smoothing parameter λ: finite and at least :data:`MIN_LAM`."""
    value = float(text)
    if not MIN_LAM <= value < float("inf"):
        raise argparse.ArgumentTypeError(
            f"must be a finite λ ≥ {MIN_LAM:.2g} (√ε of float64: below it (λ²/2)·Tr∇²f is "
            f"under the rounding of f, and x ± λu == x at λ ≲ 1e-16), got {text}")
    return value


def arg(default: object, help: str, **meta: object) -> dataclasses.Field:
    """A dataclass field that is also a flag (:func:`add_fields`): its default, its --help text
    and, in ``meta``, a validating ``type``, ``choices`` and whatever else its owner reads."""
    return dataclasses.field(default=default, metadata={"help": help, **meta})


def positive_or_none(text: str) -> float | None:
    """A positive finite number, or 'none'."""
    return None if text.lower() == "none" else positive_float(text)


def add_fields(parser: argparse.ArgumentParser, cls: type) -> argparse.ArgumentParser:
    """One ``--field-name`` flag per field of the dataclass ``cls``: the field's default is the
    flag's, and its metadata gives the help (``help``) and, where the default's type is not
    enough, a validating ``type`` and ``choices``. Booleans (default False) are switches."""
    for f in dataclasses.fields(cls):
        meta = f.metadata
        kwargs: dict = {"default": f.default, "help": meta["help"]}
        if isinstance(f.default, bool):
            kwargs["action"] = "store_true"
        else:
            kwargs["type"] = meta.get("type") or type(f.default)
            if "choices" in meta:
                kwargs["choices"] = meta["choices"]
        parser.add_argument("--" + f.name.replace("_", "-"), **kwargs)
    return parser


def from_args(cls: type, args: argparse.Namespace):
    """The dataclass ``cls`` from the parsed flags :func:`add_fields` added."""
    return cls(**{f.name: getattr(args, f.name) for f in dataclasses.fields(cls)})
