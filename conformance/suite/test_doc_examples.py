"""Every documented example: replayed and compared, or skipped with the reason it can't be.

Passed = the binary matches the example; failed = a doc mismatch (with the diff);
skipped = not replayable (with the reason).
"""

from __future__ import annotations

import contextlib

import pytest

from conformance.docs.model import DocEntry, DocExample, DocSet
from conformance.docs.replay import (
    Plan,
    doc_replies,
    events_before_replies,
    order_diff,
    plan,
    shape_diff,
    unordered_events,
)
from conformance.machine.instance import EventMissing, QemuInstance
from conformance.machine.pool import InstancePool
from conformance.machine.reuse import unchanged
from conformance.oracle.failure import Citation, Failure, FindingKind, qapi
from conformance.plugin import RunContext
from conformance.qmp.message import Kind
from conformance.spec import Schema
from conformance.suite.report import evidence, label
from strategies.safety import Unconfinable, admit


def test_doc_example(
    doc_example: tuple[DocEntry, int, DocExample],
    doc_set: DocSet,
    schema: Schema,
    qemu_pool: InstancePool,
    qmp_run: RunContext,
) -> None:
    entry, index, example = doc_example
    where = f"{entry.source.rsplit(':', 1)[0]}:{example.line}"
    citation = Citation(doc_set.format, f"{entry.name}, example {index + 1} ({where})")
    label(
        epic="documentation",
        feature=entry.name,
        story=f"example {index + 1}",
        citation=str(citation),
    )
    # On the block profile when the run has one: examples name devices and nodes.
    how = plan(entry, example, schema, qmp_run.block_profile or qmp_run.profiles[0])
    if not how.replayable:
        pytest.skip(f"not replayable: {how.reason}")
    # Every replay may change the machine (a tray opened, a bitmap added), so each
    # one has a QEMU of its own, as the profile's argv made it; in the CI profile, one
    # whose replay only read or was refused serves the next test.
    inst = qemu_pool.take(how.profile)
    mark = len(inst.transcript)
    try:
        _replay(entry, example, how, inst, citation, schema)
    finally:
        if qmp_run.reuse and not how.setup and unchanged(inst.transcript.records[mark:]):
            qemu_pool.give_back(inst)
        else:
            inst.close()


def _replay(
    entry: DocEntry,
    example: DocExample,
    how: Plan,
    inst: QemuInstance,
    citation: Citation,
    schema: Schema,
) -> None:
    try:
        requests = [(c, admit(c, a, str(inst.workdir))) for c, a in how.requests]
        setup = [(c, admit(c, a, str(inst.workdir)), e) for c, a, e in how.setup]
    except Unconfinable as exc:
        pytest.skip(f"not replayable: host safety: {exc}")
    for setup_command, setup_arguments, awaited in setup:
        reply = inst.execute(setup_command, setup_arguments)
        if reply.message.kind is Kind.ERROR:
            pytest.skip(
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
                # The example assumes state (a device, a feature) this profile lacks;
                # QEMU's refusal says which, and that is not a documentation mismatch.
                pytest.skip(
                    f"not replayable on profile {how.profile}: {command} needs state it "
                    f"lacks ({reply.message.error_class}: {reply.message.error_desc})"
                )
            if doc_kind != reply.message.kind.value:
                diffs.append(
                    f"request {i + 1} ({command}): documented {doc_kind}, "
                    f"got {reply.message.kind.value}"
                )
            elif reply.message.kind is Kind.RETURN:
                diffs += [
                    f"request {i + 1} ({command}): {d}"
                    for d in shape_diff(
                        doc["return"], reply.value, schema, schema.command(command).ret_type
                    )
                ]
        if diffs:
            raise Failure(
                "doc.example",
                citation,
                "; ".join(diffs[:20]) + (f" (+{len(diffs) - 20} more)" if len(diffs) > 20 else ""),
                kind=FindingKind.DOC,
                command=entry.name,
            )


def _await_missing(inst: QemuInstance, documented: list[str], before: list[str]) -> list[str]:
    """Wait (each with the reply deadline) for documented events not yet seen."""
    after: list[str] = []
    for name in documented:
        if name in before or name in after:
            continue
        with contextlib.suppress(EventMissing):
            after.append(inst.wait_event(name).event_name or "")
    return after
