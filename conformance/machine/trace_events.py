"""A binary's trace events, the ones that fire on every command, and whether it can
record them at all: found once per binary (and sandbox choice) and cached.

The event list is the binary's own (`trace-event-get-state name=*`). The events left
out are the ones a no-op command reaches: those of `query-status` (QMP dispatch, the
monitor, chardev I/O, the main loop, QOM casts) and of `query-version`, the liveness
probe the harness sends after every example. Each is sent `ROUNDS` times on a QEMU
recording every event, and every event logged meanwhile is left out, so that an
example is credited with what its own command reached.

A binary runs blind, with the reason said, when it has no trace events, when its log
stays empty (a build without the `log` backend), when it refuses the options
(a sandbox, or an old QEMU), or when it is qemu-storage-daemon (no -D option).
"""

from __future__ import annotations

from dataclasses import dataclass

from conformance.machine.cache import BinaryCache
from conformance.machine.instance import DiedAtStart, LaunchConfig, QemuGone, QemuInstance
from conformance.machine.probe import probe
from conformance.machine.trace import TraceSetup, event_names, is_marker
from conformance.qmp.deadline import DeadlineExceeded

ROUNDS = 3
NOOP_COMMANDS = ("query-status", "query-version")
_FORMAT = 1


@dataclass(frozen=True)
class TraceEvents:
    """What recording gives for one binary: `blind` says why not, when it can't."""

    events: frozenset[str]  # every event of the binary
    excluded: frozenset[str]  # fire on every command: not recorded
    blind: str = ""

    @property
    def setup(self) -> TraceSetup | None:
        return (
            None
            if self.blind
            else TraceSetup.all_but(frozenset(e for e in self.excluded if not is_marker(e)))
        )

    @property
    def recorded(self) -> frozenset[str]:
        return self.events - self.excluded

    def describe(self) -> str:
        if self.blind:
            return f"trace coverage: blind ({self.blind})"
        return (
            f"trace coverage: {len(self.recorded)} of {len(self.events)} trace events recorded "
            f"({len(self.excluded)} fire on every command and are left out)"
        )

    def to_json(self) -> dict[str, object]:
        return {
            "format": _FORMAT,
            "events": sorted(self.events),
            "excluded": sorted(self.excluded),
            "blind": self.blind,
        }

    @classmethod
    def from_json(cls, value: object) -> TraceEvents | None:
        if not isinstance(value, dict) or value.get("format") != _FORMAT:
            return None
        events, excluded, blind = value.get("events"), value.get("excluded"), value.get("blind")
        if not isinstance(events, list) or not isinstance(excluded, list):
            return None
        return cls(frozenset(map(str, events)), frozenset(map(str, excluded)), str(blind or ""))


def trace_events(
    binary: str,
    *,
    sandbox: bool | None = None,
    cache: BinaryCache | None = None,
    workdir_base: str | None = None,
) -> TraceEvents:
    """`binary`'s trace events and the ones left out, from `cache` when it has them."""
    if cache is None:
        return _find(binary, sandbox, workdir_base)
    # By the file's path: a bare name is found on PATH.
    key = BinaryCache.key(probe(binary).path, "trace-events", [f"sandbox={sandbox}"])
    cached = TraceEvents.from_json(cache.load(key))
    if cached is not None:
        return cached
    found = _find(binary, sandbox, workdir_base)
    cache.store(key, found.to_json())
    return found


def _find(binary: str, sandbox: bool | None, workdir_base: str | None) -> TraceEvents:
    none: frozenset[str] = frozenset()
    if probe(binary).storage_daemon:
        return TraceEvents(none, none, "qemu-storage-daemon has no -D log file")
    config = LaunchConfig(
        binary, "none", sandbox=sandbox, workdir_base=workdir_base, trace=TraceSetup(("*",))
    )
    try:
        with QemuInstance(config) as inst:
            reply = inst.execute("trace-event-get-state", {"name": "*"})
            listed = reply.value if reply.ok and isinstance(reply.value, list) else []
            events = frozenset(
                str(e["name"]) for e in listed if isinstance(e, dict) and "name" in e
            )
            if not events:
                return TraceEvents(none, none, "the binary lists no trace events")
            log = inst.trace_log
            assert log is not None
            log.read()  # start-up's
            excluded: set[str] = set()
            for _ in range(ROUNDS):
                for command in NOOP_COMMANDS:
                    inst.execute(command)
                    excluded.update(event_names(log.read()))
            # Whatever a command logs after its reply is read after the fence.
            inst.execute("query-version")
            excluded.update(event_names(log.read()))
    except DiedAtStart as exc:
        line = next(iter(exc.stderr.strip().splitlines()), "no message")
        return TraceEvents(none, none, f"QEMU refused -trace/-D: {line}")
    except (QemuGone, DeadlineExceeded) as exc:
        return TraceEvents(none, none, f"QEMU recording every event failed: {exc}")
    if "qmp_enter_query_status" not in excluded:
        return TraceEvents(events, none, "the trace log stays empty (no `log` trace backend)")
    return TraceEvents(events, frozenset(excluded) & events)


def prefix(event: str) -> str:
    """An event's subsystem prefix: its name up to the first ``_``."""
    return event.split("_", 1)[0]


__all__ = ["NOOP_COMMANDS", "TraceEvents", "prefix", "trace_events"]
