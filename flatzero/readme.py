"""Generated parts of the README: results tables written between markers, so they cannot go stale.

A generated block sits between ``<!-- NAME:start -->`` and ``<!-- NAME:end -->``; the plot scripts
print it with ``--table`` and replace it in place with ``--readme README.md`` (reproduce.sh).
"""

from __future__ import annotations

import os
from pathlib import Path

from flatzero.cli import fail, rel
from flatzero.results import write_bytes


def markers(name: str) -> tuple[str, str]:
    return f"<!-- {name}:start -->", f"<!-- {name}:end -->"


def update(path: str | os.PathLike[str], name: str, block: str) -> bool:
    """Replace what is between the markers ``name`` in ``path`` by ``block`` (atomic write, and
    only when it differs); returns whether the file changed.

    Raises ValueError (with what to do) when the file lacks the markers or has them twice.
    """
    path = Path(path)
    text = path.read_text()
    start, end = markers(name)
    if text.count(start) != 1 or text.count(end) != 1 or text.index(start) > text.index(end):
        raise ValueError(f"{path} must hold the markers {start} and {end} once each, in this "
                         "order, around the generated block")
    head, rest = text.split(start)
    _, tail = rest.split(end)
    new = f"{head}{start}\n{block.strip()}\n{end}{tail}"
    if new == text:
        return False
    write_bytes(path, new.encode())
    return True


def emit(block: str, name: str, path: str | os.PathLike[str] | None) -> None:
    """--table: print ``block``, or with --readme replace it in ``path`` (one-line error) and say
    whether that changed the file."""
    if path is None:
        print(block)
        return
    try:
        changed = update(path, name, block)
    except (OSError, ValueError) as exc:
        fail(str(exc))
    print(f"{'updated' if changed else 'unchanged:'} {rel(path)} ({name})")
