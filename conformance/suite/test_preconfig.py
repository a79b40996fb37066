"""The preconfig phase (`--preconfig`), as qmp-test's test_qmp_preconfig runs it.

Every command of the schema is sent in the phase with its smallest admitted arguments
(`test_preconfig_phase[CMD]`, on one QEMU in the phase, restarted when a command left
it or ended it); commands the host-safety policy refuses are skipped with its reason,
not sent. `test_exit_preconfig` leaves the phase on a QEMU of its own. Which commands
must run is what QEMU's tests and QAPI docs pin (`conformance/oracle/preconfig.py`):
query-qmp-schema doesn't show `allow-preconfig`.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from conformance.drive.exchange import minimal_arguments
from conformance.drive.preconfig import PHASE_PROPERTY, leave_preconfig, send_in_preconfig
from conformance.drive.report import command_tags, label
from conformance.machine.instance import QemuInstance
from conformance.machine.pool import InstancePool
from conformance.machine.preconfig import EXIT_PRECONFIG, preconfig_config
from conformance.oracle.preconfig import ENABLED, STATUS
from conformance.runcontext import RunContext
from conformance.spec import Schema
from strategies.safety import Unconfinable


@pytest.fixture(scope="module")
def preconfig_pool(qmp_run: RunContext, schema: Schema) -> Iterator[InstancePool]:
    """QEMUs of the run's argument profile started with --preconfig."""
    if EXIT_PRECONFIG not in schema.commands:
        pytest.skip(f"no preconfig phase: {EXIT_PRECONFIG} is not in this binary")
    pool = InstancePool(lambda name: preconfig_config(qmp_run.launch_config(name)))
    yield pool
    pool.close()


def test_preconfig_phase(
    command_name: str,
    schema: Schema,
    preconfig_pool: InstancePool,
    qmp_run: RunContext,
    request: pytest.FixtureRequest,
) -> None:
    """In the phase, a command is refused with qmp-dispatch's GenericError naming it,
    or runs and answers as the schema says; the commands QEMU's tests pin as enabled
    or forbidden are."""
    tags, cited = command_tags(schema.commands[command_name]), str(ENABLED)
    label(epic="preconfig", feature=command_name, story="in the phase", tags=tags, citation=cited)
    inst = preconfig_pool.get(qmp_run.argument_profile)
    try:
        arguments = minimal_arguments(inst, schema, command_name)
    except (Unconfinable, ValueError) as exc:
        pytest.skip(f"no admissible arguments: {exc}")
    inst.drain_events()
    sent = send_in_preconfig(inst, schema, command_name, arguments)
    request.node.user_properties.append((PHASE_PROPERTY, str(sent.phase)))
    if sent.changed:
        # Later commands are sent to a QEMU in the phase as --preconfig left it.
        preconfig_pool.retire(qmp_run.argument_profile)


def test_exit_preconfig(schema: Schema, qmp_run: RunContext) -> None:
    """x-exit-preconfig leaves the phase once, as qmp-test's test_qmp_preconfig."""
    label(epic="preconfig", feature=EXIT_PRECONFIG, story="leaves the phase", citation=str(STATUS))
    if EXIT_PRECONFIG not in schema.commands:
        pytest.skip(f"no preconfig phase: {EXIT_PRECONFIG} is not in this binary")
    assert qmp_run.info is not None  # the run probed its binary
    config = preconfig_config(qmp_run.launch_config(qmp_run.argument_profile))
    with QemuInstance(config) as inst:
        leave_preconfig(inst, schema, qmp_run.info.version)
