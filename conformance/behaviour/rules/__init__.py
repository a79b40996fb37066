"""Every behaviour rule, by id. Each module holds the rules of one command family."""

from __future__ import annotations

from conformance.behaviour.rule import Rule
from conformance.behaviour.rules import (
    backup,
    block,
    blockstats,
    change,
    device,
    export,
    lifecycle,
    medium,
    migration,
    transaction,
    tray,
)

RULES: tuple[Rule, ...] = tuple(
    rule
    for module in (
        tray,
        medium,
        change,
        device,
        block,
        blockstats,
        transaction,
        backup,
        export,
        lifecycle,
        migration,
    )
    for rule in module.RULES
)
assert len({r.id for r in RULES}) == len(RULES), "rule ids must be unique"
