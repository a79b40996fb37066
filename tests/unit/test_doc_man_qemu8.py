"""The QMP reference man page in the layout QEMU ≥ 8 ships (`.TP` / `.B Command  name
(Since: X)` definitions with indented sections), and the version a page documents.

A small hand-written page (tests/unit/man/qmp-ref-8.7) always runs. The real pages are
the installed one and the one of the fetched QEMU (QMPC_QEMU_FETCHED, whose launcher
sits in `<dir>/bin/` beside `<dir>/root/usr/share/man/man7/`); each is checked against
counts taken from its own roff source by a scanner that shares nothing with the parser.
"""

from __future__ import annotations

import gzip
import os
import re
import shlex
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from conformance.docs.manpage import find_man_page, man_page_version, parse_man
from conformance.docs.model import DocSet, Parse

FIXTURE = Path(__file__).parent / "man" / "qmp-ref-8.7"
PAGES = ("qemu-qmp-ref", "qemu-storage-daemon-qmp-ref")


@pytest.fixture(scope="module")
def fixture_docs() -> DocSet:
    return parse_man(FIXTURE)


def test_fixture_entries_and_version(fixture_docs: DocSet) -> None:
    assert fixture_docs.version == "9.2.3"
    assert fixture_docs.problems == []
    # Object definitions are skipped; free text between definitions joins none of them.
    assert {e.name: e.kind for e in fixture_docs.entries.values()} == {
        "block-open-tray": "command",
        "block-add-node": "command",
        "DEVICE_TRAY_MOVED": "event",
    }
    assert "Free text" not in fixture_docs.entries["block-add-node"].summary


def test_fixture_command_sections(fixture_docs: DocSet) -> None:
    tray = fixture_docs.entries["block-open-tray"]
    assert (tray.since, tray.condition) == ("2.5", "CONFIG_TRAY")
    assert tray.summary == (
        "Opens a block device's tray.\n\nOnce the tray opens, a DEVICE_TRAY_MOVED event is emitted."
    )
    assert [(a.name, a.type, a.optional, a.since) for a in tray.arguments] == [
        ("id", "string", True, "2.8"),
        ("force", "boolean", True, None),
        ("channels", "[TrayChannel]", False, "9.1"),
    ]
    assert tray.returns == "TrayInfo -- the tray's new state"
    assert tray.errors == (
        "If id is not a valid device, DeviceNotFound",
        "If the tray is locked and force is false, GenericError",
    )
    assert tray.features == (("deprecated", "Member force is deprecated. Use id instead."),)
    assert tray.notes == ("The tray may stay closed if the guest refuses.",)
    (example,) = tray.examples
    assert example.title == "Open a locked tray"
    assert [(m.direction, m.status, m.repairs) for m in example.messages] == [
        ("->", Parse.REPAIRED, ("single-quotes",)),
        ("<-", Parse.PARSED, ()),
        ("<-", Parse.PARSED, ()),
    ]
    assert example.messages[0].value == {
        "execute": "block-open-tray",
        "arguments": {"id": "ide0-1-0", "force": True},
    }


def test_fixture_glued_availability_and_members_of(fixture_docs: DocSet) -> None:
    """docutils glues the generated "unstable" sentence, the Availability line and an
    .INDENT request into one text line; all three are read apart."""
    add = fixture_docs.entries["block-add-node"]
    assert add.condition == "TARGET_S390X and CONFIG_KVM"
    assert add.summary == "This command is unstable/experimental."
    assert (add.arguments, add.notes) == ((), ("Arguments: the members of BlockdevOptions",))
    assert add.features == (("unstable", "This command is experimental."),)
    request, reply = add.examples[0].messages
    assert (request.status, request.repairs) == (Parse.REPAIRED, ("ellipsis",))
    assert request.value == {"execute": "block-add-node", "arguments": {"driver": "null-co"}}
    assert reply.status is Parse.UNPARSABLE
    assert reply.problem


def test_fixture_event(fixture_docs: DocSet) -> None:
    moved = fixture_docs.entries["DEVICE_TRAY_MOVED"]
    assert (moved.since, moved.condition, moved.errors) == ("1.1", None, ())
    assert [(a.name, a.type, a.optional, a.since) for a in moved.arguments] == [
        ("id", "string", False, "2.8"),
        ("tray-open", "boolean", False, None),
    ]
    (message,) = moved.examples[0].messages
    assert (message.direction, message.status) == ("<-", Parse.PARSED)


# --- an independent count of what a real page documents --------------------------------

_DEFINITION = re.compile(r"\.B (Command|Event|Object|Enum|Alternate)\s+(\S+)\s")
_SECTIONS = {
    "examples": re.compile(r'\.IP "Example'),
    "arguments": re.compile(r"\.B (?:Arguments|Members)$"),
    "returns": re.compile(r"\.B Return$"),
    "errors": re.compile(r"\.B Errors$"),
    "features": re.compile(r"\.B Features$"),
    "condition": re.compile(r".*\\fIAvailability\\fP"),
    "messages": re.compile(r"\s*(?:\\->|<\\-)"),
}


@dataclass
class Documented:
    kind: str
    counts: Counter[str] = field(default_factory=Counter)


def raw_text(path: Path) -> str:
    data = path.read_bytes()
    return (gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data).decode(errors="replace")


def scan(path: Path) -> dict[str, Documented]:
    """Each command and event the page defines, with how many of each section it has:
    line patterns over the roff source, no roff parsing."""
    found: dict[str, Documented] = {}
    current: Documented | None = None
    for line in raw_text(path).split("\n"):
        if (match := _DEFINITION.match(line)) is not None:
            current = None
            if match.group(1) in ("Command", "Event"):
                current = found[match.group(2).replace("\\-", "-")] = Documented(
                    match.group(1).lower()
                )
            continue
        if line.startswith((".SH", ".SS")):
            current = None
        if current is not None:
            current.counts.update(k for k, pattern in _SECTIONS.items() if pattern.match(line))
    return found


def title_version(path: Path) -> str:
    for line in raw_text(path).splitlines():
        if line.startswith(".TH "):
            return shlex.split(line[4:])[3]
    return ""


def test_scan_counts_the_fixture() -> None:
    documented = scan(FIXTURE)
    assert set(documented) == {"block-open-tray", "block-add-node", "DEVICE_TRAY_MOVED"}
    assert documented["block-open-tray"].counts == Counter(
        examples=1, arguments=1, returns=1, errors=1, features=1, condition=1, messages=3
    )


def fetched_page(name: str) -> Path:
    launcher = os.environ.get("QMPC_QEMU_FETCHED")
    if not launcher:
        pytest.skip("QMPC_QEMU_FETCHED is not set: no fetched QEMU whose man page to read")
    path = Path(launcher).parent.parent / "root/usr/share/man/man7" / f"{name}.7.gz"
    if not path.is_file():
        pytest.skip(f"{path} is missing: the fetched QEMU at {launcher} has no {name}.7")
    return path


def installed_page(name: str) -> Path:
    path = find_man_page(name)
    if path is None:
        pytest.skip(f"{name}.7 not installed (apt-get install qemu-system-common)")
    return path


@pytest.fixture(params=[(where, name) for where in ("installed", "fetched") for name in PAGES])
def real_page(request: pytest.FixtureRequest) -> Path:
    where, name = request.param
    return installed_page(name) if where == "installed" else fetched_page(name)


def test_real_page_version_is_its_title_version(real_page: Path) -> None:
    version = man_page_version(real_page)
    assert version is not None
    assert re.fullmatch(r"\d+\.\d+(?:\.\d+)?", version)
    assert title_version(real_page).startswith(version)
    assert parse_man(real_page).version == version


def test_real_page_new_layout_coverage(real_page: Path, capsys: pytest.CaptureFixture[str]) -> None:
    documented = scan(real_page)
    if not documented:
        pytest.skip(f"{real_page} is in the ≤ 7.2 layout (.SS headings); test_doc_man reads it")
    docs = parse_man(real_page)
    parsed = {e.name: e for e in docs.entries.values()}
    covered = {n for n, doc in documented.items() if n in parsed and parsed[n].kind == doc.kind}
    assert len(covered) >= 0.95 * len(documented), sorted(set(documented) - covered)
    assert set(parsed) <= set(documented), "entries the page doesn't define"

    def entries_with(section: str) -> set[str]:
        return {n for n in covered if documented[n].counts[section]}

    assert {n for n in covered if parsed[n].examples} >= entries_with("examples")
    assert sum(len(parsed[n].examples) for n in covered) >= 0.95 * sum(
        documented[n].counts["examples"] for n in covered
    )
    messages = [m for n in covered for x in parsed[n].examples for m in x.messages]
    assert len(messages) >= 0.95 * sum(documented[n].counts["messages"] for n in covered)
    for message in messages:  # every message classified, with its repair or its reason
        assert message.direction in ("->", "<-", "?")
        assert (message.value is not None) == (message.status is not Parse.UNPARSABLE)
        assert bool(message.repairs) == (message.status is Parse.REPAIRED)
        assert bool(message.problem) == (message.status is Parse.UNPARSABLE)
    with_members = {
        n
        for n in covered
        if parsed[n].arguments
        or any(x.startswith("Arguments: the members") for x in parsed[n].notes)
    }
    assert with_members >= entries_with("arguments")
    assert {n for n in covered if parsed[n].returns} >= entries_with("returns")
    assert {n for n in covered if parsed[n].errors} >= entries_with("errors")
    assert {n for n in covered if parsed[n].features} >= entries_with("features")
    assert {n for n in covered if parsed[n].condition} >= entries_with("condition")
    statuses = Counter(m.status.value for m in messages)
    with capsys.disabled():
        print(
            f"\n{real_page} (QEMU {docs.version}): {len(covered)}/{len(documented)} commands"
            f" and events, {sum(len(parsed[n].examples) for n in covered)} examples,"
            f" messages {dict(statuses)}, problems {len(docs.problems)}"
        )


# Every example of the 10.0 page that isn't clean JSON behind a direction marker, with
# the repair that made it parse or why nothing could. Each is a defect of the page.
KNOWN_PROBLEM_EXAMPLES_10_0 = {
    # "rd_operations":36772 and the two lines after it lack their commas.
    ("query-blockstats", 0): ("repaired", ("missing-comma",)),
    # "..." elides flows, channels, commands.
    ("query-rocker-of-dpa-flows", 0): ("repaired", ("ellipsis",)),
    ("query-spice", 0): ("repaired", ("ellipsis",)),
    ("query-commands", 0): ("repaired", ("ellipsis",)),
    # `{"execute": …}` is closed before its "arguments" line.
    ("set-vcpu-dirty-limit", 0): ("unparsable", ()),
    ("cancel-vcpu-dirty-limit", 0): ("unparsable", ()),
    ("dumpdtb", 0): ("unparsable", ()),
    # The returned array is closed with "}" instead of "]}".
    ("query-machines", 0): ("unparsable", ()),
}


def test_10_0_known_problem_examples() -> None:
    path = fetched_page("qemu-qmp-ref")
    version = man_page_version(path) or "?"
    if not version.startswith("10.0."):
        pytest.skip(f"the fetched page is QEMU {version}; these examples are 10.0's")
    found = {}
    for entry in parse_man(path).entries.values():
        for index, example in enumerate(entry.examples):
            statuses = {m.status for m in example.messages}
            repairs = tuple(r for m in example.messages for r in m.repairs)
            assert all(m.direction != "?" for m in example.messages)
            if Parse.UNPARSABLE in statuses:
                found[(entry.name, index)] = ("unparsable", repairs)
            elif Parse.REPAIRED in statuses:
                found[(entry.name, index)] = ("repaired", repairs)
    assert found == KNOWN_PROBLEM_EXAMPLES_10_0
