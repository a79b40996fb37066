"""Strict JSON parsing, canonical encoding and JSON-value equality."""

from __future__ import annotations

import json
import json.decoder
import json.scanner
import reprlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conformance.qmp.wirejson import StrictJSONError, dumps, json_equal, loads_strict

# JSON values that survive an exact encode/parse round trip: finite floats, str keys, no
# unpaired surrogates (Hypothesis text excludes them by default).
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: st.lists(children) | st.dictionaries(st.text(), children),
    max_leaves=25,
)


def test_the_c_scanner_is_in_use() -> None:
    # The module's strictness notes were verified against the C scanner only.
    assert getattr(json.scanner, "c_make_scanner", None) is not None
    assert getattr(json.decoder, "c_scanstring", None) is not None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (b'{"return": {}}', {"return": {}}),
        (b' \t\r\n{"a": [1, 2.5, true, false, null]} \r\n', {"a": [1, 2.5, True, False, None]}),
        (b"18446744073709551616", 2**64),
        (b"-" + b"9" * 4000, -int("9" * 4000)),
        (b"1.2345678901234568e+29", 1.2345678901234568e29),
        (b"-0", 0),
        (b"1E5", 100000.0),
        (b'"\\uD83D\\uDE00 \\u00E9"', "\U0001f600 \u00e9"),  # QEMU's escaping of non-ASCII
        (b'"\\u0000\\/\\"\\\\\\b\\f\\n\\r\\t"', '\x00/"\\\b\f\n\r\t'),
        ('"h\u00e9\u2028\x7f"'.encode(), "h\u00e9\u2028\x7f"),
        (b'{"a": {"b": 1}, "c": {"b": 2}}', {"a": {"b": 1}, "c": {"b": 2}}),
        (b'"\\\\ud800"', "\\ud800"),  # an escaped backslash, not a surrogate escape
        (b"[" * 100 + b"]" * 100, json.loads("[" * 100 + "]" * 100)),
    ],
    ids=reprlib.repr,
)
def test_accepts_rfc_8259_json(text: bytes, expected: object) -> None:
    assert loads_strict(text) == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (b"NaN", "NaN is not JSON"),
        (b"Infinity", "Infinity is not JSON"),
        (b"-Infinity", "-Infinity is not JSON"),
        (b'{"a": [1, {"b": NaN}]}', "NaN is not JSON"),
        (b'{"id": -Infinity}', "-Infinity is not JSON"),
        (b'{"a": 1, "a": 2}', 'duplicate key "a"'),
        (b'{"x": [{"k": 1, "j": 2, "k": 3}]}', 'duplicate key "k"'),
        (b'{"a": 1, "\\u0061": 2}', 'duplicate key "a"'),
        (b'{"%s": 1, "%s": 2}' % (b"k" * 9999, b"k" * 9999), 'duplicate key "kkkk'),
        (b"1" + b"0" * 400 + b".0", "number 10000"),
        (b'"a\tb"', "Invalid control character at byte 2"),
        (b'"\x00"', "Invalid control character at byte 1"),
        (b'{"\n": 1}', "Invalid control character at byte 2"),
        (b"", "empty input"),
        (b" \r\n\t", "empty input"),
        (b'{"a": 1}{"b": 2}', "Extra data at byte 8"),
        (b'{"return": {}} {"return": {}}', "Extra data at byte 15"),
        (b'"\xc3\xa9" 1', "Extra data at byte 5"),  # offsets count bytes, not characters
        (b"\xef\xbb\xbf{}", "byte order mark"),
        (b'"\\ud800"', "unpaired surrogate"),
        (b'{"\\udc00": 1}', "unpaired surrogate"),
        (b'["\\uDBFF x"]', "unpaired surrogate"),
        (b"1e400", "out of range for a double"),
        (b'{"id": -1e999}', "out of range for a double"),
        (b"1" * 5000, "beyond this parser's limit"),
        (b"[" * 100_000, "nested too deeply"),
        (b"inf", "Expecting value at byte 0"),  # what QEMU 7.2 prints for an infinite id
        ("\u00a0{}".encode(), "Expecting value at byte 0"),  # only 4 whitespace characters
        (b"\x0b1", "Expecting value at byte 0"),
        (b"01", "Extra data at byte 1"),
        (b"1.", "Extra data at byte 1"),
        (b".5", "Expecting value at byte 0"),
        (b"+1", "Expecting value at byte 0"),
        (b"0x10", "Extra data at byte 1"),
        ("[\u0661]".encode(), "Expecting value at byte 1"),  # an Arabic-Indic digit
        (b'"\\x41"', "Invalid \\escape"),
        (b'"\\u+123"', "Invalid \\uXXXX escape"),
        (b"'a'", "Expecting value"),
        (b"[1,]", "Expecting value at byte 3"),
        (b'{"a": 1,}', "Expecting property name"),
        (b"True", "Expecting value"),
        (b"/* c */ 1", "Expecting value"),
        (b'{"a" 1}', "Expecting ':' delimiter"),
        (b'"abc', "Unterminated string"),
    ],
    ids=reprlib.repr,
)
def test_rejects_non_rfc_8259_json(text: bytes, reason: str) -> None:
    with pytest.raises(StrictJSONError) as caught:
        loads_strict(text)
    message = str(caught.value)
    assert reason in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("data", "offset"),
    [
        (b"\xff", 0),
        (b'{"a": "\x80"}', 7),  # lone continuation byte
        (b'"\xc0\x80"', 1),  # overlong encoding of NUL
        (b'"\xe0\x80\xaf"', 1),  # overlong encoding of "/"
        (b'"\xed\xa0\x80"', 1),  # encoded surrogate U+D800 (CESU-8 style)
        (b'"\xf4\x90\x80\x80"', 1),  # U+110000, past the last code point
        (b'"\xe2\x82"', 1),  # truncated sequence
        (b'{"a": 1}\xfe', 8),
    ],
    ids=reprlib.repr,
)
def test_invalid_utf8_names_the_byte_offset(data: bytes, offset: int) -> None:
    with pytest.raises(StrictJSONError, match=rf"^invalid UTF-8 at byte {offset} "):
        loads_strict(data)


def _error_of(data: bytes) -> str:
    try:
        loads_strict(data)
    except StrictJSONError as exc:
        return str(exc)
    return ""


@given(st.binary() | st.text().map(str.encode))
def test_arbitrary_input_raises_nothing_but_one_line_strict_json_errors(data: bytes) -> None:
    assert "\n" not in _error_of(data)


@given(json_values)
def test_dumps_then_loads_strict_round_trips(value: object) -> None:
    encoded = dumps(value)
    assert loads_strict(encoded) == value
    assert json.loads(encoded) == value


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"execute": "query-status", "id": 1}, b'{"execute":"query-status","id":1}'),
        ({"a": "\u00e9\U0001f600"}, '{"a":"\u00e9\U0001f600"}'.encode()),
        ([1, 2.5, None, True], b"[1,2.5,null,true]"),
        ((1, "x"), b'[1,"x"]'),
        ("\x00\n", b'"\\u0000\\n"'),
        ({1: 0}, b'{"1":0}'),  # the stdlib's key coercion, documented in dumps
    ],
    ids=reprlib.repr,
)
def test_dumps_is_compact_utf8(value: object, expected: bytes) -> None:
    assert dumps(value) == expected


def _circular() -> list[object]:
    loop: list[object] = []
    loop.append(loop)
    return loop


def _deep(depth: int) -> list[object]:
    nested: list[object] = []
    for _ in range(depth):
        nested = [nested]
    return nested


@pytest.mark.parametrize(
    ("value", "error"),
    [
        (float("nan"), StrictJSONError),
        ({"id": float("inf")}, StrictJSONError),
        ([float("-inf")], StrictJSONError),
        ("\ud800", StrictJSONError),
        (_circular(), StrictJSONError),
        ({b"k": 1}, TypeError),
        (_deep(100_000), StrictJSONError),
        ({1, 2}, TypeError),
    ],
    ids=reprlib.repr,
)
def test_dumps_refuses_values_json_cannot_represent(value: object, error: type[Exception]) -> None:
    with pytest.raises(error):
        dumps(value)


@pytest.mark.parametrize(
    ("a", "b", "equal"),
    [
        (1, 1, True),
        (1, 1.0, True),
        (1.0, 1, True),
        (0.1 + 0.2, 0.3, True),
        (1.0, 1.0 + 1e-6, False),
        (123456789012345678901234567890, 1.2345678901234568e29, True),  # QEMU's echo of it
        (2**64, 2**64 + 1, False),  # ints stay exact
        (10**400, 1e308, False),  # too big for a double: never close
        (0.0, -0.0, True),
        (0.0, 1e-300, False),
        (True, True, True),
        (True, 1, False),
        (1, True, False),
        (False, 0.0, False),
        (None, None, True),
        (None, 0, False),
        ("1", 1, False),
        ("a", "a", True),
        ({"a": 1, "b": [1, 2]}, {"b": [1.0, 2], "a": 1.0}, True),
        ({"a": 1}, {"a": 1, "b": 2}, False),
        ({"a": True}, {"a": 1}, False),
        ([1, 2], [2, 1], False),
        ([1, 2], [1, 2, 3], False),
        ([1, [2]], (1, (2.0,)), True),
        ([], {}, False),
        ({}, [], False),
    ],
    ids=reprlib.repr,
)
def test_json_equal(a: object, b: object, equal: bool) -> None:
    assert json_equal(a, b) is equal
    assert json_equal(b, a) is equal


def test_json_equal_tolerance_is_relative_and_adjustable() -> None:
    assert json_equal(1e20, 1e20 + 1e5)
    assert not json_equal(1.0, 1.001)
    assert json_equal(1.0, 1.001, float_tolerance=1e-2)
    assert not json_equal(1.0, 1.0 + 1e-15, float_tolerance=0.0)


@given(json_values)
def test_json_equal_is_reflexive_and_survives_the_wire(value: object) -> None:
    assert json_equal(value, value)
    assert json_equal(value, loads_strict(dumps(value)))
