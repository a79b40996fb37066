"""QAPI json doc comments → DocSet: the real corpus, older syntax written inline, fuzzing."""

from __future__ import annotations

import contextlib
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conformance.docs.model import DocEntry, DocError, DocSet, Parse
from conformance.docs.qapi import parse_qapi, parse_qapi_text

LATEST_FILES = (
    "block-core.json",
    "block-export.json",
    "block.json",
    "char.json",
    "common.json",
    "compat.json",
    "control.json",
    "error.json",
    "introspect.json",
    "job.json",
    "misc.json",
    "pragma.json",
    "qapi-schema.json",
    "qdev.json",
    "qom.json",
    "run-state.json",
    "sockets.json",
    "transaction.json",
)
OLD_FILES = ("block-core.json", "qapi-schema.json")


@pytest.fixture(scope="module")
def latest(corpus: Path) -> Path:
    return corpus / "qapi-latest"


@pytest.fixture(scope="module")
def old(corpus: Path) -> Path:
    return corpus / "qapi-2.x"


@pytest.fixture(scope="module")
def latest_docs(latest: Path) -> DocSet:
    return parse_qapi(latest)


@pytest.fixture(scope="module")
def old_docs(old: Path) -> DocSet:
    return parse_qapi(old / "qapi-schema.json")


def _file_of(entry: DocEntry) -> str:
    return Path(entry.source.rsplit(":", 1)[0]).name


def _counts(docs: DocSet, file: str) -> tuple[int, int, int, int, int]:
    """(entries, examples, parsed, repaired, unparsable) for the entries defined in ``file``."""
    entries = [entry for entry in docs.entries.values() if _file_of(entry) == file]
    examples = [example for entry in entries for example in entry.examples]
    status = Counter(message.status for example in examples for message in example.messages)
    return (
        len(entries),
        len(examples),
        status[Parse.PARSED],
        status[Parse.REPAIRED],
        status[Parse.UNPARSABLE],
    )


# --- the corpus: every file reads, alone and as a schema ----------------------------------------


@pytest.mark.parametrize("name", LATEST_FILES)
def test_every_latest_file_parses_alone(latest: Path, name: str) -> None:
    docs = parse_qapi(latest / name)
    assert docs.format == "qapi"
    assert docs.source == str(latest / name)
    for problem in docs.problems:
        assert problem.startswith(str(latest)), problem


@pytest.mark.parametrize("name", OLD_FILES)
def test_every_old_file_parses_alone(old: Path, name: str) -> None:
    docs = parse_qapi(old / name)
    assert docs.entries


def test_both_directories_parse(latest: Path, old: Path) -> None:
    assert parse_qapi(latest).entries
    # qapi-2.x's qapi-schema.json includes qapi/*.json, none of which is here; the
    # directory is read from it alone, so block-core.json beside it is not reached.
    docs = parse_qapi(old)
    assert not any(_file_of(entry) == "block-core.json" for entry in docs.entries.values())
    assert len(docs.entries) == 94


# Per file of qapi-latest: (entries, examples, parsed, repaired, unparsable) of the commands
# and events it defines, read as one schema from qapi-schema.json.
LATEST_COUNTS = {
    "block-core.json": (51, 39, 73, 1, 0),
    "block-export.json": (8, 0, 0, 0, 0),
    "block.json": (11, 15, 39, 0, 0),
    "char.json": (9, 12, 23, 0, 0),
    "common.json": (0, 0, 0, 0, 0),
    "compat.json": (0, 0, 0, 0, 0),
    "control.json": (4, 4, 7, 1, 0),
    "error.json": (0, 0, 0, 0, 0),
    "introspect.json": (1, 0, 0, 0, 0),
    "job.json": (8, 0, 0, 0, 0),
    "misc.json": (16, 16, 30, 0, 0),
    "pragma.json": (0, 0, 0, 0, 0),
    "qapi-schema.json": (0, 0, 0, 0, 0),
    "qdev.json": (6, 5, 8, 0, 0),
    "qom.json": (7, 6, 12, 0, 0),
    "run-state.json": (16, 16, 19, 0, 0),
    "sockets.json": (0, 0, 0, 0, 0),
    "transaction.json": (1, 1, 2, 0, 0),
}


@pytest.mark.parametrize("name", LATEST_FILES)
def test_latest_counts_per_file(latest: Path, latest_docs: DocSet, name: str) -> None:
    assert _counts(latest_docs, name) == LATEST_COUNTS[name]
    # A file read alone documents its own definitions the same way.
    assert _counts(parse_qapi(latest / name), name) == LATEST_COUNTS[name]


def test_latest_totals(latest_docs: DocSet) -> None:
    assert len(latest_docs.commands()) == 106
    assert len(latest_docs.events()) == 32
    # 115 qmp-example blocks; one is in the free-form introduction of qapi-schema.json.
    assert len(latest_docs.examples()) == 114


def test_old_counts(old: Path) -> None:
    alone = parse_qapi(old / "block-core.json")
    assert (len(alone.commands()), len(alone.events()), len(alone.examples())) == (19, 6, 0)
    schema = parse_qapi(old / "qapi-schema.json")
    assert (len(schema.commands()), len(schema.events()), len(schema.examples())) == (94, 0, 0)


# Examples whose messages are not strict JSON as written, and why; anything else showing up
# here (or one of these getting fixed upstream) fails the test.
KNOWN_PROBLEM_EXAMPLES = {
    # query-blockstats' reply drops the commas after "rd_operations":36772 and the
    # *_total_times_ns members: the doc's JSON is wrong, the repair puts them back.
    ("query-blockstats", 1267): ((Parse.REPAIRED, ("missing-comma",)),),
    # query-commands' reply ends its list with "..." because the real one is too long.
    ("query-commands", 139): ((Parse.REPAIRED, ("ellipsis",)),),
}


def test_known_problem_examples(latest_docs: DocSet) -> None:
    found = {}
    for entry, example in latest_docs.examples():
        odd = tuple(
            (message.status, message.repairs)
            for message in example.messages
            if message.status is not Parse.PARSED
        )
        if odd:
            found[(entry.name, example.line)] = odd
    assert found == KNOWN_PROBLEM_EXAMPLES


def test_latest_problems_are_the_missing_includes(latest: Path, latest_docs: DocSet) -> None:
    missing = {
        "acpi", "audio", "authz", "crypto", "cryptodev", "cxl", "dump", "ebpf", "machine",
        "machine-common", "machine-s390x", "migration", "misc-arm", "misc-i386", "net", "pci",
        "replay", "rocker", "stats", "tpm", "trace", "uefi", "ui", "vfio", "virtio", "yank",
    }  # fmt: skip
    assert len(latest_docs.problems) == len(missing)
    for problem in latest_docs.problems:
        assert problem.startswith(f"{latest / 'qapi-schema.json'}:")
        assert "can't read include file" in problem
    # "…: can't read include file '/…/uefi.json': No such file or directory"
    named = {Path(p.rsplit("'", 2)[1]).stem for p in latest_docs.problems}
    assert named == missing


# --- the corpus: what the entries say -----------------------------------------------------------


def test_command_with_optional_argument(latest: Path, latest_docs: DocSet) -> None:
    entry = latest_docs.entries["qmp_capabilities"]
    assert entry.kind == "command"
    assert entry.source == f"{latest / 'control.json'}:38"
    assert entry.summary == "Enable QMP capabilities."
    assert entry.since == "0.13"
    [enable] = entry.arguments
    assert (enable.name, enable.type, enable.optional, enable.since) == (
        "enable",
        "[QMPCapability]",
        True,
        "2.12",
    )
    assert enable.description.startswith("An optional list of `QMPCapability` values")
    assert len(entry.notes) == 2  # two ".. note::" directives
    assert entry.notes[1].startswith("The QMP client needs to explicitly enable")


def test_returns_and_example_prose(latest_docs: DocSet) -> None:
    entry = latest_docs.entries["query-commands"]
    assert entry.returns == "A list of all supported commands"
    [example] = entry.examples
    assert [m.direction for m in example.messages] == ["->", "<-"]
    # The paragraph after the qmp-example block is about the example.
    assert example.prose == "This example has been shortened as the real response is too long."


def test_errors_sections(latest_docs: DocSet) -> None:
    assert latest_docs.entries["block_resize"].errors == (
        "If @device is not a valid block device, DeviceNotFound",
    )
    assert latest_docs.entries["block-dirty-bitmap-remove"].errors == (
        "If @node is not a valid block device or node, DeviceNotFound",
        "If @name is not found, GenericError",
        "if @name is frozen by an operation, GenericError",
    )
    # A bullet wrapped over two lines is one error.
    assert latest_docs.entries["change-backing-file"].errors == (
        'If "device" does not exist or cannot be determined, DeviceNotFound',
    )
    with_errors = [entry for entry in latest_docs.entries.values() if entry.errors]
    assert len(with_errors) == 36  # one per "Errors:" section in the files
    assert all(entry.returns == "" or "If @" not in entry.returns for entry in with_errors)


def test_features_of_command_and_members(latest_docs: DocSet) -> None:
    assert latest_docs.entries["x-blockdev-change"].features == (
        ("unstable", "This command is experimental."),
    )
    # block-commit's doc describes the feature its @base and @top members declare.
    [(name, text)] = latest_docs.entries["block-commit"].features
    assert name == "deprecated"
    assert text.startswith("Members @base and @top are deprecated.")


def test_event_arguments(latest_docs: DocSet) -> None:
    entry = latest_docs.entries["BLOCK_IO_ERROR"]
    assert entry.kind == "event"
    names = [(a.name, a.optional, a.since) for a in entry.arguments]
    assert names[:3] == [
        ("qom-path", False, "9.2"),
        ("device", False, None),
        ("node-name", True, "2.8"),
    ]


def test_conditions(latest_docs: DocSet) -> None:
    conditions = {e.name: e.condition for e in latest_docs.entries.values() if e.condition}
    assert conditions == {"getfd": "CONFIG_POSIX", "get-win32-socket": "CONFIG_WIN32"}


def test_boxed_arguments_come_from_the_struct_and_its_base(latest_docs: DocSet) -> None:
    # 'data': 'DriveBackup', whose 'base' is BackupCommon; the descriptions are the types'.
    entry = latest_docs.entries["drive-backup"]
    names = [a.name for a in entry.arguments]
    assert names[:2] == ["job-id", "device"]
    assert names[-3:] == ["target", "format", "mode"]
    device = next(a for a in entry.arguments if a.name == "device")
    assert device.optional is False
    assert device.description
    # A union's arguments are its base (common) members.
    blockdev_add = latest_docs.entries["blockdev-add"]
    assert [a.name for a in blockdev_add.arguments][:2] == ["driver", "node-name"]
    assert blockdev_add.arguments[0].type == "BlockdevDriver"


def test_titles_and_annotated_examples(latest_docs: DocSet) -> None:
    titled = {
        (entry.name, example.title) for entry, example in latest_docs.examples() if example.title
    }
    assert titled == {
        ("x-blockdev-change", "Add a new node to a quorum"),
        ("x-blockdev-change", "Delete a quorum's node"),
        ("x-blockdev-set-iothread", "Move a node into an IOThread"),
        ("x-blockdev-set-iothread", "Move a node into the main loop"),
        ("QUORUM_REPORT_BAD", "Read operation"),
        ("QUORUM_REPORT_BAD", "Flush operation"),
        ("blockdev-change-medium", "Change a removable medium"),
        ("blockdev-change-medium", "Load a read-only medium into a writable drive"),
        ("qom-get", "Use absolute path"),
        ("qom-get", "Use partial path"),
    }
    annotated = latest_docs.entries["block-latency-histogram-set"].examples
    assert [example.annotated for example in annotated] == [True] * 4
    assert annotated[0].prose.startswith("Set new histograms for all io types")
    assert all(len(example.messages) == 2 for example in annotated)


def test_old_schema(old: Path, old_docs: DocSet) -> None:
    entry = old_docs.entries["add_client"]
    # add_client's doc comment has no opening "##"; it is recovered, with a problem.
    assert entry.summary.startswith("Allow client connections for VNC")
    assert [(a.name, a.optional) for a in entry.arguments] == [
        ("protocol", False),
        ("fdname", False),
        ("skipauth", True),
        ("tls", True),
    ]
    # "#optional" is markup, not part of the description.
    assert entry.arguments[2].description.startswith("whether to skip authentication")
    assert entry.returns == "nothing on success."
    assert entry.since == "0.14.0"
    assert old_docs.entries["query-name"].since == "0.14.0"  # "Since 0.14.0", no colon
    schema = str(old / "qapi-schema.json")
    assert f"{schema}:47: documentation comment lacks its opening '##'" in old_docs.problems
    # "If successful, nothing" is the success value, though it starts with "If".
    assert old_docs.entries["cont"].returns == "If successful, nothing"
    assert old_docs.entries["cont"].errors[0].endswith("has not yet been set, DeviceEncrypted.")
    # A condition that mentions "opened successfully" is still an error condition.
    change = old_docs.entries["change"]
    assert change.returns == "Nothing on success."
    assert change.errors[1].startswith("If the new block device is encrypted, DeviceEncrypted.")
    assert sum(1 for entry in old_docs.entries.values() if entry.errors) == 13


def test_old_returns_holds_the_errors(old: Path) -> None:
    docs = parse_qapi(old / "block-core.json")
    entry = docs.entries["block-commit"]
    assert entry.returns == "Nothing on success"
    assert entry.errors == (
        "If commit or stream is already active on this device, DeviceInUse",
        "If @device does not exist, DeviceNotFound",
        "If image commit is not supported by this device, NotSupported",
        "If @base or @top is invalid, a generic error is returned",
        "If @speed is invalid, InvalidParameter",
    )
    passwd = docs.entries["block_passwd"]
    assert passwd.notes[0].startswith("Not all block formats support encryption")
    # 'type' is the old name of 'struct'; drive-backup's arguments come from one.
    assert [a.name for a in docs.entries["drive-backup"].arguments][:2] == ["device", "target"]
    # The doc documents @ops_rd, the definition has iops_rd: a real typo in QEMU 2.x.
    assert any("'@ops_rd' is not a member of 'block_set_io_throttle'" in p for p in docs.problems)


# --- older syntax, written inline ------------------------------------------------------------

QEMU_72 = """\
# -*- Mode: Python -*-

##
# = Block devices
##

##
# @block_resize:
#
# Resize a block image while a guest is running.
#
# Either @device or @node-name must be set but not both.
#
# @device: the name of the device to get the image resized
#
# @node-name: graph node name to get the image resized (Since 2.0)
#
# @size: new image size in bytes
#
# Returns: - nothing on success
#          - If @device is not a valid block device, DeviceNotFound
#
# Since: 0.14
#
# Example:
#
# -> { "execute": "block_resize",
#      "arguments": { "device": "scratch", "size": 1073741824 } }
# <- { "return": {} }
#
##
{ 'command': 'block_resize',
  'data': { '*device': 'str',
            '*node-name': 'str',
            'size': 'size' },
  'coroutine': true }

##
# @blockdev-change-medium:
#
# Changes the medium inserted into a block device.
#
# @device: Block device name
#
# @id: The name or QOM path of the guest device (since: 2.8)
#
# @filename: filename of the new image to be loaded
#
# Features:
# @deprecated: Member @device is deprecated.  Use @id instead.
#
# Notes: This command is valid exactly when first connecting: it must be
#        issued before any other command will be accepted.
#
#        The second paragraph of the note.
#
# Since: 2.5
#
# Examples:
#
# 1. Change a removable medium
#
# -> { "execute": "blockdev-change-medium",
#      "arguments": { "id": "ide0-1-0",
#                     "filename": "/srv/images/Fedora-12-x86_64-DVD.iso" } }
# <- { "return": {} }
#
# 2. Load a read-only medium into a writable drive
#
# -> { "execute": "blockdev-change-medium",
#      "arguments": { "id": "floppyA",
#                     "filename": "/srv/images/ro.img" } }
# <- { "return": {} }
#
##
{ 'command': 'blockdev-change-medium',
  'data': { '*device': { 'type': 'str', 'features': [ 'deprecated' ] },
            '*id': 'str',
            'filename': 'str' },
  'if': { 'all': [ 'CONFIG_A', { 'not': 'CONFIG_B' } ] } }

##
# @SHUTDOWN:
#
# Emitted when the virtual machine has shut down.
#
# @guest: If true, the shutdown was triggered by a guest request
#
# Note: If the command-line option "-no-shutdown" has been specified,
# qemu will not exit, and a STOP event will eventually follow the
# SHUTDOWN event
#
# Since: 0.12
#
# Example:
#
# <- { "event": "SHUTDOWN", "data": { "guest": true },
#      "timestamp": { "seconds": 1267040730, "microseconds": 682951 } }
#
##
{ 'event': 'SHUTDOWN', 'data': { 'guest': 'bool' },
  'if': { 'any': [ 'CONFIG_X', 'CONFIG_Y' ] } }
"""


@pytest.fixture(scope="module")
def docs_72() -> DocSet:
    return parse_qapi_text(QEMU_72, source="misc.json")


def test_72_flush_left_example_and_returns_errors(docs_72: DocSet) -> None:
    entry = docs_72.entries["block_resize"]
    assert entry.source == "misc.json:32"
    assert entry.summary == (
        "Resize a block image while a guest is running.\n\n"
        "Either @device or @node-name must be set but not both."
    )
    assert [(a.name, a.type, a.optional, a.since) for a in entry.arguments] == [
        ("device", "str", True, None),
        ("node-name", "str", True, "2.0"),
        ("size", "size", False, None),
    ]
    assert entry.returns == "nothing on success"
    assert entry.errors == ("If @device is not a valid block device, DeviceNotFound",)
    assert entry.since == "0.14"
    [example] = entry.examples
    assert example.line == 25  # the "Example:" line
    assert [(m.direction, m.status, m.line) for m in example.messages] == [
        ("->", Parse.PARSED, 27),
        ("<-", Parse.PARSED, 29),
    ]
    assert example.messages[0].value == {
        "execute": "block_resize",
        "arguments": {"device": "scratch", "size": 1073741824},
    }
    assert docs_72.problems == []


def test_72_features_notes_and_numbered_examples(docs_72: DocSet) -> None:
    entry = docs_72.entries["blockdev-change-medium"]
    assert entry.arguments[1].since == "2.8"
    assert entry.features == (("deprecated", "Member @device is deprecated.  Use @id instead."),)
    assert entry.notes == (
        "This command is valid exactly when first connecting: it must be\n"
        "issued before any other command will be accepted.\n\n"
        "The second paragraph of the note.",
    )
    # Two numbered examples in one "Examples:" section stay one example.
    [example] = entry.examples
    assert len(example.messages) == 4
    assert example.prose == (
        "1. Change a removable medium\n\n2. Load a read-only medium into a writable drive"
    )
    assert entry.condition == "(CONFIG_A and not CONFIG_B)"


def test_72_event_with_flush_left_note(docs_72: DocSet) -> None:
    entry = docs_72.entries["SHUTDOWN"]
    assert entry.kind == "event"
    assert entry.notes == (
        'If the command-line option "-no-shutdown" has been specified,\n'
        "qemu will not exit, and a STOP event will eventually follow the\n"
        "SHUTDOWN event",
    )
    [example] = entry.examples
    [message] = example.messages
    assert message.direction == "<-"
    assert message.value == {
        "event": "SHUTDOWN",
        "data": {"guest": True},
        "timestamp": {"seconds": 1267040730, "microseconds": 682951},
    }
    assert entry.condition == "(CONFIG_X or CONFIG_Y)"


def test_old_optional_marker_and_missing_colons() -> None:
    docs = parse_qapi_text(
        """\
##
# @set_password
#
# Sets the password of a remote display session.
#
# @protocol: `vnc' to modify the VNC server password
#            `spice' to modify the Spice server password
#
# @connected: #optional how to handle connected clients when changing the
#             password.
#
# @password: #optional marked but mandatory
#
# Returns: Nothing on success
#          If Spice is not enabled, DeviceNotFound
#
# Since 0.14.0
##
{ 'command': 'set_password',
  'data': {'protocol': 'str', 'password': 'str', '*connected': 'str'} }
""",
        source="old.json",
    )
    entry = docs.entries["set_password"]
    assert [(a.name, a.optional) for a in entry.arguments] == [
        ("protocol", False),
        ("password", False),
        ("connected", True),
    ]
    assert entry.arguments[0].description == (
        "`vnc' to modify the VNC server password\n`spice' to modify the Spice server password"
    )
    assert entry.arguments[2].description == (
        "how to handle connected clients when changing the\npassword."
    )
    assert entry.returns == "Nothing on success"
    assert entry.errors == ("If Spice is not enabled, DeviceNotFound",)
    assert entry.since == "0.14.0"
    assert docs.problems == [
        "old.json:2: '@set_password' lacks its ':'",
        "old.json:17: 'Since' lacks its ':'",
        "old.json:12: '@password' is marked #optional but is mandatory",
    ]


def test_new_style_sections_end_at_flush_left_paragraphs() -> None:
    docs = parse_qapi_text(
        """\
##
# @cmd:
#
# Summary line.
#
# @arg: first line
#     second line
#
#     second paragraph
#
# Returns: the value
#
# This paragraph is detail, not part of Returns.
#
# Errors:
#     - If @arg is bad,
#       GenericError
#     - If the moon is full, GenericError
#
# Since: 9.1
#
# .. qmp-example::
#    :title: With a title
#
#    -> { "execute": "cmd", "arguments": { "arg": 'x' } }
#    <- { "return": 1 }
#
# .. qmp-example::
#    :annotated:
#
#    Some explanation::
#
#      -> { "execute": "cmd" }
#      <- { "return": 2 }
#
# .. caution:: Be careful.
##
{ 'command': 'cmd', 'data': { 'arg': 'str' }, 'returns': 'int' }
""",
        source="new.json",
    )
    entry = docs.entries["cmd"]
    assert entry.arguments[0].description == "first line\nsecond line\n\nsecond paragraph"
    assert entry.returns == "the value"
    assert entry.errors == ("If @arg is bad, GenericError", "If the moon is full, GenericError")
    assert entry.notes == ("This paragraph is detail, not part of Returns.", "Caution: Be careful.")
    first, second = entry.examples
    assert (first.title, first.annotated, first.line) == ("With a title", False, 22)
    assert first.messages[0].status is Parse.REPAIRED  # 'x' is single-quoted
    assert first.messages[0].repairs == ("single-quotes",)
    assert (second.title, second.annotated, second.prose) == ("", True, "Some explanation::")
    assert [m.value for m in second.messages] == [{"execute": "cmd"}, {"return": 2}]
    assert docs.problems == []


def test_messages_outside_an_example_are_reported() -> None:
    docs = parse_qapi_text(
        """\
##
# @cmd:
#
# .. qmp-example::
#
# -> { "execute": "cmd" }
# <- { "return": {} }
##
{ 'command': 'cmd' }
""",
        source="m.json",
    )
    # The arrows are not indented, so rST ends the directive before them.
    [example] = docs.entries["cmd"].examples
    assert example.messages == ()
    assert docs.problems == ["m.json:6: example messages outside an example"]


def test_definition_kinds_and_unknown_types() -> None:
    docs = parse_qapi_text(
        """\
{ 'struct': 'Base', 'data': { 'a': 'int' } }
##
# @Args:
#
# @b: from Args
##
{ 'struct': 'Args', 'base': 'Base', 'data': { '*b': ['str'] } }
{ 'command': 'boxed', 'data': 'Args', 'boxed': true }
{ 'command': 'elsewhere', 'data': 'NotHere' }
{ 'event': 'NO_DATA' }
""",
        source="kinds.json",
    )
    boxed = docs.entries["boxed"]
    assert [(a.name, a.type, a.optional, a.description) for a in boxed.arguments] == [
        ("a", "int", False, ""),
        ("b", "[str]", True, "from Args"),
    ]
    assert docs.entries["elsewhere"].arguments == ()
    assert docs.entries["NO_DATA"].arguments == ()
    assert (
        "kinds.json:9: arguments of 'elsewhere' come from type 'NotHere', which is not "
        "defined in the parsed files" in docs.problems
    )
    assert "kinds.json:8: command 'boxed' is undocumented" in docs.problems


def test_doc_not_followed_by_its_definition() -> None:
    docs = parse_qapi_text(
        """\
##
# @lost:
#
# Nothing follows this.
##

##
# @found:
##
{ 'command': 'found' }
##
# @other:
##
{ 'command': 'different' }
""",
        source="x.json",
    )
    assert docs.problems == [
        "x.json:2: documentation for 'lost' is not followed by the definition",
        "x.json:12: documentation for 'other' precedes the definition of 'different'",
    ]
    assert set(docs.entries) == {"found", "different"}


def test_syntax_errors_are_problems_and_parsing_goes_on() -> None:
    docs = parse_qapi_text(
        """\
{ 'command': 'broken', 'data': { 'a': 'int' }
{ 'command': 'fine' }
{ "command": "double-quoted" }
{ 'command': 'unterminated }
##
# @after:
##
{ 'command': 'after' }
""",
        source="bad.json",
    )
    assert set(docs.entries) == {"fine", "after"}
    assert docs.problems == [
        "bad.json:2: expected ',' or '}', found '{'",  # 'broken' lacks its closing brace
        "bad.json:3: stray '\"'",  # QAPI strings are single-quoted
        "bad.json:3: expected string or '}', found ':'",
        'bad.json:4: missing terminating "\'"',
        "bad.json:5: expected ',' or '}', found a doc comment",
        "bad.json:2: command 'fine' is undocumented",
    ]


# --- includes and errors --------------------------------------------------------------------


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_includes_are_followed_once_each(tmp_path: Path) -> None:
    root = _write(
        tmp_path / "qapi-schema.json",
        "{ 'include': 'sub/a.json' }\n{ 'include': 'b.json' }\n"
        "{ 'include': 'missing.json' }\n{ 'command': 'root-cmd' }\n",
    )
    _write(
        tmp_path / "sub" / "a.json",
        "{ 'include': '../b.json' }\n{ 'include': 'a.json' }\n"
        "##\n# @a-cmd:\n#\n# From a.\n##\n{ 'command': 'a-cmd', 'data': 'BStruct' }\n",
    )
    _write(
        tmp_path / "b.json",
        "{ 'include': 'sub/a.json' }\n"
        "##\n# @BStruct:\n#\n# @x: the x\n##\n{ 'struct': 'BStruct', 'data': { 'x': 'int' } }\n",
    )
    _write(tmp_path / "unreached.json", "{ 'command': 'unreached' }\n")
    for path in (tmp_path, root):
        docs = parse_qapi(path)
        # Included files come in at their first include, as QEMU orders them.
        assert list(docs.entries) == ["a-cmd", "root-cmd"]
        assert docs.entries["a-cmd"].source == f"{tmp_path / 'sub' / 'a.json'}:8"
        assert docs.entries["a-cmd"].arguments[0].description == "the x"
        assert len(docs.problems) == 2  # the missing include, and root-cmd has no doc
        assert docs.problems[0].startswith(f"{root}:3: can't read include file ")
        assert "missing.json" in docs.problems[0]


def test_directory_without_schema_reads_every_json(tmp_path: Path) -> None:
    _write(tmp_path / "b.json", "{ 'command': 'b' }\n")
    _write(tmp_path / "a.json", "{ 'event': 'A' }\n")
    _write(tmp_path / "notes.txt", "{ 'command': 'not-json' }\n")
    docs = parse_qapi(tmp_path)
    assert list(docs.entries) == ["A", "b"]
    assert docs.source == str(tmp_path)


def test_text_ignores_includes() -> None:
    docs = parse_qapi_text("{ 'include': 'x.json' }\n{ 'command': 'c' }\n", source="t")
    assert "t:1: include of 'x.json' not followed (no file to resolve it from)" in docs.problems


def test_doc_errors(tmp_path: Path) -> None:
    cases = {
        "missing": tmp_path / "nope.json",
        "binary": tmp_path / "binary.json",
        "latin1": tmp_path / "latin1.json",
        "prose": tmp_path / "prose.json",
        "json": tmp_path / "real.json",
        "empty-dir": tmp_path / "empty",
    }
    cases["binary"].write_bytes(b"{ 'command': 'x' }\0\1\2")
    cases["latin1"].write_bytes(b"# caf\xe9\n{ 'command': 'x' }\n")
    cases["prose"].write_text("This is not a schema.\n# just a comment\n", encoding="utf-8")
    cases["json"].write_text('{"command": "x"}\n', encoding="utf-8")
    cases["empty-dir"].mkdir()
    for what, path in cases.items():
        with pytest.raises(DocError) as raised:
            parse_qapi(path)
        message = str(raised.value)
        assert "\n" not in message, what
        assert str(path) in message, what
    with pytest.raises(DocError):
        parse_qapi_text("")
    with pytest.raises(DocError):
        parse_qapi_text("{ 'not-qapi': 'x' }")


# --- fuzzing: odd content never raises ----------------------------------------------------------

_FRAGMENTS = (
    "",
    "@arg:",
    "@arg: text",
    "@other:",
    "Features:",
    "Returns:",
    "Returns: - nothing on success",
    "- If @arg is bad, GenericError",
    "Errors:",
    "Since: 1.0",
    "Since 2.0",
    "Note:",
    "Notes:",
    "Example:",
    "Examples:",
    "TODO:",
    ".. qmp-example::",
    ".. note::",
    ".. admonition:: Notes",
    ".. code-block:: QMP",
    "   :title: a title",
    "   :annotated:",
    "   :caption: cap",
    "-> {",
    '<- { "return": {} }',
    '-> { "execute": "x" }',
    "}",
    "...",
    "#optional",
    "=",
    "##",
    "# @name:",
)
_LINE = st.tuples(
    st.sampled_from(("", " ", "   ", "    ", "\t")),
    st.one_of(
        st.sampled_from(_FRAGMENTS), st.text(alphabet=st.characters(exclude_characters="\n"))
    ),
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(lines=st.lists(_LINE, max_size=40))
def test_fuzz_doc_comment_never_raises(lines: list[tuple[str, str]]) -> None:
    body = "".join(f"# {indent}{text}\n" for indent, text in lines)
    text = f"##\n# @cmd:\n#\n{body}##\n{{ 'command': 'cmd', 'data': {{ 'arg': 'str' }} }}\n"
    docs = parse_qapi_text(text, source="fuzz.json")
    assert "cmd" in docs.entries
    for problem in docs.problems:
        assert problem.startswith("fuzz.json:")


@settings(max_examples=300)
@given(text=st.text())
def test_fuzz_any_text_parses_or_raises_doc_error(text: str) -> None:
    with contextlib.suppress(DocError):
        parse_qapi_text(text)


# Pieces of schema syntax, so that the fuzzer builds expressions and doc comments, not noise.
_SCHEMA_TOKENS = (
    "{", "}", "[", "]", ":", ",", "'command'", "'event'", "'data'", "'x'", "true", "\n",
    "##\n", "# @x:\n", "# text\n", "'if'", "'all'", "'not'", "'include'", "'*a'",
)  # fmt: skip


@settings(max_examples=200)
@given(tokens=st.lists(st.sampled_from(_SCHEMA_TOKENS), max_size=60))
def test_fuzz_schema_tokens_never_raise(tokens: list[str]) -> None:
    with contextlib.suppress(DocError):
        parse_qapi_text(" ".join(tokens))


def test_deep_nesting_is_a_problem_not_a_crash() -> None:
    docs = parse_qapi_text("{ 'command': 'deep', 'data': " + "[" * 5000 + "\n{ 'command': 'ok' }\n")
    assert "ok" in docs.entries
    assert any("nested too deeply" in problem for problem in docs.problems)
