"""Time Figures 1 + 4 end to end: the compiled path against the paper's per-iteration loop.

    python test_func/bench.py                 # 1 and 5 seeds, T = 100000
    python test_func/bench.py --iters 20000   # quicker
    python test_func/bench.py --markdown      # the table of docs/toy.md (the text on stderr)

Both sides are the same command line (`run_toy.py`; the reference adds `--naive --workers 1`),
run as fresh processes, so start-up, compilation-cache loading and JSON writing are included.
The JSON of both sides is compared: the speed-up must not change a number.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

from flatzero.cli import Parser, positive_int
from flatzero.readme import command
from flatzero.results import read_json, strip_volatile
from test_func import toy

RUN_TOY = Path(__file__).resolve().parent / "run_toy.py"
_IMPL_KEYS = ("implementation", "bitwise_reference", "wall_time_s", "created", "git_sha")


def timed_run(out: Path, seeds: list[int], iters: int, naive: bool) -> float:
    cmd = [sys.executable, str(RUN_TOY), "--out", str(out), "--iters", str(iters),
           "--seeds", *map(str, seeds)]
    if naive:  # the paper's loop is sequential and GIL-bound: threads would only slow it down
        cmd += ["--naive", "--workers", "1"]
    start = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    return time.perf_counter() - start


def numbers(obj):
    """The result without run metadata that legitimately differs between the two sides."""
    if isinstance(obj, dict):
        return {k: numbers(v) for k, v in obj.items() if k not in _IMPL_KEYS}
    return strip_volatile(obj)


def same_numbers(a: Path, b: Path) -> bool:
    files = sorted(p.name for p in a.glob("*.json"))
    return files == sorted(p.name for p in b.glob("*.json")) and all(
        numbers(read_json(a / f)) == numbers(read_json(b / f)) for f in files)


def markdown(rows: list[tuple[int, float, float, bool]], iters: int, argv: list[str]) -> str:
    """The measured rows (seeds, naive s, fast s, identical) as docs/toy.md's table, with the
    command under it."""
    lines = ["| seeds | naive loop | this repo | speed-up | identical JSON |",
             "|---|---|---|---|---|"]
    lines += [f"| {n} | {slow:.2f} s | {fast:.2f} s | {slow / fast:.1f}× | "
              f"{'yes' if same else 'no'} |" for n, slow, fast, same in rows]
    return "\n".join([*lines, "", f"`{command('test_func/bench.py', argv, {'--markdown': 0})}` "
                       f"(T = {iters}, GD + ZO + DD + 3 λ, seeds {toy.SEED}, {toy.SEED + 1}, "
                       "...; each side a fresh process, start-up and JSON included)"])


def main(argv: list[str] | None = None) -> list[tuple[int, float, float, bool]]:
    """Time both sides for each number of seeds; returns the rows (seeds, naive s, fast s,
    identical JSON)."""
    argv = sys.argv[1:] if argv is None else argv
    p = Parser(prog="bench.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--iters", type=positive_int, default=100_000, help="iterations T per run")
    p.add_argument("--seeds", type=positive_int, nargs="+", default=[1, 5],
                   help=f"numbers of seeds to time (seeds {toy.SEED}, {toy.SEED + 1}, ...)")
    p.add_argument("--markdown", action="store_true",
                   help="print the measured rows as a markdown table with its command on stdout "
                        "(the text report goes to stderr)")
    args = p.parse_args(argv)
    text = sys.stderr if args.markdown else sys.stdout

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        # Warm the compilation cache so that both sides time a steady-state start-up.
        timed_run(Path(tmp) / "warm", [17], 10, naive=False)
        print(f"Figures 1 + 4 (GD, ZO, DD, λ ∈ {{0.1, 0.05, 0.01}}), T = {args.iters}", file=text)
        print(f"{'seeds':>5} {'naive s':>9} {'fast s':>8} {'speed-up':>9}  identical JSON",
              file=text)
        for n in args.seeds:
            seeds = list(range(toy.SEED, toy.SEED + n))
            slow, fast = Path(tmp) / f"naive{n}", Path(tmp) / f"fast{n}"
            t_slow = timed_run(slow, seeds, args.iters, naive=True)
            t_fast = timed_run(fast, seeds, args.iters, naive=False)
            same = same_numbers(slow, fast)
            print(f"{n:>5} {t_slow:>9.2f} {t_fast:>8.2f} {t_slow / t_fast:>8.1f}x  {same}",
                  file=text, flush=True)
            rows.append((n, t_slow, t_fast, same))
    if args.markdown:
        print(markdown(rows, args.iters, argv))
    return rows

if __name__ == "__main__":
    main()
