"""Session behaviour against a scripted peer on a socketpair (no QEMU).

The peer stands in for QEMU only to exercise the harness: reply pairing, events,
deadlines and disconnects.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from conformance.qmp.deadline import DeadlineExceeded
from conformance.qmp.message import Kind
from conformance.qmp.session import NO_ID, NoGreeting, Session
from conformance.qmp.transport import Disconnected, SocketTransport

GREETING = b'{"QMP": {"version": {"qemu": {"micro": 0, "minor": 2, "major": 7}, "package": ""}, "capabilities": ["oob"]}}\r\n'
EVENT = b'{"timestamp": {"seconds": 1, "microseconds": 2}, "event": "STOP"}\r\n'


@pytest.fixture
def pair() -> Iterator[tuple[Session, socket.socket]]:
    ours, peer = socket.socketpair()
    session = Session(SocketTransport(ours), timeout=2.0)
    yield session, peer
    session.close()
    peer.close()


def test_greeting_then_negotiation(pair: tuple[Session, socket.socket]) -> None:
    session, peer = pair
    peer.sendall(GREETING[:10])
    peer.sendall(GREETING[10:])
    assert session.read_greeting().kind is Kind.GREETING
    ticket = session.send_command("qmp_capabilities")
    assert b"qmp_capabilities" in peer.recv(4096)
    peer.sendall(b'{"return": {}, "id": 1}\r\n')
    assert session.wait(ticket).kind is Kind.RETURN


def test_first_message_not_a_greeting(pair: tuple[Session, socket.socket]) -> None:
    session, peer = pair
    peer.sendall(b'{"return": {}}\r\n')
    with pytest.raises(NoGreeting):
        session.read_greeting()


def test_replies_pair_by_id_then_by_order(pair: tuple[Session, socket.socket]) -> None:
    session, peer = pair
    a = session.send_command("a", id="x")
    b = session.send_command("b", id=NO_ID)
    c = session.send_command("c", id=[1, {"k": None}])
    (garbage,) = session.send_raw(b"{bad\n", replies=[(False, None)])
    # Out of order, merged into one write, an event interleaved.
    peer.sendall(
        b'{"return": 3, "id": [1, {"k": null}]}\r\n'
        + EVENT
        + b'{"return": 1, "id": "x"}\r\n{"return": 2}\r\n'
        + b'{"error": {"class": "GenericError", "desc": "JSON parse error"}}\r\n'
    )
    assert session.wait(garbage).kind is Kind.ERROR
    assert [session.wait(t).value for t in (a, b, c)] == [
        {"return": 1, "id": "x"},
        {"return": 2},
        {"return": 3, "id": [1, {"k": None}]},
    ]
    assert a.events
    assert a.events[0].event_name == "STOP"
    assert session.pending == ()


def test_reply_with_unknown_id_is_unexpected(pair: tuple[Session, socket.socket]) -> None:
    session, peer = pair
    t = session.send_command("a", id=1)
    peer.sendall(b'{"return": {}, "id": 99}\r\n{"return": {}, "id": 1.0}\r\n')
    assert session.wait(t).id == 1.0
    assert [m.id for m in session.unexpected] == [99]


def test_wait_event_with_match_and_deadline(pair: tuple[Session, socket.socket]) -> None:
    session, peer = pair
    peer.sendall(
        b'{"timestamp": {"seconds": 1, "microseconds": 2}, "event": "X", "data": {"n": 1}}\r\n'
        b'{"timestamp": {"seconds": 1, "microseconds": 3}, "event": "X", "data": {"n": 2}}\r\n'
    )
    assert session.wait_event("X", {"n": 2}).value["data"] == {"n": 2}  # type: ignore[index]
    assert session.wait_event("X").value["data"] == {"n": 1}  # type: ignore[index]
    with pytest.raises(DeadlineExceeded, match="no event X"):
        session.wait_event("X", timeout=0.05)


def test_reply_deadline(pair: tuple[Session, socket.socket]) -> None:
    session, _peer = pair
    with pytest.raises(DeadlineExceeded):
        session.execute("query-status", timeout=0.05)


def test_disconnect_keeps_partial_bytes(pair: tuple[Session, socket.socket]) -> None:
    session, peer = pair
    t = session.send_command("a")
    peer.sendall(b'{"return": {}, "id')
    peer.close()
    with pytest.raises(Disconnected):
        session.wait(t)
    assert session.transcript.received()[-1].raw == b'{"return": {}, "id'
    with pytest.raises(Disconnected):
        session.wait(t)


def test_poll_collects_a_quiet_period(pair: tuple[Session, socket.socket]) -> None:
    session, peer = pair
    peer.sendall(EVENT + EVENT)
    assert [m.kind for m in session.poll(0.05)] == [Kind.EVENT, Kind.EVENT]


def test_a_failed_write_still_leaves_its_ticket_and_bytes(
    pair: tuple[Session, socket.socket],
) -> None:
    session, peer = pair
    peer.close()
    with pytest.raises(Disconnected, match="write failed"):
        session.execute("stop", id="gone")
    assert [t.id for t in session.pending] == ["gone"]
    assert session.transcript.sent()[-1].raw == b'{"execute":"stop","id":"gone"}'


def test_a_write_bigger_than_the_socket_buffer_then_its_reply(
    pair: tuple[Session, socket.socket],
) -> None:
    session, peer = pair
    big = "x" * (4 << 20)  # the first write can't take it all: the rest waits for the peer
    received = bytearray()

    def serve() -> None:
        while not received.endswith(b"}"):
            received.extend(peer.recv(1 << 16))
        peer.sendall(b'{"return": {}, "id": 1}\r\n')

    server = threading.Thread(target=serve)
    server.start()
    reply = session.execute("echo", {"s": big}, timeout=30)
    server.join(30)
    assert reply.ok
    assert bytes(received) == session.transcript.sent()[-1].raw
    assert len(received) > len(big)
