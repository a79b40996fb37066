"""The protocol part of the suite against the real binary: the state machine's size in
the `ci` profile, and failures that carry their evidence.

These check the suite: whichever way QEMU answers, a failing protocol result must cite
the qmp-spec and carry the transcript it was judged on.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.integration.clirun import run_suite

pytestmark = pytest.mark.qemu
# A deadline for a hung run, not a time budget: on a loaded 2-core machine these runs
# took over 300 s (the state machine's 500 steps and the 1 MB inputs).
SUITE_DEADLINE = 900


def test_state_machine_and_limit_cases(qemu_binary: str, tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    done = run_suite(
        qemu_binary,
        reports,
        "none",
        "-k",
        "test_wire_state_machine or test_malformed_input_at_limits",
        timeout=SUITE_DEADLINE,
    )
    assert done.returncode in (0, 1), done.stdout[-3000:] + done.stderr
    assert "harness errors: 0" in done.stdout
    steps = re.search(r"wire state machine: (\d+) steps in (\d+) runs", done.stdout)
    assert steps, done.stdout[-2000:]
    # The ci profile's promise (docs/suite.md): at least 500 steps.
    assert int(steps.group(1)) >= 500
    results = [
        json.loads(p.read_text()) for p in (reports / "allure-results").glob("*-result.json")
    ]
    protocol = [r for r in results if {"name": "epic", "value": "protocol"} in r["labels"]]
    assert len(protocol) == 10  # the state machine and the nine limit cases
    for result in protocol:
        if result["status"] == "failed":
            assert "qmp-spec §" in result["statusDetails"]["message"]
            names = {a["name"] for a in result.get("attachments", [])}
            assert {"transcript.jsonl", "qemu-stderr.txt"} <= names, result["name"]


def test_limit_cases_at_the_largest_wire_size(qemu_binary: str, tmp_path: Path) -> None:
    """A 1 MB input takes the monitor seconds to read (about 130 KB/s): the write's
    deadline grows with its size, so the largest --wire-max-bytes is no harness error."""
    done = run_suite(
        qemu_binary,
        tmp_path / "reports",
        "none",
        "-k",
        "test_malformed_input_at_limits",
        "--wire-max-bytes=1000000",
        timeout=SUITE_DEADLINE,
    )
    assert done.returncode in (0, 1), done.stdout[-3000:] + done.stderr
    assert "harness errors: 0" in done.stdout, done.stdout[-3000:]
