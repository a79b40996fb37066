"""Split the server's byte stream into frames, one per line.

QMP servers end every message with CRLF (qmp-spec: "always terminating with CRLF"). The framer
splits on LF alone and keeps the terminator in the frame, so a server that drops the CR is still
framed and :func:`conformance.qmp.message.parse_message` can flag it. This assumes QEMU's default
single-line output: a monitor with ``pretty=on`` spreads one message over many lines.
"""

from __future__ import annotations

__all__ = ["Framer"]


class Framer:
    """Incremental line framer for bytes arriving in arbitrary chunks.

    Each byte is scanned for LF exactly once, however the stream is split into reads, so framing
    stays linear in the bytes received even when one frame arrives in thousands of reads.
    One framer serves one connection; a new connection needs a new framer.
    """

    __slots__ = ("_buffer",)

    def __init__(self) -> None:
        # Holds the bytes of the incomplete frame, if any. Between calls it never contains LF,
        # so scanning resumes at its old end: its length is the scan offset.
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[bytes]:
        """Add ``data`` and return every frame it completes, in order.

        A frame is the bytes up to and including its LF. Bytes after the last LF are kept
        for the next call.
        """
        buffer = self._buffer
        if not buffer and data and data.find(b"\n") == len(data) - 1:
            return [data]  # the usual read: exactly one whole frame
        scan_from = len(buffer)
        buffer += data
        frames: list[bytes] = []
        start = 0
        newline = buffer.find(b"\n", scan_from)
        while newline >= 0:
            frames.append(bytes(buffer[start : newline + 1]))
            start = newline + 1
            newline = buffer.find(b"\n", start)
        if start:
            # bytearray drops a prefix in place without copying the rest.
            del buffer[:start]
        return frames

    def pending(self) -> bytes:
        """The bytes of the incomplete trailing frame (empty if none), without consuming them.

        At EOF these are the last bytes the server sent; recording them means no received
        byte is lost from the transcript.
        """
        return bytes(self._buffer)

    @property
    def buffered_bytes(self) -> int:
        """How many received bytes wait for their LF."""
        return len(self._buffer)
