"""Every machine type of the binary, started bare, its queries and QOM tree swept.

As QEMU's qom-test starts every machine type and reads every property of its QOM tree,
and as qmp-cmd-test runs every query without arguments (on `-machine none` only): one
test per machine type `query-machines` lists, aliases included
(`conformance.drive.machines`). A type this host can't start is skipped with QEMU's
first stderr line; a crash, abort or hang at start, during a sweep or at quit is a
finding. Each test records its share of the sweeps (machine types, queries, qom-gets)
as `sweep` properties. The CI profile starts and quits every type, and sweeps a
deterministic sample of them (1 in `CI_MACHINE_SAMPLE`), reading a sample of each
QOM tree (1 property in `CI_QOM_SAMPLE`).
"""

from __future__ import annotations

import pytest

from conformance.drive.machines import MachineRun
from conformance.drive.qom_walk import QomWalk
from conformance.drive.report import label
from conformance.drive.sweep import in_sample, sample_reason
from conformance.machine.pool import InstancePool
from conformance.machine.profiles import MACHINE_PREFIX
from conformance.oracle.qom import LISTED
from conformance.oracle.queries import QUERY_SUCCEEDS
from conformance.runcontext import RunContext
from conformance.spec import Schema


def test_machine_type(
    machine_type: str, schema: Schema, qmp_run: RunContext, request: pytest.FixtureRequest
) -> None:
    label(
        epic="machines",
        feature=machine_type,
        story="start, no-argument queries, QOM walk, quit",
        citation=f"{QUERY_SUCCEEDS}; {LISTED}",
        commands=("query-machines", "qom-list", "qom-get"),
    )
    assert qmp_run.info is not None
    run = MachineRun(
        MACHINE_PREFIX + machine_type,
        schema,
        qmp_run.info.version,
        qmp_run.launch_config,
        qmp_run.qom_sample,
        swept=in_sample(machine_type, qmp_run.machine_sample),
        sample_why=sample_reason(qmp_run.machine_sample),
    )
    try:
        run.run()
    finally:
        sweeps = [run.started, run.queries] + ([run.walk.sweep] if run.walk else [])
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
    try:
        walk.run()
    finally:
        pool.close()
        request.node.user_properties.append(walk.sweep.to_property())
    if walk.failures:
        raise ExceptionGroup(f"QOM walk of profile {profile_name}", walk.failures)
