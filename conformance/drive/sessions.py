"""The QMP sessions the protocol tests run on, and the exchanges they drive there.

A session is a negotiated connection, one still in capabilities negotiation (qmp-test
runs test_malformed before and after qmp_capabilities), or one with the oob capability,
whose input the monitor's I/O thread reads. On any of them: a broken envelope must get
one GenericError, broken bytes the documented resynchronisation, and a probe sent after
either exactly its own reply (before negotiation, a CommandNotFound error).
"""

from __future__ import annotations

from conformance.drive.report import evidence
from conformance.machine.instance import QemuInstance
from conformance.oracle.conversation import (
    check_id_less,
    check_nothing_hidden_ran,
    check_output,
    check_parse_errors,
    check_probe_answered,
)
from conformance.oracle.deviation import answered_modified_utf8
from conformance.oracle.failure import Citation
from conformance.oracle.protocol import (
    ENVELOPE,
    NEGOTIATION,
    OOB_CAPABILITY,
    check_error_class,
    check_id_echo,
)
from conformance.oracle.required import check_succeeded
from conformance.qmp.message import Message
from conformance.qmp.session import Ticket
from conformance.qmp.transport import MONITOR_READ_RATE
from strategies.wire import MUST_NOT_RUN_PREFIX, RESYNC, Envelope, WireCase, encode, probe

#: Where broken input is sent: a negotiated session, one still in capabilities
#: negotiation, and one with the oob capability.
SESSIONS = ("negotiated", "before-negotiation", "oob")

#: The class of the probe's (query-version's) error before negotiation; None: it succeeds.
BEFORE_NEGOTIATION_PROBE = "CommandNotFound"


def offered_capabilities(inst: QemuInstance) -> list[object]:
    """The capabilities `inst`'s greeting offers (it has started)."""
    assert inst.greeting is not None  # started
    offered = inst.greeting.value["QMP"]["capabilities"]  # type: ignore[index]
    return list(offered)


def enable_oob(inst: QemuInstance, citation: Citation = OOB_CAPABILITY) -> None:
    """Negotiate `inst` (started without negotiation, oob offered) with the oob
    capability; a refusal is a `Failure` citing `citation`."""
    with evidence(inst):
        check_succeeded(inst.negotiate(["oob"]).message, "qmp_capabilities", citation)


def wait_reply(inst: QemuInstance, ticket: Ticket, extra: float = 0.0) -> Message:
    """Wait for a raw send's reply, `extra` seconds longer than a command's deadline."""
    return inst.wait(ticket, inst.config.timeout + extra)


def bad_envelope(inst: QemuInstance, envelope: Envelope, probe_class: str | None) -> None:
    """Send a broken envelope: one GenericError, its id echoed where it had one, and a
    probe after it answered as the session answers it (`probe_class`)."""
    mark = len(inst.transcript)
    with evidence(inst):
        (ticket,) = inst.send_raw(
            encode(envelope), replies=[(envelope.has_id, envelope.id)], label=envelope.rule
        )
        reply = wait_reply(inst, ticket)
        check_error_class(reply, "GenericError", ENVELOPE, f"envelope.{envelope.rule}")
        check_id_echo(reply, envelope.id, sent=envelope.has_id)
        after = inst.execute("query-version").message
        if probe_class is None:
            check_succeeded(after, "query-version", ENVELOPE)
        else:
            check_error_class(after, probe_class, NEGOTIATION, "negotiation.before")
        check_output(inst.transcript.since(mark))


def broken_then_probe(
    inst: QemuInstance, case: WireCase, *, probe_class: str | None = None, answered: int = 1
) -> None:
    """Send `case`, the resynchronising byte and a probe. Every reply but the probe's is
    an id-less GenericError, at least `answered` of them (the resynchronisation's own
    included); the probe gets a success, or before negotiation a `probe_class` error."""
    mark = len(inst.transcript)
    probe_id = {"probe": case.rule}
    with evidence(inst):
        inst.send_raw(case.data + RESYNC, label=case.rule)
        (ticket,) = inst.send_raw(probe(probe_id), replies=[(True, probe_id)])
        wait_reply(inst, ticket, extra=len(case.data) / MONITOR_READ_RATE)
        since = inst.transcript.since(mark)
        check_output(since)
        # Read as QEMU's modified UTF-8, an input whose only defect is C0 80 inside a
        # string is a request: answering it is deliberate.
        with answered_modified_utf8(since, MUST_NOT_RUN_PREFIX):
            check_nothing_hidden_ran(since, MUST_NOT_RUN_PREFIX)
            check_id_less(since, allowed=[probe_id])
        check_parse_errors(since, at_least=answered)
        check_probe_answered(since, probe_id, probe_class)
