"""Documented behaviour of the seeded commands, rule by rule (`conformance/behaviour`).

Each rule runs on a QEMU of its own (rules change trays, media and devices on
purpose), and every event the run produced goes through the event checks.
"""

from __future__ import annotations

import pytest

from conformance.behaviour.rule import Rule
from conformance.behaviour.runner import SetupFailed, run_rule
from conformance.machine.instance import QemuInstance
from conformance.oracle.conversation import messages
from conformance.oracle.judge import judge_events
from conformance.plugin import RunContext
from conformance.qmp.message import Kind
from conformance.spec import Schema
from conformance.suite.report import evidence, label


def test_behaviour(behaviour_rule: Rule, qmp_run: RunContext, schema: Schema) -> None:
    rule = behaviour_rule
    label(epic="behaviour", feature=rule.command, story=rule.id, citation=str(rule.citation))
    version = qmp_run.info.version if qmp_run.info else (0, 0, 0)
    if not rule.applies_to(version):
        until = ".".join(map(str, rule.until)) if rule.until else "now"
        pytest.skip(
            f"the cited doc holds for {'.'.join(map(str, rule.since))} to {until}, "
            f"not {'.'.join(map(str, version))}"
        )
    if rule.profile not in qmp_run.profiles:
        pytest.skip(f"needs the {rule.profile} profile")
    if rule.command not in schema.commands:
        pytest.skip(f"{rule.command} is not in this binary")
    config = qmp_run.launch_config(rule.profile)
    config.extra_args = rule.extra_args
    with QemuInstance(config) as inst, evidence(inst):
        try:
            run_rule(rule, inst)
        except SetupFailed as exc:
            pytest.skip(f"not applicable to this binary: {exc}")
        judge_events(schema, [m for m in messages(inst.transcript) if m.kind is Kind.EVENT])
