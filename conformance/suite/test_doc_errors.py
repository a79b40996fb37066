"""Every documented error condition: induced and its error class compared, or skipped
with the reason the suite can't produce it.

Passed = QEMU replied with the documented class (or with an error, where the doc names
none); failed = a doc mismatch stating both sides; skipped = not inducible. The first
request of a pair ("twice": add, then add again) must succeed: refused with an error
that names state the profile lacks (`lacks_state`) the condition can't be induced here,
refused otherwise it is a finding, never a skip.
"""

from __future__ import annotations

import pytest

from conformance.docs.conditions import Condition, requests
from conformance.docs.model import DocEntry, DocSet
from conformance.docs.setup import profile_chooser
from conformance.drive.doc_replay import lacks_state
from conformance.drive.report import evidence, label
from conformance.machine.pool import InstancePool
from conformance.machine.profiles import profile
from conformance.machine.reuse import unchanged
from conformance.oracle.failure import Failure, FindingKind, qapi
from conformance.qmp.message import Kind
from conformance.runcontext import RunContext
from conformance.spec import Schema
from strategies.safety import EXCLUDED_VALUES, Unconfinable, admit


def test_doc_error(
    doc_error: tuple[DocEntry, int, Condition],
    doc_set: DocSet,
    schema: Schema,
    qemu_pool: InstancePool,
    qmp_run: RunContext,
) -> None:
    entry, index, condition = doc_error
    citation = qapi(f"{doc_set.format}: {entry.name}, error condition {index + 1} ({entry.source})")
    label(
        epic="documentation",
        feature=entry.name,
        story=f"error condition {index + 1}",
        citation=f"{citation}: {condition.text}",
    )
    if not condition.inducible:
        pytest.skip(f"not inducible: {condition.reason}: {condition.text}")
    # The block profile's devices and nodes make more conditions inducible; a target
    # without one still has the conditions that need no device.
    machine = qmp_run.block_profile or qmp_run.profiles[0]
    arguments = requests(
        condition,
        entry.name,
        schema,
        profile_chooser(profile(machine), entry.name, schema),
        EXCLUDED_VALUES,
    )
    # The requests may change the machine (the first of a "twice" pair succeeds), so
    # this condition has a QEMU of its own; in the CI profile, one whose requests were
    # all refused (or only read) serves the next test.
    inst = qemu_pool.take(machine)
    mark = len(inst.transcript)
    try:
        with evidence(inst):
            try:
                sent = [admit(entry.name, a, str(inst.workdir)) for a in arguments]
            except Unconfinable as exc:
                pytest.skip(f"not inducible: host safety: {exc}")
            replies = [inst.execute(entry.name, a) for a in sent]
            *before, last = replies
            for reply in before:
                if reply.message.kind is Kind.ERROR and not lacks_state(reply.message):
                    raise Failure(
                        f"doc.error-condition.{condition.how}.first",
                        qapi(entry.name, "a documented command with valid arguments succeeds"),
                        f"the first request of {condition.text!r} was refused with "
                        f"{reply.message.error_class} ({reply.message.error_desc}), which "
                        "names no state the machine lacks",
                        kind=FindingKind.BEHAVIOUR,
                        command=entry.name,
                    )
                if reply.message.kind is Kind.ERROR:
                    pytest.skip(
                        f"not inducible on profile {machine}: the first request failed "
                        f"({reply.message.error_class}: {reply.message.error_desc})"
                    )
            documented = condition.error_class or "an error"
            # Check id and path tell a command's conditions apart in finding signatures.
            check = f"doc.error-condition.{condition.how}"
            path = f"$.arguments.{condition.member}" if condition.member else None
            if last.message.kind is not Kind.ERROR:
                raise Failure(
                    check,
                    citation,
                    f"documented {documented} ({condition.text!r}); QEMU returned success "
                    f"to {entry.name} {sent[-1]}",
                    kind=FindingKind.DOC,
                    command=entry.name,
                    path=path,
                )
            if condition.error_class and last.message.error_class != condition.error_class:
                raise Failure(
                    check,
                    citation,
                    f"documented {documented} ({condition.text!r}); QEMU replied "
                    f"{last.message.error_class} ({last.message.error_desc!r}) to "
                    f"{entry.name} {sent[-1]}",
                    kind=FindingKind.DOC,
                    command=entry.name,
                    path=path,
                )
    finally:
        if qmp_run.reuse and unchanged(inst.transcript.records[mark:]):
            qemu_pool.give_back(inst)
        else:
            inst.close()
