"""Fuzz mode without QEMU: durations, the command order, the progress line and summary."""

from __future__ import annotations

from pathlib import Path

import pytest

from conformance.errors import SetupError
from conformance.findings.record import Finding
from conformance.findings.signature import Signature
from conformance.findings.store import FindingStore
from conformance.fuzz.run import fuzz_commands, parse_duration
from conformance.fuzz.tally import Tally, by_kind, progress_line, summary
from conformance.fuzz.worker import Chunk
from conformance.machine.lifecycle import LIFECYCLE
from conformance.oracle.deviation import Deviation
from conformance.oracle.failure import FindingKind
from conformance.spec import load_schema_file
from strategies import safety


@pytest.mark.parametrize(
    ("text", "seconds"), [("90", 90), ("90s", 90), ("10m", 600), ("2h", 7200), ("1.5m", 90)]
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "soon", "10 m", "-5s", "0", "5d"])
def test_bad_durations_are_usage_errors(text: str) -> None:
    with pytest.raises(SetupError, match="expected a duration"):
        parse_duration(text)


def test_command_order_is_the_seeds_and_skips_what_the_policy_skips(schema_72_x86: Path) -> None:
    schema = load_schema_file(schema_72_x86)
    order = fuzz_commands(schema, 7)
    assert order == fuzz_commands(schema, 7)
    assert order != fuzz_commands(schema, 8)
    skipped = {c for c in schema.commands if c in LIFECYCLE or safety.skip_reason(c)}
    assert skipped, "7.2 has lifecycle commands"
    assert set(order) == set(schema.commands) - skipped
    assert len(order) == len(set(order))


def finding(kind: FindingKind, command: str) -> Finding:
    return Finding(Signature(kind, command, "detail"), "title", "message", "", "fuzz::t", None)


def test_progress_and_summary_count_findings_by_kind_new_and_known() -> None:
    known = finding(FindingKind.CRASH, "a").key
    store = FindingStore(None, known={known})
    for f in (
        finding(FindingKind.CRASH, "a"),
        finding(FindingKind.CRASH, "b"),
        finding(FindingKind.CRASH, "b"),
        finding(FindingKind.SCHEMA, "c"),
    ):
        store.add(f)
    tally = Tally(commands=200, started=100.0)
    tally.add(Chunk(0, "query-status", 20, command=True))
    tally.add(Chunk(1, "object-add", 0, command=True))  # every example dropped
    tally.add(Chunk(0, "wire-machine", 60, command=False))
    assert by_kind(store) == "crash 1/1, schema-violation 1/0"
    line = progress_line(tally, store, now=110.0)
    assert line.startswith("0:10  80 examples (8.0/s)  commands 1/200  findings (new/known): ")
    lines = summary(tally, store, now=130.0, ended="time is up")
    assert lines[0] == (
        "fuzz ended (time is up) after 0:30: 80 examples (2.7/s); commands covered 1/200; "
        "wire-machine 60 steps"
    )
    assert lines[1] == "findings: 3 unique (1 known, 2 new)"
    b = finding(FindingKind.CRASH, "b").signature
    assert lines[2:5] == [
        f"  known {known}  occurrences 1  {finding(FindingKind.CRASH, 'a').signature.slug}",
        f"  new   {b.key}  occurrences 2  {b.slug}",
        f"  new   {finding(FindingKind.SCHEMA, 'c').key}  occurrences 1  "
        f"{finding(FindingKind.SCHEMA, 'c').signature.slug}",
    ]
    assert lines[-1] == "harness errors: 0"


def test_the_summary_lists_deviations_and_they_are_no_findings() -> None:
    store = FindingStore(None)
    seen = Deviation("a-deviation", "QEMU does so on purpose", "malformed.x.class", "m", "s", ())
    tally = Tally(commands=1, started=0.0)
    tally.add(Chunk(0, "device_add", 5, True, deviations=(seen,)))
    store.add_deviation(seen, "fuzz::device_add")
    lines = summary(tally, store, now=1.0, ended="time is up")
    assert lines[1] == "findings: 0 unique (0 known, 0 new)"
    assert lines[-3:-1] == [
        "deviations: 1 (deliberate per QEMU's source or tests; not findings)",
        "  a-deviation (malformed.x.class, 1 tests): QEMU does so on purpose",
    ]


def test_no_findings() -> None:
    assert by_kind(FindingStore(None)) == "none"
