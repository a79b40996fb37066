"""Replaying documented examples against the binary.

Each example is one of:
- (a) replayable directly: every request is a query of this binary, and nothing in the
  example depends on state the suite would have to create;
- (b) replayable after a profile's setup: tray and medium examples on the q35 profile,
  with the example's device names mapped onto the profile's `cd0` (see `PROFILE_NAMES`);
- (c) not replayable, with the reason.

A replayed example is compared by reply kind, by the *shape* of each return (the same
keys at every level, values of the same JSON type; volatile values are never compared)
and by event order (events the doc shows before a return must arrive before it).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from conformance.docs.model import DocEntry, DocExample, DocMessage, Parse
from conformance.machine.lifecycle import lifecycle_reason
from conformance.spec import Schema

# Commands whose examples run on q35 once the example's device names are mapped onto
# the profile's CD-ROM. Their arguments name a drive; nothing else must exist.
TRAY_COMMANDS = frozenset(
    {"blockdev-open-tray", "blockdev-close-tray", "blockdev-remove-medium", "eject"}
)
PROFILE_NAMES = {"device": "cd0", "id": "cd0"}
# The state a tray example assumes before its first request: closing a tray needs it
# open, which the profile's CD-ROM isn't. (blockdev-remove-medium's example opens the
# tray itself, after showing the error for a closed one.)
SETUP: dict[str, tuple[tuple[str, dict[str, object]], ...]] = {
    "blockdev-close-tray": (("blockdev-open-tray", {"id": "cd0"}),),
}
NEEDS = (
    (
        (
            "migrate",
            "migrate-incoming",
            "migrate-recover",
            "migrate-start-postcopy",
            "migrate-pause",
        ),
        "needs a migration peer",
    ),
    (("guest-",), "needs a guest agent"),
    (
        ("dump-guest-memory", "inject-nmi", "system_wakeup", "send-key", "input-send-event"),
        "needs a running guest",
    ),
)


@dataclass(frozen=True, slots=True)
class Plan:
    """How (or why not) an example is replayed."""

    replayable: bool
    profile: str
    reason: str
    requests: tuple[DocMessage, ...]
    setup: tuple[tuple[str, dict[str, object]], ...] = ()


def plan(entry: DocEntry, example: DocExample, schema: Schema) -> Plan:
    """Classify one example: (a), (b) or (c) with the reason."""
    if any(m.status is Parse.UNPARSABLE for m in example.messages):
        return _no("an example message is unparsable")
    requests = tuple(
        m for m in example.messages if m.direction == "->" and isinstance(m.value, dict)
    )
    if not requests:
        return _no(
            "shows no request (events or replies only): the state that produces them isn't modelled"
        )
    commands: list[str] = []
    for request in requests:
        value = request.value
        command = value.get("execute") or value.get("exec-oob") if isinstance(value, dict) else None
        if not isinstance(command, str):
            return _no("a request has no command name")
        commands.append(command)
    for command in commands:
        if command not in schema.commands:
            return _no(f"{command} is not in this binary (another target or version)")
        reason = lifecycle_reason(command)
        if reason:
            return _no(f"{command} {reason}")
        for prefixes, why in NEEDS:
            if command.startswith(prefixes):
                return _no(f"{command} {why}")
    if all(c in TRAY_COMMANDS for c in commands):
        return Plan(
            True,
            "q35",
            "tray example, device names mapped onto cd0",
            requests,
            SETUP.get(commands[0], ()),
        )
    if all(c.startswith(("query-", "x-query-")) for c in commands):
        return Plan(
            True, "none" if entry.name != "query-block" else "q35", "queries only", requests
        )
    return _no(
        "needs setup the suite doesn't model yet (devices, nodes, jobs or objects named in it)"
    )


def _no(reason: str) -> Plan:
    return Plan(False, "", reason, ())


def mapped_arguments(arguments: object) -> object:
    """The example's arguments with device names mapped onto the profile's."""
    if not isinstance(arguments, dict):
        return arguments
    return {k: PROFILE_NAMES.get(k, v) if isinstance(v, str) else v for k, v in arguments.items()}


def shape_diff(doc: object, actual: object, path: str = "$") -> Iterator[str]:
    """Differences of shape: keys at every level and JSON types; values are not compared."""
    if isinstance(doc, dict) and isinstance(actual, dict):
        for key in sorted(set(doc) - set(actual)):
            yield f"{path}.{key}: documented, absent from the reply"
        for key in sorted(set(actual) - set(doc)):
            yield f"{path}.{key}: in the reply, not documented"
        for key in sorted(set(doc) & set(actual)):
            yield from shape_diff(doc[key], actual[key], f"{path}.{key}")
    elif isinstance(doc, list) and isinstance(actual, list):
        # Lengths depend on state; the first documented element stands for all of them.
        if doc and actual:
            for i, item in enumerate(actual):
                yield from shape_diff(doc[0], item, f"{path}[{i}]")
    elif _json_type(doc) != _json_type(actual):
        yield f"{path}: documented {_json_type(doc)}, reply has {_json_type(actual)}"


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def doc_replies(example: DocExample) -> list[DocMessage]:
    """The documented replies (returns and errors), in order."""
    return [
        m
        for m in example.messages
        if m.direction != "->"
        and isinstance(m.value, dict)
        and ("return" in m.value or "error" in m.value)
    ]


def events_before_replies(example: DocExample) -> list[list[str]]:
    """For each request, the events the doc shows between it and its reply, in order."""
    out: list[list[str]] = []
    current: list[str] | None = None
    for m in example.messages:
        value = m.value if isinstance(m.value, dict) else {}
        if m.direction == "->":
            current = []
            out.append(current)
        elif current is not None and isinstance(value.get("event"), str):
            current.append(value["event"])
        elif "return" in value or "error" in value:
            current = None
    return out


def order_diff(documented: list[str], before: list[str], after: list[str]) -> Iterator[str]:
    """Documented events must arrive before the return, in the same relative order."""
    position = 0
    for name in documented:
        try:
            position = before.index(name, position) + 1
        except ValueError:
            where = "after the return" if name in after else "not at all"
            yield f"event {name}: documented before the return, arrived {where}"
