"""Line framing of the server's byte stream."""

from __future__ import annotations

import itertools
from typing import SupportsIndex

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conformance.qmp.framing import Framer

# A real QEMU 7.2 session start, as it arrives on the socket.
GREETING = (
    b'{"QMP": {"version": {"qemu": {"micro": 22, "minor": 2, "major": 7}, '
    b'"package": "Debian 1:7.2+dfsg-7+deb12u18+b3"}, "capabilities": ["oob"]}}\r\n'
)
SESSION = [
    GREETING,
    b'{"return": {}, "id": 1}\r\n',
    b'{"error": {"class": "GenericError", "desc": "JSON parse error, expecting value"}}\r\n',
    b'{"timestamp": {"seconds": 1795238891, "microseconds": 526019}, "event": "SHUTDOWN", '
    b'"data": {"guest": false, "reason": "host-qmp-quit"}}\r\n',
    b'{"return": {}}\r\n',
]
STREAM = b"".join(SESSION)


def feed_all(chunks: list[bytes], framer: Framer | None = None) -> tuple[list[bytes], bytes]:
    """Feed ``chunks`` to ``framer`` (a new one by default); return the frames and the pending."""
    framer = framer or Framer()
    frames = [frame for chunk in chunks for frame in framer.feed(chunk)]
    return frames, framer.pending()


@pytest.mark.parametrize("offset", range(len(STREAM) + 1))
def test_any_split_point_gives_the_same_frames(offset: int) -> None:
    assert feed_all([STREAM[:offset], STREAM[offset:]]) == (SESSION, b"")


@pytest.mark.parametrize(
    ("chunks", "frames", "pending"),
    [
        pytest.param([STREAM], SESSION, b"", id="all frames merged in one read"),
        pytest.param([bytes([b]) for b in STREAM], SESSION, b"", id="one byte per read"),
        pytest.param([b"", b"", b""], [], b"", id="empty reads"),
        pytest.param([b'{"a": 1}\n'], [b'{"a": 1}\n'], b"", id="bare LF ends a frame"),
        pytest.param([b"\r\n\n"], [b"\r\n", b"\n"], b"", id="empty lines are frames"),
        pytest.param([b'{"a":\r 1}\r\n'], [b'{"a":\r 1}\r\n'], b"", id="a lone CR does not split"),
        pytest.param(
            [b"\x00\xff\xfe garbage \x1b[0m\n\xc3"],
            [b"\x00\xff\xfe garbage \x1b[0m\n"],
            b"\xc3",
            id="garbage bytes pass through",
        ),
        pytest.param(
            [b'{"return": {}}\r\n{"ret', b"urn"],
            [b'{"return": {}}\r\n'],
            b'{"return',
            id="trailing partial frame stays pending",
        ),
        pytest.param([b'{"return": {}}\r'], [], b'{"return": {}}\r', id="CR without LF pending"),
    ],
)
def test_framing(chunks: list[bytes], frames: list[bytes], pending: bytes) -> None:
    assert feed_all(chunks) == (frames, pending)


def test_pending_does_not_consume_and_buffered_bytes_counts_it() -> None:
    framer = Framer()
    assert framer.feed(b'{"return": {}}\r\n{"ev') == [b'{"return": {}}\r\n']
    assert framer.buffered_bytes == 4
    assert framer.pending() == framer.pending() == b'{"ev'
    assert framer.feed(b'ent": "STOP"}\r\n') == [b'{"event": "STOP"}\r\n']
    assert (framer.pending(), framer.buffered_bytes) == (b"", 0)


frames_strategy = st.lists(
    st.tuples(
        st.binary().map(lambda b: b.replace(b"\n", b"")),
        st.sampled_from([b"\r\n", b"\n"]),
    ).map(b"".join),
    max_size=20,
)


@given(
    frames=frames_strategy,
    tail=st.binary().map(lambda b: b.replace(b"\n", b"")),
    cuts=st.lists(st.integers(min_value=0)),
)
def test_frames_do_not_depend_on_how_reads_split_the_stream(
    frames: list[bytes], tail: bytes, cuts: list[int]
) -> None:
    stream = b"".join(frames) + tail
    bounds = sorted({0, len(stream), *(cut % (len(stream) + 1) for cut in cuts)})
    chunks = [stream[a:b] for a, b in itertools.pairwise(bounds)]
    assert feed_all(chunks) == (frames, tail)


class _CountingBuffer(bytearray):
    """A framer buffer that counts how many bytes ``find`` is asked to scan."""

    scanned = 0

    def find(  # type: ignore[override]
        self, sub: bytes, start: SupportsIndex = 0, end: SupportsIndex | None = None
    ) -> int:
        stop = len(self) if end is None else int(end)
        self.scanned += max(0, stop - int(start))
        return super().find(sub, start, stop)


@pytest.mark.parametrize(("size", "chunk_size"), [(1 << 16, 1), (1 << 20, 4096)])
def test_each_byte_is_scanned_once(
    monkeypatch: pytest.MonkeyPatch, size: int, chunk_size: int
) -> None:
    # A framer that searched its whole buffer on every read would scan a frame that arrives in
    # n reads about n/2 times over: quadratic. Counting the bytes scanned shows it exactly.
    frame = b"x" * (size - 2) + b"\r\n"
    stream = frame + frame[:100]
    framer = Framer()
    buffer = _CountingBuffer()
    monkeypatch.setattr(framer, "_buffer", buffer)
    chunks = [stream[i : i + chunk_size] for i in range(0, len(stream), chunk_size)]
    assert feed_all(chunks, framer) == ([frame], frame[:100])
    assert buffer.scanned == len(stream)
