"""The wire state machine (`conformance.drive.wire`) as a test of the run's binary."""

from __future__ import annotations

import pytest

from conformance.drive.report import label
from conformance.drive.wire import WireMachine, run_wire_machine
from conformance.machine.instance import QemuInstance
from conformance.oracle.protocol import RESPONSES
from conformance.runcontext import RunContext


def test_wire_state_machine(qmp_run: RunContext, request: pytest.FixtureRequest) -> None:
    label(epic="protocol", feature="wire", story="state machine", citation=str(RESPONSES))
    runs = 0

    def make() -> QemuInstance:
        nonlocal runs
        runs += 1
        return QemuInstance(qmp_run.launch_config(qmp_run.profiles[0]))

    WireMachine.steps = 0
    try:
        run_wire_machine(make)
    finally:
        request.node.user_properties.append(("wire-steps", WireMachine.steps))
        request.node.user_properties.append(("wire-runs", runs))
