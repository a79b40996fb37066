"""Documented behaviour of the seeded commands, rule by rule (`conformance/behaviour`).

Each rule runs on a QEMU of its own (rules change trays, media and devices on
purpose), and every event the run produced goes through the event checks.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import fields, is_dataclass

import pytest

from conformance.behaviour.rule import Rule
from conformance.behaviour.runner import run_rule
from conformance.drive.report import evidence, label
from conformance.machine.instance import QemuInstance
from conformance.machine.profiles import profile
from conformance.oracle.conversation import messages
from conformance.oracle.judge import judge_events
from conformance.qmp.message import Kind
from conformance.runcontext import NO_MACHINE, RunContext
from conformance.spec import Schema


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
    if rule.command not in schema.commands:
        pytest.skip(f"{rule.command} is not in this binary")
    if rule.profile is None:
        name = qmp_run.block_profile or _node_profile(rule, qmp_run)
    elif rule.profile in qmp_run.profiles:
        name = rule.profile
    elif qmp_run.info is not None and qmp_run.info.storage_daemon:
        pytest.skip(f"{NO_MACHINE}: the rule needs the {rule.profile} profile")
    else:
        pytest.skip(f"needs the {rule.profile} profile")
    lacks = rule.lacks(profile(name))
    if lacks:
        pytest.skip(f"profile {name} lacks what the rule needs: {lacks}")
    config = qmp_run.launch_config(name)
    config.extra_args = rule.launch_args(profile(name))
    with QemuInstance(config) as inst, evidence(inst):
        # A refused setup request is a finding (runner.py), never a skip.
        run_rule(rule, inst)
        judge_events(schema, [m for m in messages(inst.transcript) if m.kind is Kind.EVENT])


# The block profile's device, by id and by QOM path: a rule that names neither acts on
# nodes only, and runs where the run has no board (qemu-storage-daemon) on its null0.
_DEVICE_NAMES = ("cd0", "/machine")


def _node_profile(rule: Rule, qmp_run: RunContext) -> str:
    """The run's profile with null0 for a rule that needs no device; otherwise skips."""
    name = qmp_run.argument_profile
    if (
        profile(name).names.get("node-name") != "null0"
        or rule.needs
        or rule.extra_args
        or rule.second_cd is not None
        or any(
            device in text
            for text in _strings((rule.setup, rule.steps))
            for device in _DEVICE_NAMES
        )
    ):
        return qmp_run.need_block_profile()
    return name


def _strings(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _strings(key)
            yield from _strings(item)
    elif isinstance(value, tuple | list | frozenset):
        for item in value:
            yield from _strings(item)
    elif is_dataclass(value):
        for f in fields(value):
            yield from _strings(getattr(value, f.name))
