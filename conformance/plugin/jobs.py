"""The job check: after every conformance test, each job it moved must follow JobStatus."""

from __future__ import annotations

from collections.abc import Generator

import pytest

from conformance.drive.report import evidence
from conformance.machine.instance import QemuInstance
from conformance.oracle.conversation import messages
from conformance.oracle.jobs import check_job_events
from conformance.plugin.outcome import (
    in_suite,
)
from conformance.qmp.message import Kind, Message
from conformance.runcontext import (
    binary_info,
)


def _job_id(message: Message) -> str | None:
    value = message.value
    if message.event_name != "JOB_STATUS_CHANGE" or not isinstance(value, dict):
        return None
    data = value.get("data")
    job = data.get("id") if isinstance(data, dict) else None
    return job if isinstance(job, str) else None


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    """After each conformance test, judge the job state machine on the whole transcript
    of every QEMU the test talked to: jobs run in any test (a generated blockdev-backup,
    a doc example), and each one's JOB_STATUS_CHANGE stream must follow JobStatus."""
    if not in_suite(item):
        return (yield)
    before = {id(i): len(i.transcript) for i in QemuInstance.started}
    for inst in list(QemuInstance.started):
        # A reused QEMU's exit is signed by what it writes during this test.
        inst.mark_stderr()
    result = yield
    version = binary_info(item.config).version
    for inst in list(QemuInstance.started):
        mark = before.get(id(inst), 0)
        if len(inst.transcript) == mark:
            continue
        fresh = {_job_id(m) for m in messages(inst.transcript.since(mark))} - {None}
        if not fresh:
            continue  # most tests move no job: don't rescan a long-lived transcript
        events = [m for m in messages(inst.transcript) if m.kind is Kind.EVENT]
        # Whole streams (the transcript starts with QEMU, so with each job's start), of
        # the jobs this test moved: an earlier test's finding isn't reported again.
        with evidence(inst):
            # In the evidence path: a broken stream is a finding with a reproducer.
            check_job_events([m for m in events if _job_id(m) in fresh], version)
    return result
