"""Commands that end, stop, resume or reset the machine.

Run blindly in a shared instance they would end the session or change the state every
other check assumes (a stopped, never-run machine), so the generic checks skip them with
the reason below; the behaviour rules model them with their documented events.
x-exit-preconfig is not one: outside the preconfig phase QEMU refuses it, so the
generic checks send it like any command, and suite/test_preconfig.py leaves the phase
with it (conformance/drive/preconfig.py).
"""

from __future__ import annotations

LIFECYCLE: dict[str, str] = {
    "quit": "ends the QEMU process (modelled by the lifecycle behaviour rules)",
    "stop": "stops the VM and emits STOP (modelled by the lifecycle behaviour rules)",
    "cont": "starts guest execution; every other check assumes a machine held by -S",
    "system_reset": "resets the machine and emits RESET (modelled by the lifecycle rules)",
    "system_powerdown": "requests a guest power-down (modelled by the lifecycle rules)",
}


def lifecycle_reason(command: str) -> str | None:
    """Why `command` can't run in a shared instance, or None when it can."""
    return LIFECYCLE.get(command)
