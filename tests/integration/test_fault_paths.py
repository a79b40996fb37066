"""A misbehaving QEMU is a classified finding on every call path, never a harness error.

For each kind of path that talks to QEMU, a run with the fault hook
(tests/integration/qemu_fault.py, selected by the environment) makes the real QEMU
die, stop or lose its QMP channel mid-exchange. The run must end with exit 1, no
harness error, a finding of the expected kind, and a reproducer that `replay` runs to
a verdict: the same finding again where the fault recurs on replay (the fault is keyed
to a command the reproducer writes), a verdict at all otherwise.

`diff`, whose cases compare outcomes, sees a crash on both sides as no difference, and
a crash while it harvests as a one-line set-up error. Fast on purpose: one test per
path, a `-k` selection of one suite test each. Run as
``pytest tests/integration/test_fault_paths.py -n 2``.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from subprocess import CompletedProcess

import pytest

from conformance.errors import EXIT_CANNOT_TEST, EXIT_FINDINGS, EXIT_OK, EXIT_USAGE
from conformance.findings.reproducer import Reproducer
from tests.integration.clirun import cli, run_suite

pytestmark = pytest.mark.qemu

ROOT = Path(__file__).resolve().parents[2]
SITE = Path(__file__).resolve().parent / "faultsite"


@dataclass(frozen=True)
class Path_:
    name: str
    select: str  # the -k expression: one suite test
    fault: str  # QMPC_FAULT: match:action
    kind: str  # the finding kind expected
    recurs: bool  # the fault meets the reproducer's own writes on replay
    machine: str = "q35"


PATHS = [
    Path_(
        "argument-exchange",
        "test_valid_arguments and x-query-ramblock",
        "x-query-ramblock:SEGV",
        "crash",
        recurs=True,
    ),
    # A big broken input written to a QEMU that just died: EPIPE mid-write.
    Path_(
        "protocol", "test_malformed_input and long-token", "send_raw:KILL", "crash", recurs=False
    ),
    Path_(
        "wire-machine",
        "test_wire_state_machine",
        '"execute":"query-version":KILL',
        "crash",
        recurs=True,
    ),
    Path_(
        "resource-machine",
        "test_resource_state_machine",
        "blockdev-add:ABRT",
        "crash",
        recurs=True,
    ),
    Path_(
        "doc-example",
        "test_doc_example and query-name-1",
        '"query-name":KILL',
        "crash",
        recurs=True,
    ),
    Path_(
        "doc-error", "test_doc_error and block-stream-1", "block-stream:ABRT", "crash", recurs=True
    ),
    Path_(
        "behaviour",
        "test_behaviour and tray.open-emits-event",
        "blockdev-open-tray:close",
        "hang",
        recurs=True,
    ),
    # The job's event is awaited from a stopped QEMU: the liveness probe calls it a hang.
    Path_(
        "job-verbs",
        "test_refused_verb and concluded-cancel",
        "wait_event JOB_STATUS_CHANGE:STOP",
        "hang",
        recurs=False,
    ),
    Path_(
        "migration",
        "test_postcopy_refused_without_capability",
        "wait_event MIGRATION:STOP",
        "hang",
        recurs=False,
    ),
]


def _env(fault: str, tmp_path: Path) -> dict[str, str]:
    (tmp_path / "tmp").mkdir(exist_ok=True)
    path = os.pathsep.join(p for p in (str(SITE), os.environ.get("PYTHONPATH", "")) if p)
    return {"QMPC_FAULT": fault, "PYTHONPATH": path, "TMPDIR": str(tmp_path / "tmp")}


def _findings(reports: Path) -> list[Path]:
    index = json.loads((reports / "findings" / "index.json").read_text())
    return [reports / "findings" / row["slug"] for row in index["findings"]]


def _replay(directory: Path, qemu: str, env: dict[str, str]) -> int:
    """`replay` on the finding in `directory`: its verdict, which must be one (or
    "cannot test", when the fault meets replay's own start-up: never a harness error)."""
    Reproducer.load(directory)
    done = cli("replay", "--qemu", qemu, "--runs", "1", str(directory), env=env, timeout=120)
    out = done.stdout + done.stderr
    assert "Traceback" not in out, out
    assert done.returncode in (EXIT_OK, EXIT_FINDINGS, EXIT_CANNOT_TEST), out
    return done.returncode


def _check(
    done: CompletedProcess[str],
    reports: Path,
    kind: str,
    qemu: str,
    env: dict[str, str],
    recurs: bool,
) -> None:
    """Exit 1, no harness error, every finding of `kind`, each replayed to a verdict;
    where the fault recurs on replay, a finding reproduced. (Hypothesis may report a
    state machine's crash twice, shrunk two ways; a crash noticed only when a later
    write failed is signed at that write, which replay then never reaches.)"""
    out = done.stdout[-6000:] + done.stderr[-3000:]
    assert done.returncode == EXIT_FINDINGS, out
    assert "harness errors: 0" in done.stdout, out
    found = _findings(reports)
    assert found, out
    assert all(d.name.startswith(f"{kind}-") for d in found), (found, out)
    verdicts = [_replay(d, qemu, env) for d in found]
    if recurs:
        assert EXIT_FINDINGS in verdicts, (found, verdicts, out)


def _suite(
    qemu: str, tmp_path: Path, select: str, env: dict[str, str], machine: str = "q35"
) -> tuple[CompletedProcess[str], Path]:
    """`qmp-conformance run` of the suite tests `select` picks, into tmp_path/reports."""
    reports = tmp_path / "reports"
    args = ("-k", select, "-p", "no:cacheprovider")
    return run_suite(qemu, reports, machine, *args, env=env, cwd=ROOT), reports


@pytest.mark.parametrize("path", PATHS, ids=[p.name for p in PATHS])
def test_fault_is_a_finding(path: Path_, system_qemu: str, tmp_path: Path) -> None:
    env = _env(path.fault, tmp_path)
    done, reports = _suite(system_qemu, tmp_path, path.select, env, path.machine)
    if " skipped" in done.stdout and " failed" not in done.stdout:
        pytest.skip(f"{path.select} cannot run here: {done.stdout[-300:]}")
    _check(done, reports, path.kind, system_qemu, env, path.recurs)


def test_harvest_fault_is_a_finding(system_qemu: str, tmp_path: Path) -> None:
    """The pools are harvested before the first test that needs them (an empty cache
    makes the run harvest): a crash there fails that test as a finding."""
    env = {**_env("query-named-block-nodes:KILL", tmp_path), "XDG_CACHE_HOME": str(tmp_path)}
    done, reports = _suite(system_qemu, tmp_path, "test_valid_arguments and x-query-ramblock", env)
    _check(done, reports, "crash", system_qemu, env, recurs=True)


def test_fuzz_worker_fault_is_a_finding(system_qemu: str, tmp_path: Path) -> None:
    # The first raw write of each worker's QEMU (its wire runs); the parent writes none.
    env = _env("send_raw :KILL", tmp_path)
    reports = tmp_path / "reports"
    done = cli(
        *("fuzz", "--qemu", system_qemu, "--time", "20s", "--workers", "1"),
        *("--reports", str(reports), "--seed", "1"),
        env=env,
        timeout=120,
    )
    out = done.stdout[-6000:] + done.stderr[-3000:]
    assert "Traceback" not in done.stderr, out
    assert done.returncode == EXIT_FINDINGS, out
    assert not re.search(r"harness errors: [1-9]", done.stdout), out
    index = json.loads((reports / "findings" / "index.json").read_text())
    # The injected SIGKILL, not a crash of QEMU's own the fuzzer may also find.
    # (A crash that left only its signal is signed with its arguments' shape too.)
    rows = [r for r in index["findings"] if re.search(r"\| SIGKILL( args=\S+)?$", r["signature"])]
    assert rows, index
    _replay(reports / "findings" / rows[0]["slug"], system_qemu, env)


def test_replay_fault_is_a_verdict(system_qemu: str, tmp_path: Path) -> None:
    """QEMU dying under `replay` itself, at a write the reproducer doesn't expect to
    crash: a verdict (not reproduced), never a harness error."""
    plain = {"TMPDIR": str(tmp_path)}
    done, reports = _suite(system_qemu, tmp_path, "test_doc_error and block-stream-1", plain)
    index = reports / "findings" / "index.json"
    if not index.is_file():
        pytest.skip(f"no finding to replay on this QEMU: {done.stdout[-300:]}")
    directory = _findings(reports)[0]
    for fault in ("qmp_capabilities:KILL", "block-stream:STOP", "block-stream:close"):
        env = _env(fault, tmp_path)
        _replay(directory, system_qemu, env)


@pytest.mark.parametrize(
    ("fault", "status"),
    [
        # Both sides crash on the same case: a crash compared with a crash, no difference.
        ('"query-status":SEGV', (EXIT_OK, EXIT_FINDINGS)),
        # Side A dies while its names are harvested: the diff can't start (one line).
        ('"query-block":KILL', (EXIT_USAGE,)),
    ],
    ids=["case", "harvest"],
)
def test_diff_fault_is_classified(
    fault: str, status: tuple[int, ...], system_qemu: str, tmp_path: Path
) -> None:
    done = cli(
        *("diff", "--qemu", system_qemu, "--machine", "none", "--machine", "q35"),
        *("--commands", "query-block,query-status", "--examples", "2"),
        env=_env(fault, tmp_path),
        timeout=120,
    )
    out = done.stdout[-6000:] + done.stderr[-3000:]
    assert "Traceback" not in done.stderr, out
    assert done.returncode in status, out
    assert "harness error" not in done.stdout, out
    if done.returncode == EXIT_USAGE:
        assert len(done.stderr.strip().splitlines()) == 1, out
