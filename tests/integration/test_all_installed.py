"""`run --all-installed` over real binaries, and `--shard K/N` against the unsharded run.

Small selections (`-k`) keep them quick: the point is the orchestration (per-target
directories, the merge, the exit status) and the partition, not the suite itself.
"""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from conformance.reporting.merge import INDEX_KEY, read_properties
from tests.integration.clirun import cli

pytestmark = pytest.mark.qemu

SELECTION = "query-version or query-status or greeting"
# Quick and repeatable: no minimising of new findings' reproducers, one process.
QUICK = ("-p", "no:randomly", "--minimise-budget=0", "-k", SELECTION)


def _junit_ids(path: Path) -> list[str]:
    root = ET.parse(path).getroot()
    return [f"{tc.get('classname')}::{tc.get('name')}" for tc in root.iter("testcase")]


def test_all_installed_runs_each_target_and_merges(qemu_binary: str, tmp_path: Path) -> None:
    targets = ["x86_64"]
    if shutil.which("qemu-storage-daemon") is not None:
        targets.append("qemu-storage-daemon")
    reports = tmp_path / "reports"
    done = cli(
        "run", "--all-installed", "--targets", ",".join(targets), "--profile", "ci",
        "--reports", str(reports), "--", "-q", *QUICK,
        env={"TMPDIR": str(tmp_path)}, timeout=600,
    )  # fmt: skip
    out = done.stdout + done.stderr
    assert done.returncode in (0, 1), out[-4000:]
    assert "==== qmp-conformance: all installed targets ====" in done.stdout
    summary = done.stdout.split("==== qmp-conformance: all installed targets ====")[1]
    for target in targets:
        d = reports / "targets" / target
        for name in ("junit.xml", "matrix.md", "matrix.json", "matrix.svg", "run.log"):
            assert (d / name).is_file(), f"{target}: no {name}"
        assert any((d / "allure-results").glob("*-result.json"))
        matrix = json.loads((d / "matrix.json").read_text())
        assert matrix["title"].endswith(f" {target}")
        assert any(r["status"] != "n/a" for r in matrix["commands"])
        assert any(line.startswith(target) for line in summary.splitlines()), summary
    index = json.loads((reports / "matrix.json").read_text())
    assert index[INDEX_KEY] == 1
    assert sorted(t["target"] for t in index["targets"]) == sorted(targets)
    assert all(
        (reports / "targets" / t / "matrix.md").is_file()
        and t in (reports / "matrix.md").read_text()
        for t in targets
    )
    merged = reports / "allure-results"
    per_target = sum(
        len(list((reports / "targets" / t / "allure-results").glob("*-result.json")))
        for t in targets
    )
    results = [json.loads(p.read_text()) for p in merged.glob("*-result.json")]
    assert len(results) == per_target, "every target's results are in the merged directory"
    seen = {
        str(p["value"]).strip("'")
        for r in results
        for p in r.get("parameters", ())
        if p.get("name") == "target"
    }
    assert seen == set(targets)
    assert set(
        read_properties(merged / "environment.properties")["qemu.target"].split(", ")
    ) == set(targets)


def test_a_binary_that_cannot_start_is_skipped_not_failed(qemu_binary: str, tmp_path: Path) -> None:
    microvm = shutil.which("qemu-system-x86_64-microvm")
    if microvm is None:
        pytest.skip("qemu-system-x86_64-microvm is not installed")
    if Path("/dev/kvm").exists():
        pytest.skip("this host has KVM: the microvm build can start here")
    reports = tmp_path / "reports"
    done = cli(
        "run", "--all-installed", "--targets", "x86_64,x86_64-microvm", "--profile", "ci",
        "--reports", str(reports), "--", "-q", *QUICK,
        env={"TMPDIR": str(tmp_path)}, timeout=600,
    )  # fmt: skip
    assert done.returncode in (0, 1), (done.stdout + done.stderr)[-4000:]
    assert "Traceback" not in done.stdout + done.stderr
    skipped = [ln for ln in done.stdout.splitlines() if ln.startswith("x86_64-microvm  ")]
    assert len(skipped) == 1, done.stdout[-3000:]
    assert "skipped: cannot start on this host" in skipped[0]
    index = json.loads((reports / "matrix.json").read_text())
    assert [t["target"] for t in index["targets"]] == ["x86_64"]
    assert "qemu-system-x86_64-microvm" in {s["binary"] for s in index["skipped"]}


def test_two_shards_split_the_unsharded_selection(qemu_binary: str, tmp_path: Path) -> None:
    ids: dict[str, list[str]] = {}
    for name, shard in (("all", ()), ("one", ("--shard", "1/2")), ("two", ("--shard", "2/2"))):
        reports = tmp_path / name
        done = cli(
            "run", "--qemu", qemu_binary, "--profile", "ci", *shard, "--reports", str(reports),
            "--", *QUICK, env={"TMPDIR": str(tmp_path)}, timeout=300,
        )  # fmt: skip
        assert done.returncode in (0, 1), (done.stdout + done.stderr)[-4000:]
        if shard:
            assert f"shard {shard[1]}: " in done.stdout
        ids[name] = _junit_ids(reports / "junit.xml")
    one, two, everything = set(ids["one"]), set(ids["two"]), set(ids["all"])
    assert one, "shard 1 runs something"
    assert two, "shard 2 runs something"
    assert not one & two, f"in both shards: {sorted(one & two)}"
    assert one | two == everything
    assert len(ids["one"]) + len(ids["two"]) == len(ids["all"])


def test_an_unknown_target_lists_the_installed_ones(qemu_binary: str, tmp_path: Path) -> None:
    done = cli(
        "run", "--all-installed", "--targets", "x86_64,nonesuch", "--reports", str(tmp_path),
        env={"TMPDIR": str(tmp_path)}, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2, done.stdout + done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("qmp-conformance: --targets: not installed: nonesuch (installed: ")
    installed = line.split("(installed: ", 1)[1].rstrip(")").split(", ")
    assert "x86_64" in installed
    # Debian's qemu-system-ppc64le is a symlink to qemu-system-ppc64: one target.
    assert "ppc64le" not in installed
