"""Parsing and classifying frames, on real QEMU 7.2 output.

The samples were captured byte for byte from ``qemu-system-x86_64 -machine none -qmp stdio``,
QEMU 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3).
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conformance.qmp.message import (
    BARE_LF,
    BOTH_RETURN_AND_ERROR,
    EMPTY_LINE,
    NO_KNOWN_MEMBER,
    NOT_AN_OBJECT,
    UNTERMINATED,
    Kind,
    Message,
    parse_message,
)

GREETING = (
    b'{"QMP": {"version": {"qemu": {"micro": 22, "minor": 2, "major": 7}, '
    b'"package": "Debian 1:7.2+dfsg-7+deb12u18+b3"}, "capabilities": ["oob"]}}\r\n'
)
RETURN_EMPTY = b'{"return": {}}\r\n'


@dataclass(frozen=True)
class Expected:
    """The accessors' expected results for one sample."""

    kind: Kind
    has_id: bool = False
    id: object = None
    event_name: str | None = None
    error_class: str | None = None
    error_desc: str | None = None


QEMU_72_SAMPLES = {
    "greeting": (GREETING, Expected(Kind.GREETING)),
    "return without id": (RETURN_EMPTY, Expected(Kind.RETURN)),
    "return with int id": (b'{"return": {}, "id": 1}\r\n', Expected(Kind.RETURN, True, 1)),
    "query-status reply": (
        b'{"return": {"status": "running", "singlestep": false, "running": true}, "id": "q1"}\r\n',
        Expected(Kind.RETURN, True, "q1"),
    ),
    "id echoed as object": (
        b'{"return": {"status": "running", "singlestep": false, "running": true}, '
        b'"id": {"a": [1, true, null]}}\r\n',
        Expected(Kind.RETURN, True, {"a": [1, True, None]}),
    ),
    "big int id echoed as double": (
        b'{"return": {"status": "running", "singlestep": false, "running": true}, '
        b'"id": 1.2345678901234568e+29}\r\n',
        Expected(Kind.RETURN, True, 1.2345678901234568e29),
    ),
    "error with id": (
        b'{"id": 5, "error": {"class": "CommandNotFound", '
        b'"desc": "The command nonexistent has not been found"}}\r\n',
        Expected(
            Kind.ERROR,
            True,
            5,
            None,
            "CommandNotFound",
            "The command nonexistent has not been found",
        ),
    ),
    "parse error reply has no id": (
        b'{"error": {"class": "GenericError", "desc": "JSON parse error, expecting value"}}\r\n',
        Expected(
            Kind.ERROR, False, None, None, "GenericError", "JSON parse error, expecting value"
        ),
    ),
    "event with timestamp": (
        b'{"timestamp": {"seconds": 1795238891, "microseconds": 526019}, "event": "SHUTDOWN", '
        b'"data": {"guest": false, "reason": "host-qmp-quit"}}\r\n',
        Expected(Kind.EVENT, event_name="SHUTDOWN"),
    ),
}


@pytest.mark.parametrize(("frame", "expected"), QEMU_72_SAMPLES.values(), ids=QEMU_72_SAMPLES)
def test_classifies_real_qemu_messages(frame: bytes, expected: Expected) -> None:
    message = parse_message(frame)
    assert message.raw is frame
    assert message.problems == ()
    assert (
        Expected(
            message.kind,
            message.has_id,
            message.id,
            message.event_name,
            message.error_class,
            message.error_desc,
        )
        == expected
    )
    assert message.is_reply is (expected.kind in {Kind.RETURN, Kind.ERROR})


def test_a_greeting_value_is_parsed_in_full() -> None:
    assert parse_message(GREETING).value == {
        "QMP": {
            "version": {
                "qemu": {"micro": 22, "minor": 2, "major": 7},
                "package": "Debian 1:7.2+dfsg-7+deb12u18+b3",
            },
            "capabilities": ["oob"],
        }
    }


@pytest.mark.parametrize(
    ("frame", "kind", "problems"),
    [
        pytest.param(b'{"return": {}}\n', Kind.RETURN, (BARE_LF,), id="bare LF"),
        pytest.param(b'{"return": {}}', Kind.RETURN, (UNTERMINATED,), id="unterminated at EOF"),
        pytest.param(b"\r\n", Kind.INVALID, (EMPTY_LINE,), id="empty line"),
        pytest.param(b"\n", Kind.INVALID, (EMPTY_LINE, BARE_LF), id="empty bare LF line"),
        pytest.param(b"", Kind.INVALID, (EMPTY_LINE, UNTERMINATED), id="nothing at all"),
        pytest.param(
            b'{"return": {}, "error": {"class": "GenericError", "desc": "x"}}\r\n',
            Kind.UNKNOWN,
            (BOTH_RETURN_AND_ERROR,),
            id="both return and error",
        ),
        pytest.param(b"[1, 2]\r\n", Kind.UNKNOWN, (NOT_AN_OBJECT,), id="array"),
        pytest.param(b'"QMP"\r\n', Kind.UNKNOWN, (NOT_AN_OBJECT,), id="string"),
        pytest.param(b"null\r\n", Kind.UNKNOWN, (NOT_AN_OBJECT,), id="null"),
        pytest.param(b'{"id": 1}\r\n', Kind.UNKNOWN, (NO_KNOWN_MEMBER,), id="object, no kind"),
        pytest.param(b"[]\n", Kind.UNKNOWN, (NOT_AN_OBJECT, BARE_LF), id="problems accumulate"),
    ],
)
def test_records_framing_and_shape_problems(
    frame: bytes, kind: Kind, problems: tuple[str, ...]
) -> None:
    message = parse_message(frame)
    assert (message.kind, message.problems) == (kind, problems)


@pytest.mark.parametrize(
    ("frame", "reason"),
    [
        pytest.param(
            b'{"return": {"status": "running", "singlestep": false, "running": true}, '
            b'"id": inf}\r\n',
            "Expecting value at byte 78",
            id="QEMU 7.2 echoing the id 1e400 as a %.17g double",
        ),
        pytest.param(b'{"return": {}, "id": NaN}\r\n', "NaN is not JSON", id="NaN"),
        pytest.param(b'{"return": {}, "return": {}}\r\n', 'duplicate key "return"', id="dup key"),
        pytest.param(
            b'{"return": {}}{"return": {}}\r\n', "Extra data at byte 14", id="two objects"
        ),
        pytest.param(b'{"event": "\xff"}\r\n', "invalid UTF-8 at byte 11", id="bad UTF-8"),
        pytest.param(b'{"id": "\\udc00"}\r\n', "unpaired surrogate", id="surrogate escape"),
        pytest.param(b"garbage\r\n", "Expecting value at byte 0", id="garbage"),
        pytest.param(b" \r\n", "empty input", id="blank line"),
    ],
)
def test_invalid_json_is_invalid_with_the_parse_error(frame: bytes, reason: str) -> None:
    message = parse_message(frame)
    assert (message.kind, message.value) == (Kind.INVALID, None)
    assert len(message.problems) == 1
    assert reason in message.problems[0]


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        (Kind.EVENT, {"event": 5}),
        (Kind.ERROR, {"error": "CommandNotFound"}),
        (Kind.ERROR, {"error": {"class": 1, "desc": None}}),
        (Kind.ERROR, [{"error": {"class": "GenericError", "desc": "x"}}]),
        (Kind.RETURN, {"event": "STOP", "error": {"class": "GenericError", "desc": "x"}}),
    ],
    ids=repr,
)
def test_accessors_ignore_members_of_the_wrong_type_or_kind(kind: Kind, value: object) -> None:
    message = Message(b"", kind, value)
    assert (message.event_name, message.error_class, message.error_desc) == (None, None, None)


@pytest.mark.parametrize(
    ("frame", "has_id"),
    [(b'{"return": {}, "id": null}\r\n', True), (RETURN_EMPTY, False)],
)
def test_has_id_tells_a_null_id_from_no_id(frame: bytes, has_id: bool) -> None:
    message = parse_message(frame)
    assert (message.has_id, message.id) == (has_id, None)


@given(st.binary() | st.builds(lambda b: b + b"\r\n", st.binary()))
def test_never_raises_and_keeps_the_raw_bytes(frame: bytes) -> None:
    message = parse_message(frame)
    assert message.raw == frame
    if message.kind is Kind.INVALID:
        assert message.value is None
        assert message.problems
