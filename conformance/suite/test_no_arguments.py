"""Every command whose arguments are all optional, executed with none.

Its reply must be a schema-valid return or a well-formed error, the id must come back,
every event must match its type, and QEMU must still answer afterwards. A query (one
that returns data, as qmp-cmd-test picks them) must return, but for the errors
`conformance.oracle.queries.EXPECTED_ERRORS` admits.
"""

from __future__ import annotations

import pytest

from conformance.drive.exchange import check_alive
from conformance.drive.report import command_tags, evidence, label
from conformance.machine.lifecycle import lifecycle_reason
from conformance.machine.pool import InstancePool
from conformance.machine.reuse import keeps_state
from conformance.oracle.failure import qapi
from conformance.oracle.judge import judge_reply
from conformance.oracle.queries import check_query_returns
from conformance.runcontext import RunContext
from conformance.spec import Schema


def test_no_arguments(
    no_arg_command: str,
    profile_name: str,
    schema: Schema,
    qemu_pool: InstancePool,
    qmp_run: RunContext,
) -> None:
    command = schema.commands[no_arg_command]
    label(
        epic="commands",
        feature=no_arg_command,
        story="no arguments",
        tags=command_tags(command),
        citation=str(qapi(no_arg_command, "every argument is optional")),
    )
    reason = lifecycle_reason(no_arg_command)
    if reason:
        pytest.skip(f"{no_arg_command}: {reason}")
    inst = qemu_pool.get(profile_name)
    inst.drain_events()
    sent_id = f"noargs-{no_arg_command}"
    with evidence(inst):
        reply = inst.execute(no_arg_command, id=sent_id)
        judge_reply(schema, no_arg_command, reply.message, sent_id)
        if qmp_run.info is not None:
            check_query_returns(schema, no_arg_command, reply.message, qmp_run.info.version)
        check_alive(inst, schema)
    if not keeps_state(no_arg_command, reply.message.kind):
        # The pooled QEMU serves later tests, which assume the profile's machine.
        qemu_pool.retire(profile_name)
