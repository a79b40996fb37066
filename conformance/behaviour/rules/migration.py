"""migrate-start-postcopy without a migration.

The 2.5 docs say the command is "Ignored after the end of migration"; the 7.2 docs
no longer say so and QEMU refuses it unless postcopy was enabled before the migration.
Both are rules, each for the versions whose docs say it."""

from __future__ import annotations

from conformance.behaviour.rule import Rule, Step
from conformance.oracle.failure import qapi

RULES: tuple[Rule, ...] = (
    Rule(
        "migrate-start-postcopy.ignored-without-migration",
        "without a migration the command is ignored (2.5 docs)",
        "migrate-start-postcopy",
        qapi(
            "qmp-commands.hx: migrate-start-postcopy (QEMU 2.5)",
            "Switch an in-progress migration to postcopy mode. Ignored after the end of "
            "migration (or once already in postcopy).",
        ),
        (Step("migrate-start-postcopy"),),
        profile="none",
        since=(2, 5, 0),
        until=(2, 6, 0),
    ),
    Rule(
        "migrate-start-postcopy.needs-capability",
        "without the postcopy-ram capability set before migrating, the command fails",
        "migrate-start-postcopy",
        qapi(
            "qapi/migration.json: migrate-start-postcopy",
            "The postcopy-ram capability must be set on both source and destination before "
            "the original migration command.",
        ),
        (Step("migrate-start-postcopy", reply="GenericError"),),
        profile="none",
        since=(2, 6, 0),
    ),
)
