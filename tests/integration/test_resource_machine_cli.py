"""The resource state machine through the command line, on the q35 profile."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.integration.clirun import run_suite

pytestmark = pytest.mark.qemu

TEST = "test_resource_state_machine"
# The summary line the plugin prints for this machine.
SUMMARY = re.compile(r"resource state machine: (\d+) steps in (\d+) runs")


def _properties(junit: Path, test: str) -> dict[str, str]:
    """The user properties junit.xml records for the test case named `test`."""
    for case in ET.parse(junit).getroot().iter("testcase"):
        if case.get("name") == test:
            return {
                str(p.get("name")): str(p.get("value"))
                for p in case.iter("property")
                if p.get("name") is not None
            }
    raise AssertionError(f"{test} is not in {junit}")


def test_resource_machine_runs_at_least_200_steps(qemu_binary: str, tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    # Shrinking the crash 7.2 has stops at Hypothesis's five-minute limit: about 5.5
    # minutes in all here (seconds when nothing fails).
    done = run_suite(qemu_binary, reports, "q35", "-k", "test_resource_machine", timeout=900)
    output = done.stdout[-3000:] + done.stderr
    # 1: the machine found something (QEMU 7.2 crashes on some transactions); 0: nothing.
    assert done.returncode in (0, 1), output
    assert "harness errors: 0" in done.stdout, output
    properties = _properties(reports / "junit.xml", TEST)
    steps, runs = int(properties["resource-steps"]), int(properties["resource-runs"])
    assert steps >= 200, f"only {steps} steps in {runs} runs\n{output}"
    summary = SUMMARY.search(done.stdout)
    assert summary is not None, output
    assert (int(summary[1]), int(summary[2])) == (steps, runs), summary[0]
