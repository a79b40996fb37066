"""stop, cont, system_reset, system_powerdown and quit: their events against the return.

They run on the `none` profile: no board, no guest code, so cont starts nothing."""

from __future__ import annotations

from conformance.behaviour.rule import EITHER, Event, Quiet, Rule, State, Step
from conformance.oracle.failure import qapi

STOP = qapi(
    "qapi/misc.json: stop",
    "This function will succeed even if the guest is already in the stopped state.",
)
RESUME = qapi("qapi/run-state.json: RESUME", "Emitted when the virtual machine resumes execution")
STOPPED = qapi("qapi/run-state.json: STOP", "Emitted when the virtual machine is stopped")
RESET = qapi("qapi/run-state.json: RESET", "Emitted when the virtual machine is reset")
QUIT = qapi(
    "qapi/run-state.json: SHUTDOWN",
    "Emitted when the virtual machine has shut down, indicating that qemu is about to exit.",
)


def _running(value: bool) -> State:
    return State("query-status", path="running", equals=value)


RULES: tuple[Rule, ...] = (
    Rule(
        "stop.when-stopped",
        "stop succeeds on a stopped machine (held by -S)",
        "stop",
        STOP,
        (Step("stop", state=(_running(False),)),),
        profile="none",
        since=(0, 14, 0),
    ),
    Rule(
        "cont.emits-resume",
        "cont emits RESUME and the machine runs",
        "cont",
        RESUME,
        (Step("cont", events=(Event("RESUME", when=EITHER),), state=(_running(True),)),),
        profile="none",
        since=(0, 14, 0),
    ),
    Rule(
        "stop.emits-stop",
        "stop on a running machine emits STOP and the machine stops",
        "stop",
        STOPPED,
        (
            Step("cont", events=(Event("RESUME"),)),
            Step("stop", events=(Event("STOP"),), state=(_running(False),)),
            Step("stop", quiet=Quiet(("STOP",))),
        ),
        profile="none",
        since=(0, 14, 0),
    ),
    Rule(
        "system-reset.emits-reset",
        "system_reset emits RESET, not requested by the guest",
        "system_reset",
        RESET,
        (Step("system_reset", events=(Event("RESET", {"guest": False}),)),),
        profile="none",
        since=(0, 14, 0),
    ),
    Rule(
        "system-powerdown.emits-powerdown",
        "system_powerdown emits POWERDOWN (the request; the guest decides the rest)",
        "system_powerdown",
        qapi(
            "qapi/run-state.json: POWERDOWN",
            "Emitted when the virtual machine is powered down through the power control "
            "system, such as via ACPI.",
        ),
        (Step("system_powerdown", events=(Event("POWERDOWN", when=EITHER),)),),
        profile="none",
        since=(0, 14, 0),
    ),
    Rule(
        "quit.emits-shutdown",
        "quit emits SHUTDOWN, not requested by the guest",
        "quit",
        QUIT,
        (Step("quit", events=(Event("SHUTDOWN", {"guest": False}, EITHER),)),),
        profile="none",
        since=(0, 14, 0),
    ),
)
