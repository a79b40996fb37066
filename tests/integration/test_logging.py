"""The harness's decisions in `logging`: a restart of a QEMU, an exit's classification,
shown with --log-level=INFO and not by default."""

from __future__ import annotations

import logging
import os
import signal
from pathlib import Path

import pytest

from conformance.cli import _log_arguments
from conformance.machine.instance import LaunchConfig
from conformance.machine.pool import InstancePool
from tests.integration.clirun import cli

ROOT = Path(__file__).resolve().parents[2]
# The fault-injecting site hook of the fault-path tests: QMPC_FAULT=match:action.
SITE = Path(__file__).resolve().parent / "faultsite"


def test_the_default_level_adds_nothing_to_a_run() -> None:
    assert _log_arguments("WARNING") == []
    assert "--log-cli-level=INFO" in _log_arguments("INFO")


def test_a_pool_logs_the_restart_of_a_dead_qemu(
    system_qemu: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    pool = InstancePool(
        lambda profile: LaunchConfig(
            binary=system_qemu, profile=profile, workdir_base=str(tmp_path)
        )
    )
    try:
        first = pool.get("none")
        assert first.proc is not None
        os.kill(first.proc.pid, signal.SIGKILL)
        first.proc.wait(timeout=30)
        with caplog.at_level(logging.INFO, logger="conformance.machine.pool"):
            second = pool.get("none")
        assert second is not first
        assert any("restarting QEMU (profile none)" in r.getMessage() for r in caplog.records)
    finally:
        pool.close()


@pytest.mark.parametrize("workers", [(), ("-n", "1")], ids=["in-process", "xdist"])
def test_run_with_log_level_info_shows_a_restart(
    system_qemu: str, tmp_path: Path, workers: tuple[str, ...]
) -> None:
    """Live, from an xdist worker too (conformance.plugin.worker_log), not only in the
    reports of failed tests."""
    (tmp_path / "tmp").mkdir()
    pythonpath = os.pathsep.join(p for p in (str(SITE), os.environ.get("PYTHONPATH", "")) if p)
    env = {
        "QMPC_FAULT": "x-query-ramblock:SEGV",
        "PYTHONPATH": pythonpath,
        "TMPDIR": str(tmp_path / "tmp"),
    }
    done = cli(
        *("run", "--qemu", system_qemu, "--machine", "q35", "--log-level=INFO"),
        *("--reports", str(tmp_path / "reports"), "--"),
        *("-q", "-k", "test_valid_arguments and x-query-ramblock", "-p", "no:cacheprovider"),
        *workers,
        env=env,
        cwd=ROOT,
    )
    out = done.stdout + done.stderr
    assert "Traceback" not in done.stderr, out[-3000:]
    assert "restarting QEMU" in out, out[-3000:]
    assert "classified QEMU exit" in out, out[-3000:]
    if workers:
        assert "[gw0] qmp-conformance: INFO conformance." in done.stderr, out[-3000:]
