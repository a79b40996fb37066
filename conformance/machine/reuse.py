"""Whether a QEMU can serve the next test after a command, or has to be restarted.

Starting QEMU costs tens of milliseconds; the command under test costs a fraction of
one. Reusing one instance across tests is only sound while what earlier tests did
can't change what a later test sees, so an instance stays reusable after:

- an error reply: QMP commands check their arguments and the state they need before
  acting, so a refused command leaves the machine as it was;
- a successful query: commands that only read, by QAPI's naming convention
  (``query-*``, ``x-query-*``, ``x-debug-query-*``) or by their documented
  behaviour (the introspection commands in `READ_ONLY`).

Any other success (an object, device, node, chardev or job created, a parameter set,
a medium changed) spoils the instance for reuse: the next test gets a fresh QEMU.
Crashes and hangs end the instance anyway (`InstancePool.get` restarts it).
"""

from __future__ import annotations

from collections.abc import Sequence

from conformance.qmp.message import Kind
from conformance.qmp.transcript import Direction, Record

#: Successful commands that read state and change none, beyond the query-* names.
READ_ONLY = frozenset(
    {
        "device-list-properties",
        "human-monitor-command",  # the host-safety policy maps it onto `info` commands
        "qom-get",
        "qom-list",
        "qom-list-properties",
        "qom-list-types",
        "x-debug-block-dirty-bitmap-sha256",
        "query-qmp-schema",
    }
)
_QUERY_PREFIXES = ("query-", "x-query-", "x-debug-query-")


def reads_only(command: str) -> bool:
    """Whether a successful `command` leaves the machine's state as it was."""
    return command in READ_ONLY or command.startswith(_QUERY_PREFIXES)


def keeps_state(command: str, reply: Kind) -> bool:
    """Whether `command`, answered with a reply of kind `reply`, left the machine as
    it was (so that a later test may reuse the instance)."""
    return reply is Kind.ERROR or (reply is Kind.RETURN and reads_only(command))


def unchanged(records: Sequence[Record]) -> bool:
    """Whether the commands in `records` (a stretch of one connection's transcript,
    each command answered before the next was sent) all left the machine as it was.
    Anything that can't be paired (raw bytes, a reply missing) counts as a change."""
    sent: list[object] = []
    replies: list[str] = []
    for record in records:
        if record.direction is Direction.SEND:
            value = record.value
            sent.append(value.get("execute") if isinstance(value, dict) else None)
        elif record.direction is Direction.RECV and record.kind in _REPLY_KINDS:
            replies.append(str(record.kind))
    if len(sent) != len(replies):
        return False
    return all(
        isinstance(command, str) and keeps_state(command, Kind(kind))
        for command, kind in zip(sent, replies, strict=True)
    )


_REPLY_KINDS = (Kind.RETURN.value, Kind.ERROR.value)
