"""The server greeting (qmp-spec, "Server Greeting")."""

from __future__ import annotations

from conformance.machine.instance import QemuInstance
from conformance.oracle.protocol import GREETING, VERSION, check_greeting, check_greeting_version
from conformance.suite.report import evidence, label


def test_greeting_conforms(fresh_qemu: QemuInstance) -> None:
    label(epic="protocol", feature="greeting", story="shape", citation=str(GREETING))
    session = fresh_qemu.start(negotiate=False)
    assert session.greeting is not None
    with evidence(fresh_qemu):
        check_greeting(session.greeting)


def test_greeting_version_matches_query_version(fresh_qemu: QemuInstance) -> None:
    label(
        epic="protocol",
        feature="greeting",
        story="version equals query-version",
        citation=str(VERSION),
    )
    session = fresh_qemu.start()
    assert session.greeting is not None
    with evidence(fresh_qemu):
        reply = fresh_qemu.execute("query-version")
        check_greeting_version(session.greeting, reply.value)
