"""Commands sent to a QEMU in the preconfig phase, and the way out of it.

Mirrors qmp-test's test_qmp_preconfig and numa-test's use of the phase: every command
of the schema, one at a time with its smallest admitted arguments, is either refused
for the phase (qmp-dispatch's GenericError naming it) or runs and answers as anywhere
else (a schema-valid return or a well-formed error, and QEMU still answers); then
x-exit-preconfig initialises the machine, a command forbidden before is answered, and
a second x-exit-preconfig is refused.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from conformance.drive.report import evidence
from conformance.machine.harness import PROBE_ID
from conformance.machine.instance import QemuInstance
from conformance.machine.lifecycle import lifecycle_reason
from conformance.machine.preconfig import EXIT_PRECONFIG
from conformance.machine.reuse import keeps_state
from conformance.oracle.failure import qapi
from conformance.oracle.judge import judge_events, judge_reply
from conformance.oracle.preconfig import (
    ONLY_IN_PRECONFIG,
    REFUSED,
    STATUS,
    Version,
    check_answered_after,
    check_exit_refused,
    check_phase_reply,
    check_status,
    phase_refusal,
    preconfig_status,
)
from conformance.oracle.required import check_succeeded
from conformance.spec import Schema

# -S holds the initialised machine: after the phase, query-status says so.
HELD = qapi("RunState", "prelaunch: QEMU was started with -S and guest has not started")
_HELD_STATUS = "prelaunch"


#: The user property naming what a command met in the phase (a `Phase` value).
PHASE_PROPERTY = "preconfig"


class Phase(enum.StrEnum):
    """What a command met in the preconfig phase."""

    ALLOWED = "allowed"
    REFUSED = "refused"


@dataclass(frozen=True, slots=True)
class Sent:
    """What a command met in the phase, and whether it may have changed the machine
    (or ended the phase or QEMU), so that the next command needs a fresh QEMU."""

    phase: Phase
    changed: bool


def send_in_preconfig(inst: QemuInstance, schema: Schema, command: str, arguments: object) -> Sent:
    """Send `command` with `arguments` to `inst`, in the preconfig phase, and judge the
    reply as the phase and the schema require; QEMU must still answer after it."""
    sent_id = f"preconfig-{command}"
    with evidence(inst):
        reply = inst.execute(command, arguments, id=sent_id).message
        judge_reply(schema, command, reply, sent_id)
        check_phase_reply(command, reply)
        if not lifecycle_reason(command):  # quit, allowed in the phase, ends QEMU
            alive = inst.execute("query-version", id=PROBE_ID)
            judge_reply(schema, "query-version", alive.message, PROBE_ID)
        judge_events(schema, inst.drain_events())
    phase = Phase.REFUSED if phase_refusal(reply, command) else Phase.ALLOWED
    return Sent(phase, not keeps_state(command, reply.kind))


def leave_preconfig(inst: QemuInstance, schema: Schema, version: Version) -> None:
    """qmp-test's test_qmp_preconfig on `inst` (in the phase, negotiated): query-status
    in the phase, a forbidden command refused, x-exit-preconfig returns {} (its QAPI
    example), the machine held by -S, the forbidden command answered, and a second
    x-exit-preconfig refused."""
    forbidden = [c for c in REFUSED if c in schema.commands]
    with evidence(inst):
        status = inst.execute("query-status").message
        check_status(status, preconfig_status(version), STATUS)
        for command in forbidden:
            check_phase_reply(command, inst.execute(command).message)
        first = inst.execute(EXIT_PRECONFIG).message
        check_succeeded(first, EXIT_PRECONFIG, ONLY_IN_PRECONFIG, "preconfig.exit")
        check_status(inst.execute("query-status").message, _HELD_STATUS, HELD)
        for command in forbidden:
            check_answered_after(command, inst.execute(command).message)
        check_exit_refused(inst.execute(EXIT_PRECONFIG).message)
        judge_events(schema, inst.drain_events())
