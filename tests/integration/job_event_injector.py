"""A pytest plugin for one project test: a JOB_STATUS_CHANGE no job could send.

Loaded with ``-p tests.integration.job_event_injector`` into a conformance run. After
each conformance test body has run (and before the suite's job check judges it), it
appends to the transcript of every QEMU the test talked to an event saying that a job
``injected`` is ``ready``: no job starts there (job.c: a job is created first). The
conformance plugin must judge it whatever the test was about, which is what the
project test checks with a test that starts no job.

This fakes only a record of the harness's own transcript, never QEMU's behaviour.
"""

from __future__ import annotations

import pytest

from conformance.machine.instance import QemuInstance
from conformance.qmp.message import parse_message

EVENT = (
    b'{"timestamp": {"seconds": 1, "microseconds": 0}, "event": "JOB_STATUS_CHANGE", '
    b'"data": {"status": "ready", "id": "injected"}}'
)


@pytest.hookimpl(trylast=True)
def pytest_runtest_call(item: pytest.Item) -> None:
    for inst in list(QemuInstance.started):
        if len(inst.transcript):
            inst.transcript.record_recv(parse_message(EVENT))
