"""Trace-event recording: the options that make QEMU log its trace events into its
workdir, and the reading of that log a piece at a time.

Debian builds QEMU with the `log` trace backend: ``-trace events=FILE`` enables the
patterns listed in FILE (one a line; ``-NAME`` disables) and ``-D LOG`` sends QEMU's log,
trace lines included, to LOG. A line is ``name args`` (``PID@SECONDS.MICROS:name args``
with ``-msg timestamp=on``, on 7.2 and 10.0 alike); only the name is read here, and a
name that isn't one of the binary's events (a line continued by an argument holding a
newline) is dropped by whoever credits it.

Every log an instance opens is registered here until it has been read to its end:
`collect()` returns the events written since the previous call, from every QEMU of the
process, the ones closed meanwhile included (`TraceLog.close` reads the rest before
the workdir goes). Events written before QEMU answered negotiation are start-up's,
kept apart (`Collected.start`) so that no command is credited with them, and the ones
written outside every command's dispatch are counted apart too (`Collected.unbracketed`),
so that what a command set going in the background isn't credited to a later one.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

#: Names inside the workdir (QEMU's cwd), so that the command line holds no host path.
EVENTS_FILE = "qmpc-trace-events"
LOG_FILE = "qmpc-trace.log"

#: The monitor's trace events that open a command's dispatch (monitor/qmp.c, in band
#: and out of band) and the one that closes it (the response is sent): an event logged
#: between them was reached by that command; one logged outside all of them (a thread's
#: completion, RCU's deferred frees, a job's coroutine, the main loop's polling) by
#: nothing the harness can name. The same names on 7.2 and 10.0.
DISPATCH_OPENS = frozenset({"monitor_qmp_cmd_in_band", "monitor_qmp_cmd_out_of_band"})
DISPATCH_CLOSES = "monitor_qmp_respond"
#: Recorded for the brackets even when they fire on every command.
MARKERS = DISPATCH_OPENS | {DISPATCH_CLOSES}
#: The QAPI-generated marshaller of each command traces its handler's entry and exit
#: (``qmp_enter_<name>``, ``qmp_exit_<name>``). The monitor's dispatcher yields to the
#: main loop between its own trace and the handler (a command runs in a bottom half),
#: so a job's coroutine or a thread pool's completion can be logged inside the monitor's
#: bracket before the handler starts or after it returns: only what is logged inside the
#: handler's own bracket is the command's. A command QAPI doesn't marshal (``device_add``
#: is ``'gen': false``) has no such bracket, and gets the monitor's.
HANDLER_OPENS = "qmp_enter_"
HANDLER_CLOSES = "qmp_exit_"


def is_marker(name: str) -> bool:
    """Whether the brackets need `name` recorded, even when it fires on every command
    (the no-op commands' ``qmp_enter_*``/``qmp_exit_*`` included)."""
    return name in MARKERS or name.startswith((HANDLER_OPENS, HANDLER_CLOSES))


# Trace event names are C identifiers; the optional prefix is -msg timestamp=on's.
_LINE = re.compile(rb"^(?:\d+@\d+\.\d+:)?([A-Za-z_][A-Za-z0-9_]*)(?: |$)", re.MULTILINE)


@dataclass(frozen=True)
class TraceSetup:
    """What a QEMU records: the lines of its events file (``*`` and ``-NAME`` lines)."""

    patterns: tuple[str, ...]

    @classmethod
    def all_but(cls, excluded: frozenset[str] | set[str]) -> TraceSetup:
        """Every event except `excluded` (the ones that fire on every command)."""
        return cls(("*", *(f"-{name}" for name in sorted(excluded))))

    def args(self, workdir: Path) -> list[str]:
        """Write the events file into `workdir`; the options that record into it."""
        (workdir / EVENTS_FILE).write_text("\n".join(self.patterns) + "\n", encoding="utf-8")
        return ["-trace", f"events={EVENTS_FILE}", "-D", LOG_FILE]


def is_trace_option(option: str, value: str) -> bool:
    """Whether `option` `value` is the harness's recording, which a one-liner leaves out
    (its events file is in the recorded workdir, not in the one-liner's)."""
    return (option, value) in {("-trace", f"events={EVENTS_FILE}"), ("-D", LOG_FILE)}


def event_names(data: bytes) -> list[str]:
    """The event name of each line of `data` (whole lines of a log), in order."""
    return [m.group(1).decode("ascii") for m in _LINE.finditer(data)]


@dataclass
class Brackets:
    """Whose each event of one log is, read in order: a command's (inside its handler's
    bracket, or for a command without one, inside the monitor's) or no command's.
    Counts, not flags, because an out-of-band command is dispatched while an in-band
    one may be."""

    dispatching: int = 0  # commands between DISPATCH_OPENS and DISPATCH_CLOSES
    handling: int = 0  # handlers between HANDLER_OPENS and HANDLER_CLOSES
    # Whether the dispatch under way has reached a handler; the events logged in it
    # before one did (whose they are is known at the handler or at the response).
    handled: bool = False
    pending: list[str] = field(default_factory=list)

    def feed(self, name: str) -> list[tuple[str, bool]]:
        """The events `name` settles, each with whether it was a command's: none for a
        monitor marker (structure, not coverage) or an event whose owner isn't known
        yet; the handler's own markers are the command's events."""
        if name in DISPATCH_OPENS:
            if not self.dispatching:
                self.handled = False
            self.dispatching += 1
            return []
        if name == DISPATCH_CLOSES:
            # An error answered before dispatch (a parse error) is answered too.
            self.dispatching = max(0, self.dispatching - 1)
            if self.dispatching:
                return []
            self.handling = 0  # no handler outlives its dispatch
            # No handler ran: a command QAPI doesn't marshal, all its own work.
            return self._settle(mine=not self.handled)
        if name.startswith(HANDLER_OPENS):
            settled = self._settle(mine=False)  # the main loop's, while the monitor yielded
            self.handled = True
            self.handling += 1
            return [*settled, (name, True)]
        if name.startswith(HANDLER_CLOSES):
            self.handling = max(0, self.handling - 1)
            return [(name, True)]
        if self.handling:
            return [(name, True)]
        if self.dispatching and not self.handled:
            self.pending.append(name)
            return []
        return [(name, False)]

    def end(self) -> list[tuple[str, bool]]:
        """The QEMU is gone: what it logged in a dispatch that never got its response
        was the command's (a crash in a command QAPI doesn't marshal)."""
        self.dispatching = self.handling = 0
        return self._settle(mine=True)

    def _settle(self, *, mine: bool) -> list[tuple[str, bool]]:
        settled = [(name, mine) for name in self.pending]
        self.pending.clear()
        return settled


@dataclass
class TraceLog:
    """One QEMU's log file, read incrementally by byte offset."""

    path: Path
    offset: int = 0
    start_end: int | None = None  # where start-up ended (None: not yet negotiated)
    closed: bool = False
    # Where the reading stands in the commands' brackets, from one read to the next.
    brackets: Brackets = field(default_factory=Brackets)
    # Read at close, not yet collected: start-up's, and after it.
    _start_tail: bytes = b""
    _tail: bytes = b""

    def __post_init__(self) -> None:
        _OPEN.append(self)

    def _size(self) -> int:
        try:
            return os.stat(self.path).st_size
        except OSError:
            return 0

    def mark_started(self) -> None:
        """QEMU answered negotiation: what it logged so far is start-up's."""
        self.start_end = self._size()

    def read(self, until: int | None = None) -> bytes:
        """Whole lines written since the previous read (up to byte `until`)."""
        if self.closed:
            data, self._tail = self._tail, b""
            return data
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                data = f.read() if until is None else f.read(max(0, until - self.offset))
        except OSError:
            return b""
        end = data.rfind(b"\n") + 1  # a line being written is read next time
        self.offset += end
        return data[:end]

    def close(self) -> None:
        """Keep what wasn't read yet: the workdir is about to be removed."""
        if not self.closed:
            # A QEMU that never answered negotiation logged start-up only.
            start = self.read(self.start_end)
            tail = self.read() if self.start_end is not None else b""
            self.closed = True
            self._start_tail, self._tail = start, tail
            closed = [log for log in _OPEN if log.closed]
            for old in closed[: max(0, len(closed) - _KEEP_CLOSED)]:
                _OPEN.remove(old)


_OPEN: list[TraceLog] = []
#: Closed logs kept for a `collect()` at most: a process that never collects (a run
#: that only records) doesn't keep every log it ever had.
_KEEP_CLOSED = 64


@dataclass
class Collected:
    """Events logged since the previous `collect()`: by start-ups, and after them;
    `unbracketed` counts those of `events` that were no command's: logged outside every
    handler's bracket (`HANDLER_OPENS` .. `HANDLER_CLOSES`), or for a command without
    one, outside the monitor's (`DISPATCH_OPENS` .. `DISPATCH_CLOSES`)."""

    start: Counter[str] = field(default_factory=Counter)
    events: Counter[str] = field(default_factory=Counter)
    unbracketed: Counter[str] = field(default_factory=Counter)

    def add(self, log: TraceLog, data: bytes) -> None:
        """Count `data`'s events (whole lines of `log`, after start-up), each as its
        command's or not (`Brackets`)."""
        for name in event_names(data):
            self._count(log.brackets.feed(name))

    def settle(self, log: TraceLog) -> None:
        """`log`'s QEMU is gone: count what its brackets still held (`Brackets.end`)."""
        self._count(log.brackets.end())

    def _count(self, settled: list[tuple[str, bool]]) -> None:
        for name, mine in settled:
            self.events[name] += 1
            if not mine:
                self.unbracketed[name] += 1


def collect() -> Collected:
    """Every registered log read to its end; logs closed and drained are forgotten."""
    found = Collected()
    for log in list(_OPEN):
        if log.closed:
            found.start.update(event_names(log._start_tail))
            found.add(log, log.read())
            found.settle(log)
            _OPEN.remove(log)
            continue
        if log.start_end is None:
            continue  # still starting: read once it has answered negotiation
        if log.offset < log.start_end:
            found.start.update(event_names(log.read(log.start_end)))
        found.add(log, log.read())
    return found


__all__ = [
    "DISPATCH_CLOSES",
    "DISPATCH_OPENS",
    "EVENTS_FILE",
    "HANDLER_CLOSES",
    "HANDLER_OPENS",
    "LOG_FILE",
    "MARKERS",
    "Brackets",
    "Collected",
    "TraceLog",
    "TraceSetup",
    "collect",
    "event_names",
    "is_marker",
    "is_trace_option",
]
