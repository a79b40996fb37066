"""Recording transcripts, their JSON Lines round trip, load errors and the readable view."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conformance.qmp.message import BARE_LF, Kind, parse_message
from conformance.qmp.transcript import (
    Direction,
    Record,
    Transcript,
    TranscriptError,
    readable,
)
from conformance.qmp.wirejson import json_equal

HEADER = '{"qmp-transcript":1,"meta":{}}'

# Any str, unpaired surrogates included: values the suite sends are not guaranteed clean.
any_text = st.text(st.characters(exclude_categories=()))
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | any_text,
    lambda children: st.lists(children) | st.dictionaries(any_text, children),
    max_leaves=10,
)
records = st.builds(
    Record,
    direction=st.sampled_from(Direction),
    raw=st.binary() | any_text.map(lambda s: s.encode("utf-8", "surrogatepass")),
    t=st.floats(allow_nan=False, allow_infinity=False),
    value=json_values,
    kind=st.none() | st.sampled_from(Kind).map(str) | any_text,
    problems=st.lists(any_text, max_size=3).map(tuple),
)
transcripts = st.builds(
    Transcript,
    meta=st.dictionaries(any_text, json_values, max_size=4),
    records=st.lists(records, max_size=6),
)


@given(transcripts)
def test_jsonl_round_trip_is_exact(transcript: Transcript) -> None:
    text = transcript.to_jsonl()
    assert text.isascii()
    loaded = Transcript.from_jsonl(text)
    assert loaded == transcript
    for before, after in zip(transcript, loaded, strict=True):
        assert type(after.raw) is bytes
        assert after.raw == before.raw
        assert after.direction is before.direction
        assert after.t == before.t
        # == alone would let True become 1; JSON equality without tolerance would not.
        assert json_equal(after.value, before.value, float_tolerance=0.0)


def test_save_and_load(tmp_path: Path) -> None:
    transcript = Transcript({"binary": "/usr/bin/qemu-system-x86_64", "argv": ["-S"]})
    transcript.record_send(b'{"execute":"qmp_capabilities"}\r\n', {"execute": "qmp_capabilities"})
    transcript.record_recv(parse_message(b'{"return": {}}\r\n'))
    transcript.record_recv(parse_message(b"\x00\xff\xc0\x80 \r\n"))
    transcript.record_note("exit", code=0, signal=None)
    path = tmp_path / "t.jsonl"
    transcript.save(path)
    assert Transcript.load(path) == transcript
    assert [json.loads(line)["dir"] for line in path.read_text().splitlines()[1:]] == [
        "send",
        "recv",
        "recv",
        "note",
    ]


def test_jsonl_uses_text_when_utf8_and_b64_otherwise() -> None:
    transcript = Transcript()
    transcript.record_send(b"\x00\r\n", t=1.0)
    transcript.record_send(b"\xff", t=2.0)
    assert transcript.to_jsonl().splitlines()[1:] == [
        '{"dir":"send","t":1.0,"text":"\\u0000\\r\\n"}',
        '{"dir":"send","t":2.0,"b64":"/w=="}',
    ]


def test_recording() -> None:
    transcript = Transcript()
    sent = transcript.record_send(b"{}", {}, t=1.5)
    received = transcript.record_recv(parse_message(b'{"return": {}}\n'), t=2.5)
    note = transcript.record_note("deadline expired", after=3.0)
    assert sent == Record(Direction.SEND, b"{}", 1.5, {})
    assert received == Record(
        Direction.RECV, b'{"return": {}}\n', 2.5, {"return": {}}, "return", (BARE_LF,)
    )
    assert (note.direction, note.raw, note.value) == (
        Direction.NOTE,
        b"",
        {"note": "deadline expired", "after": 3.0},
    )
    assert note.t > 0
    assert list(transcript) == transcript.records == [sent, received, note]
    assert len(transcript) == 3
    assert transcript.sent() == [sent]
    assert transcript.received() == [received]


def test_since_keeps_the_meta_and_the_later_records() -> None:
    transcript = Transcript({"binary": "qemu"})
    first = transcript.record_send(b"1", t=1.0)
    later = [transcript.record_send(b"2", t=2.0), transcript.record_send(b"3", t=3.0)]
    part = transcript.since(1)
    assert (part.meta, part.records) == ({"binary": "qemu"}, later)
    part.meta["extra"] = 1
    part.records.clear()
    assert transcript.meta == {"binary": "qemu"}
    assert transcript.records == [first, *later]


def test_note_data_cannot_hide_the_note_name() -> None:
    with pytest.raises(ValueError, match="'note' key"):
        Transcript().record_note("exit", note="other")


def test_values_outside_json_are_saved_as_their_repr() -> None:
    transcript = Transcript({"path": Path("/tmp/x")})
    transcript.record_note("exit", error=OSError(5, "I/O"))
    loaded = Transcript.from_jsonl(transcript.to_jsonl())
    assert loaded.meta == {"path": repr(Path("/tmp/x"))}
    assert loaded.records[0].value == {"note": "exit", "error": repr(OSError(5, "I/O"))}


def _record_line(**fields: object) -> str:
    return json.dumps({"dir": "recv", "t": 1.0, "text": "{}", **fields})


def _with_record(**fields: object) -> str:
    """A header and one record line, with ``fields`` overriding a valid record's."""
    return f"{HEADER}\n{_record_line(**fields)}\n"


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        ("", 1, "empty transcript"),
        ("\n", 1, "not JSON"),
        ("{oops\n", 1, "not JSON: Expecting property name"),
        ("[]\n", 1, "expected a JSON object"),
        ('{"meta": {}}\n', 1, "not a transcript header"),
        ('{"qmp-transcript": 2, "meta": {}}\n', 1, "expected 1"),
        ('{"qmp-transcript": true, "meta": {}}\n', 1, "not a transcript header"),
        ('{"qmp-transcript": 1}\n', 1, "'meta' must be a JSON object"),
        (f"{HEADER}\n{_record_line()}\n\n", 3, "not JSON"),
        (f"{HEADER}\n{_record_line()}\nnull\n", 3, "expected a JSON object"),
        (_with_record(dir="sent"), 2, "'dir' must be send, recv or note"),
        (_with_record(dir=["recv"]), 2, "'dir' must be"),
        (_with_record(t="1.0"), 2, "'t' must be a number"),
        (_with_record(t=True), 2, "'t' must be a number"),
        (_with_record(t=None), 2, "'t' must be a number"),
        (_with_record(b64="AA=="), 2, "exactly one of 'text' and 'b64'"),
        (_with_record(text=None), 2, "exactly one of 'text' and 'b64'"),
        (_with_record(text=1), 2, "must be strings"),
        (_with_record(text="\ud800"), 2, "unpaired surrogate"),
        (_with_record(text=None, b64="@@@"), 2, "'b64' is not base64"),
        (_with_record(kind=1), 2, "'kind' must be a string"),
        (_with_record(problems="x"), 2, "'problems' must be a list of strings"),
        (_with_record(problems=[1]), 2, "'problems' must be a list of strings"),
        (_with_record(extra=1), 2, "unknown field 'extra'"),
    ],
)
def test_malformed_transcripts_name_the_line(text: str, line: int, reason: str) -> None:
    with pytest.raises(TranscriptError) as caught:
        Transcript.from_jsonl(text)
    message = str(caught.value)
    assert message.startswith(f"line {line}: ")
    assert reason in message
    assert "\n" not in message


def test_load_reports_invalid_utf8_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_bytes(HEADER.encode() + b'\n{"dir": "recv", "t": 1, "text": "\xff"}\n')
    with pytest.raises(TranscriptError, match=r"^line 2: invalid UTF-8"):
        Transcript.load(path)


def test_readable() -> None:
    transcript = Transcript()
    transcript.record_send(b'{"execute":"qmp_capabilities","id":1}\r\n', t=100.0)
    transcript.record_recv(parse_message(b'{"return": {}, "id": 1}\r\n'), t=100.012)
    transcript.record_send(b'{"execute":\n"stop"}\x00', t=100.5)
    transcript.record_recv(parse_message(b'{"return": \xff}\n'), t=101.25)
    transcript.records.append(
        Record(Direction.NOTE, b"", 102.0, {"note": "exit", "code": -9, "signal": "SIGKILL"})
    )
    assert readable(transcript) == (
        '+0.000s -> {"execute":"qmp_capabilities","id":1}\n'
        '+0.012s <- {"return": {}, "id": 1}\n'
        '+0.500s -> {"execute":\\n"stop"}\\x00\n'
        '+1.250s <- {"return": \\xff}'
        "  !! invalid UTF-8 at byte 11 (0xff): invalid start byte; terminated by bare LF\n"
        '+2.000s    [note] exit code=-9 signal="SIGKILL"\n'
    )


def test_readable_of_an_empty_transcript_is_empty() -> None:
    assert readable(Transcript()) == ""


def test_repr_stays_short() -> None:
    transcript = Transcript({"binary": "qemu"})
    for _ in range(1000):
        transcript.record_send(b"{}")
    assert repr(transcript) == "Transcript(1000 records, meta={'binary': 'qemu'})"
