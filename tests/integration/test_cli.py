"""The command line against the real binary: counts from the binary, one-line errors."""

from __future__ import annotations

import json
import os
import re
import selectors
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from conformance.machine.instance import LaunchConfig, QemuInstance
from tests.integration.clirun import cli, run_suite
from tests.integration.processes import qemus_under

pytestmark = pytest.mark.qemu


def test_spec_counts_come_from_the_binary(config: LaunchConfig) -> None:
    with QemuInstance(config) as inst:
        raw = inst.execute("query-qmp-schema").value
    assert isinstance(raw, list)
    expected = Counter(entry["meta-type"] for entry in raw)
    done = cli("spec", "--qemu", config.binary)
    assert done.returncode == 0, done.stderr
    counts = dict(line.split() for line in done.stdout.splitlines()[1:8])
    assert {k: int(v) for k, v in counts.items()} == dict(expected)


def test_spec_json_dump(schema_72_x86: Path) -> None:
    done = cli("spec", "--json", "--schema", str(schema_72_x86))
    assert done.returncode == 0, done.stderr
    model = json.loads(done.stdout)
    assert len(model["commands"]) == model["counts"]["command"]
    assert model["commands"]["query-status"]["meta-type"] == "command"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("run", "--qemu", "/nonexistent/qemu"), "not found"),
        (("run", "--qemu", "/bin/true"), "is not a QEMU binary"),
        (("run", "--qemu", "DIES"), "died during start-up.*no-such-device-xyz"),
        (("spec", "--qemu", "qemu-system-nope"), "not found on PATH"),
        (("spec", "--schema", "/nonexistent.json"), "cannot read"),
        (("spec", "--schema", "CORRUPT"), "CORRUPT"),
    ],
)
def test_bad_input_gives_one_line_and_exit_2(
    args: tuple[str, ...], message: str, dies_at_start: str, tmp_path: Path
) -> None:
    corrupt = tmp_path / "corrupt.json"
    corrupt.write_text('[{"name": "x", "meta-type": "object", "members": [{"name": "m"}]}]')
    args = tuple({"DIES": dies_at_start, "CORRUPT": str(corrupt)}.get(a, a) for a in args)
    message = message.replace("CORRUPT", "corrupt.json")
    done = cli(*args)
    assert done.returncode == 2, done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert re.search(message, lines[0]), lines[0]


def test_run_writes_reports(qemu_binary: str, tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    done = run_suite(qemu_binary, reports, "none", "-k", "query-version or greeting")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr
    assert "harness errors: 0" in done.stdout
    assert (reports / "junit.xml").is_file()
    features = set()
    for result in (reports / "allure-results").glob("*-result.json"):
        labels = json.loads(result.read_text())["labels"]
        features |= {label["value"] for label in labels if label["name"] == "feature"}
    assert {"query-version", "greeting"} <= features


def test_harness_error_exits_3(qemu_binary: str, tmp_path: Path) -> None:
    # A plugin that breaks one conformance test the way a suite bug would.
    (tmp_path / "qmpc_break_one.py").write_text(
        "def pytest_runtest_call(item):\n"
        "    if 'test_no_arguments[query-version' in item.nodeid:\n"
        "        raise RuntimeError('simulated harness bug')\n"
    )
    done = run_suite(
        qemu_binary,
        tmp_path / "reports",
        "none",
        "-p",
        "qmpc_break_one",
        "-k",
        "test_no_arguments and query-version",
        env={"PYTHONPATH": str(tmp_path)},
    )
    assert done.returncode == 3, done.stdout[-3000:]
    assert "harness errors: 1" in done.stdout
    assert "simulated harness bug" in done.stdout


SIGTERM_DEADLINE = 60.0


def test_sigterm_stops_the_run_and_leaves_nothing(qemu_binary: str, tmp_path: Path) -> None:
    """A cancelled CI job: SIGTERM to `qmp-conformance run` with xdist workers ends it as
    Ctrl-C does (exit 130), its QEMUs gone and its workdir, workers' included, removed."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "conformance.cli", "run", "--qemu", qemu_binary),
            *("--machine", "q35", "--profile", "ci", "--reports", str(tmp_path / "reports")),
            *("--", "-n", "2", "-k", "arguments"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "TMPDIR": str(tmp)},
    )
    try:
        # The first progress line: the workers are up and testing on their QEMUs.
        _read_until(proc, "%]", SIGTERM_DEADLINE)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=SIGTERM_DEADLINE)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, err[-2000:]
    assert "qmp-conformance: interrupted" in err
    assert "Traceback" not in err
    assert not qemus_under(tmp), "QEMU processes outlived the run"
    # pytest's own basetemp (pytest-of-USER) is left as by any run (test_host_safety).
    left = [p.name for p in tmp.iterdir() if not p.name.startswith("pytest-of-")]
    assert not left, left


def _read_until(proc: subprocess.Popen[str], marker: str, timeout: float) -> None:
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        while True:
            if not sel.select(timeout=max(0.0, deadline - time.monotonic())):
                pytest.fail(f"no {marker!r} in the run's output within {timeout:g}s")
            line = proc.stdout.readline()
            assert line, "the run ended before it got going"
            if marker in line:
                return
