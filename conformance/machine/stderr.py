"""Continuous capture of QEMU's stderr.

QEMU's last words (an assertion, "Unexpected error in …") are written just before it
dies, so the pipe is drained all the time by a reader thread: the pipe can never fill
and block QEMU (which would look like a hang), and whatever was written before death
is kept after it. pexpect's fdspawn does the reading, with poll() so that descriptors
above 1024 work under xdist.
"""

from __future__ import annotations

import threading
from typing import IO

import pexpect
from pexpect.fdpexpect import fdspawn

MAX_KEPT = 4 << 20
_READ = 1 << 16
# How often the reader re-checks for a stop request while the pipe is quiet.
_IDLE_CHECK = 0.5


class StderrCapture:
    """Drains a pipe into memory until EOF."""

    def __init__(self, pipe: IO[bytes]) -> None:
        self._pipe = pipe
        self._reader = fdspawn(pipe.fileno(), timeout=_IDLE_CHECK, use_poll=True)
        self._buf = bytearray()
        self._dropped = 0
        self._changed = threading.Condition()
        self._eof = threading.Event()
        self._stop = False
        self._thread = threading.Thread(target=self._run, name="qemu-stderr", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            while not self._stop:
                try:
                    chunk = self._reader.read_nonblocking(_READ, timeout=_IDLE_CHECK)
                except pexpect.TIMEOUT:
                    continue
                except (pexpect.EOF, OSError, ValueError):
                    break
                self._append(chunk)
        finally:
            self._eof.set()
            with self._changed:
                self._changed.notify_all()

    def _append(self, chunk: bytes) -> None:
        with self._changed:
            self._buf += chunk
            excess = len(self._buf) - MAX_KEPT
            if excess > 0:
                # Keep the tail: the fatal message is the last thing QEMU writes.
                del self._buf[:excess]
                self._dropped += excess
            self._changed.notify_all()

    def text(self) -> str:
        with self._changed:
            data = bytes(self._buf)
            dropped = self._dropped
        text = data.decode("utf-8", "replace")
        return f"[{dropped} earlier bytes dropped]\n{text}" if dropped else text

    def wait_eof(self, timeout: float) -> bool:
        """Wait until the writer side closed (QEMU exited); True when it did."""
        return self._eof.wait(timeout)

    def close(self) -> None:
        self._stop = True
        self._thread.join(_IDLE_CHECK * 4)
        self._pipe.close()
