"""Harvest-driven sweeps: each command whose argument names something the live QEMU
lists, sent every listed value (issue 19; `conformance.drive.sweep`).

One test per command: every QOM type for `qom-list-properties` and
`device-list-properties` (as QEMU's device-introspect-test, with the QOM tree compared
after each), every CPU model for the `query-cpu-model-*` commands, every block node,
chardev and object of the profile for the commands taking one. The `ci` profile sends
an evenly spread sample of each and says so in the summary.
"""

from __future__ import annotations

import allure
import pytest

from conformance.drive.exchange import ArgumentRun
from conformance.drive.report import command_tags, label
from conformance.drive.sweep import CI_SAMPLE, SweepRun, profile_for, sweeps
from conformance.machine.pool import InstancePool
from conformance.oracle.failure import qapi
from conformance.runcontext import RunContext
from conformance.spec import Schema
from strategies.policy import GenerationPolicy
from strategies.pools import Pools


def test_sweep(
    request: pytest.FixtureRequest,
    sweep_command: str,
    schema: Schema,
    generation_policy: GenerationPolicy,
    qmp_run: RunContext,
) -> None:
    sweep = next(s for s in sweeps(schema) if s.command == sweep_command)
    label(
        epic="commands",
        feature=sweep.command,
        story="sweep",
        tags=command_tags(schema.commands[sweep.command]),
        citation=str(qapi(sweep.command, f"every {sweep.noun} the binary lists")),
    )
    instances = InstancePool(qmp_run.launch_config)
    # Pools stay empty and frozen: a sweep sends listed values, never drawn ones.
    run = ArgumentRun(
        sweep.command,
        schema,
        Pools(),
        generation_policy,
        instances,
        profile_for(sweep, qmp_run.profiles, qmp_run.argument_profile),
        frozen=True,
    )
    swept = SweepRun(sweep, run, sample_size=CI_SAMPLE if qmp_run.reuse else None)
    try:
        swept.go()
    finally:
        instances.close()
        line = swept.tally.line(sample=qmp_run.reuse)
        allure.dynamic.parameter("swept", line, excluded=True)
        request.node.user_properties.append(swept.tally.to_property())
        request.node.user_properties.extend(
            p for p in run.properties() if p[0] not in ("examples", "rejected")
        )
