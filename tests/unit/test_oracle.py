"""Every protocol and schema check accepts conforming messages and rejects the rest."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from conformance.oracle.failure import Failure, FindingKind
from conformance.oracle.judge import judge_events, judge_reply
from conformance.oracle.protocol import (
    NEGOTIATION,
    check_error_class,
    check_event_shape,
    check_greeting,
    check_greeting_version,
    check_id_echo,
    check_reply_shape,
    check_well_formed,
)
from conformance.oracle.schema import check_event, check_return
from conformance.qmp.message import Message, parse_message
from conformance.spec import Schema, load_schema_file

GREETING = b'{"QMP": {"version": {"qemu": {"micro": 22, "minor": 2, "major": 7}, "package": "Debian 1:7.2+dfsg-7+deb12u18+b3"}, "capabilities": ["oob"]}}\r\n'
VERSION = {
    "qemu": {"micro": 22, "minor": 2, "major": 7},
    "package": "Debian 1:7.2+dfsg-7+deb12u18+b3",
}
STATUS = b'{"return": {"status": "prelaunch", "singlestep": false, "running": false}, "id": 7}\r\n'
NOT_FOUND = b'{"id": 7, "error": {"class": "CommandNotFound", "desc": "Expecting capabilities negotiation with \'qmp_capabilities\'"}}\r\n'
SHUTDOWN = b'{"timestamp": {"seconds": 1795238502, "microseconds": 139053}, "event": "SHUTDOWN", "data": {"guest": false, "reason": "host-qmp-quit"}}\r\n'
POWERDOWN = (
    b'{"timestamp": {"seconds": 1795238502, "microseconds": 139053}, "event": "POWERDOWN"}\r\n'
)


@pytest.fixture(scope="module")
def schema(schema_72_x86: Path) -> Schema:
    return load_schema_file(schema_72_x86)


def m(raw: bytes) -> Message:
    return parse_message(raw)


def fails(check: Callable[[], None], rule: str) -> Failure:
    with pytest.raises(Failure) as err:
        check()
    assert err.value.check.startswith(rule), err.value.check
    assert str(err.value.citation) in str(err.value)
    return err.value


def test_greeting() -> None:
    check_greeting(m(GREETING))
    check_greeting_version(m(GREETING), VERSION)
    fails(lambda: check_greeting(m(STATUS)), "greeting.shape")
    fails(lambda: check_greeting(m(GREETING.replace(b'["oob"]', b'"oob"'))), "greeting.shape")
    fails(
        lambda: check_greeting(m(GREETING.replace(b'"micro": 22', b'"micro": "22"'))),
        "greeting.version",
    )
    fails(
        lambda: check_greeting(m(GREETING.replace(b'"package": "Debian', b'"pkg": "Debian'))),
        "greeting.version",
    )
    fails(
        lambda: check_greeting_version(m(GREETING), {**VERSION, "package": "x"}),
        "greeting.version-matches",
    )


@pytest.mark.parametrize(
    ("raw", "rule"),
    [
        (STATUS.replace(b"\r\n", b"\n"), "output.strict-json"),
        (b'{"return": NaN}\r\n', "output.strict-json"),
        (b'{"return": 1, "return": 2}\r\n', "output.strict-json"),
        (b"[1]\r\n", "output.kind"),
    ],
)
def test_well_formed(raw: bytes, rule: str) -> None:
    check_well_formed(m(STATUS))
    fails(lambda: check_well_formed(m(raw)), rule)


def test_error_class_and_id() -> None:
    check_error_class(m(NOT_FOUND), "CommandNotFound", NEGOTIATION, "negotiation.before")
    check_id_echo(m(NOT_FOUND), 7)
    check_id_echo(m(NOT_FOUND), 7.0)
    fails(
        lambda: check_error_class(m(STATUS), "CommandNotFound", NEGOTIATION, "negotiation.before"),
        "negotiation.before",
    )
    fails(lambda: check_error_class(m(NOT_FOUND), "GenericError", NEGOTIATION, "x"), "x")
    fails(lambda: check_id_echo(m(NOT_FOUND), 8), "ids.echo")
    fails(lambda: check_id_echo(m(b'{"return": {}}\r\n'), 8), "ids.echo")
    fails(lambda: check_id_echo(m(NOT_FOUND), None, sent=False), "ids.absent")


@pytest.mark.parametrize(
    "raw",
    [
        b'{"return": {}, "id": 1, "extra": 2}\r\n',
        b'{"error": "oops"}\r\n',
        b'{"error": {"class": "GenericError"}}\r\n',
        b'{"error": {"class": 1, "desc": "x"}}\r\n',
    ],
)
def test_reply_shape(raw: bytes) -> None:
    check_reply_shape(m(STATUS))
    check_reply_shape(m(NOT_FOUND))
    fails(lambda: check_reply_shape(m(raw)), "reply.shape")


@pytest.mark.parametrize(
    "raw",
    [
        SHUTDOWN.replace(b'"microseconds": 139053', b'"microseconds": 1000000'),
        SHUTDOWN.replace(b'"seconds": 1795238502, ', b""),
        SHUTDOWN.replace(b'"data": {', b'"data": 1, "x": {'),
        SHUTDOWN.replace(b'"event": "SHUTDOWN"', b'"event": 5'),
        POWERDOWN.replace(b"}\r\n", b', "extra": 1}\r\n'),
    ],
)
def test_event_shape(raw: bytes) -> None:
    check_event_shape(m(SHUTDOWN))
    check_event_shape(m(POWERDOWN))
    check_event_shape(m(SHUTDOWN.replace(b"1795238502", b"-1").replace(b"139053", b"-1")))
    fails(lambda: check_event_shape(m(raw)), "events.")


def test_schema_return(schema: Schema) -> None:
    check_return(schema, "query-status", m(STATUS))
    bad = m(STATUS.replace(b'"prelaunch"', b'"flying"'))
    failure = fails(lambda: check_return(schema, "query-status", bad), "schema.return.enum-value")
    assert failure.path == "$.return.status"
    assert failure.kind is FindingKind.SCHEMA
    fails(
        lambda: check_return(
            schema, "query-status", m(STATUS.replace(b', "singlestep": false', b""))
        ),
        "schema.return.missing-member",
    )


def test_schema_failure_lists_every_violation(schema: Schema) -> None:
    # Three wrong members: the message names the first, the details (attached to the
    # allure result) every one, each with its path from the reply's root.
    bad = m(
        STATUS.replace(b'"prelaunch"', b'"flying"')
        .replace(b'"singlestep": false', b'"singlestep": 1')
        .replace(b'"running": false', b'"running": "no"')
    )
    failure = fails(lambda: check_return(schema, "query-status", bad), "schema.return.")
    assert "(+2 more)" in failure.message
    paths = sorted(d.split(":")[0] for d in failure.details)
    assert paths == ["$.return.running", "$.return.singlestep", "$.return.status"]
    one = fails(
        lambda: check_event(schema, m(SHUTDOWN.replace(b'"guest": false', b'"guest": 0'))),
        "schema.event.wrong-type",
    )
    assert [d.split(":")[0] for d in one.details] == ["$.data.guest"]


def test_schema_event(schema: Schema) -> None:
    check_event(schema, m(SHUTDOWN))
    check_event(schema, m(POWERDOWN))
    fails(
        lambda: check_event(schema, m(SHUTDOWN.replace(b'"SHUTDOWN"', b'"NO_SUCH_EVENT"'))),
        "schema.event.unknown",
    )
    failure = fails(
        lambda: check_event(schema, m(SHUTDOWN.replace(b'"guest": false', b'"guest": 0'))),
        "schema.event.wrong-type",
    )
    assert failure.path == "$.data.guest"


def test_judges_compose(schema: Schema) -> None:
    judge_reply(schema, "query-status", m(STATUS), 7)
    judge_events(schema, [m(SHUTDOWN), m(POWERDOWN)])
    fails(lambda: judge_reply(schema, "query-status", m(STATUS), 8), "ids.echo")
    fails(
        lambda: judge_events(schema, [m(SHUTDOWN), m(POWERDOWN.replace(b"139053", b"-5"))]),
        "events.timestamp",
    )
