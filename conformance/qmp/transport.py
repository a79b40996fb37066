"""Byte transport: the QMP channel as a socket that sends and receives raw bytes.

A high-level QMP client can't send broken JSON, split or merged writes, or read every
byte the server returns; this layer does nothing but move bytes, each move bounded by a
deadline.
"""

from __future__ import annotations

import socket

from conformance.qmp.deadline import Deadline, DeadlineExceeded

READ_SIZE = 1 << 16


class Disconnected(ConnectionError):
    """The peer closed the channel (EOF or reset)."""


class SocketTransport:
    """A connected stream socket (socketpair end or unix socket)."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self.closed = False

    def fileno(self) -> int:
        return self._sock.fileno()

    def send(self, data: bytes, deadline: Deadline) -> None:
        """Write all of `data` before `deadline`, whatever its content."""
        self._sock.settimeout(deadline.check("write of the request"))
        try:
            self._sock.sendall(data)
        except TimeoutError as exc:
            raise DeadlineExceeded(
                f"QEMU did not read {len(data)} bytes within {deadline.seconds:g}s"
            ) from exc
        except OSError as exc:  # EPIPE, ECONNRESET
            raise Disconnected(f"write failed: {exc.strerror or exc}") from exc

    def recv(self, deadline: Deadline) -> bytes:
        """Read what is available (at least one byte) before `deadline`; EOF raises."""
        self._sock.settimeout(deadline.check("reply"))
        try:
            data = self._sock.recv(READ_SIZE)
        except TimeoutError as exc:
            raise DeadlineExceeded(f"no reply within {deadline.seconds:g}s") from exc
        except OSError as exc:
            raise Disconnected(f"read failed: {exc.strerror or exc}") from exc
        if not data:
            raise Disconnected("QEMU closed the QMP channel")
        return data

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._sock.close()
