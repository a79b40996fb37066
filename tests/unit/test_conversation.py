"""The conversation rules, and the message rules they use, judged on recorded transcripts.

The recordings in ``transcripts/`` are real conversations with QEMU 7.2 (see the README
there). Every rule must pass on them, and every rule must fail, with its own check id and a
qmp-spec citation, on a variant that breaks it: a recording with records edited, dropped,
duplicated or swapped, or a small transcript built from frames.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Sequence
from itertools import pairwise
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conformance.oracle import conversation, protocol
from conformance.oracle.conversation import (
    check_ascii,
    check_events,
    check_id_less,
    check_issue_order,
    check_nothing_hidden_ran,
    check_output,
    check_parse_errors,
    check_probe_answered,
    check_replies,
    messages,
    replies,
)
from conformance.oracle.failure import Citation, Failure, FindingKind
from conformance.oracle.protocol import (
    NEGOTIATION,
    check_error_class,
    check_event_shape,
    check_greeting,
    check_greeting_version,
    check_id_echo,
    check_reply_shape,
    check_well_formed,
)
from conformance.qmp.message import Kind, Message, parse_message
from conformance.qmp.transcript import Direction, Record, Transcript
from conformance.qmp.wirejson import StrictJSONError, dumps, json_equal, loads_strict

TRANSCRIPTS = Path(__file__).parent / "transcripts"
HIDDEN = "MUST-NOT-RUN-"
PROBE = {"probe": 0}


# -- reading and editing recordings -----------------------------------------------------


def load(name: str) -> Transcript:
    return Transcript.load(TRANSCRIPTS / name)


def sent_ids(transcript: Transcript) -> list[object]:
    """The ids of the well-formed commands sent, in order (one write may hold several)."""
    ids: list[object] = []
    for record in transcript.sent():
        for line in record.raw.split(b"\n"):
            if not line.strip():
                continue
            try:
                value = loads_strict(line)
            except StrictJSONError:
                continue  # broken input: nothing in it may be answered by id
            if isinstance(value, dict) and "id" in value:
                ids.append(value["id"])
    return ids


def send_index(transcript: Transcript, needle: bytes) -> int:
    """The index of the first record of bytes sent that contain `needle`."""
    return next(
        i for i, r in enumerate(transcript) if r.direction is Direction.SEND and needle in r.raw
    )


def reply_index(transcript: Transcript, id_: object) -> int:
    """The index of the first reply record carrying `id_` (equal as a JSON value)."""
    for i, r in enumerate(transcript):
        if r.direction is Direction.RECV and r.kind in ("return", "error"):
            value = r.value
            if isinstance(value, dict) and "id" in value and json_equal(value["id"], id_):
                return i
    raise LookupError(f"no reply with id {id_!r}")


def event_indices(transcript: Transcript) -> list[int]:
    return [i for i, r in enumerate(transcript) if r.kind == "event"]


def received(raw: bytes, t: float) -> Record:
    """A record of frame `raw` received at `t`, classified as the session would."""
    m = parse_message(raw)
    return Record(Direction.RECV, m.raw, t, m.value, m.kind.value, m.problems)


def _copy(transcript: Transcript, records: list[Record]) -> Transcript:
    return Transcript(dict(transcript.meta), records)


def edited(transcript: Transcript, index: int, raw: bytes) -> Transcript:
    """A copy with the record at `index` replaced by the frame `raw`."""
    records = list(transcript)
    records[index] = received(raw, records[index].t)
    return _copy(transcript, records)


def inserted(transcript: Transcript, index: int, raw: bytes) -> Transcript:
    """A copy with the frame `raw` received just before the record at `index`."""
    records = list(transcript)
    records.insert(index, received(raw, records[index].t))
    return _copy(transcript, records)


def without(transcript: Transcript, index: int) -> Transcript:
    records = list(transcript)
    del records[index]
    return _copy(transcript, records)


def swapped(transcript: Transcript, i: int, j: int) -> Transcript:
    records = list(transcript)
    records[i], records[j] = records[j], records[i]
    return _copy(transcript, records)


def between(transcript: Transcript, start: int, stop: int) -> Transcript:
    return _copy(transcript, list(transcript)[start:stop])


def conversation_of(*frames: bytes) -> Transcript:
    """A transcript of the server sending `frames`, one per record."""
    transcript = Transcript()
    for n, raw in enumerate(frames):
        transcript.record_recv(parse_message(raw), t=float(n))
    return transcript


def frame(value: object) -> bytes:
    return dumps(value) + b"\r\n"


def ok(id_: object) -> bytes:
    return frame({"return": {}, "id": id_})


def event(seconds: int, microseconds: int, name: str = "POWERDOWN") -> bytes:
    return frame({"event": name, "timestamp": {"seconds": seconds, "microseconds": microseconds}})


def value_of(transcript: Transcript, index: int) -> dict[str, Any]:
    value = transcript.records[index].value
    assert isinstance(value, dict)
    return value


def message_at(transcript: Transcript, index: int) -> Message:
    [message] = messages([transcript.records[index]])
    return message


# -- the recordings ----------------------------------------------------------------------

SESSION = load("qemu72-session.jsonl")
RESYNC = load("qemu72-resync.jsonl")
PIPELINE = load("qemu72-pipeline.jsonl")

SESSION_IDS = sent_ids(SESSION)
GREETING = messages(SESSION)[0]
QUERY_VERSION = value_of(SESSION, reply_index(SESSION, 20))["return"]
TWO = reply_index(SESSION, "two")
TWO_RAW = SESSION.records[TWO].raw
ERR = message_at(SESSION, reply_index(SESSION, "err"))
TRAY_OPEN, TRAY_CLOSED = event_indices(SESSION)[:2]
TRAY_RAW = SESSION.records[TRAY_OPEN].raw

BROKEN = send_index(RESYNC, HIDDEN.encode())
PROBE_REPLY = reply_index(RESYNC, PROBE)
# What the server said about the broken input and the resync byte, up to the probe's reply.
BROKEN_PART = between(RESYNC, BROKEN, PROBE_REPLY)
AFTER_BROKEN = RESYNC.since(BROKEN)

PIPELINED = list(range(1, 9))
BURST = PIPELINE.since(send_index(PIPELINE, b'"id":8}'))


def test_recordings_load_byte_exact() -> None:
    for path in sorted(TRANSCRIPTS.glob("*.jsonl")):
        assert Transcript.load(path).to_jsonl() == path.read_text(encoding="utf-8"), path.name


def test_session_recording_conforms() -> None:
    check_output(SESSION)
    check_events(SESSION)
    check_replies(SESSION, SESSION_IDS)
    check_issue_order(SESSION, SESSION_IDS)
    check_nothing_hidden_ran(SESSION, HIDDEN)
    check_greeting(GREETING)
    check_greeting_version(GREETING, QUERY_VERSION)
    check_error_class(ERR, "CommandNotFound", NEGOTIATION, "test.error-class")
    check_error_class(ERR, None, NEGOTIATION, "test.error-class")
    answers = replies(SESSION)
    assert len(answers) == len(SESSION_IDS) == 12
    for answer, sent in zip(answers, SESSION_IDS, strict=True):
        check_reply_shape(answer)
        check_id_echo(answer, sent)
    events = [m for m in messages(SESSION) if m.kind is Kind.EVENT]
    assert [m.event_name for m in events] == ["DEVICE_TRAY_MOVED"] * 2 + ["SHUTDOWN"]
    for e in events:
        check_event_shape(e)


def test_session_ids_are_compared_as_json_values() -> None:
    """QEMU 7.2 echoes id 3.0 as 3 and 2**64 as a double: equal ids, other Python values."""
    three = message_at(SESSION, reply_index(SESSION, 3.0))
    big = message_at(SESSION, reply_index(SESSION, 2**64))
    assert b'"id": 3}' in three.raw
    assert type(three.id) is int
    assert b'"id": 1.8446744073709552e+19}' in big.raw
    assert type(big.id) is float
    assert 3.0 in SESSION_IDS
    assert 2**64 in SESSION_IDS
    check_id_echo(three, 3.0)
    check_id_echo(big, 2**64)
    # The null id is an id: sent, echoed, and counted like any other.
    null = message_at(SESSION, reply_index(SESSION, None))
    assert null.has_id
    check_id_echo(null, None)


def test_resync_recording_conforms() -> None:
    check_output(RESYNC)
    check_events(RESYNC)
    check_replies(RESYNC, sent_ids(RESYNC))
    check_issue_order(RESYNC, sent_ids(RESYNC))
    check_nothing_hidden_ran(RESYNC, HIDDEN)
    # QEMU 7.2 answers the stray \x01 and the \x1b each with an id-less GenericError.
    assert [m.error_class for m in replies(BROKEN_PART)] == ["GenericError"] * 2
    check_id_less(BROKEN_PART)
    check_parse_errors(BROKEN_PART, at_least=2)
    check_probe_answered(AFTER_BROKEN, PROBE)
    check_probe_answered(AFTER_BROKEN, {"probe": 0.0})


def test_pipeline_recording_conforms() -> None:
    check_output(PIPELINE)
    check_events(PIPELINE)
    # The whole connection reuses ids 1 and 2 (negotiation, quit): expected is a multiset.
    ids = sent_ids(PIPELINE)
    assert ids == [1, *PIPELINED, 2]
    check_replies(PIPELINE, ids)
    check_issue_order(PIPELINE, ids)
    check_replies(BURST, [*PIPELINED, 2])
    check_issue_order(BURST, PIPELINED)


def test_ids_equal_as_json_pass() -> None:
    floats = conversation_of(ok(1.0), ok(2), ok({"a": [1.0]}))
    check_replies(floats, [1, 2.0, {"a": [1]}])
    check_issue_order(floats, [1, 2.0, {"a": [1]}])
    check_probe_answered(floats, {"a": [1]})
    check_id_echo(messages(floats)[0], 1)


def test_conforming_corner_cases_pass() -> None:
    # Equal timestamps are not earlier; a failed clock (-1/-1) is exempt from ordering.
    check_events(conversation_of(event(5, 7), event(5, 7), event(-1, -1), event(5, 8)))
    check_events(conversation_of(event(0, 999_999), event(1, 0)))
    # Id-less errors answer unreadable input and pair with no id.
    check_replies(
        conversation_of(frame({"error": {"class": "GenericError", "desc": "x"}}), ok(1)), [1]
    )
    # Out-of-band replies may overtake in-band ones.
    check_issue_order(conversation_of(ok("oob"), ok(1), ok(2)), [1, 2])
    # Fewer replies than in-band commands is check_replies' business, not ordering's.
    check_issue_order(conversation_of(ok(1), ok(2)), [1, 2, 3])
    check_nothing_hidden_ran(conversation_of(ok(f"x{HIDDEN}"), ok(7)), HIDDEN)
    check_id_echo(message_at(SESSION, TWO), "two", sent=True)
    check_id_echo(parse_message(frame({"return": {}})), None, sent=False)


# -- every check can fail ----------------------------------------------------------------


def fails(
    check: Callable[..., None], label: str, rule: str, *args: object, **kwargs: object
) -> Any:
    """A parameter set: `check(*args, **kwargs)` must raise Failure `rule`."""
    return pytest.param(check, args, kwargs, rule, id=f"{check.__name__}-{label}")


def _ev(raw: bytes) -> Message:
    return parse_message(raw)


def _tray(old: bytes, new: bytes) -> bytes:
    assert old in TRAY_RAW
    return TRAY_RAW.replace(old, new)


def _greeting(old: bytes, new: bytes) -> Message:
    assert old in GREETING.raw
    return parse_message(GREETING.raw.replace(old, new))


TRAY_DATA = b'"data": {"device": "", "tray-open": true, "id": "cd0"}'
PROBE_RAW = RESYNC.records[PROBE_REPLY].raw
HIDDEN_REPLY = frame({"return": {"qemu": {}, "package": ""}, "id": f"{HIDDEN}1"})
ID_LESS = BROKEN_PART.records[-1].raw
assert b'"id"' not in ID_LESS
assert b"GenericError" in ID_LESS
SWAPPED_BURST = swapped(BURST, reply_index(BURST, 3), reply_index(BURST, 4))

# fmt: off
FAILING = [
    # check_output: every server message is one strict-JSON object of a known kind + CRLF
    fails(check_output, "bare-lf", "output.strict-json", edited(SESSION, TWO, TWO_RAW[:-2] + b"\n")),
    fails(check_output, "no-terminator-at-eof", "output.strict-json", edited(SESSION, TWO, TWO_RAW[:-2])),
    fails(check_output, "two-objects", "output.strict-json", edited(SESSION, TWO, ok("two")[:-2] + ok("two"))),
    fails(check_output, "nan", "output.strict-json", edited(SESSION, TWO, b'{"return": NaN, "id": "two"}\r\n')),
    fails(check_output, "duplicate-key", "output.strict-json", edited(SESSION, TWO, b'{"return": {}, "id": "two", "id": "two"}\r\n')),
    fails(check_output, "invalid-utf8", "output.strict-json", edited(SESSION, TWO, b'{"return": "\xff", "id": "two"}\r\n')),
    fails(check_output, "empty-line", "output.strict-json", inserted(SESSION, TWO, b"\r\n")),
    fails(check_output, "return-and-error", "output.kind", edited(SESSION, TWO, b'{"return": {}, "error": {"class": "GenericError", "desc": "x"}, "id": "two"}\r\n')),
    fails(check_output, "array", "output.kind", edited(SESSION, TWO, b"[1]\r\n")),
    fails(check_output, "no-known-member", "output.kind", edited(SESSION, TWO, b'{"id": "two"}\r\n')),
    # check_events: event shape, and timestamps that never go back
    fails(check_events, "swapped-recorded", "events.time-order", swapped(SESSION, TRAY_OPEN, TRAY_CLOSED)),
    fails(check_events, "microsecond-back", "events.time-order", conversation_of(event(100, 6), event(100, 5))),
    fails(check_events, "back-across-failed-clock", "events.time-order", conversation_of(event(100, 5), event(-1, -1), event(99, 999_999))),
    fails(check_events, "data-not-object", "events.shape", edited(SESSION, TRAY_OPEN, _tray(TRAY_DATA, b'"data": 1'))),
    fails(check_events, "microseconds-1e6", "events.timestamp", edited(SESSION, TRAY_OPEN, re.sub(rb'"microseconds": \d+', b'"microseconds": 1000000', TRAY_RAW))),
    # check_replies: each id answered once, no unknown ids, id-less replies only as errors
    fails(check_replies, "duplicate", "ids.once", inserted(SESSION, TWO + 1, TWO_RAW), SESSION_IDS),
    fails(check_replies, "never-sent", "ids.unknown", edited(SESSION, TWO, TWO_RAW.replace(b'"two"', b'"three"')), SESSION_IDS),
    fails(check_replies, "bool-is-not-1", "ids.unknown", conversation_of(ok(True)), [1]),
    fails(check_replies, "hidden-id", "ids.unknown", inserted(RESYNC, PROBE_REPLY, HIDDEN_REPLY), sent_ids(RESYNC)),
    fails(check_replies, "dropped", "ids.unanswered", without(PIPELINE, reply_index(PIPELINE, 5)), sent_ids(PIPELINE)),
    fails(check_replies, "success-without-id", "ids.missing", edited(SESSION, TWO, TWO_RAW.replace(b', "id": "two"', b"")), SESSION_IDS),
    # check_issue_order: in-band replies in issue order
    fails(check_issue_order, "swapped-pipelined", "pipelining.order", SWAPPED_BURST, PIPELINED),
    fails(check_issue_order, "swapped-session", "pipelining.order", swapped(SESSION, TWO, reply_index(SESSION, 1.5)), SESSION_IDS),
    # check_nothing_hidden_ran: nothing in rejected input is executed
    fails(check_nothing_hidden_ran, "hidden-ran", "malformed.executed", inserted(RESYNC, PROBE_REPLY, HIDDEN_REPLY), HIDDEN),
    fails(check_nothing_hidden_ran, "hidden-refused-by-id", "malformed.parsed", inserted(RESYNC, PROBE_REPLY, frame({"id": f"{HIDDEN}1", "error": {"class": "GenericError", "desc": "x"}})), HIDDEN),
    # check_id_less: broken input is answered by errors without an id
    fails(check_id_less, "error-with-id", "ids.parse-error", edited(BROKEN_PART, len(BROKEN_PART) - 1, ID_LESS.replace(b'{"error"', b'{"id": "MUST-NOT-RUN-1", "error"'))),
    fails(check_id_less, "success", "ids.parse-error", inserted(BROKEN_PART, len(BROKEN_PART) - 1, frame({"return": {}}))),
    # check_parse_errors: broken input gets GenericError, by itself
    fails(check_parse_errors, "other-class", "malformed.class", edited(BROKEN_PART, len(BROKEN_PART) - 1, ID_LESS.replace(b"GenericError", b"CommandNotFound"))),
    fails(check_parse_errors, "unanswered", "malformed.unanswered", BROKEN_PART, at_least=3),
    # check_ascii: the server's output is ASCII (QEMU escapes the rest as \uXXXX)
    fails(check_ascii, "raw-utf8", "output.ascii", parse_message(frame({"return": {}, "id": "é"}))),
    fails(check_output, "raw-utf8", "output.ascii", edited(SESSION, TWO, TWO_RAW.replace(b'"two"', '"twö"'.encode()))),
    # check_probe_answered: the probe after resynchronisation succeeds, once
    fails(check_probe_answered, "twice", "malformed.resync", inserted(AFTER_BROKEN, PROBE_REPLY - BROKEN, PROBE_RAW), PROBE),
    fails(check_probe_answered, "error", "malformed.resync", edited(AFTER_BROKEN, PROBE_REPLY - BROKEN, frame({"error": {"class": "GenericError", "desc": "x"}, "id": PROBE})), PROBE),
    fails(check_probe_answered, "unanswered", "malformed.resync", without(AFTER_BROKEN, PROBE_REPLY - BROKEN), PROBE),
    fails(check_probe_answered, "other-id", "malformed.resync", AFTER_BROKEN, {"probe": 1}),
    fails(check_probe_answered, "not-the-class", "malformed.resync", AFTER_BROKEN, PROBE, "CommandNotFound"),
    # protocol.py: one message at a time
    fails(check_well_formed, "bare-lf", "output.strict-json", parse_message(TWO_RAW[:-2] + b"\n")),
    fails(check_well_formed, "return-and-error", "output.kind", parse_message(b'{"return": 1, "error": 2}\r\n')),
    fails(check_greeting, "not-first", "greeting.shape", message_at(SESSION, TWO)),
    fails(check_greeting, "qmp-not-object", "greeting.shape", parse_message(b'{"QMP": []}\r\n')),
    fails(check_greeting, "capabilities-string", "greeting.shape", _greeting(b'["oob"]', b'"oob"')),
    fails(check_greeting, "capabilities-number", "greeting.shape", _greeting(b'["oob"]', b"[1]")),
    fails(check_greeting, "version-not-object", "greeting.version", parse_message(b'{"QMP": {"version": "7.2", "capabilities": []}}\r\n')),
    fails(check_greeting, "qemu-not-object", "greeting.version", _greeting(b'"qemu": {"micro": 22, "minor": 2, "major": 7}', b'"qemu": [22, 2, 7]')),
    fails(check_greeting, "major-string", "greeting.version", _greeting(b'"major": 7', b'"major": "7"')),
    fails(check_greeting, "micro-bool", "greeting.version", _greeting(b'"micro": 22', b'"micro": true')),
    fails(check_greeting, "minor-float", "greeting.version", _greeting(b'"minor": 2', b'"minor": 2.5')),
    fails(check_greeting, "package-missing", "greeting.version", _greeting(b'"package": "Debian', b'"pkg": "Debian')),
    fails(check_greeting_version, "micro", "greeting.version-matches", GREETING, {**QUERY_VERSION, "qemu": {"major": 7, "minor": 2, "micro": 23}}),
    fails(check_greeting_version, "package", "greeting.version-matches", GREETING, {**QUERY_VERSION, "package": ""}),
    fails(check_error_class, "other-class", "test.error-class", ERR, "GenericError", NEGOTIATION, "test.error-class"),
    fails(check_error_class, "success", "test.error-class", message_at(SESSION, TWO), "CommandNotFound", NEGOTIATION, "test.error-class"),
    fails(check_error_class, "success-any-class", "test.error-class", message_at(SESSION, TWO), None, NEGOTIATION, "test.error-class"),
    fails(check_id_echo, "other-id", "ids.echo", message_at(SESSION, TWO), "three"),
    fails(check_id_echo, "string-for-number", "ids.echo", parse_message(ok("1")), 1),
    fails(check_id_echo, "no-id", "ids.echo", parse_message(frame({"return": {}})), "two"),
    fails(check_id_echo, "id-not-sent", "ids.absent", message_at(SESSION, TWO), None, sent=False),
    fails(check_id_echo, "null-not-sent", "ids.absent", parse_message(ok(None)), None, sent=False),
    fails(check_reply_shape, "return-extra", "reply.shape", parse_message(b'{"return": {}, "id": 1, "extra": 2}\r\n')),
    fails(check_reply_shape, "error-extra", "reply.shape", parse_message(b'{"error": {"class": "A", "desc": "b"}, "return2": 1}\r\n')),
    fails(check_reply_shape, "error-string", "reply.shape", parse_message(b'{"error": "oops"}\r\n')),
    fails(check_reply_shape, "no-desc", "reply.shape", parse_message(b'{"error": {"class": "GenericError"}}\r\n')),
    fails(check_reply_shape, "class-number", "reply.shape", parse_message(b'{"error": {"class": 1, "desc": "x"}}\r\n')),
    fails(check_reply_shape, "event", "reply.shape", message_at(SESSION, TRAY_OPEN)),
    fails(check_event_shape, "name-number", "events.shape", _ev(_tray(b'"event": "DEVICE_TRAY_MOVED"', b'"event": 5'))),
    fails(check_event_shape, "extra-member", "events.shape", _ev(_tray(b'"event"', b'"id": 1, "event"'))),
    fails(check_event_shape, "data-array", "events.shape", _ev(_tray(TRAY_DATA, b'"data": []'))),
    fails(check_event_shape, "no-timestamp", "events.shape", _ev(frame({"event": "POWERDOWN", "data": {}}))),
    fails(check_event_shape, "seconds-float", "events.shape", _ev(event(1, 2).replace(b'"seconds":1', b'"seconds":1.5'))),
    fails(check_event_shape, "microseconds-bool", "events.shape", _ev(event(1, 2).replace(b'"microseconds":2', b'"microseconds":true'))),
    fails(check_event_shape, "microseconds-1e6", "events.timestamp", _ev(event(1, 10**6))),
    fails(check_event_shape, "microseconds-negative", "events.timestamp", _ev(event(1, -1))),
    fails(check_event_shape, "seconds-negative", "events.timestamp", _ev(event(-2, 0))),
    fails(check_event_shape, "half-failed-clock", "events.timestamp", _ev(event(-1, 0))),
]
# fmt: on


def _raise(check: Callable[..., None], args: Sequence[object], kwargs: dict[str, Any]) -> Failure:
    with pytest.raises(Failure) as err:
        check(*args, **kwargs)
    return err.value


@pytest.mark.parametrize(("check", "args", "kwargs", "rule"), FAILING)
def test_check_fails(
    check: Callable[..., None], args: Sequence[object], kwargs: dict[str, Any], rule: str
) -> None:
    failure = _raise(check, args, kwargs)
    assert failure.check == rule, failure
    assert failure.citation.source == "qmp-spec"
    assert failure.citation.section
    assert failure.citation.quote
    assert failure.kind is FindingKind.PROTOCOL
    assert str(failure.citation) in str(failure)


def _own_checks(module: ModuleType) -> set[str]:
    return {
        f"{module.__name__}.{name}"
        for name, f in inspect.getmembers(module, inspect.isfunction)
        if name.startswith("check_") and f.__module__ == module.__name__
    }


def test_every_check_has_a_failing_case() -> None:
    checks = _own_checks(conversation) | _own_checks(protocol)
    covered = {f"{p.values[0].__module__}.{p.values[0].__name__}" for p in FAILING}
    assert checks - covered == set()
    rules = {p.values[3] for p in FAILING if p.values[0] is not check_error_class}
    assert rules >= {
        "events.time-order",
        "events.shape",
        "events.timestamp",
        "ids.once",
        "ids.unknown",
        "ids.unanswered",
        "ids.missing",
        "ids.parse-error",
        "ids.echo",
        "ids.absent",
        "pipelining.order",
        "malformed.executed",
        "malformed.resync",
        "output.strict-json",
        "output.kind",
        "greeting.shape",
        "greeting.version",
        "greeting.version-matches",
        "reply.shape",
    }


def _normalised(text: str) -> str:
    return " ".join(text.replace("``", "").split())


def test_citations_quote_the_spec(corpus: Path) -> None:
    """Each section cited is a heading of qmp-spec.rst, and each quote is its text."""
    spec = corpus / "docs" / "qmp-spec.rst"
    if not spec.is_file():
        pytest.skip(f"{spec} is missing from the corpus")
    text = spec.read_text(encoding="utf-8")
    lines = text.splitlines()
    headings = {
        line.strip()
        for line, under in pairwise(lines)
        if line.strip() and re.fullmatch(r"([-=~])\1{2,}", under.strip())
    }
    body = _normalised(text)
    citations: set[Citation] = {_raise(*p.values[:3]).citation for p in FAILING}
    for citation in citations:
        assert citation.section in headings, citation
        assert _normalised(citation.quote) in body, citation


def test_failures_point_at_the_id() -> None:
    failure = _raise(check_issue_order, (SWAPPED_BURST, PIPELINED), {})
    assert failure.path == "$.id"
    assert "expected 3" in failure.message
    failure = _raise(check_events, (swapped(SESSION, TRAY_OPEN, TRAY_CLOSED),), {})
    assert failure.path == "$.timestamp"
    assert "DEVICE_TRAY_MOVED" in failure.message


# -- properties ------------------------------------------------------------------------


@st.composite
def interleavings(draw: st.DrawFn) -> tuple[list[int], list[object]]:
    """In-band ids 1..n, in order, with OOB ids (strings) anywhere among them."""
    in_band = list(range(1, draw(st.integers(0, 8)) + 1))
    oob = [f"oob-{k}" for k in range(draw(st.integers(0, 4)))]
    order: list[object] = draw(st.permutations([*in_band, *oob]))
    ranks = iter(in_band)
    return in_band, [next(ranks) if isinstance(i, int) else i for i in order]


@given(interleavings())
def test_issue_order_allows_oob_anywhere(case: tuple[list[int], list[object]]) -> None:
    in_band, order = case
    transcript = conversation_of(*(ok(i) for i in order))
    check_issue_order(transcript, in_band)
    check_replies(transcript, order)


@given(interleavings(), st.data())
def test_issue_order_catches_any_swap(
    case: tuple[list[int], list[object]], data: st.DataObject
) -> None:
    in_band, order = case
    positions = [p for p, i in enumerate(order) if isinstance(i, int)]
    if len(positions) < 2:
        return
    a, b = sorted(
        data.draw(st.lists(st.sampled_from(positions), min_size=2, max_size=2, unique=True))
    )
    order[a], order[b] = order[b], order[a]
    transcript = conversation_of(*(ok(i) for i in order))
    assert _raise(check_issue_order, (transcript, in_band), {}).check == "pipelining.order"
    check_replies(transcript, order)  # the same replies, only in another order


timestamps = st.tuples(st.integers(0, 2**40), st.integers(0, 999_999))


@given(st.lists(timestamps, min_size=2, max_size=10), st.data())
def test_event_time_order(stamps: list[tuple[int, int]], data: st.DataObject) -> None:
    stamps.sort()
    clean = [event(s, us) for s, us in stamps]
    failed = data.draw(st.integers(0, len(clean)))
    check_events(conversation_of(*clean[:failed], event(-1, -1), *clean[failed:]))
    if stamps[0] != stamps[-1]:
        backwards = conversation_of(*reversed(clean))
        assert _raise(check_events, (backwards,), {}).check == "events.time-order"


@given(st.lists(st.integers(-1000, 10**6), min_size=1, max_size=8, unique=True), st.data())
def test_replies_in_any_order_answer_once(ids: list[int], data: st.DataObject) -> None:
    order = data.draw(st.permutations(ids))
    check_replies(conversation_of(*(ok(i) for i in order)), ids)
    # Answered as floats, they are still the same ids.
    check_replies(conversation_of(*(ok(float(i)) for i in order)), ids)
    twice = data.draw(st.sampled_from(ids))
    dup = conversation_of(*(ok(i) for i in order), ok(twice))
    assert _raise(check_replies, (dup, ids), {}).check == "ids.once"
    dropped = data.draw(st.sampled_from(order))
    short = conversation_of(*(ok(i) for i in order if i != dropped))
    assert _raise(check_replies, (short, ids), {}).check == "ids.unanswered"


# -- rules refined after review ------------------------------------------------------------


def test_event_time_order_is_per_event_name() -> None:
    """A rate-limited event keeps the time it occurred while held back, so another event
    may carry a later time before it arrives; one event name never goes back."""
    check_events(conversation_of(event(10, 5, "RTC_CHANGE"), event(9, 0, "POWERDOWN")))
    with pytest.raises(Failure) as raised:
        check_events(conversation_of(event(10, 5, "RTC_CHANGE"), event(9, 0, "RTC_CHANGE")))
    assert raised.value.check == "events.time-order"


def test_replies_without_id_may_answer_commands_sent_without_one() -> None:
    plain = frame({"return": {}})
    check_replies(conversation_of(plain, ok(1)), [1], id_less=1)
    with pytest.raises(Failure) as raised:
        check_replies(conversation_of(plain, plain, ok(1)), [1], id_less=1)
    assert raised.value.check == "ids.missing"


def test_a_missing_reply_is_not_an_order_failure() -> None:
    check_issue_order(conversation_of(ok(1), ok(3)), [1, 2, 3])
    with pytest.raises(Failure) as raised:
        check_replies(conversation_of(ok(1), ok(3)), [1, 2, 3])
    assert raised.value.check == "ids.unanswered"


def test_an_event_is_not_a_reply() -> None:
    with pytest.raises(Failure, match="not a reply") as raised:
        check_reply_shape(parse_message(event(1, 2)))
    assert raised.value.check == "reply.shape"
