"""The doc replayer: a documented example's requests sent to a QEMU, its replies and
events compared with what the example shows (`test_doc_examples.py` runs it).

An example that documents a success and gets an error says one of two things. An error
of a class that names missing state (`lacks_state`: a device or node the profile doesn't
have, an inactive device, a KVM capability of the host) means the example assumes a
machine this profile isn't: it can't be judged here, and doesn't run (`NotReplayable`).
Any other refusal (a class QEMU keeps for other conditions, or the argument parser
rejecting the documented arguments) is a doc mismatch like any other, never a skip:
otherwise a command that broke would quietly turn its examples into "needs state".
"""

from __future__ import annotations

import contextlib
import re

from conformance.docs.model import DocEntry, DocExample
from conformance.docs.replay import (
    Plan,
    doc_replies,
    events_before_replies,
    order_diff,
    unordered_events,
)
from conformance.drive.report import evidence
from conformance.errors import QmpcError
from conformance.machine.instance import EventMissing, QemuInstance
from conformance.oracle.failure import Citation, Failure, FindingKind, qapi
from conformance.qmp.message import Kind, Message
from strategies.safety import Unconfinable, admit


class NotReplayable(QmpcError):
    """The example can't run here; the message says why (the test skips with it)."""


#: qapi/error.json's ErrorClass values that name state the machine lacks:
#: DeviceNotFound ("the requested device has not been found"), DeviceNotActive ("a
#: device has failed to be become active"), KVMMissingCap ("a required KVM capability
#: is missing"), and GenericError, which QEMU uses for most missing objects ("Cannot
#: find device=...", "Bus ... not found"). CommandNotFound is not one: the plan only
#: replays commands of the binary.
STATE_CLASSES = frozenset({"GenericError", "DeviceNotFound", "DeviceNotActive", "KVMMissingCap"})
#: The QAPI input visitor's refusals (qapi/qobject-input-visitor.c, qapi/qapi-visit-core.c):
#: the documented arguments don't parse, whatever the machine holds.
_ARGUMENTS_REFUSED = re.compile(
    r"Parameter '[^']*' (is missing|is unexpected|does not accept value)"
    r"|Invalid parameter type for '"
)


def lacks_state(message: Message) -> bool:
    """Whether an error reply says the machine lacks what the request assumes."""
    return (
        message.kind is Kind.ERROR
        and message.error_class in STATE_CLASSES
        and not _ARGUMENTS_REFUSED.match(message.error_desc or "")
    )


def _refused(where: str, message: Message, citation: Citation, command: str) -> Failure:
    return Failure(
        "doc.example.refused",
        citation,
        f"{where}: documented to succeed, refused with {message.error_class}"
        f" ({message.error_desc}), which names no state the machine lacks",
        kind=FindingKind.DOC,
        command=command,
    )


def replay(
    entry: DocEntry,
    example: DocExample,
    how: Plan,
    inst: QemuInstance,
    citation: Citation,
) -> None:
    """Run the example's setup and requests on `inst` and compare what QEMU answers with
    what the example shows; raises `Failure` on a mismatch and `NotReplayable` when
    this profile or host safety keeps the example from running."""
    try:
        requests = [(c, admit(c, a, str(inst.workdir))) for c, a in how.requests]
        setup = [(c, admit(c, a, str(inst.workdir)), e) for c, a, e in how.setup]
    except Unconfinable as exc:
        raise NotReplayable(f"not replayable: host safety: {exc}") from exc
    for setup_command, setup_arguments, awaited in setup:
        with evidence(inst):
            reply = inst.execute(setup_command, setup_arguments)
            if reply.message.kind is Kind.ERROR and not lacks_state(reply.message):
                raise _refused(f"setup {setup_command}", reply.message, citation, setup_command)
        if reply.message.kind is Kind.ERROR:
            raise NotReplayable(
                f"not replayable on profile {how.profile}: setup {setup_command} failed "
                f"({reply.message.error_class}: {reply.message.error_desc})"
            )
        if awaited and all(e.event_name != awaited for e in reply.events):
            try:
                with evidence(inst):
                    inst.wait_event(awaited)
            except EventMissing as exc:
                raise Failure(
                    "doc.setup-event",
                    qapi(awaited, f"emitted by {setup_command}"),
                    f"setup {setup_command} was answered but {awaited} never came, "
                    f"though QEMU still answers: {exc}",
                    kind=FindingKind.BEHAVIOUR,
                    command=setup_command,
                ) from exc
    inst.drain_events()
    documented = doc_replies(example)
    doc_events = events_before_replies(example)
    unordered = unordered_events(entry)
    diffs: list[str] = []
    with evidence(inst):
        for i, (command, arguments) in enumerate(requests):
            reply = inst.execute(command, arguments)
            if i < len(doc_events) and doc_events[i]:
                before = [e.event_name or "" for e in reply.events]
                after = _await_missing(inst, doc_events[i], before)
                diffs += [
                    f"request {i + 1} ({command}): {d}"
                    for d in order_diff(doc_events[i], before, after, unordered)
                ]
            doc = documented[i].value if i < len(documented) else None
            if not isinstance(doc, dict):
                continue
            doc_kind = "return" if "return" in doc else "error"
            if doc_kind == "return" and reply.message.kind is Kind.ERROR:
                if not lacks_state(reply.message):
                    raise _refused(f"request {i + 1} ({command})", reply.message, citation, command)
                # The example assumes state (a device, a feature) this profile lacks;
                # QEMU's refusal says which, and that is not a documentation mismatch.
                raise NotReplayable(
                    f"not replayable on profile {how.profile}: {command} needs state it "
                    f"lacks ({reply.message.error_class}: {reply.message.error_desc})"
                )
            # The return's shape is drift's to judge (conformance/docs/replay.py).
            if doc_kind != reply.message.kind.value:
                diffs.append(
                    f"request {i + 1} ({command}): documented {doc_kind}, "
                    f"got {reply.message.kind.value}"
                )
        if diffs:
            raise Failure(
                "doc.example",
                citation,
                "; ".join(diffs[:20]) + (f" (+{len(diffs) - 20} more)" if len(diffs) > 20 else ""),
                kind=FindingKind.DOC,
                command=entry.name,
                paths=[_place(d) for d in diffs],
            )


def _place(diff: str) -> str:
    """Where a difference is: "request N (CMD): PLACE: what" names PLACE, a JSON path
    into the return (``$`` its top, written ``$.return`` like the drift check's paths)
    or ``event NAME``; a reply of another kind is the reply as a whole (``$``)."""
    place = diff.split(": ", 2)[1]
    if place.startswith("$"):
        return "$.return" + place[1:]
    if place.startswith("event "):
        return "$.event." + place.removeprefix("event ")
    return "$"


def _await_missing(inst: QemuInstance, documented: list[str], before: list[str]) -> list[str]:
    """Wait (each with the reply deadline) for documented events not yet seen."""
    after: list[str] = []
    for name in documented:
        if name in before or name in after:
            continue
        with contextlib.suppress(EventMissing):
            after.append(inst.wait_event(name).event_name or "")
    return after
