"""Crediting trace events to the commands that reached them, and the totals.

An example is credited with the events its QEMU logged since the previous example
(`conformance.machine.trace.collect`) inside a command's dispatch (from the monitor's
dispatch of a request to its response), paired with the command it sent: a new event
or a new (command, event) pair is novelty. What the harness itself makes QEMU do is
credited to a name in parentheses, never counted as a command's pair: start-up
(`START`), the harvest of names (`HARVEST`) and the `quit` that ends a QEMU (`QUIT`,
about a dozen events: shutdown request, vm stop, block detach, which would otherwise
go to whichever command ran last). So is what was logged outside every dispatch
(`ASYNC`): a thread finishing a socket connect, RCU freeing old flat views, a job's
coroutine, the main loop's polling. Those run when they run, and crediting them to the
example sent next would pair them with a command that didn't reach them (a set-up's
listening socket would lend its thread's events to every later query). Totals are given
per subsystem prefix (an event name up to its first ``_``: the binary says nothing
about the trace-events file an event came from), out of the events recorded (the
binary's list minus the ones left out).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from conformance.machine.trace import HANDLER_CLOSES, HANDLER_OPENS, collect
from conformance.machine.trace_events import TraceEvents, prefix

#: The harness's own doings, credited in place of a command (see the docstring).
START = "(start)"
HARVEST = "(harvest)"
QUIT = "(quit)"
#: What was logged outside every command's dispatch (`conformance.machine.trace`).
ASYNC = "(async)"

Pair = tuple[str, str]

#: QAPI's generated visitors trace the member types they visit (``visit_type_uint32``,
#: ``visit_optional``, ``visit_start_list``): an example reaches them by what its
#: arguments and reply hold, before and after the command's own code.
VISITOR_PREFIX = "visit_"


def own_dispatch(command: str, event: str) -> bool:
    """Whether `event` is `command`'s own QMP dispatch (``qmp_enter_<name>``,
    ``qmp_exit_<name>``), which any first example of it reaches."""
    name = command.replace("-", "_")
    return event in (f"{HANDLER_OPENS}{name}", f"{HANDLER_CLOSES}{name}")


def beyond_dispatch(pair: Pair) -> bool:
    """Whether a (command, event) pair is the command's implementation at work: neither
    its own dispatch nor QAPI's visiting of its arguments and reply."""
    command, event = pair
    return not own_dispatch(command, event) and not event.startswith(VISITOR_PREFIX)


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
        """Credit `command` with what was logged since the previous call inside a
        command's dispatch (start-ups to `START`, the rest to `ASYNC`); the harness's
        own names (`HARVEST`, `QUIT`) with all of it."""
        logged = collect()
        start = self.credit(START, logged.start)
        if command.startswith("("):
            own = self.credit(command, logged.events)
            return Novelty(start.events | own.events, start.pairs | own.pairs)
        own = self.credit(command, logged.events - logged.unbracketed)
        later = self.credit(ASYNC, logged.unbracketed)
        return Novelty(
            start.events | own.events | later.events, start.pairs | own.pairs | later.pairs
        )

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
        """Pairs of a command: the harness's own (START, HARVEST, QUIT) left out."""
        return sum(1 for command, _ in self.pairs if not command.startswith("("))

    def by_prefix(self) -> dict[str, tuple[int, int]]:
        """(reached, recorded) per subsystem prefix, every prefix of the universe."""
        total = Counter(prefix(e) for e in self.universe)
        reached = Counter(prefix(e) for e in self.events)
        return {p: (reached[p], total[p]) for p in sorted(total)}


def coverage_for(trace: TraceEvents) -> Coverage:
    return Coverage(trace.recorded)


def reached_json(trace: TraceEvents, coverage: Coverage) -> dict[str, object]:
    """The events a run reached as the matrix carries them (no pairs: a run of the
    suite credits a test's events, not each command's)."""
    return {
        "blind": trace.blind,
        "recorded": len(coverage.universe),
        "excluded": len(trace.excluded),
        "events": sorted(coverage.events),
        "by_prefix": {p: list(counts) for p, counts in coverage.by_prefix().items()},
    }


def merge_reached(values: list[dict[str, object]]) -> dict[str, object] | None:
    """Several matrices' `reached_json` of one binary as one: events added up."""
    seeing = [v for v in values if not v.get("blind")]
    if not seeing:
        return values[0] if values else None
    events: set[str] = set()
    totals: dict[str, int] = {}
    for value in seeing:
        events.update(map(str, _list(value.get("events"))))
        by_prefix = value.get("by_prefix")
        for name, counts in by_prefix.items() if isinstance(by_prefix, dict) else ():
            total = _list(counts)[1:2]
            totals[str(name)] = max(totals.get(str(name), 0), _int(total[0]) if total else 0)
    reached = Counter(prefix(e) for e in events)
    return {
        "blind": "",
        "recorded": max(_int(v.get("recorded")) for v in seeing),
        "excluded": max(_int(v.get("excluded")) for v in seeing),
        "events": sorted(events),
        "by_prefix": {p: [reached[p], t] for p, t in sorted(totals.items())},
    }


def _list(value: object) -> list[object]:
    return value if isinstance(value, list) else []


def _int(value: object) -> int:
    return value if isinstance(value, int) else 0


def reached_text(value: dict[str, object], *, limit: int | None = None) -> str:
    """``trace events R/N reached (...); per subsystem prefix: qmp 120/447, ...``, or
    why the run was blind."""
    head, prefixes = reached_parts(value, limit=limit)
    return f"{head}; per subsystem prefix: {prefixes}" if prefixes else head


def reached_parts(value: dict[str, object], *, limit: int | None = None) -> tuple[str, str]:
    """`reached_text`'s two parts: the total, and the prefixes ("" when blind)."""
    if value.get("blind"):
        return f"trace events: blind ({value['blind']})", ""
    by_prefix = value.get("by_prefix")
    rows = [
        (str(name), _int(c[0]), _int(c[1]))
        for name, c in (by_prefix.items() if isinstance(by_prefix, dict) else ())
        if isinstance(c, list) and len(c) == 2 and c[0]
    ]
    rows.sort(key=lambda row: (-row[1], row[0]))
    shown = ", ".join(f"{p} {r}/{t}" for p, r, t in rows[:limit])
    more = f", and {len(rows) - limit} more" if limit is not None and len(rows) > limit else ""
    head = (
        f"trace events {len(_list(value.get('events')))}/{value.get('recorded')} reached "
        f"({value.get('excluded')} that fire on every command left out)"
    )
    return head, f"{shown or 'none'}{more}"


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
    "ASYNC",
    "HARVEST",
    "QUIT",
    "START",
    "VISITOR_PREFIX",
    "Coverage",
    "Novelty",
    "Pair",
    "beyond_dispatch",
    "coverage_for",
    "headline",
    "merge_reached",
    "own_dispatch",
    "prefix_lines",
    "reached_json",
    "reached_parts",
    "reached_text",
    "to_json",
]
