"""No QEMU, worker or helper outlives a run that is SIGKILLed mid-way.

Each command is started with a unique marker in its environment (tests/integration/
proctree.py), which everything it starts inherits: after the SIGKILL, the marked
processes are looked up in /proc, whatever their parent has become, and they must all be
gone within 5 s. SIGKILL can't be handled: what ends them is the death signal each one
got as it started (setpriv for QEMU, conformance.lifeline for our Python children).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from conformance.errors import EXIT_INTERRUPTED
from tests.integration.proctree import (
    MARK_ENV,
    Proc,
    kill_all,
    marked,
    new_mark,
    wait_for,
    wait_gone,
)

pytestmark = pytest.mark.qemu

#: The brief's bound: what dies with its parent dies within this.
GONE_WITHIN = 5.0
#: For the run to reach the point where it is killed (a child run, workers, their QEMUs).
MIDWAY_WITHIN = 120.0
#: After SIGTERM, the child run of --all-installed stops its QEMUs and writes its reports.
STOP_WITHIN = 60.0


def _not_started_by(top: int) -> Callable[[list[Proc]], bool]:
    """A QEMU started by another process than the command itself: a worker's, or a child
    run's, i.e. the run is past its own start-up checks."""
    return lambda procs: any(p.is_qemu and p.ppid != top for p in procs)


def _two_qemus(_top: int) -> Callable[[list[Proc]], bool]:
    """Both sides of a diff up at once: it is comparing a command."""
    return lambda procs: sum(p.is_qemu for p in procs) >= 2


def _commands(
    qemu: str, reports: Path
) -> dict[str, tuple[list[str], Callable[[int], Callable[[list[Proc]], bool]]]]:
    run = ["run", "--profile", "ci", "--reports", str(reports)]
    xdist = ["--", "-n", "2", "-p", "no:randomly", "--minimise-budget=0"]
    return {
        "run": ([*run, "--qemu", qemu, *xdist], _not_started_by),
        # The binary on PATH, as --all-installed finds it; one target keeps it short.
        "run --all-installed": ([*run, "--all-installed", "--targets", "x86_64", *xdist], _not_started_by),
        "fuzz": (["fuzz", "--qemu", qemu, "--time", "5m", "--workers", "2", "--reports", str(reports)], _not_started_by),
        "diff": (["diff", "--qemu", qemu, "--machine", "none", "--machine", "q35", "--examples", "1000"], _two_qemus),
    }  # fmt: skip


@contextmanager
def _marked_run(argv: list[str], tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """The command, started with a new marker; it and all it started are killed after."""
    mark = new_mark()
    (tmp_path / "tmp").mkdir(exist_ok=True)
    env = {**os.environ, MARK_ENV: mark, "TMPDIR": str(tmp_path / "tmp")}
    top = subprocess.Popen(
        [sys.executable, "-m", "conformance.cli", *argv],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
        cwd=tmp_path,
    )
    try:
        yield top, mark
    finally:
        if top.poll() is None:
            top.kill()
            top.wait(timeout=10)
        kill_all(mark)


@pytest.mark.parametrize("command", ["run", "run --all-installed", "fuzz", "diff"])
def test_sigkill_midway_leaves_no_process(qemu_binary: str, tmp_path: Path, command: str) -> None:
    argv, midway = _commands(qemu_binary, tmp_path / "reports")[command]
    with _marked_run(argv, tmp_path) as (top, mark):
        wait_for(mark, top.pid, midway(top.pid), MIDWAY_WITHIN)
        before = marked(mark)
        top.kill()
        top.wait(timeout=10)
        left = wait_gone(mark, GONE_WITHIN)
        assert not left, f"outlived the SIGKILLed {command!r} (of {len(before)}): {left}"


def test_sigterm_stops_the_child_run_of_all_installed(tmp_path: Path) -> None:
    """The parent used to die of SIGTERM at once, leaving its child run (in a process
    group of its own, which a terminal's or CI's signal doesn't reach) and its QEMUs."""
    argv, midway = _commands("unused", tmp_path / "reports")["run --all-installed"]
    with _marked_run(argv, tmp_path) as (top, mark):
        wait_for(mark, top.pid, midway(top.pid), MIDWAY_WITHIN)
        top.send_signal(signal.SIGTERM)
        assert top.wait(timeout=STOP_WITHIN) == EXIT_INTERRUPTED
        left = wait_gone(mark, GONE_WITHIN)
        assert not left, f"outlived the run stopped by SIGTERM: {left}"
