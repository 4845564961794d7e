"""Which runs may share a curve, decided once for every plot script from each result's config.

Two runs share a curve exactly when their configs agree on every key but the seed, the run
metadata (versions, commit, wall time) and the outcome of the run (where it diverged or was
interrupted). A plot selects the runs of each curve by a few settings (algorithm, λ, ...) and the
figure's settings (iterations, dimension, ...); whatever else differs splits them into groups,
and only one group is drawn per curve. Every run left out is reported with its reason, in one line.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flatzero.results import METADATA_KEYS

# Outcomes a runner records in the config: they describe what happened, not what was run.
OUTCOME_KEYS = ("diverged_at_iter", "diverged_at_step", "interrupted_at_iter")
IGNORED_KEYS = ("seed", *METADATA_KEYS, *OUTCOME_KEYS)


@dataclass
class Run:
    """One run: where it came from, its result record and its config."""

    name: str                 # file name (and key, for files holding several runs)
    result: dict[str, Any]
    config: dict[str, Any]

    @property
    def seed(self) -> Any:
        return self.config.get("seed")

    @property
    def diverged_at(self) -> int | None:
        return self.config.get("diverged_at_iter", self.config.get("diverged_at_step"))

    @property
    def interrupted_at(self) -> int | None:
        return self.config.get("interrupted_at_iter")


def run_from(path: Path, result: dict[str, Any], key: str | None = None) -> Run:
    return Run(path.name if key is None else f"{path.name}[{key}]", result, result["config"])


def _frozen(value: Any) -> Any:
    if isinstance(value, Mapping):
        return tuple(sorted((k, _frozen(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple)):
        return tuple(_frozen(v) for v in value)
    return value


def settings(config: Mapping[str, Any], ignore: Iterable[str] = ()) -> dict[str, Any]:
    """The config keys that identify a curve: all but the seed, metadata and outcomes."""
    drop = {*IGNORED_KEYS, *ignore}
    return {k: v for k, v in config.items() if k not in drop}


def identity(config: Mapping[str, Any], ignore: Iterable[str] = ()) -> tuple:
    """A hashable key: equal for exactly the runs that may be averaged into one curve."""
    return _frozen(settings(config, ignore))


@dataclass
class Group:
    """Runs with identical settings, one per seed (sorted by seed)."""

    settings: dict[str, Any]
    runs: list[Run] = field(default_factory=list)

    @property
    def seeds(self) -> list:
        return [r.seed for r in self.runs]


def group(runs: Iterable[Run], ignore: Iterable[str] = ()) -> list[Group]:
    """Runs grouped by :func:`identity`, largest group first; a seed found twice with the same
    settings is the same run (seeded runs are deterministic): the later ``created`` is kept."""
    ignore = tuple(ignore)
    groups: dict[tuple, dict[Any, Run]] = {}
    for run in runs:
        by_seed = groups.setdefault(identity(run.config, ignore), {})
        old = by_seed.get(run.seed)
        if old is None or str(run.config.get("created", "")) > str(old.config.get("created", "")):
            by_seed[run.seed] = run
    out = [Group(settings(next(iter(s.values())).config, ignore),
                 sorted(s.values(), key=lambda r: _sort_key(r.seed)))
           for s in groups.values()]
    return sorted(out, key=lambda g: -len(g.runs))


def _sort_key(value: Any) -> tuple:
    return (0, value, "") if isinstance(value, (int, float)) else (1, 0, str(value))


_UNSET = object()  # a key one config has and the other lacks


def differences(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[str]:
    """Keys whose values differ between two settings, as "key value (not other)" phrases."""
    keys = sorted(set(a) | set(b))
    return [f"{k} {_show(a.get(k, _UNSET))} (not {_show(b.get(k, _UNSET))})" for k in keys
            if k not in a or k not in b or a[k] != b[k]]


def varying(groups: Sequence[Group]) -> list[str]:
    """Keys whose values are not the same in every group (to label curves by what differs)."""
    keys = sorted({k for g in groups for k in g.settings})
    return [k for k in keys if len({repr(g.settings.get(k, _UNSET)) for g in groups}) > 1]


def _show(value: Any) -> str:
    if value is _UNSET:
        return "unset"
    return "—" if value is None else f"{value:g}" if isinstance(value, float) else str(value)


def seed_text(seeds: Sequence[Any]) -> str:
    """"seed 17", "seeds 17–21" (a run of consecutive integers) or "seeds 17, 19"."""
    seeds = sorted(seeds, key=_sort_key)
    if len(seeds) == 1:
        return f"seed {seeds[0]}"
    ints = all(isinstance(s, int) for s in seeds)
    if ints and len(seeds) > 2 and seeds == list(range(seeds[0], seeds[0] + len(seeds))):
        return f"seeds {seeds[0]}–{seeds[-1]}"
    return "seeds " + ", ".join(map(str, seeds))


def seed_tag(seeds: Sequence[Any]) -> str:
    """A file-name form of :func:`seed_text`: "seeds17-21" or "seeds17_19"."""
    return seed_text(seeds).replace("seed ", "seeds").replace("seeds ", "seeds").replace(
        "–", "-").replace(", ", "_")


class Skipped:
    """The runs a plot leaves out, by reason; :meth:`line` says it all in one line."""

    def __init__(self) -> None:
        self.reasons: Counter[str] = Counter()
        self.names: dict[str, list[str]] = {}

    def add(self, reason: str, run: Run) -> None:
        if any(run.name in names for names in self.names.values()):
            return  # already reported (by another figure of the same plot)
        self.reasons[reason] += 1
        self.names.setdefault(reason, []).append(run.name)

    def __bool__(self) -> bool:
        return bool(self.reasons)

    def line(self, what: str = "runs") -> str:
        parts = []
        for reason, n in self.reasons.most_common():
            names = self.names[reason]
            shown = ", ".join(names[:2]) + (", ..." if len(names) > 2 else "")
            parts.append(f"{n} {reason} ({shown})")
        return f"skipped {sum(self.reasons.values())} {what}: " + "; ".join(parts)


def matches(config: Mapping[str, Any], want: Mapping[str, Any]) -> bool:
    """Whether ``config`` has every key of ``want`` with that value (floats compared exactly)."""
    return all(config.get(k) == v for k, v in want.items())


def select(runs: Iterable[Run], curve: Mapping[str, Any], figure: Mapping[str, Any],
           seeds: Sequence[Any] | None, skipped: Skipped,
           ignore: Iterable[str] = ()) -> tuple[Group | None, list[Run]]:
    """The group of runs to draw as one curve, and its diverged runs (drawn apart, marked).

    ``curve`` picks the candidates (e.g. algorithm and λ); they must also match ``figure`` (the
    settings the whole figure was asked for) and ``seeds`` (None: any). Interrupted runs are left
    out; if the rest still differ in some setting, the largest group is drawn and each other run
    is reported in ``skipped`` with what differs.
    """
    candidates = [r for r in runs if matches(r.config, curve)]
    chosen, diverged = [], []
    for run in candidates:
        if not matches(run.config, figure):
            diff = ", ".join(differences({k: run.config.get(k) for k in figure}, figure))
            skipped.add(f"with {diff}", run)
        elif seeds is not None and run.seed not in seeds:
            continue  # not asked for: no need to report
        elif run.interrupted_at is not None:
            skipped.add("interrupted (partial results)", run)
        elif run.diverged_at is not None:
            diverged.append(run)
        else:
            chosen.append(run)
    groups = group(chosen, ignore)
    for other in groups[1:]:
        diff = ", ".join(differences(other.settings, groups[0].settings))
        for run in other.runs:
            skipped.add(f"with {diff} than the drawn curve", run)
    return (groups[0] if groups else None), diverged
