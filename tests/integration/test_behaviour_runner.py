"""The behaviour runner against the real binary: each kind of expectation can fail.

Rules written wrong on purpose (an event that never comes, one placed on the wrong
side of the return, a quiet period that isn't, a state that doesn't hold, a setup QEMU
refuses) must each be reported; the suite's own rules must pass their self-check of
unique ids and citations.
"""

from __future__ import annotations

import pytest

from conformance.behaviour.rule import AFTER, BEFORE, Event, Quiet, Rule, State, Step
from conformance.behaviour.rules import RULES
from conformance.behaviour.runner import run_rule
from conformance.drive.report import evidence
from conformance.findings.record import findings_from
from conformance.machine.instance import LaunchConfig, QemuInstance
from conformance.oracle.failure import Failure, FindingKind, qapi

pytestmark = pytest.mark.qemu
CITE = qapi("qapi/block.json: blockdev-open-tray", "a test rule")
OPEN = {"id": "cd0"}
MOVED = "DEVICE_TRAY_MOVED"


def rule(*steps: Step, setup: tuple[tuple[str, dict[str, object]], ...] = ()) -> Rule:
    return Rule("test.rule", "a rule under test", "blockdev-open-tray", CITE, steps, setup=setup)


@pytest.fixture
def q35(config: LaunchConfig) -> LaunchConfig:
    config.profile = "q35"
    return config


def run(config: LaunchConfig, r: Rule) -> None:
    with QemuInstance(config) as inst:
        run_rule(r, inst)


def test_a_right_rule_passes(q35: LaunchConfig) -> None:
    run(
        q35,
        rule(
            Step(
                "blockdev-open-tray",
                OPEN,
                events=(Event(MOVED, {"tray-open": True}),),
                state=(State("query-block", {"qdev": "cd0"}, "tray_open", True),),
            )
        ),
    )


@pytest.mark.parametrize(
    ("step", "message"),
    [
        (Step("blockdev-open-tray", OPEN, reply="error"), "expected error"),
        (
            Step("blockdev-open-tray", OPEN, events=(Event(MOVED, {"tray-open": False}),)),
            "never arrived",
        ),
        # The tray event comes while the command runs, so before its return.
        (Step("blockdev-open-tray", OPEN, events=(Event(MOVED, when=AFTER),)), "arrived before it"),
        (Step("blockdev-open-tray", OPEN, quiet=Quiet((MOVED,))), "expected no"),
        (
            Step(
                "blockdev-open-tray",
                OPEN,
                state=(State("query-block", {"qdev": "cd0"}, "tray_open", False),),
            ),
            "expected False",
        ),
        (
            Step(
                "blockdev-open-tray",
                OPEN,
                state=(State("query-block", {"qdev": "cd0"}, "inserted", absent=True),),
            ),
            "expected absent",
        ),
        (
            Step("blockdev-open-tray", OPEN, state=(State("query-block", {"qdev": "nosuch"}),)),
            "no element",
        ),
    ],
)
def test_a_wrong_expectation_fails(q35: LaunchConfig, step: Step, message: str) -> None:
    with pytest.raises(Failure, match=message) as raised:
        run(q35, rule(step))
    assert raised.value.kind is FindingKind.BEHAVIOUR
    assert raised.value.citation == CITE


def test_an_event_expected_before_but_sent_after(config: LaunchConfig) -> None:
    # DEVICE_DELETED of a USB device comes after device_del's return.
    config.profile = "q35"
    config.extra_args = ("-device", "qemu-xhci,id=xhci")
    r = rule(
        Step("device_del", {"id": "k"}, events=(Event("DEVICE_DELETED", when=BEFORE),)),
        setup=(("device_add", {"driver": "usb-kbd", "id": "k", "bus": "xhci.0"}),),
    )
    with pytest.raises(Failure, match="arrived after it"):
        run(config, r)


def test_a_refused_setup_is_a_behaviour_finding_with_a_reproducer(q35: LaunchConfig) -> None:
    # Setup requests are documented commands with valid arguments: a refusal (here one
    # real QEMU refuses on purpose) is a regression of that command, never a skip that
    # would take the rule's coverage away unseen.
    r = rule(Step("query-status"), setup=(("device_del", {"id": "nosuch"}),))
    with QemuInstance(q35) as inst, pytest.raises(Failure) as raised, evidence(inst):
        run_rule(r, inst)
    failure = raised.value
    assert failure.kind is FindingKind.BEHAVIOUR
    assert failure.check == "behaviour.test.rule.setup"
    assert failure.command == "device_del"
    assert "device_del" in str(failure.citation)
    assert "DeviceNotFound" in failure.message or "GenericError" in failure.message
    (finding,) = findings_from(failure, "test_behaviour[test.rule]")
    assert finding.reproducer is not None
    assert finding.reproducer.expected.reply in ("error:DeviceNotFound", "error:GenericError")
    assert b"nosuch" in finding.reproducer.messages[finding.reproducer.expected.trigger]


def test_the_rules_are_well_formed() -> None:
    assert len({r.id for r in RULES}) == len(RULES)
    for r in RULES:
        assert r.citation.quote, r.id
        assert r.steps, r.id
        assert any(s.command == r.command for s in r.steps), r.id
