"""The byte transport on a socketpair: partial writes, deadlines both ways, EOF."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from conformance.qmp.deadline import Deadline, DeadlineExceeded
from conformance.qmp.transport import Disconnected, SocketTransport

BIG = 8 << 20  # far more than a socket buffer holds: the write must wait for the reader


@pytest.fixture
def pair() -> Iterator[tuple[SocketTransport, socket.socket]]:
    ours, theirs = socket.socketpair()
    transport = SocketTransport(ours)
    yield transport, theirs
    transport.close()
    theirs.close()


def test_a_write_larger_than_the_buffer_arrives_whole(
    pair: tuple[SocketTransport, socket.socket],
) -> None:
    transport, peer = pair
    data = bytes(range(256)) * (BIG // 256)
    received = bytearray()

    def read_all() -> None:
        while len(received) < len(data):
            chunk = peer.recv(1 << 16)
            if not chunk:
                break
            received.extend(chunk)

    reader = threading.Thread(target=read_all)
    reader.start()
    transport.send(data, Deadline.after(30))
    reader.join(30)
    assert bytes(received) == data


def test_a_peer_that_never_reads_is_a_write_deadline(
    pair: tuple[SocketTransport, socket.socket],
) -> None:
    transport, _peer = pair
    with pytest.raises(DeadlineExceeded, match=rf"QEMU did not read {BIG} bytes within 0\.2s"):
        transport.send(b"x" * BIG, Deadline.after(0.2))


def test_recv_returns_what_is_there_and_waits_with_a_deadline(
    pair: tuple[SocketTransport, socket.socket],
) -> None:
    transport, peer = pair
    peer.sendall(b'{"return": {}}\r\n')
    assert transport.recv(Deadline.after(5)) == b'{"return": {}}\r\n'
    with pytest.raises(DeadlineExceeded, match=r"no reply within 0\.1s"):
        transport.recv(Deadline.after(0.1))


def test_an_expired_deadline_fails_before_any_io(
    pair: tuple[SocketTransport, socket.socket],
) -> None:
    transport, peer = pair
    with pytest.raises(DeadlineExceeded, match=r"no write of the request within 0s"):
        transport.send(b"{}", Deadline.after(0))
    peer.setblocking(False)
    with pytest.raises(BlockingIOError):
        peer.recv(16)  # nothing was written


def test_eof_and_a_closed_peer_are_disconnects(
    pair: tuple[SocketTransport, socket.socket],
) -> None:
    transport, peer = pair
    peer.close()
    with pytest.raises(Disconnected, match="closed the QMP channel"):
        transport.recv(Deadline.after(5))
    with pytest.raises(Disconnected, match="write failed"):
        transport.send(b"x" * BIG, Deadline.after(5))
