"""The server greeting (qmp-spec, "Server Greeting")."""

from __future__ import annotations

from conformance.drive.report import evidence, label
from conformance.machine.instance import QemuInstance
from conformance.oracle.protocol import GREETING, VERSION, check_greeting, check_greeting_version


def test_greeting_conforms(fresh_qemu: QemuInstance) -> None:
    label(epic="protocol", feature="greeting", story="shape", citation=str(GREETING))
    greeting = fresh_qemu.start(negotiate=False)
    with evidence(fresh_qemu):
        check_greeting(greeting)


def test_greeting_version_matches_query_version(fresh_qemu: QemuInstance) -> None:
    label(
        epic="protocol",
        feature="greeting",
        story="version equals query-version",
        citation=str(VERSION),
    )
    greeting = fresh_qemu.start()
    with evidence(fresh_qemu):
        reply = fresh_qemu.execute("query-version")
        check_greeting_version(greeting, reply.value)
