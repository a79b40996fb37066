"""A sweep's size, as the report property the summary and allure read, and the
deterministic sample a profile may run instead of a whole sweep.

A sweep runs one command over every value of a set (every machine type, every
(path, property) pair of a QOM walk); its test records how many values there were,
how many it exercised and why it left out the ones it did (`SweepTally.to_property`).
A sample's values are neither exercised nor excluded: total minus both is what the
profile's sample left out, which the summary calls a sample.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

#: The user property carrying one sweep's size (JSON, `SweepRecord.to_property`).
SWEEP_PROPERTY = "sweep"


@dataclass
class SweepTally:
    """What one sweep exercised: `total` values listed, `exercised` of them sent,
    `excluded` the ones that weren't, each with why (every sweep's record: values of
    an argument, QOM properties, machine types)."""

    name: str  # what the values are, plural: "types", "CPU models"
    command: str
    total: int = 0
    exercised: int = 0
    excluded: dict[str, str] = field(default_factory=dict)

    def to_property(self) -> tuple[str, str]:
        return SWEEP_PROPERTY, json.dumps(
            {
                "sweep": self.name,
                "command": self.command,
                "total": self.total,
                "exercised": self.exercised,
                "excluded": self.excluded,
            },
            sort_keys=True,
        )

    @classmethod
    def from_property(cls, value: object) -> SweepTally:
        data = json.loads(str(value))
        excluded = data.get("excluded", {})
        return cls(
            str(data["sweep"]),
            str(data["command"]),
            int(data["total"]),
            int(data["exercised"]),
            {str(k): str(v) for k, v in excluded.items()} if isinstance(excluded, dict) else {},
        )

    def line(self, sample: bool = False) -> str:
        """How the summary and the allure result say it: "753/753 types, 0 excluded"."""
        head = f"{self.exercised}/{self.total} {self.name}"
        if sample:
            head = f"sample {head} (ci profile)"
        return f"{head}, {len(self.excluded)} excluded"


def in_sample(value: str, one_in: int) -> bool:
    """Whether `value` is in the deterministic 1-in-`one_in` sample (every value when
    `one_in` is 1): chosen by a hash of the value, so the same values are chosen on every
    run and every version, whatever the order or number of the others."""
    if one_in <= 1:
        return True
    digest = hashlib.sha256(value.encode("utf-8", "surrogatepass")).digest()
    return int.from_bytes(digest[:4], "big") % one_in == 0
