r"""Transcripts: every byte sent and received on a connection, with times and harness notes.

A transcript is the single source of truth about what happened: checks judge it, reproducers
replay it, reports show it. Recording only appends a :class:`Record`; nothing is serialised until
the transcript is saved, because recording sits on the hot path of the fuzz loop.

File format (JSON Lines, ASCII only, one compact JSON object per line)::

    {"qmp-transcript":1,"meta":{"binary":"/usr/bin/qemu-system-x86_64","argv":["..."]}}
    {"dir":"send","t":5.25,"text":"{\"execute\":\"stop\"}\r\n","value":{"execute":"stop"}}
    {"dir":"recv","t":5.26,"text":"{\"return\": {}}\r\n","value":{"return":{}},"kind":"return"}
    {"dir":"recv","t":5.27,"b64":"/w0K","kind":"invalid","problems":["invalid UTF-8 ..."]}
    {"dir":"note","t":5.3,"text":"","value":{"note":"exit","code":0}}

The first line is the header, with the format version and the connection's metadata. Each later
line is one record, in order: ``dir`` is ``send``, ``recv`` or ``note``; ``t`` is the
``time.monotonic()`` reading; the raw bytes are in ``text`` when they are valid UTF-8 and in
``b64`` (standard base64) otherwise; ``value``, ``kind`` and ``problems`` appear only when set
(not None, not empty). Loading gives back exactly what was saved: the same bytes (invalid UTF-8,
NULs and CRLFs included), equal values and the same float times. Values outside the JSON data
model are saved as their ``repr()`` so that a transcript can always be saved; non-finite floats
(which strict parsing never yields) are written as ``Infinity`` or ``NaN``, as Python's json does.
"""

from __future__ import annotations

import base64
import binascii
import enum
import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from conformance.errors import SetupError
from conformance.qmp.message import Message

__all__ = ["Direction", "Record", "Transcript", "TranscriptError", "readable"]

FORMAT_VERSION = 1
_HEADER_KEY = "qmp-transcript"
_T = TypeVar("_T")
_RECORD_FIELDS = frozenset({"dir", "t", "text", "b64", "value", "kind", "problems"})


class TranscriptError(SetupError, ValueError):
    """A transcript file that cannot be loaded; the one-line message names the line."""


class Direction(enum.StrEnum):
    """Who produced a record: the suite (send), the server (recv) or the harness (note)."""

    SEND = "send"
    RECV = "recv"
    NOTE = "note"
    """Harness events such as a process exit, an expired deadline or a reconnect."""


_DIRECTIONS = {d.value: d for d in Direction}


# Not frozen (as Message): two are created per command. Never mutated.
@dataclass(slots=True)
class Record:
    """One entry of a transcript.

    ``value`` is the parsed JSON for a receive, the JSON value the suite sent (if it sent one) for
    a send, and a JSON-able dict for a note. ``kind`` is the message kind of a receive.
    """

    direction: Direction
    raw: bytes
    t: float
    value: object = None
    kind: str | None = None
    problems: tuple[str, ...] = ()


@dataclass(slots=True, repr=False)
class Transcript:
    """What happened on one connection, in order. Iterating yields the records."""

    meta: dict[str, object] = field(default_factory=dict)
    records: list[Record] = field(default_factory=list)

    def record_send(self, raw: bytes, value: object = None, t: float | None = None) -> Record:
        """Record bytes the suite wrote, with the JSON value they encode if there is one."""
        record = Record(Direction.SEND, raw, time.monotonic() if t is None else t, value)
        self.records.append(record)
        return record

    def record_recv(self, message: Message, t: float | None = None) -> Record:
        """Record a frame received from the server, as parsed by ``parse_message``."""
        record = Record(
            Direction.RECV,
            message.raw,
            time.monotonic() if t is None else t,
            message.value,
            message.kind.value,
            message.problems,
        )
        self.records.append(record)
        return record

    def record_note(self, what: str, /, **data: object) -> Record:
        """Record a harness event; its value is ``{"note": what, **data}``."""
        if "note" in data:
            raise ValueError("note data cannot have a 'note' key: it holds the note's name")
        record = Record(Direction.NOTE, b"", time.monotonic(), {"note": what, **data})
        self.records.append(record)
        return record

    def received(self) -> list[Record]:
        """The records of frames received from the server."""
        return [r for r in self.records if r.direction is Direction.RECV]

    def sent(self) -> list[Record]:
        """The records of bytes the suite sent."""
        return [r for r in self.records if r.direction is Direction.SEND]

    def since(self, start: int) -> Transcript:
        """A new transcript of the records from index ``start`` on, with a copy of the meta.

        Used to attach only one test's part of a shared connection's transcript to its report.
        """
        return Transcript(dict(self.meta), self.records[start:])

    def __len__(self) -> int:
        return len(self.records)

    def __iter__(self) -> Iterator[Record]:
        return iter(self.records)

    def __repr__(self) -> str:
        return f"Transcript({len(self.records)} records, meta={self.meta!r})"

    def to_jsonl(self) -> str:
        """Serialise to the JSON Lines format described in the module docstring."""
        header = {_HEADER_KEY: FORMAT_VERSION, "meta": self.meta}
        lines = [_dump_line(header)]
        lines.extend(_dump_line(_record_to_json(r)) for r in self.records)
        return "\n".join(lines) + "\n"

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the transcript to ``path`` in the JSON Lines format."""
        Path(path).write_text(self.to_jsonl(), encoding="utf-8")

    @classmethod
    def from_jsonl(cls, text: str) -> Transcript:
        """Parse the JSON Lines format; raise :class:`TranscriptError` naming the bad line."""
        lines = text.split("\n")
        if lines[-1] == "":
            lines.pop()
        if not lines:
            raise TranscriptError("line 1: empty transcript, expected a header")
        meta = _parse_line(1, lines[0], _parse_header)
        records = [_parse_line(n, line, _parse_record) for n, line in enumerate(lines[1:], 2)]
        return cls(meta, records)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Transcript:
        """Read a transcript saved by :meth:`save`."""
        data = Path(path).read_bytes()
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = data.count(b"\n", 0, exc.start) + 1
            raise TranscriptError(f"line {line}: invalid UTF-8 ({exc.reason})") from None
        return cls.from_jsonl(text)


def _dump_line(obj: dict[str, object]) -> str:
    # ASCII output escapes every non-ASCII character, so even strings holding unpaired
    # surrogates (possible in values the suite sent) write and read back unchanged.
    return json.dumps(obj, separators=(",", ":"), default=repr)


def _record_to_json(record: Record) -> dict[str, object]:
    obj: dict[str, object] = {"dir": record.direction.value, "t": record.t}
    try:
        obj["text"] = record.raw.decode("utf-8")
    except UnicodeDecodeError:
        obj["b64"] = base64.b64encode(record.raw).decode("ascii")
    if record.value is not None:
        obj["value"] = record.value
    if record.kind is not None:
        obj["kind"] = record.kind
    if record.problems:
        obj["problems"] = list(record.problems)
    return obj


class _Invalid(Exception):
    """A line that is not what the format requires; :func:`_parse_line` adds its number."""


def _parse_line(number: int, line: str, parse: Callable[[dict[str, object]], _T]) -> _T:
    try:
        return parse(_load_line(line))
    except _Invalid as exc:
        raise TranscriptError(f"line {number}: {exc}") from None


def _load_line(line: str) -> dict[str, object]:
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        # exc's own text counts lines within this one line, which would contradict our number.
        raise _Invalid(f"not JSON: {exc.msg} at column {exc.colno}") from None
    except (ValueError, RecursionError) as exc:
        raise _Invalid(f"not loadable JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise _Invalid("expected a JSON object")
    return obj


def _parse_header(obj: dict[str, object]) -> dict[str, object]:
    version = obj.get(_HEADER_KEY)
    if version != FORMAT_VERSION or isinstance(version, bool):
        raise _Invalid(
            f"not a transcript header: {_HEADER_KEY!r} is {version!r}, expected {FORMAT_VERSION}"
        )
    meta = obj.get("meta")
    if not isinstance(meta, dict):
        raise _Invalid("header 'meta' must be a JSON object")
    return meta


def _parse_record(obj: dict[str, object]) -> Record:
    unknown = obj.keys() - _RECORD_FIELDS
    if unknown:
        raise _Invalid(f"unknown field {sorted(unknown)[0]!r}")
    direction = obj.get("dir")
    if not isinstance(direction, str) or direction not in _DIRECTIONS:
        raise _Invalid(f"'dir' must be send, recv or note, not {direction!r}")
    t = obj.get("t")
    if not isinstance(t, int | float) or isinstance(t, bool):
        raise _Invalid(f"'t' must be a number, not {t!r}")
    kind = obj.get("kind")
    if kind is not None and not isinstance(kind, str):
        raise _Invalid(f"'kind' must be a string, not {kind!r}")
    problems = obj.get("problems", [])
    if not isinstance(problems, list) or not all(isinstance(p, str) for p in problems):
        raise _Invalid("'problems' must be a list of strings")
    return Record(
        _DIRECTIONS[direction], _parse_raw(obj), float(t), obj.get("value"), kind, tuple(problems)
    )


def _parse_raw(obj: dict[str, object]) -> bytes:
    text, b64 = obj.get("text"), obj.get("b64")
    if (text is None) == (b64 is None):
        raise _Invalid("exactly one of 'text' and 'b64' must be present")
    if isinstance(text, str):
        try:
            return text.encode("utf-8")
        except UnicodeEncodeError:
            raise _Invalid(
                "'text' holds an unpaired surrogate; such bytes belong in 'b64'"
            ) from None
    if isinstance(b64, str):
        try:
            return base64.b64decode(b64, validate=True)
        except binascii.Error as exc:
            raise _Invalid(f"'b64' is not base64 ({exc})") from None
    raise _Invalid("'text' and 'b64' must be strings")


def readable(transcript: Transcript) -> str:
    """Render ``transcript`` for people: one line per record, times relative to the first.

    Sends read ``-> ...``, receives ``<- ...`` and notes ``   [note] ...``; raw bytes are shown
    without their line terminator, with control characters and invalid UTF-8 escaped, and any
    problems follow the record. Lossy by design: the JSON Lines file is the exact record.
    """
    if not transcript.records:
        return ""
    start = transcript.records[0].t
    return "\n".join(f"+{r.t - start:.3f}s {_render(r)}" for r in transcript.records) + "\n"


_ARROWS = {Direction.SEND: "->", Direction.RECV: "<-"}
_CONTROL_ESCAPES = {c: f"\\x{c:02x}" for c in [*range(0x20), 0x7F]} | {
    ord("\t"): "\\t",
    ord("\n"): "\\n",
    ord("\r"): "\\r",
}


def _render(record: Record) -> str:
    if record.direction is Direction.NOTE:
        text = _render_note(record.value)
    else:
        raw = record.raw
        if raw.endswith(b"\n"):
            raw = raw[:-2] if raw.endswith(b"\r\n") else raw[:-1]
        body = raw.decode("utf-8", "backslashreplace").translate(_CONTROL_ESCAPES)
        text = f"{_ARROWS[record.direction]} {body}"
    if record.problems:
        text += f"  !! {'; '.join(record.problems)}"
    return text


def _render_note(value: object) -> str:
    if not isinstance(value, dict):
        return f"   [note] {value!r}"
    details = " ".join(
        f"{key}={json.dumps(item, ensure_ascii=False, default=repr)}"
        for key, item in value.items()
        if key != "note"
    )
    name = str(value.get("note")).translate(_CONTROL_ESCAPES)
    return f"   [note] {name} {details}".rstrip()
