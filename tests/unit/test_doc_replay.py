"""Replay planning, shape comparison and event order (no QEMU)."""

from __future__ import annotations

from pathlib import Path

import pytest

from conformance.docs.examples import parse_example
from conformance.docs.model import DocEntry, DocExample
from conformance.docs.replay import events_before_replies, order_diff, plan, shape_diff
from conformance.spec import Schema, load_schema_file


@pytest.fixture(scope="module")
def schema(schema_72_x86: Path) -> Schema:
    return load_schema_file(schema_72_x86)


def ex(*lines: str) -> DocExample:
    return parse_example(list(enumerate(lines, start=1)))


@pytest.mark.parametrize(
    ("lines", "replayable", "reason"),
    [
        (['-> { "execute": "query-status" }', '<- { "return": {} }'], True, "queries only"),
        (
            ['-> { "execute": "blockdev-open-tray", "arguments": { "id": "ide0-1-0" } }'],
            True,
            "tray",
        ),
        (
            ['-> { "execute": "migrate", "arguments": { "uri": "tcp:0:4446" } }'],
            False,
            "migration peer",
        ),
        (['-> { "execute": "quit" }'], False, "ends the QEMU process"),
        (
            ['-> { "execute": "dump-skeys", "arguments": { "filename": "f" } }'],
            False,
            "not in this binary",
        ),
        (
            [
                '<- { "event": "SHUTDOWN", "data": {}, "timestamp": { "seconds": 1, "microseconds": 2 } }'
            ],
            False,
            "no request",
        ),
        (["-> { 'execute': 'query-status' "], False, "unparsable"),
        (
            [
                '-> { "execute": "blockdev-add", "arguments": { "driver": "null-co", "node-name": "n" } }'
            ],
            False,
            "setup",
        ),
    ],
)
def test_plan(schema: Schema, lines: list[str], replayable: bool, reason: str) -> None:
    how = plan(DocEntry("x", "command", "doc:1"), ex(*lines), schema)
    assert how.replayable is replayable
    assert reason in how.reason


def test_shape_diff_compares_keys_and_types_not_values() -> None:
    assert (
        list(shape_diff({"a": 1, "b": [{"c": "x"}]}, {"a": 2, "b": [{"c": "y"}, {"c": "z"}]})) == []
    )
    assert list(shape_diff({"a": 1}, {"a": "1"})) == ["$.a: documented number, reply has string"]
    assert list(shape_diff({"a": 1}, {"b": 1})) == [
        "$.a: documented, absent from the reply",
        "$.b: in the reply, not documented",
    ]
    assert list(shape_diff([{"a": 1}], [])) == []  # lengths depend on state


def test_event_order() -> None:
    example = ex(
        '-> { "execute": "blockdev-open-tray", "arguments": { "id": "cd0" } }',
        '<- { "timestamp": { "seconds": 1, "microseconds": 2 }, "event": "DEVICE_TRAY_MOVED", "data": {} }',
        '<- { "return": {} }',
        '-> { "execute": "query-status" }',
        '<- { "return": {} }',
    )
    assert events_before_replies(example) == [["DEVICE_TRAY_MOVED"], []]
    assert list(order_diff(["A", "B"], ["A", "X", "B"], [])) == []
    assert list(order_diff(["A", "B"], ["B", "A"], [])) == [
        "event B: documented before the return, arrived not at all"
    ]
    assert list(order_diff(["A"], [], ["A"])) == [
        "event A: documented before the return, arrived after the return"
    ]
