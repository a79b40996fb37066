"""qemu-storage-daemon as the binary under test: its own launch syntax, its QMP (block,
jobs and exports, no machine), a job's events, its exits, a finding's reproducers and
one run of the CLI."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
from pathlib import Path

import pytest

from conformance.findings.reproducer import QEMU_TOKEN, Outcome, Reproducer, one_liner
from conformance.machine.exits import ExitKind
from conformance.machine.instance import LaunchConfig, QemuGone, QemuInstance
from conformance.machine.probe import probe
from conformance.oracle.conversation import messages
from conformance.oracle.failure import FindingKind
from conformance.oracle.jobs import check_job_events
from conformance.qmp.message import Kind
from conformance.spec import schema_from_reply
from tests.integration.clirun import cli

pytestmark = pytest.mark.qemu

DAEMON = "qemu-storage-daemon"
CAPS = b'{"execute":"qmp_capabilities"}'
# The releases seen to abort on blockdev-reopen with an empty options list (block.c
# bdrv_reopen_multiple asserts a non-empty queue): 7.2 and 10.0.
REOPEN_ABORTS = ((7, 2), (10, 0))

# Options of qemu-system the daemon doesn't have; the harness must never pass them.
SYSTEM_ONLY = {"-nodefaults", "-no-user-config", "-display", "-S", "-machine", "-sandbox", "-mon"}


@pytest.fixture(scope="module")
def daemon(qemu_binary: str) -> str:
    # The daemon of the QEMU under test: the one beside its emulator (a QEMU unpacked or
    # fetched into bin/ has both there), else the one on PATH.
    beside = Path(qemu_binary).parent / DAEMON
    path = str(beside) if beside.is_file() else shutil.which(DAEMON)
    if path is None:
        pytest.skip(f"{DAEMON} is not installed (apt-get install qemu-system-common)")
    return path


@pytest.fixture
def daemon_config(daemon: str, tmp_path: Path) -> LaunchConfig:
    return LaunchConfig(
        binary=daemon, profile="daemon", workdir_base=str(tmp_path / "work"), timeout=10.0
    )


@pytest.mark.parametrize("channel", ["fd", "unix"])
def test_launch_with_the_daemon_syntax(daemon_config: LaunchConfig, channel: str) -> None:
    daemon_config.channel = channel  # type: ignore[assignment]
    daemon_config.monitors = 2
    with QemuInstance(daemon_config) as inst:
        argv = inst.abstract_argv()
        assert not SYSTEM_ONLY & set(argv), argv
        assert argv[1:3] == ["--blockdev", "driver=null-co,node-name=null0,read-zeroes=on"]
        backend = "fd=" if channel == "fd" else "path=qmp.sock,server=off"
        assert argv[3] == "--chardev"
        assert argv[4].startswith(f"socket,id=qmp,{backend}")
        assert argv[5:7] == ["--monitor", "chardev=qmp"]
        assert argv[-2:] == ["--monitor", "chardev=qmp1"]
        meta = inst.transcript.meta
        assert (meta["target"], meta["profile"], meta["channel"]) == (DAEMON, "daemon", channel)
        # Both monitors negotiated and answer.
        assert inst.execute("query-version").ok
        assert inst._extra_sessions[0].execute("query-version").ok


def test_machine_profiles_are_refused_and_none_is_bare(daemon_config: LaunchConfig) -> None:
    daemon_config.profile = "none"
    with QemuInstance(daemon_config) as inst:
        assert inst.abstract_argv()[1] == "--chardev"
        assert inst.execute("query-named-block-nodes").value == []
    daemon_config.profile = "q35"
    with pytest.raises(Exception, match="qemu-storage-daemon has no machine"):
        QemuInstance(daemon_config).start()


def test_schema_is_the_daemons(daemon_config: LaunchConfig) -> None:
    with QemuInstance(daemon_config) as inst:
        schema = schema_from_reply(inst.execute("query-qmp-schema").value)
    assert "block-export-add" in schema.commands
    assert "blockdev-add" in schema.commands
    assert "device_add" not in schema.commands
    assert "query-machines" not in schema.commands


def test_blockdev_add_and_del_round_trip(daemon_config: LaunchConfig) -> None:
    def nodes(inst: QemuInstance) -> set[str]:
        value = inst.execute("query-named-block-nodes", {"flat": True}).value
        assert isinstance(value, list)
        return {n["node-name"] for n in value}

    with QemuInstance(daemon_config) as inst:
        assert nodes(inst) == {"null0"}
        added = inst.execute("blockdev-add", {"driver": "null-co", "node-name": "n1"})
        assert added.ok, added.message.raw
        assert nodes(inst) == {"null0", "n1"}
        assert inst.execute("blockdev-del", {"node-name": "n1"}).ok
        assert nodes(inst) == {"null0"}
        again = inst.execute("blockdev-del", {"node-name": "n1"})
        assert again.message.error_class == "GenericError"


def test_block_job_emits_its_status_changes(daemon_config: LaunchConfig) -> None:
    with QemuInstance(daemon_config) as inst:
        # Small nodes: a copy of null0's 1 GiB would hold the main loop for a while.
        for node in ("src", "tgt"):
            added = inst.execute(
                "blockdev-add", {"driver": "null-co", "node-name": node, "size": 1 << 20}
            )
            assert added.ok
        backup = {"job-id": "j0", "device": "src", "target": "tgt", "sync": "full"}
        assert inst.execute("blockdev-backup", backup).ok
        # The job concludes on its own (auto-dismiss); its events arrive within the
        # session's reply deadline each.
        inst.wait_event("JOB_STATUS_CHANGE", {"id": "j0", "status": "null"})
        events = [m for m in messages(inst.transcript) if m.kind is Kind.EVENT]
        statuses = [
            e.value["data"]["status"]  # type: ignore[index,call-overload]
            for e in events
            if e.event_name == "JOB_STATUS_CHANGE"
        ]
        assert statuses[0] == "created"
        assert "running" in statuses
        assert statuses[-1] == "null"
        check_job_events(events, probe(inst.config.binary).version)


def test_quit_and_crash_are_seen(daemon_config: LaunchConfig) -> None:
    with QemuInstance(daemon_config) as inst:
        inst.execute("quit")
        info = inst.close()
    assert info is not None
    assert info.kind is ExitKind.CLEAN
    with QemuInstance(daemon_config) as inst:
        inst.send_signal(signal.SIGSEGV)
        with pytest.raises(QemuGone) as gone:
            inst.execute("query-version")
    assert gone.value.exit_info.kind is ExitKind.CRASH
    assert gone.value.exit_info.signal == signal.SIGSEGV


def _reproducer(daemon_config: LaunchConfig, trigger: bytes, expected: Outcome) -> Reproducer:
    with QemuInstance(daemon_config) as inst:
        argv = (QEMU_TOKEN, *inst.abstract_argv()[1:])
    return Reproducer(
        signature="test",
        kind=FindingKind.CRASH if expected.end == "exit" else FindingKind.PROTOCOL,
        command="blockdev-reopen",
        title="test",
        citation="",
        profile="daemon",
        messages=(CAPS, trigger),
        expected=expected,
        argv=argv,
    )


def test_a_findings_reproducers_replay(
    daemon: str, daemon_config: LaunchConfig, tmp_path: Path
) -> None:
    if not REOPEN_ABORTS[0] <= probe(daemon).version[:2] <= REOPEN_ABORTS[1]:
        pytest.skip(
            "the replayed defect (blockdev-reopen with no options) is known on QEMU 7.2 to 10.0"
        )
    trigger = b'{"execute":"blockdev-reopen","arguments":{"options":[]},"id":1}'
    detail = "block.c:N: bdrv_reopen_multiple: Assertion `bs_queue != NULL' failed."
    rep = _reproducer(daemon_config, trigger, Outcome("exit", 1, exit_kind="abort", detail=detail))
    line = one_liner(rep, DAEMON)
    assert "--chardev stdio,id=qmp --monitor chardev=qmp" in line
    assert "-qmp" not in line
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    # The daemon's own directory first, so that the one-liner runs this daemon by name;
    # then the system's, for sh (a launcher script's directory has no shell).
    env = {"PATH": os.pathsep.join((str(Path(daemon).parent), os.defpath)), "TMPDIR": str(tmp)}
    done = subprocess.run(
        ["sh", "-c", line], capture_output=True, text=True, timeout=60, env=env, check=False
    )
    assert "Assertion `bs_queue != NULL' failed" in done.stdout + done.stderr
    assert "exit status 134" in done.stdout
    path = tmp_path / "r.jsonl"
    path.write_text(rep.to_jsonl(), encoding="utf-8")
    replayed = cli("replay", str(path), "--qemu", daemon, "--runs", "2", env={"TMPDIR": str(tmp)})
    assert replayed.returncode == 1, replayed.stdout + replayed.stderr
    assert "reproduced 2/2 (stable)" in replayed.stdout
    assert not list(tmp.iterdir()), "the reproducers left files behind"


def test_ci_run_of_a_subset(daemon: str, tmp_path: Path) -> None:
    done = cli(
        "run",
        "--qemu",
        daemon,
        "--profile",
        "ci",
        "--reports",
        str(tmp_path / "reports"),
        "--",
        "-q",
        "-p",
        "no:randomly",
        f"--qmp-workdir={tmp_path / 'work'}",
        "--minimise-budget=0",
        "-k",
        "test_greeting or test_no_arguments or test_behaviour or "
        "(test_valid_arguments and (blockdev-add or block-export-add or query-jobs))",
        env={"TMPDIR": str(tmp_path)},
        timeout=300,
    )
    out = done.stdout
    assert done.returncode in (0, 1), out[-3000:] + done.stderr[-3000:]
    assert "harness errors: 0" in out, out[-3000:]
    assert "profiles daemon" in out
    assert re.search(r"\b\d+ passed", out), out[-3000:]
