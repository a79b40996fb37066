"""Replay planning, shape comparison and event order (no QEMU)."""

from __future__ import annotations

from pathlib import Path

import pytest

from conformance.docs.examples import parse_example
from conformance.docs.model import DocArgument, DocEntry, DocExample
from conformance.docs.replay import (
    events_before_replies,
    order_diff,
    plan,
    unordered_events,
)
from conformance.spec import Schema, load_schema_file


@pytest.fixture(scope="module")
def schema(schema_72_x86: Path) -> Schema:
    return load_schema_file(schema_72_x86)


def ex(*lines: str) -> DocExample:
    return parse_example(list(enumerate(lines, start=1)))


@pytest.mark.parametrize(
    ("lines", "replayable", "reason"),
    [
        (['-> { "execute": "query-status" }', '<- { "return": {} }'], True, "(a)"),
        (
            ['-> { "execute": "blockdev-open-tray", "arguments": { "id": "ide0-1-0" } }'],
            True,
            "(b) names mapped ide0-1-0→cd0",
        ),
        (
            ['-> { "execute": "blockdev-close-tray", "arguments": { "id": "ide0-1-0" } }'],
            True,
            "(b) setup blockdev-open-tray; names mapped ide0-1-0→cd0",
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
        # What an adding command creates keeps its name, and so do later references.
        (
            [
                '-> { "execute": "blockdev-add", "arguments": { "driver": "null-co", "node-name": "n" } }',
                '-> { "execute": "blockdev-del", "arguments": { "node-name": "n" } }',
            ],
            True,
            "(a)",
        ),
        (['-> { "execute": "replay-break", "arguments": { "icount": 1 } }'], False, "icount"),
    ],
)
def test_plan(schema: Schema, lines: list[str], replayable: bool, reason: str) -> None:
    tray = (DocArgument("id", "The name or QOM path of the guest device"),)
    how = plan(DocEntry("x", "command", "doc:1", arguments=tray), ex(*lines), schema)
    assert how.replayable is replayable
    assert reason in how.reason


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


def test_setup_takes_the_examples_names_and_maps_references(schema: Schema) -> None:
    example = ex(
        '-> { "execute": "block-dirty-bitmap-clear", "arguments": { "node": "drive0", "name": "bitmap0" } }',
        '<- { "return": {} }',
    )
    how = plan(DocEntry("block-dirty-bitmap-clear", "command", "doc:1"), example, schema)
    assert how.requests == (("block-dirty-bitmap-clear", {"node": "null0", "name": "bitmap0"}),)
    assert how.setup == (("block-dirty-bitmap-add", {"node": "null0", "name": "bitmap0"}, None),)


def test_an_id_is_mapped_only_when_the_doc_says_it_names_a_device(schema: Schema) -> None:
    example = ex('-> { "execute": "announce-self", "arguments": { "id": "bob" } }')
    timer = (DocArgument("id", "A name to be used to identify an instance of announce-timers"),)
    how = plan(DocEntry("announce-self", "command", "doc:1", arguments=timer), example, schema)
    assert how.requests == (("announce-self", {"id": "bob"}),)


def test_unordered_events_come_from_the_doc_text() -> None:
    entry = DocEntry(
        "block-job-complete",
        "command",
        "doc:1",
        summary="The ordering of this command's return with the BLOCK_JOB_COMPLETED event "
        "is not defined.",
    )
    unordered = unordered_events(entry)
    assert unordered == frozenset({"BLOCK_JOB_COMPLETED"})
    assert list(order_diff(["BLOCK_JOB_COMPLETED"], [], ["BLOCK_JOB_COMPLETED"], unordered)) == []
    assert list(order_diff(["BLOCK_JOB_COMPLETED"], [], [], unordered)) != []
