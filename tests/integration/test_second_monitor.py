"""Extra QMP monitors on one QEMU: events reach every monitor in command mode."""

from __future__ import annotations

import pytest

from conformance.machine.exits import ExitKind
from conformance.machine.instance import LaunchConfig, QemuInstance
from conformance.qmp.message import Kind

pytestmark = pytest.mark.qemu


def _tray_opened(inst: QemuInstance) -> None:
    reply = inst.execute("blockdev-open-tray", {"id": "cd0"})
    assert reply.ok, reply.message.raw


@pytest.mark.parametrize("channel", ["fd", "unix"])
def test_event_reaches_every_negotiated_monitor(config: LaunchConfig, channel: str) -> None:
    with QemuInstance(config, profile="q35", monitors=2, channel=channel) as inst:
        (extra,) = inst._extra_sessions
        assert extra.negotiated
        assert extra.transcript is not inst.transcript
        assert extra.transcript.meta["monitor"] == 1
        assert extra.transcript.meta["channel"] == channel
        assert "monitor" not in inst.transcript.meta
        _tray_opened(inst)
        on_primary = inst.wait_event("DEVICE_TRAY_MOVED", {"id": "cd0"})
        on_extra = extra.wait_event("DEVICE_TRAY_MOVED", {"id": "cd0"})
        assert on_primary.value["data"] == {  # type: ignore[index]
            "device": "",
            "id": "cd0",
            "tray-open": True,
        }
        assert on_extra.value["data"] == on_primary.value["data"]  # type: ignore[index]
    assert inst.exit_info is not None
    assert inst.exit_info.kind is ExitKind.CLEAN
    assert extra.transport.closed


@pytest.mark.parametrize("channel", ["fd", "unix"])
def test_monitors_answer_independently(config: LaunchConfig, channel: str) -> None:
    with QemuInstance(config, monitors=3, channel=channel) as inst:
        assert len(inst._extra_sessions) == 2
        assert inst.workdir is not None
        argv = inst.abstract_argv()
        for chardev in ("qmp", "qmp1", "qmp2"):
            assert f"chardev={chardev},mode=control" in argv
        if channel == "unix":
            assert (inst.workdir / "qmp1.sock").exists()
        # Interleave: a command on one monitor doesn't answer or block another.
        tickets = [
            (s, s.send_command("query-version", id=f"m{n}"))
            for n, s in enumerate([inst._primary(), *inst._extra_sessions])
        ]
        for session, ticket in reversed(tickets):
            reply = session.wait(ticket)
            assert reply.kind is Kind.RETURN
            assert reply.id == ticket.id
            assert not session.unexpected
        versions = [s.execute("query-version").value for s in inst._extra_sessions]
        assert versions == [inst.execute("query-version").value] * 2
        for n, extra in enumerate(inst._extra_sessions, start=1):
            assert extra.transcript.meta["monitor"] == n
            sent = b"".join(r.raw for r in extra.transcript.sent())
            assert f'"m{n}"'.encode() in sent
            assert b'"m0"' not in sent


def test_single_monitor_is_unchanged(config: LaunchConfig) -> None:
    with QemuInstance(config, channel="fd") as inst:
        assert inst._extra_sessions == []
        argv = inst.abstract_argv()
        assert argv.count("-chardev") == 1
        assert argv.count("-mon") == 1
        assert "chardev=qmp,mode=control" in argv


def test_monitor_in_negotiation_mode_gets_no_events(config: LaunchConfig) -> None:
    inst = QemuInstance(config, profile="q35", monitors=2)
    try:
        inst.start(negotiate=False)
        (extra,) = inst._extra_sessions
        assert inst.negotiate().ok
        assert not extra.negotiated
        _tray_opened(inst)
        inst.wait_event("DEVICE_TRAY_MOVED", {"id": "cd0"})
        # Output on one monitor is ordered: an event QEMU had sent to the extra monitor
        # would arrive before this reply. In negotiation mode the command is refused,
        # which is still a reply in order.
        reply = extra.execute("query-version")
        assert reply.message.kind is Kind.ERROR
        assert reply.message.value["error"]["class"] == "CommandNotFound"  # type: ignore[index]
        assert reply.events == ()
        assert not extra.events
        assert not [r for r in extra.transcript.received() if r.kind == Kind.EVENT]
    finally:
        inst.close()
    assert inst.exit_info is not None
    assert inst.exit_info.kind is ExitKind.CLEAN
