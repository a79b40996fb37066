"""The argument-parsing checks (conformance/oracle/visitor.py) on replies QEMU 7.2 and
10.0 gave by hand."""

from __future__ import annotations

import pytest

from conformance.oracle.failure import Failure, FindingKind
from conformance.oracle.visitor import (
    check_not_refused_as_invalid,
    check_refused_as_malformed,
    visitor_refusal,
)
from conformance.qmp.message import parse_message
from conformance.qmp.wirejson import dumps
from conformance.spec import Schema
from conformance.spec.introspect import schema_from_reply


def _error(desc: str, cls: str = "GenericError") -> bytes:
    return dumps({"error": {"class": cls, "desc": desc}, "id": 1}) + b"\r\n"


SCHEMA: Schema = schema_from_reply(
    [
        {"name": "cmd", "meta-type": "command", "arg-type": "A", "ret-type": "any"},
        {
            "name": "A",
            "meta-type": "object",
            "members": [
                {"name": "n", "type": "int", "default": None},
                {"name": "props", "type": "any", "default": None},
                {"name": "req", "type": "str"},
            ],
        },
        {"name": "int", "meta-type": "builtin", "json-type": "int"},
        {"name": "str", "meta-type": "builtin", "json-type": "string"},
        {"name": "any", "meta-type": "builtin", "json-type": "value"},
    ]
)


@pytest.mark.parametrize(
    "desc",
    [
        "Invalid parameter type for 'n', expected: integer",
        "Invalid parameter type for 'n', expected: StrOrNull",
        "Parameter 'req' is missing",
        "Parameter 'x' is unexpected",
        "Parameter 'mode' does not accept value 'x'",
    ],
)
def test_visitor_refusals_of_valid_arguments_are_findings(desc: str) -> None:
    message = parse_message(_error(desc))
    assert visitor_refusal(message) == desc
    with pytest.raises(Failure) as caught:
        check_not_refused_as_invalid(message, SCHEMA, "cmd", {"req": "x", "n": 1})
    assert caught.value.kind is FindingKind.VISITOR


@pytest.mark.parametrize(
    ("desc", "arguments"),
    [
        # int64 past its range: introspection says only "int"
        ("Invalid parameter type for 'n', expected: integer", {"req": "x", "n": 2**63}),
        # a handler's documented co-requirement of optional members
        ("Parameter 'n' is missing", {"req": "x"}),
        # a handler narrowing an 'any' member
        ("Invalid parameter type for 'm.props', expected: object", {"req": "x", "props": 1}),
        # QOM's link check (qom/object.c object_resolve_link) names the link's class
        ("Invalid parameter type for 'n', expected: thread-context", {"req": "x", "n": 1}),
        # a handler's semantic error, not a type error
        ("Parameter 'n' expects a non-negative value", {"req": "x", "n": -1}),
    ],
)
def test_refusals_that_are_not_the_visitors(desc: str, arguments: object) -> None:
    check_not_refused_as_invalid(parse_message(_error(desc)), SCHEMA, "cmd", arguments)


def test_malformed_arguments_need_a_generic_error() -> None:
    check_refused_as_malformed(parse_message(_error("Parameter 'x' is unexpected")), "r", "$", "c")
    with pytest.raises(Failure, match=r"malformed\.r\.class"):
        check_refused_as_malformed(parse_message(_error("x", "DeviceNotFound")), "r", "$.x", "cmd")
    ok = dumps({"return": {}, "id": 1}) + b"\r\n"
    with pytest.raises(Failure, match=r"malformed\.r\.accepted"):
        check_refused_as_malformed(parse_message(ok), "r", "$.x", "cmd")
