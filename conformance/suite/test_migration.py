"""migrate-start-postcopy during a real migration between two QEMUs of the binary.

The behaviour rules (`conformance/behaviour/rules/migration.py`) check the command
without a migration. Here a source on the run's block profile migrates to a
destination of the same profile started with
``-incoming unix:…`` (the socket in the destination's workdir: host safety), so the
command meets the state its doc is about:

- with ``postcopy-ram`` set on both sides before ``migrate`` and the migration held in
  precopy by a bandwidth limit (postcopy has its own, unlimited), the command succeeds,
  the source's MIGRATION events go ``setup`` → ``active`` → ``postcopy-active`` →
  ``completed``, and the destination ends ``completed`` too;
- without the capability, during an active migration (held active by a bandwidth
  limit), the command fails, and ``migrate_cancel`` ends the migration ``cancelled``.

Every wait is on a MIGRATION event, with a deadline; a missing event is a behaviour
finding. Both guests stay stopped (``-S``): postcopy works without running guest code.
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from conformance.drive.migration import (
    COMMAND,
    POSTCOPY,
    no_userfaultfd,
    postcopy_during_migration,
    postcopy_refused_without_capability,
)
from conformance.drive.report import label
from conformance.machine.profiles import Profile, profile
from conformance.runcontext import RunContext
from conformance.spec import Schema


def _needs(qmp_run: RunContext, schema: Schema, commands: Sequence[str]) -> Profile:
    """The profile both sides run (the run's block profile); skips when the run has none,
    when the board doesn't migrate while stopped, or when the binary lacks a command."""
    machine = profile(qmp_run.need_block_profile())
    if not machine.migrates:
        pytest.skip(f"profile {machine.name}: its board doesn't migrate while stopped (-S)")
    missing = [c for c in commands if c not in schema.commands]
    if missing:
        pytest.skip(f"not in this binary: {', '.join(missing)}")
    return machine


def test_postcopy_during_migration(qmp_run: RunContext, schema: Schema) -> None:
    label(epic="behaviour", feature=COMMAND, story="postcopy migration", citation=str(POSTCOPY))
    machine = _needs(qmp_run, schema, ("migrate", COMMAND, "migrate-set-parameters"))
    why = no_userfaultfd()
    if why:
        # QEMU probes userfaultfd and refuses postcopy-ram: right, on this host.
        pytest.skip(f"postcopy needs userfaultfd: {why}")
    postcopy_during_migration(qmp_run.launch_config, machine, schema)


def test_postcopy_refused_without_capability(qmp_run: RunContext, schema: Schema) -> None:
    label(
        epic="behaviour",
        feature=COMMAND,
        story="postcopy without capability",
        citation=str(POSTCOPY),
    )
    machine = _needs(
        qmp_run, schema, ("migrate", COMMAND, "migrate_cancel", "migrate-set-parameters")
    )
    postcopy_refused_without_capability(qmp_run.launch_config, machine, schema)
