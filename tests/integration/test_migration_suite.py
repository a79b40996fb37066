"""The postcopy migration tests through the command line: two QEMUs, one socket."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conformance.drive.migration import no_userfaultfd
from tests.integration.clirun import run_suite

pytestmark = pytest.mark.qemu


def test_postcopy_tests_migrate_between_two_qemus(qemu_binary: str, tmp_path: Path) -> None:
    why = no_userfaultfd()
    if why:
        pytest.skip(f"postcopy needs userfaultfd: {why}")
    reports = tmp_path / "reports"
    done = run_suite(qemu_binary, reports, "q35", "-k", "test_migration", "-rA")
    output = done.stdout[-4000:] + done.stderr
    assert done.returncode == 0, output
    assert "2 passed" in done.stdout, output
    results = [
        json.loads(p.read_text()) for p in (reports / "allure-results").glob("*-result.json")
    ]
    features = {
        label["value"]
        for r in results
        for label in r.get("labels", [])
        if label["name"] == "feature"
    }
    assert features == {"migrate-start-postcopy"}, features
    # Nothing of the migration (socket, workdirs) is left in the reports directory.
    assert not list(reports.glob("**/*.sock"))
