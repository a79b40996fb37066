"""Crediting trace events to the commands that reached them, and the totals.

An example is credited with the events its QEMU logged since the previous example
(`conformance.machine.trace.collect`), paired with the command it sent: a new event
or a new (command, event) pair is novelty. Start-up's events are credited to no
command (`START`). Totals are given per subsystem prefix (an event name up to its
first ``_``: the binary says nothing about the trace-events file an event came from),
out of the events recorded (the binary's list minus the ones left out).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from conformance.machine.trace import collect
from conformance.machine.trace_events import TraceEvents, prefix

#: The command start-up's events are credited to: none.
START = "(start)"

Pair = tuple[str, str]


@dataclass(frozen=True)
class Novelty:
    """What one example reached first."""

    events: frozenset[str] = frozenset()
    pairs: frozenset[Pair] = frozenset()


@dataclass
class Coverage:
    """Events and (command, event) pairs reached so far, out of `universe`."""

    universe: frozenset[str]
    events: set[str] = field(default_factory=set)
    pairs: set[Pair] = field(default_factory=set)

    def credit(self, command: str, events: Iterable[str]) -> Novelty:
        """Credit `command` with `events`; what of it is new. Names that are not
        events of the binary (a continued log line) are dropped."""
        reached = set(events) & self.universe
        new_events = reached - self.events
        new_pairs = {(command, e) for e in reached} - self.pairs
        self.events |= reached
        self.pairs |= new_pairs
        return Novelty(frozenset(new_events), frozenset(new_pairs))

    def credit_logged(self, command: str) -> Novelty:
        """Credit `command` with everything logged since the previous call (start-ups
        to `START`)."""
        logged = collect()
        start = self.credit(START, logged.start)
        own = self.credit(command, logged.events)
        return Novelty(start.events | own.events, start.pairs | own.pairs)

    def merge(self, pairs: Iterable[Pair]) -> Novelty:
        """Add another process's pairs (their events with them)."""
        novelty: list[Novelty] = []
        by_command: dict[str, list[str]] = {}
        for command, event in pairs:
            by_command.setdefault(command, []).append(event)
        novelty = [self.credit(c, es) for c, es in by_command.items()]
        return Novelty(
            frozenset().union(*(n.events for n in novelty)),
            frozenset().union(*(n.pairs for n in novelty)),
        )

    @property
    def command_pairs(self) -> int:
        """Pairs of a command: start-up's left out."""
        return sum(1 for command, _ in self.pairs if command != START)

    def by_prefix(self) -> dict[str, tuple[int, int]]:
        """(reached, recorded) per subsystem prefix, every prefix of the universe."""
        total = Counter(prefix(e) for e in self.universe)
        reached = Counter(prefix(e) for e in self.events)
        return {p: (reached[p], total[p]) for p in sorted(total)}


def coverage_for(trace: TraceEvents) -> Coverage:
    return Coverage(trace.recorded)


def to_json(coverage: Coverage) -> dict[str, object]:
    """The coverage as the reports carry it (fuzz-coverage.json, `trace_coverage`)."""
    return {
        "format": 1,
        "recorded": len(coverage.universe),
        "events": sorted(coverage.events),
        "pairs": sorted([c, e] for c, e in coverage.pairs),
        "command_pairs": coverage.command_pairs,
        "by_prefix": {p: list(counts) for p, counts in coverage.by_prefix().items()},
    }


def prefix_lines(coverage: Coverage, *, limit: int | None = None) -> list[str]:
    """``prefix reached/recorded`` for every prefix with an event reached, most first."""
    rows = [(p, r, t) for p, (r, t) in coverage.by_prefix().items() if r]
    rows.sort(key=lambda row: (-row[1], row[0]))
    return [f"{p} {r}/{t}" for p, r, t in rows[:limit]]


def headline(coverage: Coverage) -> str:
    """``events R/T, pairs P``: the line a progress report shows."""
    return (
        f"trace events {len(coverage.events)}/{len(coverage.universe)}, "
        f"pairs {coverage.command_pairs}"
    )


__all__ = [
    "START",
    "Coverage",
    "Novelty",
    "Pair",
    "coverage_for",
    "headline",
    "prefix_lines",
    "to_json",
]
