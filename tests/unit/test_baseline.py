"""Baselines: round trip, sections per target, `auto` resolution by version and target,
the version 1 format still read, and one-line errors for bad files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conformance.errors import EXIT_USAGE, SetupError
from conformance.findings import baseline
from conformance.machine.probe import BinaryInfo

INFO = BinaryInfo("/usr/bin/qemu-system-x86_64", (7, 2, 22), "Debian 1:7.2+dfsg", False, True)
S390X = BinaryInfo("/usr/bin/qemu-system-s390x", (7, 2, 22), "Debian 1:7.2+dfsg", False, True)
KEY = "crash | calc-dirty-rate | SIGSEGV"


def test_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "b.json"
    written = baseline.save(
        path,
        [(KEY, "crash", "crash: calc-dirty-rate: SIGSEGV"), ("hang | migrate | hang", "hang", "t")],
        version="7.2.22",
        package="Debian 1:7.2+dfsg",
        target="x86_64",
    )
    loaded = baseline.load(path, "x86_64")
    assert loaded == written
    assert KEY in loaded
    assert "crash | other | SIGSEGV" not in loaded
    assert loaded.findings[KEY] == {
        "kind": "crash",
        "title": "crash: calc-dirty-rate: SIGSEGV",
        "verdict": "",
        "note": "",
        "link": "",
    }
    assert (loaded.version, loaded.package) == ("7.2.22", "Debian 1:7.2+dfsg")
    assert loaded.unseen([KEY, "new | x | y"]) == ["hang | migrate | hang"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not json{", "not JSON"),
        ('{"findings": {}}', "not a qmp-baseline version 1 or 2 file"),
        ('{"qmp-baseline": 3, "targets": {}}', "not a qmp-baseline version 1 or 2 file"),
        ('{"qmp-baseline": 2, "findings": {}}', "targets must map"),
        ('{"qmp-baseline": 2, "targets": {"x86_64": []}}', "targets must map"),
        ('{"qmp-baseline": 2, "targets": {"x86_64": {"findings": []}}}', "findings must map"),
        ('{"qmp-baseline": 1, "findings": []}', "findings must map"),
        ('{"qmp-baseline": 1, "findings": {"k": {"kind": 3}}}', "findings must map"),
        (b"\xff\xfe", "not JSON"),
    ],
)
def test_corrupt_file_is_a_one_line_setup_error(
    tmp_path: Path, content: str | bytes, message: str
) -> None:
    path = tmp_path / "b.json"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    with pytest.raises(SetupError, match=message) as caught:
        baseline.load(path)
    assert caught.value.exit_code == EXIT_USAGE
    assert "\n" not in str(caught.value)


def test_missing_file_is_an_error_unless_it_is_being_written(tmp_path: Path) -> None:
    path = tmp_path / "none.json"
    with pytest.raises(SetupError, match="cannot read"):
        baseline.choose(str(path), None)
    choice = baseline.choose(str(path), None, update=True)
    assert choice.path == path
    assert choice.baseline is None


def test_auto_picks_the_packaged_baseline_of_the_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(baseline, "PACKAGED_DIR", tmp_path)
    assert baseline.packaged_path(INFO) == tmp_path / "qemu-7.2.json"
    none = baseline.choose(baseline.AUTO, INFO)
    assert none.path is None
    assert none.baseline is None
    assert "none packaged for QEMU 7.2" in none.note
    # --baseline-update with auto writes the packaged file.
    assert baseline.choose(baseline.AUTO, INFO, update=True).path == tmp_path / "qemu-7.2.json"
    baseline.save(
        tmp_path / "qemu-7.2.json",
        [(KEY, "crash", "t")],
        version="7.2.22",
        package="",
        target="x86_64",
    )
    found = baseline.choose(baseline.AUTO, INFO)
    assert found.baseline is not None
    assert KEY in found.baseline
    assert "1 known signatures" in found.note
    assert "on x86_64" in found.note
    # The same version's file without a section for s390x: no baseline for that target.
    other = baseline.choose(baseline.AUTO, S390X)
    assert (other.path, other.baseline) == (None, None)
    assert "none packaged for QEMU 7.2 on s390x" in other.note
    # ... and an update writes the s390x section, leaving x86_64's alone.
    update = baseline.choose(baseline.AUTO, S390X, update=True)
    assert update.path == tmp_path / "qemu-7.2.json"
    assert update.target == "s390x"


def test_each_target_knows_only_its_own_section(tmp_path: Path) -> None:
    path = tmp_path / "b.json"
    baseline.save(path, [(KEY, "crash", "t")], version="7.2.22", package="p", target="x86_64")
    s390 = "crash | qom-list-properties | ** ERROR:target/s390x/cpu_models.c:N: failed"
    baseline.save(path, [(s390, "crash", "t")], version="7.2.22", package="p", target="s390x")
    x86 = baseline.choose(str(path), INFO).baseline
    s390x = baseline.choose(str(path), S390X).baseline
    assert x86 is not None
    assert s390x is not None
    assert (KEY in x86, s390 in x86) == (True, False)
    assert (KEY in s390x, s390 in s390x) == (False, True)
    # A target the file has no section for knows nothing (an explicit file: not an error).
    arm = BinaryInfo("/usr/bin/qemu-system-aarch64", (7, 2, 22), "p", False, True)
    none = baseline.choose(str(path), arm).baseline
    assert none is not None
    assert not none.findings
    # Without a binary, every section counts.
    assert set(baseline.load(path).findings) == {KEY, s390}


def test_a_version_1_file_counts_for_every_target_until_updated(tmp_path: Path) -> None:
    path = tmp_path / "old.json"
    path.write_text(
        json.dumps(
            {
                "qmp-baseline": 1,
                "qemu": {"version": "7.2.22", "package": "p"},
                "findings": {KEY: {"kind": "crash", "title": "t"}},
            }
        )
    )
    for info in (INFO, S390X):
        found = baseline.choose(str(path), info).baseline
        assert found is not None
        assert KEY in found
    baseline.save(
        path, [("hang | x | y", "hang", "t")], version="7.2.22", package="p", target="x86_64"
    )
    data = json.loads(path.read_text())
    assert data["qmp-baseline"] == 2
    assert list(data["targets"]) == ["x86_64"]
    assert KEY not in baseline.load(path, "s390x")


def test_packaged_baselines_are_valid() -> None:
    for path in sorted(baseline.PACKAGED_DIR.glob("qemu-*.json")):
        data = json.loads(path.read_text())
        assert data["qmp-baseline"] == baseline.FORMAT_VERSION
        for target, section in baseline.load_file(path).targets.items():
            assert section.target == target
            assert path.name == "qemu-{}.{}.json".format(*section.version.split(".")[:2])
            for key, entry in section.findings.items():
                # Triage fields may be missing (read as ""), never anything else.
                assert {"kind", "title"} <= set(entry) <= {"kind", "title", *baseline.TRIAGE_FIELDS}
                assert entry.get("verdict", "") in baseline.VERDICTS, key


def test_saved_file_is_sorted_for_version_control(tmp_path: Path) -> None:
    path = tmp_path / "b.json"
    baseline.save(
        path,
        [("z | - | z", "crash", "z"), ("a | - | a", "crash", "a")],
        version="",
        package="",
        target="x86_64",
    )
    text = path.read_text()
    assert text.index('"a | - | a"') < text.index('"z | - | z"')
    assert json.loads(text)["qmp-baseline"] == 2


TRIAGED = {"verdict": "code bug", "note": "a QMP command must not abort", "link": "https://x/1"}


def test_an_update_keeps_each_entry_triage_and_writes_new_ones_empty(tmp_path: Path) -> None:
    path = tmp_path / "b.json"
    shrunk = "crash | transaction | SIGSEGV args=actions[block-dirty-bitmap-enable]"
    baseline.save(
        path,
        [(KEY, "crash", "t"), (shrunk, "crash", "t"), ("hang | x | y", "hang", "t")],
        version="7.2.22",
        package="p",
        target="x86_64",
    )
    data = json.loads(path.read_text())
    assert data["targets"]["x86_64"]["findings"]["hang | x | y"] == {
        "kind": "hang",
        "title": "t",
        "verdict": "",
        "note": "",
        "link": "",
    }
    findings = data["targets"]["x86_64"]["findings"]
    findings[KEY].update(TRIAGED)
    findings[shrunk].update(verdict="code bug", note="segfaults")
    path.write_text(json.dumps(data))
    # The next update: KEY again, the crash drawn with a wider shape (covered), one new.
    wide = "crash | transaction | SIGSEGV args=actions[abort,block-dirty-bitmap-enable]"
    again = baseline.save(
        path,
        [(KEY, "crash", "new title"), (wide, "crash", "t"), ("new | a | b", "hang", "t")],
        version="7.2.23",
        package="p",
        target="x86_64",
    )
    assert again.findings[KEY] == {"kind": "crash", "title": "new title", **TRIAGED}
    assert baseline.triage_of(again.findings[wide]) == {
        "verdict": "code bug",
        "note": "segfaults",
        "link": "",
    }
    assert baseline.triage_of(again.findings["new | a | b"]) == dict.fromkeys(
        baseline.TRIAGE_FIELDS, ""
    )
    assert baseline.load(path, "x86_64") == again


def test_an_entry_without_triage_fields_reads_as_empty(tmp_path: Path) -> None:
    path = tmp_path / "b.json"
    path.write_text(
        json.dumps(
            {
                "qmp-baseline": 2,
                "targets": {"x86_64": {"findings": {KEY: {"kind": "crash", "title": "t"}}}},
            }
        )
    )
    loaded = baseline.load(path, "x86_64")
    assert KEY in loaded
    found = loaded.entry(KEY)
    assert found is not None
    assert baseline.triage_of(found[1]) == {"verdict": "", "note": "", "link": ""}
    assert loaded.entry("crash | other | SIGSEGV") is None


def test_an_invalid_verdict_is_a_corrupt_baseline(tmp_path: Path) -> None:
    path = tmp_path / "b.json"
    entry = {"kind": "crash", "title": "t", "verdict": "bug"}
    path.write_text(
        json.dumps({"qmp-baseline": 2, "targets": {"x86_64": {"findings": {KEY: entry}}}})
    )
    with pytest.raises(SetupError, match="verdict 'bug' is not one of") as caught:
        baseline.choose(str(path), INFO)
    assert "\n" not in str(caught.value)
    assert caught.value.exit_code == EXIT_USAGE
