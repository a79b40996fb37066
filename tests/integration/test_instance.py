"""Launching, supervising and closing a real QEMU."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from conformance.errors import SetupError
from conformance.machine.exits import ExitKind
from conformance.machine.instance import LaunchConfig, QemuGone, QemuInstance
from conformance.qmp.message import Kind
from conformance.qmp.transcript import Direction
from conformance.spec import schema_from_reply

pytestmark = pytest.mark.qemu


@pytest.mark.parametrize("channel", ["fd", "unix"])
@pytest.mark.parametrize("profile", ["none", "q35"])
def test_launch_and_close(config: LaunchConfig, channel: str, profile: str) -> None:
    inst = QemuInstance(config, channel=channel, profile=profile)
    greeting = inst.start()
    assert greeting.kind is Kind.GREETING
    assert inst._primary().negotiated
    assert inst.workdir is not None
    assert inst.workdir.is_dir()
    workdir = inst.workdir
    reply = inst.execute("query-status")
    assert reply.ok
    expected: dict[str, object] = {"status": "prelaunch", "running": False}
    # StatusInfo.singlestep was deprecated in 8.1 and is gone from 10.0's schema
    # (docs/about/removed-features.rst): expect it where the binary's schema has it.
    schema = schema_from_reply(inst.execute("query-qmp-schema").value)
    status_info = schema.object_type(schema.command("query-status").ret_type)
    if "singlestep" in {m.name for m in schema.members_of(status_info)}:
        expected["singlestep"] = False
    assert reply.value == expected
    info = inst.close()
    assert info is not None
    assert info.kind is ExitKind.CLEAN, info
    assert not workdir.exists()
    assert inst.transcript.meta["channel"] == channel
    assert inst.transcript.records[-1].direction is Direction.NOTE


def test_q35_profile_has_cdrom_with_null_medium(config: LaunchConfig) -> None:
    with QemuInstance(config, profile="q35") as inst:
        (drive,) = inst.execute("query-block").value  # type: ignore[misc]
        assert drive["qdev"] == "cd0"
        assert drive["inserted"]["node-name"] == "null0"


def test_keep_workdir(config: LaunchConfig) -> None:
    with QemuInstance(config, keep_workdir=True) as inst:
        workdir = inst.workdir
    assert workdir is not None
    assert workdir.is_dir()


def test_sandbox_is_passed_when_supported(config: LaunchConfig) -> None:
    with QemuInstance(config) as inst:
        assert inst.info is not None
        assert ("-sandbox" in inst.argv) == inst.info.sandbox


def test_transcript_records_every_byte(config: LaunchConfig, tmp_path: Path) -> None:
    with QemuInstance(config) as inst:
        inst.send_raw(b'{"execute": "query-status"}{"bad"}\n', replies=[(False, None)] * 2)
        for ticket in inst.pending:
            inst.wait(ticket)
    sent = b"".join(r.raw for r in inst.transcript.sent())
    assert b'{"bad"' in sent
    assert b"qmp_capabilities" in sent
    assert b'"quit"' in sent
    kinds = [r.kind for r in inst.transcript.received()]
    assert kinds[0] == Kind.GREETING
    assert Kind.ERROR in kinds
    assert Kind.EVENT in kinds
    path = tmp_path / "t.jsonl"
    inst.transcript.save(path)
    assert [r.raw for r in type(inst.transcript).load(path)] == [r.raw for r in inst.transcript]


@pytest.mark.parametrize(
    ("sig", "kind"),
    [
        (signal.SIGSEGV, ExitKind.CRASH),
        (signal.SIGABRT, ExitKind.ABORT),
        (signal.SIGSYS, ExitKind.SANDBOX),
    ],
)
def test_signal_mid_session_is_classified(config: LaunchConfig, sig: int, kind: ExitKind) -> None:
    with QemuInstance(config) as inst:
        inst.execute("query-status")
        inst.send_signal(sig)
        with pytest.raises(QemuGone) as gone:
            inst.execute("query-status")
    assert gone.value.exit_info.kind is kind
    assert gone.value.exit_info.signal == sig
    notes = [r.value for r in gone.value.transcript if r.direction is Direction.NOTE]
    assert notes[-1]["kind"] == kind.value  # type: ignore[index]


def test_hang_is_classified_when_the_deadline_fires(config: LaunchConfig) -> None:
    with QemuInstance(config) as inst:
        inst.send_signal(signal.SIGSTOP)
        with pytest.raises(QemuGone) as gone:
            inst.execute("query-status", timeout=0.5)
    assert gone.value.exit_info.kind is ExitKind.HANG
    assert not inst.alive()


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"binary": "/nonexistent/qemu-system-x86_64"}, "not found"),
        ({"binary": "qemu-system-does-not-exist"}, "not found on PATH"),
        ({"binary": "/bin/true"}, "is not a QEMU binary"),
        (
            {"extra_args": ["-device", "no-such-device-xyz"]},
            "died during start-up.*no-such-device-xyz",
        ),
    ],
)
def test_bad_binaries_give_one_line_errors(
    config: LaunchConfig, overrides: dict[str, object], message: str
) -> None:
    with pytest.raises(SetupError, match=message) as err:
        QemuInstance(config, **overrides).start()
    assert "\n" not in str(err.value)


def test_no_greeting_deadline(config: LaunchConfig, tmp_path: Path) -> None:
    # A binary that claims to be QEMU but never speaks QMP.
    fake = tmp_path / "qemu-system-fake"
    fake.write_text(
        "#!/bin/sh\n"
        'case "$*" in *-version*) echo "QEMU emulator version 7.2.0"; exit 0;; esac\n'
        "exec sleep 30\n"
    )
    fake.chmod(0o755)
    with pytest.raises(SetupError, match="no QMP greeting"):
        QemuInstance(config, binary=str(fake), start_timeout=0.5).start()


def _runner(qemu_binary: str, workdir_base: Path, then: str) -> list[str]:
    """A Python runner that starts one QEMU, prints its pid and workdir, then runs `then`."""
    script = textwrap.dedent(
        f"""
        import sys
        from conformance.machine.instance import QemuInstance, LaunchConfig
        inst = QemuInstance(LaunchConfig(binary={qemu_binary!r}, workdir_base={str(workdir_base)!r}))
        inst.start()
        print(inst.pid, inst.workdir, flush=True)
        """
    )
    return [sys.executable, "-c", script + then]


def test_no_orphan_when_the_runner_is_killed(qemu_binary: str, tmp_path: Path) -> None:
    child = subprocess.Popen(
        _runner(qemu_binary, tmp_path, "sys.stdin.read()\n"),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    assert child.stdout is not None
    qemu_pid = int(child.stdout.readline().split()[0])
    pidfd = os.pidfd_open(qemu_pid)
    ready: list[int] = []
    try:
        child.kill()
        child.wait(timeout=10)
        # A pidfd turns readable when its process exits: a wait with a deadline, no sleep.
        poller = select.poll()  # not select(): a descriptor may be numbered past 1024
        poller.register(pidfd, select.POLLIN)
        ready = [fd for fd, _ in poller.poll(2000)]
        assert ready, f"QEMU {qemu_pid} outlived its runner by more than 2 s"
    finally:
        os.close(pidfd)
        if not ready:
            os.kill(qemu_pid, signal.SIGKILL)


def test_an_unclosed_instance_leaves_nothing_at_exit(qemu_binary: str, tmp_path: Path) -> None:
    """A runner that exits without closing its QEMU: the process goes, and so does the
    workdir (a run creates nothing it keeps)."""
    done = subprocess.run(
        _runner(qemu_binary, tmp_path, ""),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    pid, workdir = done.stdout.split()
    assert not Path(workdir).exists()
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ProcessLookupError):
        os.kill(int(pid), 0)
