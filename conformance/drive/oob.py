"""qmp-test's test_qmp_oob on an oob session: the in-band queue blocked on a FIFO.

An in-band blockdev-add whose blkdebug `config` is a FIFO nobody writes to blocks the
main loop in open(). While it is blocked, more input is sent behind it, and an
out-of-band command last: its reply proves the I/O thread has read everything before
it. Only then (or when that wait fails) is the FIFO opened for writing, which unblocks
QEMU. The FIFO lives in the QEMU's workdir. Two rounds, as qmp-test's:

- "OOB command overtakes slow in-band command": a quick in-band command behind the
  blocked one is answered after it, the out-of-band one before it;
- "Even malformed in-band command fails in-band": an envelope without `execute` behind
  the blocked command gets its error after the blocked command's reply, not at once.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path

from conformance.drive.report import evidence
from conformance.drive.sessions import wait_reply
from conformance.errors import HarnessError
from conformance.machine.instance import QemuInstance
from conformance.oracle.conversation import (
    check_issue_order,
    check_output,
    check_replies,
    replies,
)
from conformance.oracle.failure import Failure, FindingKind, qemu_tests, spec
from conformance.oracle.protocol import check_error_class, check_id_echo
from conformance.oracle.required import check_succeeded
from conformance.qmp.deadline import Deadline
from conformance.qmp.message import Message
from conformance.qmp.session import Ticket
from conformance.qmp.wirejson import dumps
from conformance.spec import EnumType, Schema

OVERTAKE = spec(
    "Out-of-band execution",
    "Commands executed out-of-band jump the queue: the command get executed right away, "
    "possibly overtaking prior in-band commands.",
)
FAILS_IN_BAND = qemu_tests(
    "tests/qtest/qmp-test.c: test_qmp_oob",
    'Even malformed in-band command fails in-band: send_cmd_that_blocks(qts, "blocks-2"); '
    "qtest_qmp_send(qts, \"{ 'id': 'err-2' }\"); unblock_blocked_cmd(); "
    'recv_cmd_id(qts, "blocks-2"); recv_cmd_id(qts, "err-2");',
)

# The out-of-band commands qmp-test overtakes with (migrate-pause fails, harmlessly),
# then one that every QEMU with oob has.
_OVERTAKERS = ("migrate-pause", "query-yank")


def overtaker(schema: Schema) -> str | None:
    """An allow-oob command to overtake with, or None when the binary can't block its
    queue the qmp-test way (no blkdebug driver) or has no such command."""
    if "blkdebug" not in _blockdev_drivers(schema):
        return None
    allowed = (c for c in _OVERTAKERS if c in schema.commands and schema.commands[c].allow_oob)
    return next(allowed, None)


def _blockdev_drivers(schema: Schema) -> tuple[str, ...]:
    """The values of blockdev-add's `driver` (introspection masks the enum's name)."""
    if "blockdev-add" not in schema.commands:
        return ()
    options = schema.object_type(schema.command("blockdev-add").arg_type)
    driver = next((m for m in options.members if m.name == "driver"), None)
    info = schema.type(driver.type) if driver is not None else None
    return tuple(info.values) if isinstance(info, EnumType) else ()


@dataclass(frozen=True, slots=True)
class _Round:
    """What one blocked round sent: the blocked command's id, what went behind it."""

    blocked: str
    behind: tuple[tuple[bytes, str], ...]  # (line, id); the last one is out-of-band


def check_blocked_queue(inst: QemuInstance, overtaking: str) -> None:
    """Both of qmp-test's rounds on `inst`, negotiated with oob; `overtaking` is the
    out-of-band command. Raises `Failure` for what QEMU broke, `HarnessError` when
    QEMU never opened the FIFO (the method, not QEMU, failed)."""
    assert inst.workdir is not None  # started
    fifo = inst.workdir / "blocker.fifo"
    os.mkfifo(fifo, 0o600)
    with evidence(inst):
        overtake = _Round(
            "ib-blocked",
            (
                (dumps({"execute": "query-version", "id": "ib-quick"}), "ib-quick"),
                (dumps({"exec-oob": overtaking, "id": "oob"}), "oob"),
            ),
        )
        mark = len(inst.transcript)
        _block(inst, fifo, overtake)
        since = inst.transcript.since(mark)
        check_output(since)
        check_replies(since, ["ib-blocked", "ib-quick", "oob"])
        check_issue_order(since, ["ib-blocked", "ib-quick"])
        order = [r.id for r in replies(since) if r.has_id]
        if order.index("oob") > order.index("ib-blocked"):
            raise Failure(
                "oob.overtake",
                OVERTAKE,
                "the out-of-band reply came only after the blocked in-band command's",
                kind=FindingKind.PROTOCOL,
                command=overtaking,
            )
        malformed = _Round(
            "blocks-2",
            (
                (dumps({"id": "err-2"}), "err-2"),
                (dumps({"exec-oob": overtaking, "id": "oob-2"}), "oob-2"),
            ),
        )
        mark = len(inst.transcript)
        err = _block(inst, fifo, malformed)[1]
        since = inst.transcript.since(mark)
        check_output(since)
        check_error_class(err, "GenericError", FAILS_IN_BAND, "oob.fails-in-band")
        check_id_echo(err, "err-2")
        check_replies(since, ["blocks-2", "err-2", "oob-2"])
        check_issue_order(since, ["blocks-2", "err-2"], FAILS_IN_BAND, "oob.fails-in-band")


def _block(inst: QemuInstance, fifo: Path, round_: _Round) -> list[Message]:
    """Send the blocked command and what goes behind it; unblock once the last
    (out-of-band) line is answered or its wait fails. Returns the replies in the order
    sent. The blocked command must succeed: refused at once, it blocked nothing."""
    blocker = {
        "execute": "blockdev-add",
        "id": round_.blocked,
        "arguments": {
            "driver": "blkdebug",
            "node-name": round_.blocked,
            "config": str(fifo),
            "image": {"driver": "null-co", "read-zeroes": True},
        },
    }
    lines = [dumps(blocker), *(line for line, _ in round_.behind)]
    tickets = inst.send_raw(
        b"".join(line + b"\n" for line in lines),
        replies=[(True, round_.blocked), *((True, id_) for _, id_ in round_.behind)],
    )
    blocked = False
    try:
        _await_without_verdict(inst, tickets[-1], inst.config.timeout)
    finally:
        blocked = _unblock(fifo, inst.config.timeout)
    answered = [wait_reply(inst, t) for t in tickets]
    check_succeeded(answered[0], "blockdev-add")
    if not blocked:
        # blockdev-add returned without reading its config: the suite's method is
        # wrong for this QEMU, which must not pass as a skip or a finding.
        raise HarnessError("QEMU never opened the blkdebug config FIFO: nothing was blocked")
    return answered


def _await_without_verdict(inst: QemuInstance, ticket: Ticket, timeout: float) -> None:
    """Read until `ticket` is answered or `timeout` passes, without calling a late reply
    a hang: an OOB reply that only comes once the in-band command is unblocked is the
    overtake check's finding. Short quiet periods, so the wait ends with the reply."""
    deadline = Deadline.after(timeout)
    while ticket.reply is None and not deadline.expired():
        inst.poll(min(0.05, deadline.remaining()))


def _unblock(fifo: Path, timeout: float) -> bool:
    """Open `fifo` for writing and close it: QEMU's blocked open() for reading returns and
    reads an empty config. open() for writing waits for a reader, so it runs in a thread
    with a deadline; past it, a reader of our own releases the thread. Returns whether
    QEMU was the reader (its command was blocked on the FIFO)."""
    done = threading.Thread(target=lambda: os.close(os.open(fifo, os.O_WRONLY)), daemon=True)
    done.start()
    done.join(timeout)
    if not done.is_alive():
        return True
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        done.join(timeout)
    finally:
        os.close(reader)
    return False
