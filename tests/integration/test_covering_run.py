"""The deterministic covering phase on a real QEMU: every domain point the policy allows
is exercised (the matrix counts at least 95% per command, excluded points listed with
their reason), the CI profile runs it whole and says so, and a case that fails is a
finding with a reproducer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.integration.clirun import cli

pytestmark = pytest.mark.qemu

# A union with dozens of variants and host-safety exclusions (blockdev-add), a command
# whose confinement rewrites values (netdev_add), ints and strings (block-commit), an
# 'any' member (qom-set), and object-add, whose colo-compare case crashes 7.2 and 10.0
# (a finding the baselines know).
COMMANDS = ("blockdev-add", "netdev_add", "block-commit", "qom-set", "object-add")


def test_covering_phase_covers_every_allowed_point(qemu_binary: str, tmp_path: Path) -> None:
    reports = tmp_path / "r"
    expr = " or ".join(f"[{c}]" for c in COMMANDS)
    done = cli(
        "run", "--qemu", qemu_binary, "--profile", "ci", "--baseline", "auto",
        "--reports", str(reports), "--",
        "-p", "no:randomly", f"--qmp-workdir={tmp_path / 'work'}", "--minimise-budget=0",
        "-k", f"covering and ({expr})",
        env={"TMPDIR": str(tmp_path)}, timeout=300,
    )  # fmt: skip
    assert done.returncode in (0, 1), done.stdout[-3000:] + done.stderr[-3000:]
    assert "covering valid arguments: 5 commands" in done.stdout
    assert "covering malformed arguments: 5 commands" in done.stdout
    assert "the covering phase runs whole" in done.stdout
    data = json.loads((reports / "matrix.json").read_text())
    rows = {r["command"]: r for r in data["commands"]}
    for command in COMMANDS:
        coverage = rows[command]["coverage"]
        exercised = sum(k["exercised"] for k in coverage.values())
        eligible = sum(k["total"] - k["excluded"] for k in coverage.values())
        assert exercised >= 0.95 * eligible, (command, coverage)
        excluded = rows[command]["excluded"]
        assert sum(k["excluded"] for k in coverage.values()) == len(excluded)
        assert all(why for why in excluded.values())
    # The policy leaves network block drivers out; confinement rewrites socket paths.
    assert any("policy" in why for why in rows["blockdev-add"]["excluded"].values())
    index = json.loads((reports / "findings" / "index.json").read_text())
    for finding in index["findings"]:
        directory = reports / "findings" / finding["slug"]
        assert (directory / "reproducer.jsonl").is_file()
        tests = json.loads((directory / "finding.json").read_text())["tests"]
        assert all("covering" in t for t in tests)
