"""Exit codes as the CLI returns them, and the life of the processes a run starts:
helpers killed by process group, Python children dying with their parent, the plugin
loaded only for the suite, a write's deadline growing with its size."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
from pathlib import Path

import pytest

import conformance.suite
from conformance import lifeline
from conformance.cli import main
from conformance.errors import (
    EXIT_CODES,
    EXIT_NO_VERDICT,
    EXIT_USAGE,
    SetupError,
)
from conformance.pytest_entry import runs_suite
from conformance.qmp.transport import write_seconds
from conformance.tool import run_tool
from tests.conftest import PROJECT_ROOT

#: The rate bench measurements give for the monitor reading a big input.
MEASURED_MONITOR_RATE = 130_000


def _gone(pid: int, timeout: float) -> bool:
    """Whether `pid` ends within `timeout`, waited on with its pidfd."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        return bool(poller.poll(timeout * 1000))
    finally:
        os.close(fd)


@pytest.mark.parametrize(
    "argv",
    [
        ["replay", "--runs", "many", "x.jsonl"],  # argparse's own error
        ["replay"],  # a missing argument
        ["replay", "x.jsonl", "--no-such-option"],  # unknown to the top-level parser
    ],
)
def test_replay_argument_errors_are_no_verdict(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == EXIT_NO_VERDICT
    assert "Traceback" not in capsys.readouterr().err


def test_replay_of_an_unreadable_reproducer_is_no_verdict(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text("not a reproducer\n", encoding="utf-8")
    for path in (bad, tmp_path / "missing.jsonl"):
        assert main(["replay", str(path), "--qemu", "/nonexistent/qemu"]) == EXIT_NO_VERDICT
        err = capsys.readouterr().err
        assert err.startswith("qmp-conformance: "), err
        assert "Traceback" not in err


def test_replay_tap_bails_out_when_there_is_no_verdict(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    # Not a skipped plan: that is for 125, a binary that can't be tested.
    assert main(["replay", str(tmp_path / "missing.jsonl"), "--tap"]) == EXIT_NO_VERDICT
    out = capfd.readouterr().out.splitlines()
    assert out[0] == "TAP version 13"
    assert out[-1].startswith("Bail out! ")
    assert not any(line.startswith("1..") for line in out)


def test_other_commands_keep_exit_2_for_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--no-such-option"]) == EXIT_USAGE
    assert main(["no-such-command"]) == EXIT_USAGE
    assert main([]) == EXIT_USAGE
    capsys.readouterr()


def test_replays_codes_steer_git_bisect_run_only_with_a_verdict() -> None:
    (replay,) = [f for f in EXIT_CODES if "replay" in f.commands]
    codes = {c.code for c in replay.codes}
    assert EXIT_NO_VERDICT in codes
    # bisect run aborts on 128 and above, takes other codes but 125 as "bad".
    assert all(c >= 128 for c in codes - {0, 1, 125})


def test_a_tool_that_overruns_is_killed_with_its_children(tmp_path: Path) -> None:
    pidfile = tmp_path / "child.pid"
    # The tool starts a child of its own, as npm does, and waits for it.
    script = f"sleep 600 & echo $! > {pidfile}; wait"
    with pytest.raises(SetupError, match="did not finish within"):
        run_tool(["sh", "-c", script], timeout=1.0)
    child = int(pidfile.read_text())
    assert _gone(child, 5.0), "the tool's child outlived it"


def test_a_tool_that_finishes_says_what_it_printed() -> None:
    assert run_tool(["sh", "-c", "echo out; echo err >&2; exit 3"], timeout=30) == (
        3,
        "out\nerr\n",
    )


def test_a_python_child_dies_with_its_parent_even_by_sigkill() -> None:
    parent_code = (
        "import subprocess, sys\n"
        "from conformance import lifeline\n"
        "child = subprocess.Popen([sys.executable, '-c', "
        "'from conformance import lifeline; lifeline.adopt(); import sys; sys.stdin.read()'],"
        " env=lifeline.child_env(), stdin=subprocess.PIPE)\n"
        "print(child.pid, flush=True)\n"
        "sys.stdin.read()\n"
    )
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    parent = subprocess.Popen(
        [sys.executable, "-c", parent_code],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert parent.stdout is not None
        child = int(parent.stdout.readline())
        parent.kill()
        parent.wait(timeout=10)
        assert _gone(child, 5.0), "the child outlived its SIGKILLed parent"
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait(timeout=10)


def test_a_child_whose_parent_is_already_gone_dies_at_once() -> None:
    code = "from conformance import lifeline\nlifeline.adopt()\nprint('alive')\n"
    # Named parent: pid 1, never this child's parent here (ours is the test process).
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), lifeline.PARENT_ENV: "1"}
    done = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == -signal.SIGKILL
    assert "alive" not in done.stdout


def test_the_plugin_is_loaded_only_for_the_suite(tmp_path: Path) -> None:
    suite = Path(__file__).resolve().parents[2] / "conformance" / "suite"
    assert runs_suite(["conformance.suite"], tmp_path)
    assert runs_suite(["-q", "conformance.suite.test_protocol::test_x"], tmp_path)
    assert runs_suite([str(suite / "test_protocol.py")], tmp_path)
    # The installed suite, wherever the package is (a wheel in tox, not this checkout).
    installed = Path(conformance.suite.__file__).resolve().parent
    assert runs_suite([str(installed / "test_protocol.py")], tmp_path)
    other = tmp_path / "project" / "conformance" / "suite"
    other.mkdir(parents=True)
    assert not runs_suite([str(other)], tmp_path)  # a "suite" of another project
    assert not runs_suite(["tests/unit", "-k", "suite"], tmp_path)
    assert not runs_suite(["conformance.suitey", "conformance"], tmp_path)
    assert not runs_suite([], tmp_path)


def test_a_big_write_gets_the_time_the_monitor_takes_to_read_it() -> None:
    base = 5.0
    for size in (650_000, 1_000_000):
        assert write_seconds(size, base) >= base + size / MEASURED_MONITOR_RATE
    assert write_seconds(100, base) < base + 0.01  # a command's deadline stays as it was
