"""One start of a binary before a run, so that a bad one fails with one line."""

from __future__ import annotations

from conformance.errors import CannotStart
from conformance.machine.instance import LaunchConfig, QemuGone, QemuInstance


def preflight(binary: str) -> None:
    """Start the binary once, so that a bad one fails here with one line, not in pytest."""
    try:
        with QemuInstance(LaunchConfig(binary=binary)) as inst:
            inst.execute("query-version")
    except QemuGone as exc:
        raise CannotStart(f"{binary}: QEMU {exc.exit_info.describe()} right after start") from exc
