"""The harness's own monitor is never a target, and a finding's one-liner meets QEMU as
`replay` does (issue 18), on the real binaries.

A fuzz on 7.2 yanked the suite's own chardev ``qmp``, which the harvest had offered, and
called the silence a hang; its ``reproduce.sh`` (``-qmp stdio``: chardev
``compat_monitor0``) got DeviceNotFound while ``replay`` "reproduced" it. So: the live
harvest offers no harness name, generation through the host-safety policy never sends
one, and for every finding kind the one-liner's QEMU command line and QMP input are
replay's, monitor ids included.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conformance.drive.harvest import absorb, harvest
from conformance.drive.report import evidence
from conformance.findings.record import findings_from
from conformance.findings.replay import Replayer
from conformance.findings.reproducer import Reproducer, one_liner_argv, one_liner_input
from conformance.machine.harness import harness_names, monitor_chardev, names_harness_resource
from conformance.machine.instance import LaunchConfig, QemuGone, QemuInstance
from conformance.oracle.failure import HOLDS_TO, Citation, Failure, FindingKind
from conformance.spec import Schema, schema_from_reply
from strategies import arguments
from strategies.pools import KINDS, Pools
from strategies.safety import Unconfinable, confine, generation_policy
from tests.integration.qemu_fault import act
from tests.oneliner import run_reproduce_sh

pytestmark = pytest.mark.qemu

#: What removes, yanks, replaces or reuses a chardev, or removes a device or netdev.
TARGETING = ("yank", "chardev-remove", "chardev-change", "device_del", "netdev_del")


@pytest.fixture(scope="module")
def harvested(
    qemu_binary: str, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Schema, Pools, list[str]]:
    """The live schema, the pools the suite harvests on a QEMU with two monitors, and
    the chardev labels that QEMU lists."""
    config = LaunchConfig(
        binary=qemu_binary, workdir_base=str(tmp_path_factory.mktemp("h")), monitors=2
    )
    with QemuInstance(config) as inst:
        schema = schema_from_reply(inst.execute("query-qmp-schema").value)
        pools = Pools()
        harvest(inst, schema, pools)
        listed = inst.execute("query-chardev")
        absorb(listed.value, pools)
        absorb(inst.execute("query-yank").value, pools)
        labels = [c["label"] for c in listed.value]  # type: ignore[union-attr,index]
    return schema, pools, labels


def test_the_harvest_offers_no_harness_name(harvested: tuple[Schema, Pools, list[str]]) -> None:
    _, pools, labels = harvested
    # QEMU does list the harness's chardevs: the pools leave them out.
    assert {monitor_chardev(0), monitor_chardev(1)} <= set(labels)
    held = [(kind, s) for kind in KINDS for s in pools.values(kind) if names_harness_resource(s)]
    assert held == []


@pytest.mark.parametrize("command", TARGETING)
def test_generation_never_targets_the_harness(
    command: str, harvested: tuple[Schema, Pools, list[str]]
) -> None:
    schema, pools, _ = harvested
    if command not in schema.commands:
        pytest.skip(f"{command} is not in this binary")
    workdir = "/tmp/qmpc-run-x/w"

    @settings(
        max_examples=60, database=None, deadline=None, suppress_health_check=list(HealthCheck)
    )
    @given(st.data())
    def check(data: st.DataObject) -> None:
        drawn = data.draw(arguments(schema, command, pools=pools, policy=generation_policy()))
        try:
            sent = confine(command, drawn, workdir)
        except Unconfinable:
            return
        assert not harness_names(sent), sent

    check()


# -- the one-liner is replay -------------------------------------------------------------


def _cite(kind: FindingKind) -> Citation:
    """A citation of a source `kind` holds QEMU to (Failure refuses any other)."""
    return Citation(sorted(HOLDS_TO[kind])[0], "a finding built on purpose")


def _failure(kind: FindingKind) -> Callable[[QemuInstance], None]:
    def fail(inst: QemuInstance) -> None:
        raise Failure(
            f"test.{kind.value}", _cite(kind), "on purpose", kind=kind, command="blockdev-add"
        )

    return fail


def _fault(action: str) -> Callable[[QemuInstance], None]:
    def fault(inst: QemuInstance) -> None:
        act(inst, action)
        inst.execute("query-status")

    return fault


#: Each finding kind, raised the way the suite meets it (a Failure, or QEMU's end).
KINDS_RAISED: dict[str, Callable[[QemuInstance], None]] = {
    "crash": _fault("SEGV"),
    "hang": _fault("STOP"),
    "disconnect": _fault("close"),
    "protocol": _failure(FindingKind.PROTOCOL),
    "schema": _failure(FindingKind.SCHEMA),
    "behaviour": _failure(FindingKind.BEHAVIOUR),
    "doc": _failure(FindingKind.DOC),
}


def _reproducer(config: LaunchConfig, raise_it: Callable[[QemuInstance], None]) -> Reproducer:
    config.timeout = 2.0
    config.monitors = 2  # protocol tests use a second monitor: the one-liner drops it too

    def found(inst: QemuInstance) -> None:
        with evidence(inst):
            # A path in the workdir, which the reproducer abstracts and both put back.
            path = f"{inst.workdir}/missing.img"
            inst.execute("blockdev-add", {"driver": "file", "node-name": "f0", "filename": path})
            raise_it(inst)

    with QemuInstance(config) as inst, pytest.raises((Failure, QemuGone)) as raised:
        found(inst)
    (finding,) = findings_from(raised.value, "test_harness_resources")
    assert finding.reproducer is not None
    return finding.reproducer


@pytest.mark.parametrize("kind", list(KINDS_RAISED))
def test_the_one_liner_launches_and_sends_what_replay_does(
    kind: str, config: LaunchConfig, qemu_binary: str, tmp_path: Path
) -> None:
    rep = _reproducer(config, KINDS_RAISED[kind])
    replayer = Replayer(qemu_binary, workdir_base=str(tmp_path / "replay"))
    inst = QemuInstance(replayer.launch_config(rep))
    try:
        inst.start(negotiate=False)  # as replay starts it
        replay_argv = inst.abstract_argv()
        workdir = str(inst.workdir)
        replay_input = rep.messages_for(workdir)
    finally:
        inst.close()
    liner_argv = one_liner_argv(rep, qemu_binary)
    # The same command line, but for the monitor's backend (a socket fd there, stdio
    # here): the same chardev id, so the same names for every command that names it.
    harness = [i for i, a in enumerate(replay_argv) if a in ("-chardev", "-mon")]
    assert [replay_argv[i + 1].split(",", 1)[0] for i in harness] == [
        "socket",
        "chardev=qmp",
    ]
    kept = [a for i, a in enumerate(replay_argv) if i not in harness and i - 1 not in harness]
    assert liner_argv == [
        qemu_binary,
        *kept[1:],
        "-chardev",
        "stdio,id=qmp",
        "-mon",
        "chardev=qmp,mode=control",
    ]
    assert "-qmp" not in liner_argv
    # The same QMP input: each message as replay writes it to a workdir, one a line.
    printed = subprocess.run(
        ["sh", "-c", one_liner_input(rep)],
        capture_output=True,
        check=True,
        timeout=30,
        env={"W": workdir, "PATH": "/usr/bin:/bin"},
    ).stdout
    lines = printed.split(b"\n")[:-1]
    if rep.expected.end != "exit":
        assert lines.pop() == b'{"execute":"quit"}'
    assert lines == [m.rstrip(b"\r\n") for m in replay_input]
    assert any(workdir.encode() in line for line in lines), lines


def test_the_one_liner_runs_on_the_binary(
    config: LaunchConfig, qemu_binary: str, tmp_path: Path
) -> None:
    # The stdio monitor under the harness's id is a command line QEMU takes (with the
    # sandbox, -S and the second monitor's options dropped), and it answers on it.
    rep = _reproducer(config, KINDS_RAISED["doc"])
    finding = rep.save(tmp_path / "finding", qemu_binary)
    done = run_reproduce_sh(finding, tmp_path / "tmp", env={"PATH": "/usr/bin:/bin"})
    out = done.stdout + done.stderr
    assert "exit status 0" in done.stdout, out
    # The greeting, the negotiation, blockdev-add's refusal of the missing file, quit.
    assert done.stdout.count('"QMP"') == 1, out
    assert '"class": "GenericError"' in done.stdout, out
    assert "missing.img" in done.stdout, out
