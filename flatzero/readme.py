"""Generated parts of the README: results tables written between markers, so they cannot go stale.

A generated block sits between ``<!-- NAME:start -->`` and ``<!-- NAME:end -->``; the plot scripts
print it with ``--table`` and replace it in place with ``--readme README.md`` (reproduce.sh).
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
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


def add_flags(parser: argparse.ArgumentParser, table: str, compare: str, table_help: str,
              published: str) -> None:
    """The flags a plot script prints its tables with instead of drawing: ``--table``
    (markers ``table``), ``--compare-published`` [``--summary``] (markers ``compare``[-summary]),
    ``--readme FILE`` and ``--marker NAME``; :func:`check_flags` checks their combination."""
    parser.add_argument("--table", action="store_true", help=f"print {table_help} instead of "
                        "drawing")
    parser.add_argument("--compare-published", action="store_true",
                        help=f"print the published figures' key points next to ours ({published}"
                             ": how they were read, and their plotting accuracy)")
    parser.add_argument("--summary", action="store_true",
                        help="with --compare-published: one line per curve instead of per key "
                             "point")
    parser.add_argument("--readme", type=Path,
                        help=f"with --table or --compare-published: write it into this file "
                             f"between its {table}, {compare} or {compare}-summary markers")
    parser.add_argument("--marker", help="with --readme: the markers' name instead (a second "
                        "block of the same kind, e.g. for another seed)")


def check_flags(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """One-line usage errors for combinations of :func:`add_flags`' flags that mean nothing."""
    if args.table and args.compare_published:
        parser.error("--table and --compare-published print different tables; give one")
    if args.readme and not (args.table or args.compare_published):
        parser.error("--readme goes with --table or --compare-published")
    if args.marker and not args.readme:
        parser.error("--marker goes with --readme")
    if args.summary and not args.compare_published:
        parser.error("--summary goes with --compare-published")


def marker(args: argparse.Namespace, table: str, compare: str) -> str:
    """The markers' name of the table asked for."""
    if args.marker:
        return args.marker
    return table if args.table else f"{compare}-summary" if args.summary else compare


def command(script: str, argv: list[str], drop: dict[str, int] | None = None,
            env: dict[str, str] | None = None) -> str:
    """The command line that reproduces a run, as the tables print it under themselves:
    ``[VAR=value ...] python script args``, leaving out the options of ``drop`` (flag → how many
    values follow it, -1: every value up to the next option; output options that do not change
    what is measured)."""
    drop = drop or {}
    kept, i = [], 0
    while i < len(argv):
        flag, inline = argv[i].split("=", 1)[0], "=" in argv[i]
        i += 1
        if flag not in drop:
            kept.append(argv[i - 1])
        elif not inline and drop[flag] >= 0:
            i += drop[flag]
        elif not inline:
            while i < len(argv) and not argv[i].startswith("-"):
                i += 1
    words = [f"{k}={v}" for k, v in (env or {}).items()]
    return " ".join([*words, "python", script, *map(shlex.quote, kept)])


def main(argv: list[str] | None = None) -> None:
    """``python -m flatzero.readme FILE NAME``: write stdin between the markers ``NAME`` of
    ``FILE`` (only when it differs; nothing is written when stdin is empty)."""
    from flatzero.cli import Parser

    p = Parser(prog="python -m flatzero.readme",
               description="Write stdin between the <!-- NAME:start --> and <!-- NAME:end --> "
                           "markers of FILE (an atomic write, only when the block changes).")
    p.add_argument("file", help="the markdown file holding the markers")
    p.add_argument("name", help="the block's name")
    args = p.parse_args(argv)
    block = sys.stdin.read()
    if not block.strip():
        fail(f"nothing on stdin for the block {args.name}; {rel(args.file)} left as it was")
    emit(block, args.name, args.file)


if __name__ == "__main__":
    main()
