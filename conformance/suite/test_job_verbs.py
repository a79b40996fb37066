"""Job verbs a state doesn't allow are refused (QEMU job.c JobVerbTable, qapi JobVerb).

A job is brought into each state that can be held still without a guest: running (a
sync=none backup runs until cancelled), paused, ready (a mirror that has copied
everything), pending (auto-finalize off) and concluded (auto-dismiss off). Then every
verb that state refuses, by the table for the binary's version, must get an error.
"""

from __future__ import annotations

import pytest

from conformance.drive.report import evidence, label
from conformance.machine.instance import EventMissing, QemuInstance
from conformance.oracle.failure import Failure, FindingKind, qapi
from conformance.oracle.jobs import check_verb_refused, verbs
from conformance.oracle.required import check_succeeded
from conformance.runcontext import RunContext

NODES = [
    {"driver": "null-co", "node-name": n, "size": 1048576, "read-zeroes": True}
    for n in ("src", "tgt")
]
BACKUP = {"job-id": "j", "device": "src", "target": "tgt"}
# How to hold a job in each state: the command that starts it, and what follows.
STATES: dict[str, tuple[tuple[str, dict[str, object]], ...]] = {
    "running": (("blockdev-backup", {**BACKUP, "sync": "none"}),),
    "paused": (("blockdev-backup", {**BACKUP, "sync": "none"}), ("job-pause", {"id": "j"})),
    "ready": (("blockdev-mirror", {**BACKUP, "sync": "full"}),),
    "pending": (("blockdev-backup", {**BACKUP, "sync": "full", "auto-finalize": False}),),
    "concluded": (("blockdev-backup", {**BACKUP, "sync": "full", "auto-dismiss": False}),),
}
VERBS = {
    "cancel": ("job-cancel", {"id": "j"}),
    "pause": ("job-pause", {"id": "j"}),
    "resume": ("job-resume", {"id": "j"}),
    "set-speed": ("block-job-set-speed", {"device": "j", "speed": 1}),
    "complete": ("job-complete", {"id": "j"}),
    "finalize": ("job-finalize", {"id": "j"}),
    "dismiss": ("job-dismiss", {"id": "j"}),
}


@pytest.mark.parametrize("verb", sorted(VERBS))
@pytest.mark.parametrize("state", sorted(STATES))
def test_refused_verb(state: str, verb: str, qmp_run: RunContext) -> None:
    label(
        epic="behaviour",
        feature=VERBS[verb][0],
        story=f"refused in {state}",
        citation="qapi § qapi/job.json: JobVerb; job.c JobVerbTable",
    )
    version = qmp_run.info.version if qmp_run.info else (0, 0, 0)
    if verb in verbs(version)[state]:
        pytest.skip(f"{state} allows {verb} in QEMU {'.'.join(map(str, version))}")
    with QemuInstance(qmp_run.launch_config(qmp_run.profiles[0])) as inst, evidence(inst):
        for node in NODES:
            check_succeeded(inst.execute("blockdev-add", node).message, "blockdev-add")
        for command, arguments in STATES[state]:
            check_succeeded(inst.execute(command, arguments).message, command)
        try:
            inst.wait_event("JOB_STATUS_CHANGE", {"id": "j", "status": state})
        except EventMissing as exc:
            raise Failure(
                "jobs.state-reached",
                qapi("JOB_STATUS_CHANGE", "Emitted when a job transitions to a different status."),
                f"job j never reached {state}, though QEMU still answers: {exc}",
                kind=FindingKind.BEHAVIOUR,
                command=STATES[state][-1][0],
            ) from exc
        verb_command, verb_arguments = VERBS[verb]
        reply = inst.execute(verb_command, verb_arguments)
        check_verb_refused(verb, state, reply.message, version, command=verb_command)
