"""Every behaviour rule, by id. Each module holds the rules of one command family."""

from __future__ import annotations

from conformance.behaviour.rule import Rule
from conformance.behaviour.rules import device, medium, tray

RULES: tuple[Rule, ...] = (*tray.RULES, *medium.RULES, *device.RULES)
assert len({r.id for r in RULES}) == len(RULES), "rule ids must be unique"
