"""The job state machine is judged on every conformance test, not only on job tests.

`test_no_arguments[query-status-none]` starts no job. With a plugin that adds an
impossible JOB_STATUS_CHANGE to its QEMU's transcript (tests/integration/
job_event_injector.py), the suite's job check must fail that test as a finding, citing
the job state machine; without it, the same test passes.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.clirun import run_suite

pytestmark = pytest.mark.qemu

ROOT = Path(__file__).resolve().parents[2]
SELECT = "test_no_arguments and query-status"


def test_an_illegal_job_stream_fails_a_test_that_starts_no_job(
    qemu_binary: str, tmp_path: Path
) -> None:
    done = run_suite(
        qemu_binary,
        tmp_path / "injected",
        "none",
        "-k",
        SELECT,
        "-p",
        "tests.integration.job_event_injector",
        cwd=ROOT,
    )
    output = done.stdout[-4000:] + done.stderr
    assert done.returncode == 1, output
    assert "1 failed" in done.stdout, output
    assert "[jobs.start]" in done.stdout, output
    assert "'injected'" in done.stdout, output
    assert "harness errors: 0" in done.stdout, output


def test_the_same_test_passes_without_the_injected_event(qemu_binary: str, tmp_path: Path) -> None:
    done = run_suite(qemu_binary, tmp_path / "plain", "none", "-k", SELECT, cwd=ROOT)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr
    assert "1 passed" in done.stdout, done.stdout[-4000:]
