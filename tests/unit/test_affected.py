"""Affected versions: the table's order (QEMU's version, not argument order), the exit
code of a replay on several binaries, and affected.json's round trip and merge."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conformance.errors import EXIT_CANNOT_TEST, EXIT_FINDINGS, EXIT_NO_VERDICT, EXIT_OK, SetupError
from conformance.findings import affected
from conformance.findings.affected import Affected, VersionResult

SIG = "hang | announce-self | no reply before the deadline"


def row(
    qemu: str,
    verdict: str = affected.REPRODUCED,
    *,
    package: str = "",
    hits: int = 3,
    binary: str = "/bin/q",
    fetched: str = "",
) -> VersionResult:
    runs = 0 if verdict in (affected.CANNOT_TEST, affected.NO_VERDICT) else 3
    return VersionResult(
        qemu, package, binary, fetched, verdict, hits if verdict == affected.REPRODUCED else 0,
        runs, "seen", "2026-12-07T17:00:00Z",
    )  # fmt: skip


def test_versions_are_ordered_by_qemu_version_then_package() -> None:
    rows = [
        row("10.0.2", package="Debian 1:10.0.2+ds-2"),
        row("", affected.CANNOT_TEST, binary="/nope"),
        row("7.2.22", package="Debian 1:7.2+dfsg-7+deb12u18+b3"),
        row("7.10.0"),
        row("7.2.22", package="Debian 1:7.2+dfsg-7+deb12u9"),
    ]
    ordered = affected.merge(None, SIG, rows).versions
    assert [(r.qemu, r.package) for r in ordered] == [
        ("7.2.22", "Debian 1:7.2+dfsg-7+deb12u9"),  # u9 before u18: numbers as numbers
        ("7.2.22", "Debian 1:7.2+dfsg-7+deb12u18+b3"),
        ("7.10.0", ""),  # 7.10 after 7.2: versions as numbers, not strings
        ("10.0.2", "Debian 1:10.0.2+ds-2"),
        ("", ""),  # unknown version last
    ]


def test_earliest_and_latest_are_over_the_reproducing_versions() -> None:
    found = affected.merge(
        None,
        SIG,
        [row("10.0.2"), row("7.2.18", affected.NOT_REPRODUCED), row("8.2.0"), row("9.0.0")],
    )
    assert found.earliest is not None
    assert found.earliest.qemu == "8.2.0"
    assert found.latest is not None
    assert found.latest.qemu == "10.0.2"
    none = affected.merge(None, SIG, [row("7.2.18", affected.NOT_REPRODUCED)])
    assert none.earliest is None
    assert none.latest is None
    assert none.to_json()["earliest"] is None


@pytest.mark.parametrize(
    ("verdicts", "code"),
    [
        ([affected.REPRODUCED, affected.NOT_REPRODUCED], EXIT_FINDINGS),
        ([affected.CANNOT_TEST, affected.REPRODUCED], EXIT_FINDINGS),
        ([affected.REPRODUCED, affected.NO_VERDICT], EXIT_FINDINGS),
        ([affected.NOT_REPRODUCED, affected.NO_VERDICT], EXIT_NO_VERDICT),
        ([affected.NOT_REPRODUCED, affected.CANNOT_TEST], EXIT_OK),
        ([affected.DEVIATION, affected.NOT_REPRODUCED], EXIT_OK),
        ([affected.CANNOT_TEST, affected.CANNOT_TEST], EXIT_CANNOT_TEST),
    ],
)
def test_exit_code_of_several_binaries(verdicts: list[str], code: int) -> None:
    assert affected.exit_code([row(f"7.2.{n}", v) for n, v in enumerate(verdicts)]) == code


def test_table_names_each_version_with_its_verdict_and_the_reproducing_range() -> None:
    rows = affected.merge(
        None,
        SIG,
        [
            row("10.0.2", package="Debian 1:10.0.2+ds-2", fetched="qemu-system-x86=1:10.0.2+ds-2"),
            row("7.2.22", affected.NOT_REPRODUCED, package="Debian 1:7.2+dfsg-7+deb12u18"),
            row("", affected.CANNOT_TEST, binary="/nope"),
        ],
    ).versions
    lines = affected.table(rows)
    assert lines[0].split() == ["version", "verdict", "binary"]
    assert lines[1].startswith("7.2.22 (Debian 1:7.2+dfsg-7+deb12u18)")
    assert "not reproduced 0/3" in lines[1]
    assert "reproduced 3/3" in lines[2]
    assert lines[2].endswith("qemu-system-x86=1:10.0.2+ds-2")
    assert lines[3].startswith("/nope")
    assert "cannot test" in lines[3]
    assert lines[-2:] == [
        "earliest reproducing: 10.0.2 (Debian 1:10.0.2+ds-2)",
        "latest reproducing: 10.0.2 (Debian 1:10.0.2+ds-2)",
    ]
    nothing = affected.table([row("7.2.22", affected.NOT_REPRODUCED)])
    assert nothing[-1] == "reproduced on none of the 1 version(s) tested"


def test_a_later_replay_replaces_its_versions_and_keeps_the_others(tmp_path: Path) -> None:
    first = affected.merge(
        None, SIG, [row("7.2.22", affected.NOT_REPRODUCED), row("10.0.2"), row("7.2.18")]
    )
    first.save(tmp_path)
    again = [row("7.2.22", hits=1), row("", affected.NO_VERDICT, binary="/broken")]
    merged = affected.merge(affected.load(tmp_path), SIG, again)
    assert [(r.qemu, r.verdict, r.reproduced) for r in merged.versions] == [
        ("7.2.18", affected.REPRODUCED, 3),
        ("7.2.22", affected.REPRODUCED, 1),  # replaced
        ("10.0.2", affected.REPRODUCED, 3),
    ]  # and a harness error is no verdict: never recorded


def test_round_trip_and_documented_shape(tmp_path: Path) -> None:
    found = affected.merge(None, SIG, [row("10.0.2", package="P"), row("7.2.22")])
    path = found.save(tmp_path)
    assert path == tmp_path / affected.AFFECTED_FILE
    data = json.loads(path.read_text())
    assert data["qmp-affected"] == 1
    assert data["signature"] == SIG
    assert data["earliest"] == {"qemu": "7.2.22", "package": ""}
    assert data["latest"] == {"qemu": "10.0.2", "package": "P"}
    assert set(data["versions"][0]) == {
        "qemu", "package", "binary", "fetched", "verdict", "reproduced", "runs", "seen",
        "checked",
    }  # fmt: skip
    assert affected.load(tmp_path) == found
    assert affected.load(tmp_path / "nowhere") is None


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{", "not JSON"),
        ('{"qmp-affected": 2, "versions": []}', "not a qmp-affected 1 file"),
        ('{"qmp-affected": 1, "versions": {}}', "versions must be a list"),
        ('{"qmp-affected": 1, "versions": [3]}', "must be an object"),
        ('{"qmp-affected": 1, "versions": [{"verdict": "bad"}]}', "verdict 'bad'"),
        ('{"qmp-affected": 1, "versions": [{"runs": "3"}]}', "runs must be a count"),
        (
            '{"qmp-affected": 1, "versions": [{"qemu": "seven", "verdict": "reproduced"}]}',
            "not a QEMU version",
        ),
    ],
)
def test_a_corrupt_file_is_a_one_line_setup_error(
    tmp_path: Path, content: str, message: str
) -> None:
    (tmp_path / affected.AFFECTED_FILE).write_text(content)
    with pytest.raises(SetupError, match=message) as caught:
        affected.load(tmp_path)
    assert "\n" not in str(caught.value)


def test_the_finding_directory_of_a_replay_argument(tmp_path: Path) -> None:
    (tmp_path / "f").mkdir()
    assert affected.finding_dir(str(tmp_path / "f")) == tmp_path / "f"
    assert affected.finding_dir(str(tmp_path / "f" / "reproducer.jsonl")) == tmp_path / "f"
    assert affected.finding_dir(str(tmp_path / "r.jsonl")) is None


def test_a_row_without_a_version_is_named_by_its_argument() -> None:
    fetched = row("", affected.CANNOT_TEST, fetched="qemu-system-x86=1:9")
    assert fetched.label == "qemu-system-x86=1:9"
    assert fetched.key == ("", "qemu-system-x86=1:9")
    assert row("", affected.CANNOT_TEST, binary="/nope").label == "/nope"
    assert Affected(SIG, (fetched,)).earliest is None
