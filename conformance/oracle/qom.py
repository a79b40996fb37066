"""What QEMU's own qom-test asserts of a walk of the QOM tree.

qom-test (tests/qtest/qom-test.c, `test_properties`) lists every object it reaches by
child<> properties and requires each listing to return; it lists the target of a
link<> without requiring that, and reads every other property with qom-get, which "may
fail but should not, e.g., segfault": an error reply to qom-get is no finding, an exit
is (the exchange's own crash and hang findings).
"""

from __future__ import annotations

from conformance.oracle.failure import Failure, FindingKind, qemu_tests
from conformance.qmp.message import Kind, Message

LISTED = qemu_tests(
    "tests/qtest/qom-test.c: test_properties",
    'g_assert(qdict_haskey(response, "return"));',
)


def check_child_listed(reply: Message, path: str) -> None:
    """qom-list of an object reached through a child<> property returns."""
    if reply.kind is Kind.RETURN:
        return
    raise Failure(
        "qom.child-unlisted",
        LISTED,
        f"qom-list of {path}, a child<> of its parent, did not return: {reply.raw[:200]!r}",
        kind=FindingKind.BEHAVIOUR,
        path="$.return",
        command="qom-list",
    )
