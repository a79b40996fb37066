"""Every machine type of the binary, started bare; its queries and QOM tree swept.

As QEMU's qom-test starts every machine type and reads every property of its QOM tree,
and as qmp-cmd-test runs every query without arguments (on `-machine none` only):
`test_machine_types` starts and quits every type `query-machines` lists, aliases
included (the sweep "machine types", each type this host can't start excluded with
QEMU's first stderr line); `test_machine_type[TYPE]` starts one, runs its no-argument
queries and walks its QOM tree (`conformance.drive.machines`), each a sweep recorded
as a `sweep` property. A crash, abort or hang at start, during a sweep or at quit is a
finding. The CI profile runs every test of a full run: it sweeps every type, but a
deterministic sample of each tree's properties (1 in `CI_QOM_SAMPLE`); the summary says
so.
"""

from __future__ import annotations

import pytest

from conformance.drive.machines import MachineRun, start_every_type
from conformance.drive.qom_walk import QomWalk
from conformance.drive.report import label
from conformance.machine.pool import InstancePool
from conformance.machine.profiles import MACHINE_PREFIX
from conformance.oracle.failure import ANSWERED
from conformance.oracle.qom import LISTED
from conformance.oracle.queries import QUERY_SUCCEEDS
from conformance.runcontext import NO_MACHINE, RunContext
from conformance.spec import Schema


def test_machine_types(schema: Schema, qmp_run: RunContext, request: pytest.FixtureRequest) -> None:
    label(
        epic="machines",
        feature="every machine type",
        story="start and quit",
        citation=str(ANSWERED),
        commands=("query-machines", "quit"),
    )
    if not qmp_run.machine_types:
        pytest.skip(NO_MACHINE)
    assert qmp_run.info is not None
    started, failures = start_every_type(
        qmp_run.machine_types, schema, qmp_run.info.version, qmp_run.launch_config
    )
    request.node.user_properties.append(started.to_property())
    if failures:
        raise ExceptionGroup("machine types", failures)


def test_machine_type(
    machine_type: str, schema: Schema, qmp_run: RunContext, request: pytest.FixtureRequest
) -> None:
    label(
        epic="machines",
        feature=machine_type,
        story="no-argument queries and QOM walk",
        citation=f"{QUERY_SUCCEEDS}; {LISTED}",
        commands=("qom-list", "qom-get"),
    )
    assert qmp_run.info is not None
    run = MachineRun(
        MACHINE_PREFIX + machine_type,
        schema,
        qmp_run.info.version,
        qmp_run.launch_config,
        qmp_run.qom_sample,
    )
    try:
        run.run()
    finally:
        if run.walk is not None:
            sweeps = (run.queries, run.walk.sweep)
            request.node.user_properties.extend(s.to_property() for s in sweeps)
    if run.failures:
        raise ExceptionGroup(f"machine type {machine_type}", run.failures)
    if run.refused is not None:
        pytest.skip(f"machine type {machine_type} can't start here: {run.refused}")


def test_qom_walk(
    profile_name: str, schema: Schema, qmp_run: RunContext, request: pytest.FixtureRequest
) -> None:
    label(
        epic="machines",
        feature=profile_name,
        story="QOM walk",
        citation=str(LISTED),
        commands=("qom-list", "qom-get"),
    )
    pool = InstancePool(qmp_run.launch_config)
    walk = QomWalk(lambda: pool.get(profile_name), schema)
    walk.sweep.name = f"QOM properties of profile {profile_name}"
    try:
        walk.run()
    finally:
        pool.close()
        request.node.user_properties.append(walk.sweep.to_property())
    if walk.failures:
        raise ExceptionGroup(f"QOM walk of profile {profile_name}", walk.failures)
