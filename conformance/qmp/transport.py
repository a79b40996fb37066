"""Byte transport: the QMP channel as a socket that sends and receives raw bytes.

A high-level QMP client can't send broken JSON, split or merged writes, or read every
byte the server returns; this layer does nothing but move bytes, each move bounded by a
deadline.

The socket is non-blocking and waited on with poll(): a read is one poll() and one
recv(), a write one send(). A socket timeout would cost two more fcntl() calls per
read and per write (Python switches the descriptor's mode on every settimeout()), and
pexpect a buffer copy and a pattern search per read (bench/command_loop.py measures
all three loops against a raw blocking socket).
"""

from __future__ import annotations

import select
import socket
import time

from conformance.errors import QemuMisbehaviour
from conformance.qmp.deadline import Deadline, DeadlineExceeded

READ_SIZE = 1 << 16
#: Bytes per second the monitor is trusted to read a big input at: it reads about
#: 130 KB/s; a write's deadline grows by its size over this slower rate.
MONITOR_READ_RATE = 50_000
_READABLE = select.POLLIN | select.POLLPRI
_WRITABLE = select.POLLOUT


def write_seconds(size: int, base: float) -> float:
    """The deadline of a `size`-byte write whose small writes get `base` seconds."""
    return base + size / MONITOR_READ_RATE


class Disconnected(QemuMisbehaviour, ConnectionError):
    """The peer closed the channel (EOF or reset)."""


class SocketTransport:
    """A connected stream socket (socketpair end or unix socket)."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        sock.setblocking(False)
        # One poller per direction, registered once: waiting is then a single syscall.
        self._readable = select.poll()
        self._readable.register(sock.fileno(), _READABLE)
        self._writable = select.poll()
        self._writable.register(sock.fileno(), _WRITABLE)
        self.closed = False

    def fileno(self) -> int:
        return self._sock.fileno()

    def send(self, data: bytes, deadline: Deadline) -> None:
        """Write all of `data` before `deadline`, whatever its content."""
        deadline.check("write of the request")
        sent = self.send_now(data)
        if sent < len(data):
            self.send_rest(data, sent, deadline)

    def send_now(self, data: bytes) -> int:
        """Write what the socket takes at once (the whole of a command, as a rule).

        Returns how many bytes were written; `send_rest` writes the others. Split from
        `send` so that the session can write first and do its bookkeeping while QEMU
        works on the request.
        """
        try:
            return self._sock.send(data)
        except BlockingIOError:
            return 0
        except OSError as exc:  # EPIPE, ECONNRESET
            raise Disconnected(f"write failed: {exc.strerror or exc}") from exc

    def send_rest(self, data: bytes, sent: int, deadline: Deadline) -> None:
        """Write `data` from offset `sent` on, waiting for QEMU to read, before `deadline`."""
        view = memoryview(data)
        try:
            while sent < len(view):
                try:
                    sent += self._sock.send(view[sent:])
                except BlockingIOError:
                    # QEMU reads its monitor slowly (about 130 KB/s for big inputs).
                    if not self._writable.poll(deadline.remaining() * 1000):
                        raise DeadlineExceeded(
                            f"QEMU did not read {len(data)} bytes within {deadline.seconds:.3g}s"
                        ) from None
        except DeadlineExceeded:
            raise  # a TimeoutError, so an OSError: not a disconnect
        except OSError as exc:  # EPIPE, ECONNRESET
            raise Disconnected(f"write failed: {exc.strerror or exc}") from exc

    def recv(self, deadline: Deadline) -> bytes:
        """Read what is available (at least one byte) before `deadline`; EOF raises."""
        while True:
            # Deadline.check inlined: this runs once per reply, on the round trip.
            left = deadline.at - time.monotonic()
            if left <= 0 or not self._readable.poll(left * 1000):
                raise DeadlineExceeded(f"no reply within {deadline.seconds:.3g}s")
            try:
                data = self._sock.recv(READ_SIZE)
            except BlockingIOError:
                continue  # woken without data: wait again
            except OSError as exc:
                raise Disconnected(f"read failed: {exc.strerror or exc}") from exc
            if not data:
                raise Disconnected("QEMU closed the QMP channel")
            return data

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._sock.close()
