"""Baselines: round trip, `auto` resolution, and one-line errors for bad files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conformance.errors import EXIT_USAGE, SetupError
from conformance.findings import baseline
from conformance.machine.probe import BinaryInfo

INFO = BinaryInfo("/usr/bin/qemu-system-x86_64", (7, 2, 22), "Debian 1:7.2+dfsg", False, True)
KEY = "crash | calc-dirty-rate | SIGSEGV"


def test_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "b.json"
    written = baseline.save(
        path,
        [(KEY, "crash", "crash: calc-dirty-rate: SIGSEGV"), ("hang | migrate | hang", "hang", "t")],
        version="7.2.22",
        package="Debian 1:7.2+dfsg",
    )
    loaded = baseline.load(path)
    assert loaded == written
    assert KEY in loaded
    assert "crash | other | SIGSEGV" not in loaded
    assert loaded.findings[KEY] == {"kind": "crash", "title": "crash: calc-dirty-rate: SIGSEGV"}
    assert (loaded.version, loaded.package) == ("7.2.22", "Debian 1:7.2+dfsg")
    assert loaded.unseen([KEY, "new | x | y"]) == ["hang | migrate | hang"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not json{", "not JSON"),
        ('{"findings": {}}', "not a qmp-baseline version 1 file"),
        ('{"qmp-baseline": 2, "findings": {}}', "not a qmp-baseline version 1 file"),
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
    baseline.save(tmp_path / "qemu-7.2.json", [(KEY, "crash", "t")], version="7.2.22", package="")
    found = baseline.choose(baseline.AUTO, INFO)
    assert found.baseline is not None
    assert KEY in found.baseline
    assert "1 known signatures" in found.note


def test_packaged_baselines_are_valid() -> None:
    for path in sorted(baseline.PACKAGED_DIR.glob("qemu-*.json")):
        loaded = baseline.load(path)
        assert path.name == "qemu-{}.{}.json".format(*loaded.version.split(".")[:2])
        assert all(set(v) == {"kind", "title"} for v in loaded.findings.values())


def test_saved_file_is_sorted_for_version_control(tmp_path: Path) -> None:
    path = tmp_path / "b.json"
    baseline.save(
        path, [("z | - | z", "crash", "z"), ("a | - | a", "crash", "a")], version="", package=""
    )
    text = path.read_text()
    assert text.index('"a | - | a"') < text.index('"z | - | z"')
    assert json.loads(text)["qmp-baseline"] == 1
