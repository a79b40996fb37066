"""The qmp-commands.hx parser: the real QEMU 2.x file, the .args_type mini-language, and the
grammar variants on small synthetic files."""

from __future__ import annotations

import tempfile
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conformance.docs.hx import TableArgument, describe_args_type, parse_args_type, parse_hx
from conformance.docs.model import DocArgument, DocEntry, DocError, DocSet, Parse

# --- the real file -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def hx(corpus: Path) -> DocSet:
    path = corpus / "hx" / "qmp-commands.hx"
    if not path.is_file():
        pytest.skip(f"{path} is missing from the corpus")
    return parse_hx(path)


def arguments(entry: DocEntry) -> dict[str, bool | None]:
    return {a.name: a.optional for a in entry.arguments}


def test_real_file_parses(hx: DocSet) -> None:
    assert hx.format == "hx"
    assert len(hx.entries) == 123
    assert len(hx.commands()) == 123
    assert hx.events() == []
    assert all(p.startswith(hx.source + ":") for p in hx.problems)


def test_known_commands_and_their_arguments(hx: DocSet) -> None:
    device_del = hx.entries["device_del"]
    assert device_del.source == f"{hx.source}:317"
    assert device_del.summary == "Remove a device."
    assert device_del.arguments == (
        DocArgument(
            "id",
            "the device's ID or QOM path (json-string)",
            "json-string; s (string)",
            optional=False,
        ),
    )
    assert len(device_del.examples) == 2

    # The doc marks only mode and format optional; the table makes device, node-name and
    # snapshot-node-name optional too. What the doc states is kept (and listed as problems).
    assert arguments(hx.entries["blockdev-snapshot-sync"]) == {
        "device": False,
        "node-name": False,
        "snapshot-file": False,
        "snapshot-node-name": False,
        "mode": True,
        "format": True,
    }
    assert hx.entries["blockdev-snapshot-sync"].arguments[4].type == "NewImageMode; s (string)"

    # No Arguments: section at all: the table's query-nodes is added, optional as in the table.
    blockstats = hx.entries["query-blockstats"]
    assert blockstats.arguments == (DocArgument("query-nodes", "", "b (bool)", optional=True),)
    assert blockstats.returns.startswith("Each device statistic information is stored")

    x_del = hx.entries["x-blockdev-del"]
    assert arguments(x_del) == {"id": True, "node-name": True}
    assert x_del.since == "2.5"
    assert [m.direction for m in x_del.examples[0].messages] == ["->", "<-", "->", "<-"]

    tray = hx.entries["blockdev-open-tray"]
    assert arguments(tray) == {"device": False, "force": True}
    # The event comes before the return.
    values = [m.value for m in tray.examples[0].messages]
    assert isinstance(values[1], dict)
    assert values[1]["event"] == "DEVICE_TRAY_MOVED"
    assert values[2] == {"return": {}}

    postcopy = hx.entries["migrate-start-postcopy"]
    assert postcopy.arguments == ()
    assert [m.value for m in postcopy.examples[0].messages] == [
        {"execute": "migrate-start-postcopy"},
        {"return": {}},
    ]

    transaction = hx.entries["transaction"]
    assert arguments(transaction) == {"actions": False, "properties": True}
    actions = transaction.arguments[0]
    assert actions.type == "array; q (any JSON value)"
    assert '"type": the operation to perform' in actions.description

    backup = hx.entries["blockdev-backup"]
    assert arguments(backup) == {
        "job-id": True,
        "device": False,
        "target": False,
        "sync": False,
        "speed": True,
        "on-source-error": True,
        "on-target-error": True,
    }
    assert backup.arguments[2].type == "json-string; B (block device)"
    assert backup.arguments[3].type == "MirrorSyncMode; s (string)"


def test_sections_of_an_entry(hx: DocSet) -> None:
    migrate = hx.entries["migrate"]
    assert [a.type for a in migrate.arguments] == [
        "json-bool; -b (flag)",
        "json-bool; -i (flag)",
        "json-string; s (string)",
        "-d (flag)",  # detach: only in the table
    ]
    assert len(migrate.notes) == 3
    assert migrate.notes[1] == "(2) All boolean arguments default to false"

    backing = hx.entries["change-backing-file"]
    assert backing.since == "2.1"
    assert backing.returns == "Nothing on success"
    assert backing.errors == ('If "device" does not exist or cannot be determined, DeviceNotFound',)
    assert backing.examples == ()

    commit = hx.entries["block-commit"]
    (backing_file,) = (a for a in commit.arguments if a.name == "backing-file")
    assert backing_file.since == "2.1"
    assert backing_file.optional is True
    assert "\n\nIf a pathname string" in backing_file.description

    assert hx.entries["query-spice"].condition == "CONFIG_SPICE"
    assert hx.entries["dump-skeys"].condition == "TARGET_S390X"
    assert hx.entries["quit"].condition is None
    assert hx.entries["query-version"].returns.startswith("Return a json-object")
    # A Note: paragraph after the example.
    assert hx.entries["eject"].notes == ('The "force" argument defaults to false.',)


def test_odd_headings(hx: DocSet) -> None:
    # "dump", not underlined, documents dump-guest-memory (the table entry before it).
    dump = hx.entries["dump-guest-memory"]
    assert dump.source == f"{hx.source}:875"
    assert "dump" not in hx.entries
    # Title headings document the table entry before their block; the title leads the summary.
    rocker = hx.entries["query-rocker"]
    assert rocker.summary == "Show rocker switch"
    assert hx.entries["query-hotpluggable-cpus"].summary == "Show existing/possible CPUs"
    # "@query-named-block-nodes": the QAPI "@" is dropped.
    assert "query-named-block-nodes" in hx.entries


def test_example_titles_and_prose(hx: DocSet) -> None:
    titles = [x.title for x in hx.entries["change"].examples]
    assert titles == ["Change a removable medium", "Change VNC password"]
    assert [len(x.messages) for x in hx.entries["query-migrate"].examples] == [2] * 6
    assert [x.title for x in hx.entries["blockdev-add"].examples] == ["(1)", "(2)"]
    cpus = hx.entries["query-hotpluggable-cpus"].examples
    assert cpus[0].title == (
        "for pseries machine type started with -smp 2,cores=2,maxcpus=4 -cpu POWER8"
    )
    change = hx.entries["x-blockdev-change"].examples[0]
    assert change.prose == "Add a new node to a quorum\n\nDelete a quorum's node"
    assert len(change.messages) == 6


# The messages that are not strict JSON as written, by (entry, line, direction).
KNOWN_PROBLEM_MESSAGES = {
    # The reply never closes its outer object: "] }" ends "return", the last "}" is missing.
    ("query-dump-guest-memory-capability", 922, "<-"): (Parse.UNPARSABLE, ()),
    # Commas lost after "rd_operations", "wr_total_times_ns" and "rd_total_times_ns" in the
    # stats of each device.
    ("query-blockstats", 2771, "<-"): (Parse.REPAIRED, ("missing-comma",)),
    # "[ ... more channels follow ... ]" stands for the channels left out.
    ("query-spice", 3399, "<-"): (Parse.REPAIRED, ("ellipsis",)),
    # A comma after "actual", the only member.
    ("query-balloon", 3861, "<-"): (Parse.REPAIRED, ("trailing-comma",)),
    # "{...more...}," stands for more flows, and its comma is left before "]".
    ("query-rocker-of-dpa-flows", 4951, "<-"): (Parse.REPAIRED, ("ellipsis", "trailing-comma")),
    # A stray "'" after the closing "]}" of the reply.
    ("query-hotpluggable-cpus", 5033, "<-"): (Parse.UNPARSABLE, ()),
}


def test_every_example_message_is_classified(hx: DocSet) -> None:
    messages = [(e, m) for e, x in hx.examples() for m in x.messages]
    counts = Counter(m.status for _, m in messages)
    assert len(hx.examples()) == 133
    assert counts == {Parse.PARSED: 283, Parse.REPAIRED: 4, Parse.UNPARSABLE: 2}
    assert Counter(m.direction for _, m in messages) == {"->": 144, "<-": 145}
    odd = {
        (e.name, m.line, m.direction): (m.status, m.repairs)
        for e, m in messages
        if m.status is not Parse.PARSED
    }
    assert odd == KNOWN_PROBLEM_MESSAGES
    for _, m in messages:
        assert (m.value is None) == (m.status is Parse.UNPARSABLE)
        assert (m.problem is None) == (m.status is not Parse.UNPARSABLE)


def test_unparsable_messages_say_why(hx: DocSet) -> None:
    problems = {
        e.name: m.problem for e, x in hx.examples() for m in x.messages if m.problem is not None
    }
    assert problems == {
        "query-dump-guest-memory-capability": "Expecting ',' delimiter at byte 97",
        "query-hotpluggable-cpus": "Extra data at byte 249",
    }


def test_every_command_message_executes_a_known_command(hx: DocSet) -> None:
    for entry, example in hx.examples():
        for message in example.messages:
            if message.direction == "->" and isinstance(message.value, dict):
                assert message.value["execute"] in hx.entries, (entry.name, message.line)


def test_problems_of_the_real_file(hx: DocSet) -> None:
    problems = [p.removeprefix(hx.source + ":") for p in hx.problems]
    assert "5023: SQMP block not closed by EQMP" in problems
    assert "875: heading 'dump' is not underlined" in problems
    assert (
        "888: dump-guest-memory: argument 'begin' is documented as required but "
        ".args_type has begin:i?"
    ) in problems
    assert "3727: migrate-set-capabilities: empty Arguments: section" in problems
    assert "293: device_add: argument item without a name: - device properties" in problems
    assert "1316: 'block-job-set-speed' is in the table but has no SQMP block" in problems
    # device_add takes any member (device:O), so its documented arguments are no problem.
    assert not any("device_add: argument 'driver'" in p for p in problems)
    assert len(problems) == 71


# --- .args_type ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", ()),
        (
            "device:B,target:F,arg:s?",
            (
                TableArgument("device", "B", optional=False),
                TableArgument("target", "F", optional=False),
                TableArgument("arg", "s", optional=True),
            ),
        ),
        (
            "force:-f,detach:b?",
            (TableArgument("force", "-f", optional=True), TableArgument("detach", "b", True)),
        ),
        ("device:O", (TableArgument("device", "O", optional=False),)),
        (
            "value:M,size:o?,keys:q",
            (
                TableArgument("value", "M", False),
                TableArgument("size", "o", True),
                TableArgument("keys", "q", False),
            ),
        ),
    ],
)
def test_parse_args_type(text: str, expected: tuple[TableArgument, ...]) -> None:
    assert parse_args_type(text) == expected


@pytest.mark.parametrize("text", ["device", "device:", ":B", "a:B,,b:s", "a:s??", "a b:s"])
def test_parse_args_type_rejects_malformed_pieces(text: str) -> None:
    with pytest.raises(ValueError, match=r"bad \.args_type piece"):
        parse_args_type(text)


def test_readable_types() -> None:
    assert describe_args_type("device:B,force:-f,value:T,opts:O,x:s?") == (
        "device: B (block device), force: -f (flag), optional, value: T (number), "
        "opts: O (options dict), x: s (string), optional"
    )
    assert TableArgument("device", "O", False).accepts_unknowns
    assert TableArgument("weird", "Z", False).type == "Z"


# --- synthetic files: grammar variants -----------------------------------------------------------


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "qmp-commands.hx"
    path.write_text(text)
    return path


TABLE = """
    {{
        .name       = "{name}",
        .args_type  = "{args}",
        .mhandler.cmd_new = qmp_marshal_x,
    }},
"""


def test_variants_of_items_headings_and_sections(tmp_path: Path) -> None:
    text = (
        TABLE.format(name="x-cmd", args="alpha:s,beta:i?,gamma:b?")
        + """
SQMP
@x-cmd
------
Since: 2.9

Do a thing.

Arguments:
- alpha:   bare name, type later
           (json-string)
- "beta": first paragraph

          second paragraph (json-int, optional) (Since 2.10)

The rest is description again.

Example (1):
-> { 'execute': 'x-cmd', 'arguments': { 'alpha': 'a' } }
<- { "return": {} }

Notes:

(1) first
(2) second,
    continued

EQMP
"""
    )
    docs = parse_hx(write(tmp_path, text))
    entry = docs.entries["x-cmd"]
    assert entry.since == "2.9"
    assert entry.summary == "Do a thing.\n\nThe rest is description again."
    assert [(a.name, a.optional, a.since) for a in entry.arguments] == [
        ("alpha", False, None),
        ("beta", True, "2.10"),
        ("gamma", True, None),  # from the table
    ]
    assert entry.arguments[1].description == (
        "first paragraph\n\nsecond paragraph (json-int, optional) (Since 2.10)"
    )
    (example,) = entry.examples
    assert example.title == "(1)"
    assert [m.status for m in example.messages] == [Parse.REPAIRED, Parse.PARSED]
    assert entry.notes == ("(1) first", "(2) second,\n    continued")
    assert docs.problems == [
        f"{docs.source}:2: x-cmd: .args_type argument 'gamma' is not documented"
    ]


def test_query_table_after_block_and_conditions(tmp_path: Path) -> None:
    text = """HXCOMM a comment
SQMP
query-x
-------

Show x.

Return a json-object with the following information:

- "x": the x (json-int)

Example:

-> { "execute": "query-x" }
<- { "return": { "x": 1 } }

EQMP

#if defined(CONFIG_X) /* only with x */
    {
        .name       = "query-x",
        .args_type  = "verbose:b?,"
                      "depth:i?",
        .mhandler.cmd_new = qmp_marshal_query_x,
    },
#endif
"""
    docs = parse_hx(write(tmp_path, text))
    entry = docs.entries["query-x"]
    assert entry.condition == "CONFIG_X"
    assert entry.returns.startswith("Return a json-object")
    assert [(a.name, a.type, a.optional) for a in entry.arguments] == [
        ("verbose", "b (bool)", True),
        ("depth", "i (int)", True),
    ]


def test_several_headings_in_one_block_and_events(tmp_path: Path) -> None:
    text = """
SQMP
1. Chapter
==========

Intro text.

first-cmd
---------

First.

Arguments: None.

SECOND_EVENT
------------

Emitted.

Example:

<- { "event": "SECOND_EVENT", "timestamp": { "seconds": 1, "microseconds": 2 } }

EQMP
"""
    docs = parse_hx(write(tmp_path, text))
    assert [(e.name, e.kind) for e in docs.entries.values()] == [
        ("first-cmd", "command"),
        ("SECOND_EVENT", "event"),
    ]
    assert docs.entries["SECOND_EVENT"].examples[0].messages[0].direction == "<-"
    assert any("'first-cmd' names no command in the table" in p for p in docs.problems)


def test_structural_problems_never_raise(tmp_path: Path) -> None:
    text = """EQMP
    {
        .name = "a",
        .args_type = "x",
        bogus
    },
    { .args_type = "" },
SQMP
a
-
SQMP
Arguments: None
EQMP
SQMP
last
"""
    docs = parse_hx(write(tmp_path, text))
    problems = "\n".join(docs.problems)
    assert "1: EQMP without SQMP" in problems
    assert "bad .args_type piece 'x'" in problems
    assert "unexpected 'bogus' in a table entry" in problems
    assert "table entry without a .name" in problems
    assert "SQMP inside the SQMP block" in problems
    assert "SQMP block not closed by EQMP" in problems


def test_doc_errors(tmp_path: Path) -> None:
    with pytest.raises(DocError, match=r"missing\.hx: cannot read"):
        parse_hx(tmp_path / "missing.hx")
    with pytest.raises(DocError, match="cannot read"):
        parse_hx(tmp_path)
    binary = tmp_path / "binary.hx"
    binary.write_bytes(b"SQMP\n\0\x01\x02EQMP\n")
    with pytest.raises(DocError, match=r"binary\.hx: not a text file"):
        parse_hx(binary)
    latin = tmp_path / "latin.hx"
    latin.write_bytes(b"SQMP\ncaf\xe9\nEQMP\n")
    with pytest.raises(DocError, match=r"latin\.hx: not UTF-8"):
        parse_hx(latin)
    with pytest.raises(DocError, match=r"plain\.hx: no SQMP blocks") as caught:
        parse_hx(write(tmp_path, "just text\n").rename(tmp_path / "plain.hx"))
    assert "\n" not in str(caught.value)


_hx_lines = st.sampled_from(
    [
        "SQMP",
        "EQMP",
        "name",
        "----",
        "====",
        "Arguments:",
        "Arguments: None",
        '- "a": text (json-int, optional)',
        "- b: text",
        "   continued",
        "keys array:",
        "Example:",
        "Examples (2):",
        "1. Numbered",
        "Notes:",
        "(1) note",
        "Returns: x",
        "Since 2.0",
        '-> { "execute": "name" }',
        "<- { 'return': [ ... ] ",
        '    { .name = "name", .args_type = "a:i?,b:-f" },',
        "#if defined(X)",
        "#endif",
        "/* open comment",
        "",
    ]
)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(_hx_lines, st.text(max_size=30)), max_size=40))
def test_any_content_never_raises(lines: list[str]) -> None:
    text = "SQMP\n" + "\n".join(lines) + "\nEQMP\n"
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "fuzz.hx"
        path.write_text(text)
        if "\0" in text:  # not text: the one content DocError is for
            with pytest.raises(DocError):
                parse_hx(path)
            return
        docs = parse_hx(path)
    for entry in docs.entries.values():
        assert entry.source.startswith(str(path) + ":")
