"""Capabilities negotiation (qmp-spec, "Capabilities Negotiation")."""

from __future__ import annotations

import pytest

from conformance.drive.report import command_tags, evidence, label
from conformance.machine.instance import QemuInstance
from conformance.machine.pool import InstancePool
from conformance.oracle.protocol import NEGOTIATION, check_error_class, check_id_echo
from conformance.runcontext import RunContext
from conformance.spec import Schema


def test_command_before_negotiation(
    command_name: str, schema: Schema, qemu_pool: InstancePool, qmp_run: RunContext
) -> None:
    """Before qmp_capabilities, every other command gets CommandNotFound with its id."""
    label(
        epic="protocol",
        feature=command_name,
        story="CommandNotFound before negotiation",
        tags=command_tags(schema.commands[command_name]),
        citation=str(NEGOTIATION),
    )
    if command_name == "qmp_capabilities":
        pytest.skip("qmp_capabilities is the one command allowed before negotiation")
    inst = qemu_pool.get(qmp_run.profiles[0], negotiated=False)
    sent_id = {"before-negotiation": command_name}
    with evidence(inst):
        reply = inst.execute(command_name, id=sent_id)
        check_error_class(reply.message, "CommandNotFound", NEGOTIATION, "negotiation.before")
        check_id_echo(reply.message, sent_id)


def test_second_negotiation(fresh_qemu: QemuInstance) -> None:
    """Once in command mode, qmp_capabilities itself is no longer found."""
    label(
        epic="protocol",
        feature="qmp_capabilities",
        story="second negotiation",
        citation=str(NEGOTIATION),
    )
    fresh_qemu.start()
    with evidence(fresh_qemu):
        reply = fresh_qemu.execute("qmp_capabilities", id="again")
        check_error_class(reply.message, "CommandNotFound", NEGOTIATION, "negotiation.twice")
        check_id_echo(reply.message, "again")
