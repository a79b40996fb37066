"""`qmp-conformance diff --schema-only` between two QEMU versions: the system QEMU (A)
and the fetched one (B, QMPC_QEMU_FETCHED).

What the output must contain is read from the two binaries' own ``query-qmp-schema``
here, by a simpler route than the tool's (top-level names, and the members of return
objects that only one command uses), so nothing below names a version's changes.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from conformance.machine.instance import LaunchConfig, QemuInstance
from tests.integration.clirun import cli

pytestmark = pytest.mark.qemu

Entry = dict[str, object]


def schema_info(binary: str, tmp_path: Path) -> dict[str, Entry]:
    config = LaunchConfig(binary=binary, workdir_base=str(tmp_path / "work"), timeout=10.0)
    with QemuInstance(config) as inst:
        entries = inst.execute("query-qmp-schema").value
    assert isinstance(entries, list)
    return {str(e["name"]): e for e in entries}


def features(entry: Entry) -> list[str]:
    value = entry.get("features", [])
    assert isinstance(value, list)
    return [str(f) for f in value]


def status(names: list[str], entry_features: list[str], incompatible: bool) -> str:
    if not incompatible:
        return "compatible"
    if any(n.startswith("x-") for n in names) or "unstable" in entry_features:
        return "incompatible, unstable"
    if "deprecated" in entry_features:
        return "incompatible, deprecated in A"
    return "finding"


def removed_definitions(a: dict[str, Entry], b: dict[str, Entry]) -> dict[tuple[str, str], str]:
    """(what, path) → status for every command and event of A that B lacks."""
    expected = {}
    for name, entry in a.items():
        meta = entry["meta-type"]
        if meta in ("command", "event") and name not in b:
            expected[(str(meta), name)] = status([name], features(entry), True)
    return expected


def removed_return_members(a: dict[str, Entry], b: dict[str, Entry]) -> dict[tuple[str, str], str]:
    """(what, path) → status for members gone from plain return objects used by one command
    alone in A (a shared type is listed once, under whichever command reaches it first)."""
    uses = Counter(str(ref) for entry in a.values() for ref in _references(entry))
    expected = {}
    for name, command in a.items():
        if command["meta-type"] != "command" or name not in b:
            continue
        ret_a, ret_b = a[str(command["ret-type"])], b[str(b[name]["ret-type"])]
        if uses[str(ret_a["name"])] != 1 or any(
            "variants" in r or r["meta-type"] != "object" for r in (ret_a, ret_b)
        ):
            continue
        names_b = {m["name"] for m in _members(ret_b)}
        for member in _members(ret_a):
            if member["name"] not in names_b:
                required = "default" not in member
                member_features = features(member) + features(command)
                expected[("member", f"{name}.return.{member['name']}")] = status(
                    [name, str(member["name"])], member_features, required
                )
    return expected


def _members(entry: Entry) -> list[Entry]:
    members = entry.get("members", [])
    assert isinstance(members, list)
    return members


def _references(entry: Entry) -> list[object]:
    refs: list[object] = [
        entry.get(k) for k in ("arg-type", "ret-type", "element-type") if k in entry
    ]
    if entry["meta-type"] in ("object", "alternate"):
        refs.extend(m["type"] for m in _members(entry))
    refs.extend(v["type"] for v in entry.get("variants", []))  # type: ignore[attr-defined]
    return refs


def test_two_versions_schema_difference(
    system_qemu: str, fetched_qemu: str, tmp_path: Path
) -> None:
    a = schema_info(system_qemu, tmp_path)
    b = schema_info(fetched_qemu, tmp_path)
    expected = removed_definitions(a, b) | removed_return_members(a, b)
    assert expected, "the two versions differ in no command, event or return member"
    # The pair must show what the tool is for: one removal announced in A, one not.
    assert {"finding", "incompatible, deprecated in A"} <= set(expected.values()), expected

    (tmp_path / "tmp").mkdir()
    args = ("diff", "--qemu", system_qemu, "--qemu", fetched_qemu, "--schema-only")
    done = cli(*args, "--json", env={"TMPDIR": str(tmp_path / "tmp")}, timeout=120)
    assert done.returncode == 1, done.stdout + done.stderr
    report = json.loads(done.stdout)
    seen = {
        (c["what"], c["path"]): c["status"] for c in report["changes"] if c["kind"] == "removed"
    }
    for key, wanted in expected.items():
        assert seen.get(key) == wanted, (key, wanted, seen.get(key))
    # Every command and event B adds is listed as an addition, compatible.
    added = {
        c["path"]
        for c in report["changes"]
        if c["kind"] == "added" and c["what"] in ("command", "event")
    }
    assert added == {
        n for n, e in b.items() if e["meta-type"] in ("command", "event") and n not in a
    }
    assert report["counts"]["finding"] == sum(
        1 for c in report["changes"] if c["status"] == "finding"
    )

    text = cli(*args, env={"TMPDIR": str(tmp_path / "tmp")}, timeout=120)
    assert text.returncode == 1, text.stderr
    lines = text.stdout.splitlines()
    assert lines[-1].startswith(
        f"schema: {len(report['changes'])} changes: {report['counts']['finding']} findings"
    )
    for (what, path), wanted in expected.items():
        assert any(
            line.split()[: len(wanted.split())] == wanted.split() and f" {path} " in f"{line} "
            for line in lines
        ), (what, path, wanted)
    assert not list((tmp_path / "tmp").iterdir()), "the run directory was left behind"


def test_without_schema_only_the_case_diff_follows(
    system_qemu: str, fetched_qemu: str, tmp_path: Path
) -> None:
    (tmp_path / "tmp").mkdir()
    done = cli(
        *("diff", "--qemu", system_qemu, "--qemu", fetched_qemu, "--json"),
        *("--commands", "query-version", "--examples", "2"),
        env={"TMPDIR": str(tmp_path / "tmp")},
        timeout=120,
    )
    report = json.loads(done.stdout)
    assert report["commands"] == 1, report
    assert report["examples"] == 2, report
    schema = report["schema"]
    assert schema["counts"]["finding"] > 0, schema["counts"]
    assert done.returncode == 1, done.stderr
    assert not list((tmp_path / "tmp").iterdir()), "the run directory was left behind"
