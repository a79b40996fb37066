"""qemu-storage-daemon's syntax, without running it: the profile fitted to the binary,
the monitor options, the reproducer's command lines, and which man page documents it."""

from __future__ import annotations

import pytest

from conformance.docs.load import MAN_PAGES
from conformance.errors import SetupError
from conformance.findings.reproducer import Outcome, Reproducer, one_liner
from conformance.machine.harness import monitor_args
from conformance.machine.instance import fit_profile
from conformance.machine.probe import BinaryInfo
from conformance.machine.profiles import PROFILES, default_profiles, profile
from conformance.oracle.failure import FindingKind

DAEMON = BinaryInfo("/usr/bin/qemu-storage-daemon", (7, 2, 0), "", True, False)
SYSTEM = BinaryInfo("/usr/bin/qemu-system-x86_64", (7, 2, 0), "", False, True)
ARGV = (
    "$QEMU",
    "--blockdev",
    "driver=null-co,node-name=null0,read-zeroes=on",
    "--chardev",
    "socket,id=qmp,fd=4",
    "--monitor",
    "chardev=qmp",
)


def test_the_daemon_profile_is_the_daemons_default() -> None:
    assert default_profiles("qemu-storage-daemon") == ("daemon",)
    daemon = PROFILES["daemon"]
    assert daemon.args == ("--blockdev", "driver=null-co,node-name=null0,read-zeroes=on")
    assert dict(daemon.names) == {"node-name": "null0"}
    assert not daemon.tray


def test_fit_profile() -> None:
    assert fit_profile(profile("daemon"), DAEMON) is profile("daemon")
    assert fit_profile(profile("q35"), SYSTEM) is profile("q35")
    # `none`, the smallest surface, is the bare daemon.
    assert fit_profile(profile("none"), DAEMON).args == ()
    with pytest.raises(SetupError, match="qemu-storage-daemon has no machine"):
        fit_profile(profile("q35"), DAEMON)


def test_monitor_options() -> None:
    assert monitor_args(1, "socket", "fd=7", daemon=True) == [
        "--chardev",
        "socket,id=qmp1,fd=7",
        "--monitor",
        "chardev=qmp1",
    ]
    assert monitor_args(0, "socket", "fd=7")[2:] == ["-mon", "chardev=qmp,mode=control"]


def test_one_liner_and_command_line_use_the_daemon_syntax() -> None:
    rep = Reproducer(
        signature="crash | blockdev-reopen | x",
        kind=FindingKind.CRASH,
        command="blockdev-reopen",
        title="crash",
        citation="",
        profile="daemon",
        messages=(b'{"execute":"qmp_capabilities"}',),
        expected=Outcome("exit", 0, exit_kind="abort", detail="x"),
        argv=ARGV,
    )
    line = one_liner(rep, "qemu-storage-daemon")
    assert (
        "qemu-storage-daemon --blockdev driver=null-co,node-name=null0,read-zeroes=on "
        "--chardev stdio,id=qmp --monitor chardev=qmp;"
    ) in line
    assert "fd=4" not in line
    assert "-qmp" not in line
    assert Reproducer.from_jsonl(rep.to_jsonl()).profile == "daemon"


def test_the_daemon_has_its_own_man_page() -> None:
    assert MAN_PAGES[True] == "qemu-storage-daemon-qmp-ref"
    assert MAN_PAGES[False] == "qemu-qmp-ref"
