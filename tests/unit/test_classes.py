"""The fixed vocabularies protocol signatures use: id classes and output problem classes."""

from __future__ import annotations

import pytest

from conformance.oracle.classes import ID_CLASSES, OUTPUT_CLASSES, id_class, output_class
from conformance.oracle.failure import Failure
from conformance.oracle.protocol import check_id_echo, check_well_formed
from conformance.qmp.message import parse_message


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, "null"),
        (True, "bool"),
        (7, "int"),
        (-(2**63), "int"),
        (2**64 - 1, "int"),
        (2**64, "int-huge"),
        (10**400, "int-huge"),
        (1.5, "float"),
        ("", "string-empty"),
        ("abc", "string"),
        ("é", "string-non-ascii"),
        ("\U0001f600", "string-non-bmp"),
        ("\uffff", "string-noncharacter"),
        ("a\ufdd0", "string-noncharacter"),
        ("\U0010ffff", "string-noncharacter"),
        ("a\x00b", "string-control"),
        ([1], "array"),
        ({"a": 1}, "object"),
    ],
)
def test_id_class(value: object, expected: str) -> None:
    assert id_class(value) == expected
    assert expected in ID_CLASSES


def test_an_absent_id_is_its_own_class() -> None:
    assert id_class(None, present=False) == "absent"


@pytest.mark.parametrize(
    ("frame", "expected"),
    [
        (b'{"return": {}, "id": inf}\r\n', "non-json-number"),
        (b'{"return": {}, "id": -Infinity}\r\n', "non-json-number"),
        (b'{"return": {}, "id": NaN}\r\n', "non-json-number"),
        (b'{"return": {}, "id": 1e999}\r\n', "number-out-of-range"),
        (b'{"return": "\xc0\x80"}\r\n', "invalid-utf8"),
        (b'{"return": "\\ud800"}\r\n', "lone-surrogate"),
        (b'{"return": "a\x01"}\r\n', "control-character"),
        (b'{"return": 1, "return": 2}\r\n', "duplicate-key"),
        (b'{"return": {}} x\r\n', "trailing-data"),
        (b'{"return": {\r\n', "syntax"),
        (b"[1]\r\n", "not-an-object"),
        (b'{"return": {}}\n', "bare-lf"),
        (b'{"return": 1, "error": {}}\r\n', "unknown-kind"),
    ],
)
def test_output_class_of_a_broken_server_message(frame: bytes, expected: str) -> None:
    message = parse_message(frame)
    assert output_class(message.problems, message.raw) == expected
    assert expected in OUTPUT_CLASSES
    with pytest.raises(Failure) as caught:
        check_well_formed(message)
    assert caught.value.facets == {"output": expected}


def test_an_id_echo_failure_names_the_class_of_the_id_sent() -> None:
    reply = parse_message(b'{"return": {}, "id": "?"}\r\n')
    with pytest.raises(Failure) as caught:
        check_id_echo(reply, "\uffff")
    assert caught.value.facets == {"id": "string-noncharacter"}
