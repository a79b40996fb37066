"""Replaying documented examples against the binary.

Each example is one of:
- (a) replayable directly: its requests run as written on the run's block profile;
- (b) replayable after a setup from the block profile: the example's names for devices and
  nodes mapped onto the profile's, and objects it assumes created first
  (`conformance/docs/setup.py`);
- (c) not replayable, with the reason: it needs a guest, another target, a migration
  peer, or it shows no request at all.

An example planned as (a) or (b) can still turn out not replayable when it runs: QEMU
refusing a request the doc shows succeeding means the profile lacks state the example
assumes, and the refusal says which.

A replayed example is compared by what only a replay shows: the reply kind (a return
documented, an error got) and event order (events the doc shows before a return must
arrive before it, except those the doc says are unordered with it). The shape of a
documented return is not compared: every member that could differ there (a required
one missing, one the schema lacks, another JSON type) is already a difference between
the example and the schema (`drift.py`, finding `doc.drift.example-reply`), since the
reply itself is held to the schema; comparing it again filed the same defect twice.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from conformance.docs.model import DocEntry, DocExample, DocMessage, Parse
from conformance.docs.setup import created_names, map_arguments, setup_steps
from conformance.machine.lifecycle import lifecycle_reason
from conformance.machine.profiles import PROFILES, block_profile, profile
from conformance.spec import Schema

# The profile examples are planned for when the caller names none: every block profile
# creates the same names (cd0, null0), so any of them plans an example the same way.
BLOCK_PROFILE = block_profile(PROFILES) or "none"
NEEDS = (
    (
        (
            "migrate",
            "migrate-incoming",
            "migrate-recover",
            "migrate-start-postcopy",
            "migrate-pause",
            "migrate_cancel",
            "migrate-continue",
            "client_migrate_info",
        ),
        "needs a migration peer",
    ),
    (("guest-",), "needs a guest agent"),
    (
        ("dump-guest-memory", "inject-nmi", "system_wakeup", "send-key", "input-send-event"),
        "needs a running guest",
    ),
    (("replay-",), "needs a machine started with -icount record/replay"),
    (
        ("x-exit-preconfig",),
        "needs a machine started with --preconfig (its example is the preconfig test's)",
    ),
    (("xen-", "x-colo-"), "needs a Xen or COLO setup"),
    (
        ("qmp_capabilities",),
        "is the negotiation itself; the negotiation checks run it on a fresh session",
    ),
)
# A sentence saying a command's return and an event may come in either order, e.g.
# "The ordering of this command's return with the BLOCK_JOB_COMPLETED event is not
# defined" (block-job-complete, job-complete).
_UNORDERED = re.compile(
    r"order(?:ing)? of this command'?s return with the (?P<event>[A-Z][A-Z0-9_]+) event"
    r" is (?:not defined|undefined|unspecified)",
    re.I,
)

Request = tuple[str, object]


@dataclass(frozen=True, slots=True)
class Plan:
    """How (or why not) an example is replayed."""

    replayable: bool
    profile: str
    reason: str
    requests: tuple[Request, ...]  # (command, arguments) with names mapped
    setup: tuple[tuple[str, dict[str, object], str | None], ...] = ()


def plan(
    entry: DocEntry, example: DocExample, schema: Schema, machine_name: str = BLOCK_PROFILE
) -> Plan:
    """Classify one example: (a), (b) or (c) with the reason, for a replay on the
    profile `machine_name`."""
    if any(m.status is Parse.UNPARSABLE for m in example.messages):
        return _no("an example message is unparsable")
    messages = [m.value for m in example.messages if m.direction == "->"]
    if not any(isinstance(v, dict) for v in messages):
        return _no(
            "shows no request (events or replies only): the state that produces them isn't modelled"
        )
    written: list[Request] = []
    for value in messages:
        command = value.get("execute") or value.get("exec-oob") if isinstance(value, dict) else None
        if not isinstance(command, str):
            return _no("a request has no command name")
        assert isinstance(value, dict)
        written.append((command, value.get("arguments")))
    for command, _ in written:
        if command not in schema.commands:
            return _no(f"{command} is not in this binary (another target or version)")
        reason = lifecycle_reason(command)
        if reason:
            return _no(f"{command} {reason}")
        for prefixes, why in NEEDS:
            if command.startswith(prefixes):
                return _no(f"{command} {why}")
    machine = profile(machine_name)
    described = {a.name: a.description for a in entry.arguments}
    try:
        # What the setup creates keeps the example's names; then the setup is filled
        # again from the mapped request, for the references it makes (a bitmap's node).
        created = {name for step in setup_steps(*written[0]) for name in created_names(*step[:2])}
        requests: list[Request] = []
        for command, arguments in written:
            requests.append(
                (command, map_arguments(machine, command, arguments, created, described))
            )
            created |= created_names(command, arguments)
        setup = tuple(setup_steps(*requests[0]))
    except KeyError as exc:
        return _no(f"its setup needs the member {exc} that the example's request lacks")
    mapped = sorted(
        {
            f"{w[k]}→{r[k]}"
            for (_, w), (_, r) in zip(written, requests, strict=True)
            if isinstance(w, dict) and isinstance(r, dict)
            for k in w
            if w[k] != r.get(k)
        }
    )
    if not setup and not mapped:
        return Plan(True, machine_name, "(a) replayable directly", tuple(requests))
    how = [f"setup {', '.join(c for c, _, _ in setup)}"] if setup else []
    how += [f"names mapped {', '.join(mapped)}"] if mapped else []
    return Plan(True, machine_name, f"(b) {'; '.join(how)}", tuple(requests), setup)


def _no(reason: str) -> Plan:
    return Plan(False, "", f"(c) {reason}", ())


def unordered_events(entry: DocEntry) -> frozenset[str]:
    """Events the doc says may arrive before or after the command's return."""
    text = " ".join((entry.summary, entry.returns, *entry.notes))
    return frozenset(m.group("event") for m in _UNORDERED.finditer(text))


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


def order_diff(
    documented: list[str],
    before: list[str],
    after: list[str],
    unordered: frozenset[str] = frozenset(),
) -> Iterator[str]:
    """Documented events must arrive before the return, in the same relative order;
    an event in `unordered` may arrive on either side of it."""
    position = 0
    for name in documented:
        if name in unordered:
            if name not in before and name not in after:
                yield f"event {name}: documented (unordered with the return), arrived not at all"
            continue
        try:
            position = before.index(name, position) + 1
        except ValueError:
            where = "after the return" if name in after else "not at all"
            yield f"event {name}: documented before the return, arrived {where}"
