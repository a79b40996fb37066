"""SIGTERM handled as Ctrl-C for the span of a command, by every command that must
clean up after itself (a run of the suite, a fetch)."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def interrupts() -> Iterator[list[int]]:
    """SIGTERM (a CI job cancelled, a timeout) stops the run as Ctrl-C does: pytest ends
    the session in order, so QEMUs are closed and the workdir removed. The list it
    gives fills with the signals that stopped the run."""
    seen: list[int] = []

    def interrupt(signum: int, _frame: object) -> None:
        seen.append(signum)
        raise KeyboardInterrupt

    previous = {s: signal.signal(s, interrupt) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield seen
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
