"""The resource state machine (`conformance.drive.resources`) as a test of the run's
binary: which profile it drives, and what it skips where the binary lacks a command."""

from __future__ import annotations

import pytest

from conformance.behaviour.rules.block import DEL
from conformance.behaviour.rules.device import DELETED, XHCI
from conformance.behaviour.rules.medium import INSERT
from conformance.behaviour.rules.transaction import ATOMIC, GROUPED
from conformance.behaviour.rules.tray import OPEN
from conformance.drive.report import label
from conformance.drive.resources import (
    COMMANDS,
    OBJECT_ADD,
    VERB_DOES,
    ResourceMachine,
    daemon_commands,
    missing_features,
    referencing_commands,
    run_resource_machine,
)
from conformance.machine.instance import QemuInstance
from conformance.machine.profiles import profile
from conformance.runcontext import RunContext
from conformance.spec import Schema
from strategies.policy import GenerationPolicy


def test_resource_state_machine(
    qmp_run: RunContext,
    schema: Schema,
    generation_policy: GenerationPolicy,
    request: pytest.FixtureRequest,
) -> None:
    label(
        epic="behaviour",
        feature="resources",
        story="state machine",
        citation="; ".join(
            str(c)
            for c in (OPEN, INSERT, DEL, ATOMIC, GROUPED, OBJECT_ADD, DELETED, VERB_DOES["dismiss"])
        ),
        # The matrix's "sequences" column: this result speaks for every command it drives.
        commands=COMMANDS,
    )
    daemon = qmp_run.info is not None and qmp_run.info.storage_daemon
    if daemon and qmp_run.block_profile is None:
        # Nodes, bitmaps, chardevs, objects and jobs, on the daemon's null0.
        machine, driven = profile(qmp_run.argument_profile), daemon_commands()
    else:
        machine, driven = profile(qmp_run.need_block_profile()), COMMANDS
        lacks = missing_features(machine)
        if lacks:
            pytest.skip(
                f"profile {machine.name} lacks {lacks}: the machine drives cd0's tray and "
                "USB devices on a qemu-xhci"
            )
    missing = [c for c in driven if c not in schema.commands]
    if missing:
        pytest.skip(f"not in this binary: {', '.join(missing)}")
    generated = referencing_commands(schema)
    runs = 0

    def make() -> QemuInstance:
        nonlocal runs
        runs += 1
        # The xhci controller the USB device rules plug into.
        extra = () if daemon else XHCI
        return QemuInstance(qmp_run.launch_config(machine.name), extra_args=extra)

    ResourceMachine.steps = 0
    try:
        run_resource_machine(make, schema, generation_policy, generated, machine=not daemon)
    finally:
        request.node.user_properties.append(("resource-steps", ResourceMachine.steps))
        request.node.user_properties.append(("resource-runs", runs))
