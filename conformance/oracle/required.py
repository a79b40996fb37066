"""A command the test relies on must succeed: its refusal is a finding, not a crash of ours.

Set-up requests (a node to back up, a tray to open, negotiation) are documented to
work. When QEMU refuses one the test can't go on, but a bare `assert` would make that a
harness error; `check_succeeded` raises a `Failure` citing the command's documentation.
"""

from __future__ import annotations

from conformance.oracle.failure import Citation, Failure, FindingKind, qapi
from conformance.qmp.message import Kind, Message

__all__ = ["check_succeeded"]


def check_succeeded(
    message: Message, command: str, citation: Citation | None = None, check: str = ""
) -> None:
    """Raise a behaviour `Failure` unless `message` is a successful return."""
    if message.kind is Kind.RETURN:
        return
    raise Failure(
        check or f"required.{command}",
        citation or qapi(command, "a documented command with valid arguments succeeds"),
        f"{command} was refused where the test needs it: {message.raw[:200]!r}",
        kind=FindingKind.BEHAVIOUR,
        command=command,
    )
