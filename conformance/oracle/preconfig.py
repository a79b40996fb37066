"""What QEMU answers in the preconfig phase (`--preconfig`), and after it.

In that phase monitor/qmp-dispatch.c runs a command only if its QAPI definition has
`allow-preconfig`; otherwise `qmp_command_available` refuses it with `error_setg`
(class GenericError): "The command '%s' is permitted only after machine
initialization has completed" (before the 6.0 machine-phase rework: "The command '%s'
isn't permitted in 'preconfig' state"). query-qmp-schema does not show
`allow-preconfig` (SchemaInfoCommand has only `allow-oob`), so which commands must run
comes from what QEMU's tests and the QAPI docs pin, and every other command is judged
by its refusal's form: a phase refusal names the command and is a GenericError.
"""

from __future__ import annotations

import re

from conformance.oracle.failure import Citation, Failure, FindingKind, qapi, qemu_tests
from conformance.qmp.message import Kind, Message

Version = tuple[int, int, int]

_QMP_TEST = "tests/qtest/qmp-test.c: test_qmp_preconfig"
ENABLED = qemu_tests(_QMP_TEST, "/* enabled commands, no error expected */")
FORBIDDEN = qemu_tests(_QMP_TEST, "/* forbidden commands, expected error */")
STATUS = qemu_tests(_QMP_TEST, "/* check that query-status returns preconfig state */")
EXIT_TWICE = qemu_tests(
    _QMP_TEST, "/* check that x-exit-preconfig returns error after exiting preconfig */"
)
ONLY_IN_PRECONFIG = qapi(
    "x-exit-preconfig",
    "The command is only available during the preconfig state (i.e. when the "
    "--preconfig command line option was in use).",
)
SET_NUMA_NODE = qapi(
    "set-numa-node",
    "Runtime equivalent of '-numa' CLI option, available at preconfigure stage to "
    "configure numa mapping before initializing machine.",
)
ERROR_CLASS = qapi(
    "QapiErrorClass",
    "GenericError: this is used for errors that don't require a specific error class. "
    "This should be the default case for most errors. CommandNotFound: the requested "
    "command has not been found",
)

#: Commands QEMU's tests or docs say run in the preconfig phase, and where.
ALLOWED: dict[str, Citation] = {
    "query-commands": ENABLED,
    "query-status": STATUS,
    "x-exit-preconfig": ONLY_IN_PRECONFIG,
    "set-numa-node": SET_NUMA_NODE,
}
#: Commands QEMU's tests say are refused in the phase, and answered after it.
REFUSED: dict[str, Citation] = {"query-cpus-fast": FORBIDDEN}

_REFUSAL = re.compile(
    r"The command '(?P<command>[^']*)' (?:is permitted only after machine initialization "
    r"has completed|isn't permitted in 'preconfig' state)"
)
# query-status's status in the phase: RUN_STATE_PRECONFIG until the 6.0 machine-phase
# rework, then the runstate -S holds a machine in (qmp-test asserts each in its time).
_PRELAUNCH_SINCE: Version = (6, 0, 0)


def phase_refusal(reply: Message, command: str) -> bool:
    """Whether `reply` is qmp-dispatch's refusal of `command` for the phase (of any
    class: the class is `check_phase_reply`'s to judge)."""
    found = _REFUSAL.fullmatch(reply.error_desc or "") if reply.kind is Kind.ERROR else None
    return found is not None and found["command"] == command


def check_phase_reply(command: str, reply: Message) -> None:
    """A command's reply in the preconfig phase: a phase refusal is a GenericError (the
    command exists, so it is not CommandNotFound); a command QEMU's tests or docs pin
    as enabled is not refused for the phase, one they pin as forbidden is."""
    refused = phase_refusal(reply, command)
    if refused and reply.error_class != "GenericError":
        raise Failure(
            "preconfig.refusal-class",
            ERROR_CLASS,
            f"{command} was refused for the preconfig phase with {reply.error_class}, "
            f"not GenericError: {reply.raw[:200]!r}",
            kind=FindingKind.BEHAVIOUR,
            command=command,
            path="$.error.class",
        )
    if refused and command in ALLOWED:
        raise Failure(
            "preconfig.allowed",
            ALLOWED[command],
            f"{command} is refused in the preconfig phase: {reply.raw[:200]!r}",
            kind=FindingKind.BEHAVIOUR,
            command=command,
        )
    if not refused and command in REFUSED:
        raise Failure(
            "preconfig.forbidden",
            REFUSED[command],
            f"{command} was not refused in the preconfig phase: {reply.raw[:200]!r}",
            kind=FindingKind.BEHAVIOUR,
            command=command,
        )


def preconfig_status(version: Version) -> str:
    """What query-status's `status` is in the preconfig phase on QEMU `version`."""
    return "prelaunch" if version >= _PRELAUNCH_SINCE else "preconfig"


def check_status(reply: Message, expected: str, citation: Citation) -> None:
    """query-status returned `status` `expected`, the machine not running."""
    value = reply.value.get("return") if isinstance(reply.value, dict) else None
    status = value.get("status") if isinstance(value, dict) else None
    running = value.get("running") if isinstance(value, dict) else None
    if reply.kind is not Kind.RETURN or status != expected or running is not False:
        raise Failure(
            "preconfig.status",
            citation,
            f"query-status should return status {expected!r}, not running: {reply.raw[:200]!r}",
            kind=FindingKind.BEHAVIOUR,
            command="query-status",
            path="$.return.status",
        )


def check_answered_after(command: str, reply: Message) -> None:
    """A command forbidden in the phase is no longer refused for it once it is over
    (qmp-test: "enabled commands, no error expected" after x-exit-preconfig)."""
    if reply.kind is not Kind.RETURN:
        raise Failure(
            "preconfig.after",
            qemu_tests(_QMP_TEST, "/* enabled commands, no error expected */ (after exit)"),
            f"{command} after x-exit-preconfig: {reply.raw[:200]!r}",
            kind=FindingKind.BEHAVIOUR,
            command=command,
        )


def check_exit_refused(reply: Message) -> None:
    """A second x-exit-preconfig is refused: the phase is over. qmp-test asserts an
    error; QEMU raises it with error_setg, a GenericError."""
    if reply.kind is not Kind.ERROR or reply.error_class != "GenericError":
        raise Failure(
            "preconfig.exit-twice",
            EXIT_TWICE,
            f"x-exit-preconfig after the phase should be a GenericError: {reply.raw[:200]!r}",
            kind=FindingKind.BEHAVIOUR,
            command="x-exit-preconfig",
        )
