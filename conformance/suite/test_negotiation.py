"""Capabilities negotiation (qmp-spec, "Capabilities Negotiation")."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conformance.drive.report import command_tags, evidence, label
from conformance.machine.instance import QemuInstance
from conformance.machine.pool import InstancePool
from conformance.oracle.failure import qapi
from conformance.oracle.protocol import NEGOTIATION, check_error_class, check_id_echo
from conformance.runcontext import RunContext
from conformance.spec import Schema
from strategies.wire import HMP_ONLY_NAMES, json_ids, unknown_commands

#: qapi/error.json, QapiErrorClass.
COMMAND_NOT_FOUND = qapi(
    "QapiErrorClass", "@CommandNotFound: the requested command has not been found"
)
_REUSE = settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


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


@_REUSE
@given(data=st.data())
def test_unknown_command(
    data: st.DataObject, schema: Schema, qemu_pool: InstancePool, qmp_run: RunContext
) -> None:
    """In command mode, a name the schema doesn't define gets CommandNotFound with its id."""
    name = data.draw(unknown_commands(tuple(schema.commands)), label="name")
    sent_id = data.draw(json_ids(), label="id")
    _unknown(name, sent_id, schema, qemu_pool, qmp_run)


@pytest.mark.parametrize("name", HMP_ONLY_NAMES)
def test_hmp_name_is_no_command(
    name: str, schema: Schema, qemu_pool: InstancePool, qmp_run: RunContext
) -> None:
    """HMP's commands and abbreviations (`help`, `q`, `info`...), a bare `query-` and near
    misses of real names are no QMP command: CommandNotFound, as tp-qemu's qmp_basic
    expects for them."""
    if name in schema.commands:
        pytest.skip(f"{name!r} is a command of this binary")
    _unknown(name, {"hmp": name}, schema, qemu_pool, qmp_run)


def _unknown(
    name: str, sent_id: object, schema: Schema, qemu_pool: InstancePool, qmp_run: RunContext
) -> None:
    label(
        epic="protocol",
        feature="commands",
        story="unknown command",
        citation=str(COMMAND_NOT_FOUND),
    )
    inst = qemu_pool.get(qmp_run.profiles[0])
    with evidence(inst):
        reply = inst.execute(name, id=sent_id)
        check_error_class(reply.message, "CommandNotFound", COMMAND_NOT_FOUND, "commands.unknown")
        check_id_echo(reply.message, sent_id)
