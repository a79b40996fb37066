"""Structured results a test records for the summary, as JSON in its report's user
properties (xdist carries those to the controller; a skip's text is for people)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

#: The user property of a command the host-safety policy or its lifecycle keeps from
#: generated arguments.
POLICY_SKIP = "qmpc-policy-skip"


@dataclass(frozen=True)
class PolicySkip:
    """A command not run with generated arguments, and why."""

    command: str
    why: str

    def to_property(self) -> tuple[str, str]:
        return POLICY_SKIP, json.dumps(asdict(self))

    @classmethod
    def from_property(cls, value: object) -> PolicySkip:
        data = json.loads(str(value))
        return cls(str(data["command"]), str(data["why"]))
