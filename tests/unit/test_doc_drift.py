"""Drift between a doc set and the recorded 7.2 schema: every kind can fire, and only then."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from conformance.docs.drift import KINDS, Drift, drift, excludes_target, summary
from conformance.docs.examples import parse_example
from conformance.docs.model import DocArgument, DocEntry, DocSet
from conformance.spec import Schema, load_schema_file


@pytest.fixture(scope="module")
def schema(schema_72_x86: Path) -> Schema:
    return load_schema_file(schema_72_x86)


def docs(*entries: DocEntry) -> DocSet:
    return DocSet("synthetic", "man", {e.name: e for e in entries})


def example(*lines: str) -> tuple[object, ...]:
    return (parse_example(list(enumerate(lines, start=1))),)


def everything(schema: Schema, *extra: DocEntry) -> DocSet:
    """Every command and event of the schema documented plainly, plus `extra`."""
    entries = [DocEntry(n, "command", f"doc:{i}") for i, n in enumerate(schema.commands)]
    entries += [DocEntry(n, "event", "doc:0") for n in schema.events]
    base = {e.name: e for e in entries}
    base.update({e.name: e for e in extra})
    return DocSet("synthetic", "man", base)


def kinds(items: list[Drift]) -> set[str]:
    return {i.kind for i in items}


def test_a_faithful_doc_set_has_no_drift(schema: Schema) -> None:
    ok = DocEntry(
        "blockdev-open-tray",
        "command",
        "doc:1",
        arguments=(
            DocArgument("id", type="string", optional=True),
            DocArgument("device", optional=True),
            DocArgument("force", type="bool", optional=True),
        ),
        examples=example(
            '-> { "execute": "blockdev-open-tray", "arguments": { "id": "ide0-1-0" } }',
            '<- { "return": {} }',
        ),
    )
    assert drift(everything(schema, ok), schema) == []


def test_presence(schema: Schema) -> None:
    ghost = DocEntry("x-no-such-command", "command", "doc:9", condition="CONFIG_GHOST")
    partial = DocSet("synthetic", "man", {"x-no-such-command": ghost})
    items = drift(partial, schema)
    absent = [i for i in items if i.kind == "documented-but-absent"]
    assert [(i.name, "CONFIG_GHOST" in i.detail) for i in absent] == [("x-no-such-command", True)]
    undocumented = {i.name for i in items if i.kind == "present-but-undocumented"}
    assert undocumented == set(schema.commands) | set(schema.events)


@pytest.mark.parametrize(
    ("condition", "target", "expected_absent"),
    [
        ("TARGET_S390X", "x86_64", True),
        ("TARGET_I386", "x86_64", False),  # x86_64 is built with TARGET_I386 too
        ("TARGET_ARM", "aarch64", False),
        ("TARGET_S390X or TARGET_I386 or TARGET_ARM", "riscv64", True),
        ("TARGET_S390X or TARGET_I386 or TARGET_ARM", "s390x", False),
        ("TARGET_S390X and CONFIG_KVM", "x86_64", True),  # false whatever CONFIG_KVM is
        ("TARGET_S390X and CONFIG_KVM", "s390x", False),  # depends on CONFIG_KVM: drift
        ("TARGET_I386 or CONFIG_X", "arm", False),
        ("not (TARGET_ARM)", "arm", True),
        ("CONFIG_SPICE", "x86_64", False),  # the binary doesn't say: still drift
        ("TARGET_S390X and (", "x86_64", False),  # unparsable: excludes nothing
        ("TARGET_I386", "qemu-storage-daemon", True),
        # The binary runs on this (Linux) host, so it was built for it.
        ("CONFIG_WIN32", "x86_64", sys.platform != "win32"),
        ("CONFIG_POSIX and CONFIG_SPICE", "x86_64", False),  # SPICE unknown: drift
        ("CONFIG_LINUX and TARGET_S390X", "x86_64", True),
        ("not CONFIG_POSIX", "x86_64", os.name == "posix"),
    ],
)
def test_a_definition_for_other_targets_is_not_expected(
    schema: Schema, condition: str, target: str, expected_absent: bool
) -> None:
    ghost = DocEntry("x-no-such-command", "command", "doc:9", condition=condition)
    items = drift(everything(schema, ghost), schema, target)
    drifted = [i.name for i in items if i.kind == "documented-but-absent"]
    assert drifted == ([] if expected_absent else ["x-no-such-command"])
    assert excludes_target(condition, target) is expected_absent


@pytest.mark.parametrize(
    ("argument", "kind"),
    [
        (DocArgument("bogus", optional=True), "argument-not-in-binary"),
        (DocArgument("id", type="string", optional=False), "argument-optionality"),
        (DocArgument("id", type="int", optional=True), "argument-type"),
    ],
)
def test_argument_drift(schema: Schema, argument: DocArgument, kind: str) -> None:
    others = (DocArgument("device", optional=True), DocArgument("force", optional=True))
    args = (
        (argument, *others)
        if argument.name != "bogus"
        else (DocArgument("id", optional=True), argument, *others)
    )
    entry = DocEntry("blockdev-open-tray", "command", "doc:1", arguments=args)
    found = drift(everything(schema, entry), schema)
    assert kinds(found) == {kind}
    assert found[0].path == f"$.{argument.name}"


def test_undocumented_argument(schema: Schema) -> None:
    entry = DocEntry(
        "blockdev-open-tray", "command", "doc:1", arguments=(DocArgument("id", optional=True),)
    )
    found = drift(everything(schema, entry), schema)
    assert sorted(i.path for i in found) == ["$.device", "$.force"]
    assert kinds(found) == {"argument-undocumented"}


@pytest.mark.parametrize(
    ("lines", "kind", "path"),
    [
        (
            ['-> { "execute": "blockdev-open-tray", "arguments": { "id": 5 } }'],
            "example-request",
            "$.arguments.id",
        ),
        (
            [
                '-> { "execute": "query-status" }',
                '<- { "return": { "running": "yes", "singlestep": false, "status": "running" } }',
            ],
            "example-reply",
            "$.return.running",
        ),
        (
            [
                '<- { "event": "SHUTDOWN", "data": { "guest": true }, "timestamp": { "seconds": 1, "microseconds": 2 } }'
            ],
            "example-event",
            "$.data.reason",
        ),
    ],
)
def test_example_drift(schema: Schema, lines: list[str], kind: str, path: str) -> None:
    entry = DocEntry("query-status", "command", "doc:1", examples=example(*lines))
    found = drift(everything(schema, entry), schema)
    assert kinds(found) == {kind}
    assert found[0].path == path


def test_elided_replies_may_lack_members(schema: Schema) -> None:
    entry = DocEntry(
        "query-status",
        "command",
        "doc:1",
        examples=example(
            '-> { "execute": "query-status" }', '<- { "return": { "running": false, ... } }'
        ),
    )
    assert drift(everything(schema, entry), schema) == []


def test_summary_counts_every_kind(schema: Schema) -> None:
    assert set(summary([])) == set(KINDS)
