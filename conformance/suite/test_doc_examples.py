"""Every documented example: replayed and compared, or skipped with the reason it can't be.

Passed = the binary matches the example; failed = a doc mismatch (with the diff);
skipped = not replayable (with the reason).
"""

from __future__ import annotations

import pytest

from conformance.docs.model import DocEntry, DocExample, DocSet
from conformance.docs.replay import (
    doc_replies,
    events_before_replies,
    mapped_arguments,
    order_diff,
    plan,
    shape_diff,
)
from conformance.machine.pool import InstancePool
from conformance.oracle.failure import Citation, Failure, FindingKind
from conformance.qmp.message import Kind
from conformance.spec import Schema
from conformance.suite.report import evidence, label


def test_doc_example(
    doc_example: tuple[DocEntry, int, DocExample],
    doc_set: DocSet,
    schema: Schema,
    qemu_pool: InstancePool,
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
    how = plan(entry, example, schema)
    if not how.replayable:
        pytest.skip(f"not replayable: {how.reason}")
    inst = qemu_pool.get(how.profile)
    for setup_command, setup_arguments in how.setup:
        inst.execute(setup_command, setup_arguments)
        inst.session.poll(0.2)  # collect the setup's own events so they aren't judged
    inst.session.drain_events()
    documented = doc_replies(example)
    doc_events = events_before_replies(example)
    diffs: list[str] = []
    with evidence(inst):
        for i, request in enumerate(how.requests):
            value = request.value
            assert isinstance(value, dict)
            command = value.get("execute") or value.get("exec-oob")
            assert isinstance(command, str)
            reply = inst.execute(command, mapped_arguments(value.get("arguments")))
            if i < len(doc_events) and doc_events[i]:
                before = [e.event_name or "" for e in reply.events]
                # Anything the doc expects but that hasn't come yet gets a short grace.
                after = [e.event_name or "" for e in inst.session.poll(0.2)]
                diffs += [
                    f"request {i + 1} ({command}): {d}"
                    for d in order_diff(doc_events[i], before, after)
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
                    for d in shape_diff(doc["return"], reply.value)
                ]
        if how.profile == "q35":
            qemu_pool.discard(inst)  # tray examples change the drive's state
        if diffs:
            raise Failure(
                "doc.example",
                citation,
                "; ".join(diffs[:20]) + (f" (+{len(diffs) - 20} more)" if len(diffs) > 20 else ""),
                kind=FindingKind.DOC,
                command=entry.name,
            )
