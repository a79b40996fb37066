"""Deadlines: every wait in the suite has one.

A `Deadline` is an absolute point on the monotonic clock, so that one budget can be
shared by a sequence of reads (a reply that trickles in over many reads still has to
arrive in time as a whole).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from conformance.errors import QemuMisbehaviour


class DeadlineExceeded(QemuMisbehaviour, TimeoutError):
    """A wait ran past its deadline."""


# Not frozen: a frozen dataclass sets each field through object.__setattr__, which
# triples the cost of creating one, and one is created per command. Never mutated.
@dataclass(slots=True)
class Deadline:
    """An absolute monotonic point in time."""

    at: float
    seconds: float

    @classmethod
    def after(cls, seconds: float) -> Deadline:
        return cls(time.monotonic() + seconds, seconds)

    def remaining(self) -> float:
        """Seconds left, never negative."""
        return max(0.0, self.at - time.monotonic())

    def expired(self) -> bool:
        return time.monotonic() >= self.at

    def check(self, what: str) -> float:
        """Return the time left, or raise `DeadlineExceeded` naming what was awaited."""
        left = self.at - time.monotonic()
        if left <= 0:
            raise DeadlineExceeded(f"no {what} within {self.seconds:.3g}s")
        return left
