"""`qmp-conformance fuzz` on the real binary: a short run, and one stopped by Ctrl-C."""

from __future__ import annotations

import json
import os
import re
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from conformance.findings.reproducer import Reproducer
from tests.integration.clirun import cli
from tests.integration.processes import qemus_under

pytestmark = pytest.mark.qemu

SUMMARY = re.compile(r"^fuzz ended \((?P<why>[^)]*)\) after .*: (?P<examples>\d+) examples", re.M)
UNIQUE = re.compile(
    r"^findings: (?P<n>\d+) unique \((?P<known>\d+) known, (?P<new>\d+) new\)", re.M
)
# Workers finish the exchange in flight (a reply deadline is 5 s) and are joined within
# conformance.fuzz.run.STOP_GRACE; a clean stop takes about a second.
STOP_DEADLINE = 25.0


def first_progress(proc: subprocess.Popen[str]) -> list[str]:
    """The output up to the first progress line: not on a terminal, one comes every
    10 s, and the first means the workers are up and generating."""
    assert proc.stdout is not None
    head = []
    for line in proc.stdout:
        head.append(line)
        if "examples (" in line:
            break
    return head


def children(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            # The command name is in parentheses and may hold spaces: split after it.
            if int(stat.rpartition(")")[2].split()[1]) == pid:
                out.append(int(entry.name))
    return out


def wait_gone(pids: list[int], deadline: float) -> list[int]:
    """The pids still alive after waiting on each (a pidfd is readable once its
    process has exited) until `deadline` (monotonic)."""
    alive = []
    for pid in pids:
        try:
            fd = os.pidfd_open(pid)
        except ProcessLookupError:
            continue
        try:
            poller = select.poll()  # not select(): a descriptor may be numbered past 1024
            poller.register(fd, select.POLLIN)
            ready = poller.poll(max(0.0, deadline - time.monotonic()) * 1000)
        finally:
            os.close(fd)
        if not ready:
            alive.append(pid)
    return alive


@pytest.fixture
def tmpdir_env(tmp_path: Path) -> dict[str, str]:
    """TMPDIR for the CLI: its run directory, and every QEMU workdir, under tmp_path."""
    (tmp_path / "tmp").mkdir()
    return {"TMPDIR": str(tmp_path / "tmp")}


def test_short_run_writes_loadable_findings(
    qemu_binary: str, tmp_path: Path, tmpdir_env: dict[str, str]
) -> None:
    reports = tmp_path / "reports"
    done = cli(
        *("fuzz", "--qemu", qemu_binary, "--time", "20s", "--workers", "2"),
        *("--reports", str(reports), "--seed", "1"),
        env=tmpdir_env,
        timeout=120,
    )
    out = done.stdout
    assert done.returncode in (0, 1), out + done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    summary = SUMMARY.search(out)
    assert summary is not None, out
    assert summary["why"] == "time is up"
    assert int(summary["examples"]) > 0
    assert "harness errors: 0" in out
    unique = UNIQUE.search(out)
    assert unique is not None, out
    directories = sorted(d for d in (reports / "findings").glob("*") if d.is_dir())
    assert len(directories) == int(unique["n"])
    assert done.returncode == (1 if int(unique["new"]) else 0)
    for directory in directories:
        rep = Reproducer.load(directory)
        assert rep.messages, directory
        assert json.loads((directory / "finding.json").read_text())["signature"] == rep.signature
        assert f"{rep.signature}  occurrences" in out
    assert_left_nothing(tmp_path)


@contextmanager
def running_fuzz(
    qemu_binary: str, tmp_path: Path, env: dict[str, str]
) -> Iterator[subprocess.Popen[str]]:
    """A 5-minute fuzz run, meant to be interrupted; killed if a test fails first."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "conformance.cli",
            *("fuzz", "--qemu", qemu_binary, "--time", "5m", "--workers", "2"),
            *("--reports", str(tmp_path / "reports"), "--seed", "2"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **env},
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def interrupt(proc: subprocess.Popen[str], head: list[str]) -> tuple[str, str, float]:
    """SIGINT the run; its whole output and how long it took to stop."""
    signalled = time.monotonic()
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=STOP_DEADLINE + 10)
    assert "Traceback" not in err, err
    return "".join(head) + out, err, time.monotonic() - signalled


def assert_left_nothing(tmp_path: Path) -> None:
    assert not qemus_under(tmp_path), "QEMU processes outlived the run"
    assert not list((tmp_path / "tmp").iterdir()), "the run directory was left behind"


def test_sigint_stops_the_run_with_a_summary(
    qemu_binary: str, tmp_path: Path, tmpdir_env: dict[str, str]
) -> None:
    with running_fuzz(qemu_binary, tmp_path, tmpdir_env) as proc:
        head = first_progress(proc)
        assert qemus_under(tmp_path), "the workers' QEMUs should be visible while they run"
        out, err, stopped_after = interrupt(proc, head)
    assert proc.returncode in (0, 1), out + err
    summary = SUMMARY.search(out)
    assert summary is not None, out
    assert summary["why"] == "SIGINT"
    assert stopped_after < STOP_DEADLINE, f"took {stopped_after:.1f}s to stop"
    assert "harness errors: 0" in out
    assert_left_nothing(tmp_path)


def test_a_killed_worker_takes_its_qemu_along_and_counts_as_harness_error(
    qemu_binary: str, tmp_path: Path, tmpdir_env: dict[str, str]
) -> None:
    with running_fuzz(qemu_binary, tmp_path, tmpdir_env) as proc:
        head = first_progress(proc)
        workers = [
            pid
            for pid in children(proc.pid)
            if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()
        ]
        assert len(workers) == 2, workers
        # The worker with a QEMU right now (chunks follow each other: one of them has).
        victim, its_qemus = max(((w, children(w)) for w in workers), key=lambda x: len(x[1]))
        assert its_qemus, "neither worker had a QEMU"
        os.kill(victim, signal.SIGKILL)
        assert not wait_gone(its_qemus, time.monotonic() + 10), "a QEMU outlived its worker"
        out, err, _ = interrupt(proc, head)
    assert proc.returncode == 3, out + err
    assert f"died (exit code -{signal.SIGKILL})" in out, out
    assert_left_nothing(tmp_path)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--time", "soon"), "--time 'soon': expected a duration"),
        (("--workers", "0"), "--workers must be at least 1"),
        (("--qemu", "/bin/true"), "is not a QEMU binary"),
        (("--baseline", "/nonexistent/baseline.json"), "cannot read"),
    ],
)
def test_bad_input_gives_one_line_and_exit_2(
    args: tuple[str, ...], message: str, tmp_path: Path, tmpdir_env: dict[str, str]
) -> None:
    done = cli("fuzz", "--time", "1s", "--reports", str(tmp_path), *args, env=tmpdir_env)
    assert done.returncode == 2, done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert message in lines[0], lines[0]
