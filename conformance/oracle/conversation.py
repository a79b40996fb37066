"""Protocol rules over a whole conversation: what a transcript must show.

`protocol.py` judges one message; the rules here judge a transcript (or the part of one
since a mark), because they are about how messages relate: every command answered once
with its id, in-band replies in issue order, event timestamps that never go back,
nothing hidden in broken input ever answered. Each is a plain function that raises
`Failure` citing the qmp-spec section, so the same rule judges a live session, a
recorded transcript in a unit test and a replayed reproducer alike.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from conformance.oracle.classes import id_class
from conformance.oracle.failure import Citation, Failure, FindingKind, spec
from conformance.oracle.protocol import RESPONSES, check_event_shape, check_well_formed
from conformance.qmp.message import Kind, Message
from conformance.qmp.transcript import Direction, Record, Transcript
from conformance.qmp.wirejson import QEMU_MAX_NESTING, json_equal, nesting_depth

ISSUE_ORDER = spec(
    "Out-of-band execution",
    "The server normally reads, executes and responds to one command after the other. "
    "The client therefore receives command responses in issue order.",
)
NO_ID = spec(
    "Error",
    "Some errors can occur before the Server is able to read the id member; in these "
    "cases the id member will not be part of the error response",
)
RESYNC = spec(
    "Forcing the JSON parser into known-good state",
    "To get it back into known-good state, the client should provoke a lexical error.",
)
NESTING = spec(
    "Forcing the JSON parser into known-good state",
    "Incomplete or invalid input can leave the server's JSON parser in a state where it "
    "can't parse additional commands. To get it back into known-good state, the client "
    "should provoke a lexical error.",
)
ASCII_OUTPUT = spec(
    "Protocol Specification",
    "The server expects its input to be encoded in UTF-8, and sends its output encoded in ASCII.",
)
PARSE_ERROR = spec(
    "QMP Examples",
    '-> { "execute": } <- { "error": { "class": "GenericError", "desc": "JSON parse error, '
    'expecting value" } }',
)
EVENT_TIME = spec(
    "Asynchronous events",
    "The timestamp member contains the exact time of when the event occurred in the Server.",
)


_NOTHING = object()


def _fail(
    check: str,
    citation: Citation,
    message: str,
    path: str | None = None,
    about: object = _NOTHING,
) -> Failure:
    """A protocol failure; `about` is the reply (a Message) or the id it is about, whose
    id class goes into the signature."""
    if isinstance(about, Message):
        facets = {"id": id_class(about.id, present=about.has_id)}
    else:
        facets = {"id": id_class(about)} if about is not _NOTHING else {}
    return Failure(check, citation, message, kind=FindingKind.PROTOCOL, path=path, facets=facets)


def messages(records: Transcript | Iterable[Record]) -> list[Message]:
    """The server's messages, in order, as the session classified them."""
    return [
        Message(r.raw, Kind(r.kind) if r.kind else Kind.INVALID, r.value, r.problems)
        for r in records
        if r.direction is Direction.RECV
    ]


def replies(records: Transcript | Iterable[Record]) -> list[Message]:
    return [m for m in messages(records) if m.kind in (Kind.RETURN, Kind.ERROR)]


def check_output(records: Transcript | Iterable[Record]) -> None:
    """Every server message is one strict-JSON object of a known kind, ending in CRLF
    (a frame holding two messages, or a reply with both return and error, is neither)."""
    for message in messages(records):
        check_well_formed(message)
        check_ascii(message)


def check_ascii(message: Message) -> None:
    """A server message is ASCII: QEMU's JSON writer (qobject/qjson.c) escapes every
    other character as \\uXXXX."""
    high = next((i for i, byte in enumerate(message.raw) if byte > 0x7F), None)
    if high is not None:
        raise _fail(
            "output.ascii",
            ASCII_OUTPUT,
            f"byte 0x{message.raw[high]:02X} at offset {high} of {message.raw[:200]!r}",
        )


def check_events(records: Transcript | Iterable[Record]) -> None:
    """Every event has the documented shape, and timestamps of one event on one connection
    never go back. Per event name: a rate-limited event is held back with the time it
    occurred, so other events may legitimately carry later times before it. A failed
    clock (-1/-1) is exempt."""
    last: dict[str, tuple[int, int]] = {}
    for message in messages(records):
        if message.kind is not Kind.EVENT:
            continue
        check_event_shape(message)
        ts = message.value["timestamp"] if isinstance(message.value, dict) else None
        assert isinstance(ts, dict)
        now = (ts["seconds"], ts["microseconds"])
        if now == (-1, -1):
            continue
        name = message.event_name or ""
        before = last.get(name)
        if before is not None and now < before:
            raise _fail(
                "events.time-order",
                EVENT_TIME,
                f"{name} at {now[0]}.{now[1]:06d} is earlier than the previous {name} "
                f"at {before[0]}.{before[1]:06d}",
                "$.timestamp",
            )
        last[name] = now


def check_replies(
    records: Transcript | Iterable[Record], expected: Sequence[object], id_less: int = 0
) -> None:
    """Each id in `expected` (one entry per well-formed command sent with it) is answered
    exactly once, and no reply carries an id that was not sent. Of the replies without
    an id, `id_less` may be successes (commands sent without an id); the rest must be
    errors, since only input the server could not read goes unanswered by id."""
    pending = list(expected)
    for reply in replies(records):
        if not reply.has_id:
            if id_less:
                id_less -= 1
                continue
            if reply.kind is not Kind.ERROR:
                raise _fail(
                    "ids.missing",
                    RESPONSES,
                    f"a success reply without an id: {reply.raw[:200]!r}",
                    "$.id",
                )
            continue
        index = next((i for i, e in enumerate(pending) if json_equal(e, reply.id)), None)
        if index is None:
            sent_before = any(json_equal(e, reply.id) for e in expected)
            what = "a second reply" if sent_before else "a reply"
            raise _fail(
                "ids.once" if sent_before else "ids.unknown",
                RESPONSES,
                f"{what} with id {reply.id!r}, which "
                + ("was already answered" if sent_before else "no well-formed command carried"),
                "$.id",
                reply,
            )
        del pending[index]
    if pending:
        raise _fail(
            "ids.unanswered",
            RESPONSES,
            f"{len(pending)} command(s) got no reply: ids {pending[:5]!r}",
            "$.id",
            pending[0],
        )


def check_issue_order(
    records: Transcript | Iterable[Record],
    in_band: Sequence[object],
    citation: Citation = ISSUE_ORDER,
    check: str = "pipelining.order",
) -> None:
    """Replies to the in-band commands with ids `in_band` (in the order sent) arrive in
    that order. Other replies (OOB ones) may come anywhere. `citation` and `check` name
    a source that pins the order of particular commands (QEMU's tests)."""
    seen: list[object] = []
    for reply in replies(records):
        if reply.has_id and any(json_equal(reply.id, i) for i in in_band):
            seen.append(reply.id)
    # A missing reply is check_replies' finding; order is judged among those that came.
    answered = [i for i in in_band if any(json_equal(i, s) for s in seen)]
    for position, (got, want) in enumerate(zip(seen, answered, strict=False)):
        if not json_equal(got, want):
            raise _fail(
                check,
                citation,
                f"in-band reply {position + 1} carries id {got!r}, expected {want!r} "
                f"(issue order {list(in_band)!r}, reply order {seen!r})",
                "$.id",
            )


def check_nothing_hidden_ran(
    records: Transcript | Iterable[Record],
    prefix: str,
    sent: Iterable[Record] | None = None,
) -> None:
    """No reply answers a command hidden in rejected input (its id starts with `prefix`):
    a success means part of it ran; an error echoing the id means the server read the
    broken bytes as a JSON request instead of rejecting them as JSON.

    `sent` (by default the sends among `records`) tells where the hidden command was:
    inside input nested past QEMU's limit, answering it is a parser differential, not a
    protocol violation (`_nesting_resumed`)."""
    records = list(records)
    sends = [r for r in (records if sent is None else sent) if r.direction is Direction.SEND]
    for reply in replies(records):
        if reply.has_id and isinstance(reply.id, str) and reply.id.startswith(prefix):
            ran = reply.kind is Kind.RETURN
            _nesting_resumed(reply, ran, sends)
            raise _fail(
                "malformed.executed" if ran else "malformed.parsed",
                RESYNC,
                (
                    "part of a rejected input ran as a command: "
                    if ran
                    else "broken input was read as a request (its id is echoed): "
                )
                + repr(reply.raw[:200]),
                "$.id",
                reply,
            )


def _nesting_resumed(reply: Message, ran: bool, sends: Sequence[Record]) -> None:
    """QEMU's streamer answers input nested past `QEMU_MAX_NESTING` with "JSON nesting
    depth limit exceeded", resets, and parses the bytes after the error point as new
    input, so a command inside the rejected nesting is read (and runs). The spec promises
    known-good state only after a lexical error, and a limit isn't one, so QEMU breaks no
    sentence of it; but a client or proxy that rejects the whole input as one (too deep)
    JSON value disagrees with QEMU about what ran. That is its own kind of finding."""
    token = f'"{reply.id}"'.encode()
    carrier = next((s.raw for s in reversed(sends) if token in s.raw), None)
    if carrier is None or nesting_depth(carrier) <= QEMU_MAX_NESTING:
        return
    raise Failure(
        "malformed.nesting-resumed",
        NESTING,
        f"input nested {nesting_depth(carrier)} deep (QEMU's limit: {QEMU_MAX_NESTING}) "
        f"was rejected, then QEMU parsed the rest of it as new input and "
        + ("ran" if ran else "read")
        + " the command inside the rejected value: "
        + repr(reply.raw[:200])
        + "; the spec promises known-good state only after a lexical error, so this is "
        "no spec violation, but a reader that rejects the whole value runs nothing",
        kind=FindingKind.PARSER_DIFFERENTIAL,
        path="$.id",
        facets={"id": id_class(reply.id, present=reply.has_id)},
    )


def check_id_less(records: Transcript | Iterable[Record], allowed: Sequence[object] = ()) -> None:
    """Replies to input the server could not read as a request (broken bytes, the
    resynchronising control character) are errors without an id. Replies with an id
    in `allowed` (a probe sent after the broken input) are not judged here."""
    for reply in replies(records):
        if reply.has_id and any(json_equal(reply.id, a) for a in allowed):
            continue
        if reply.has_id or reply.kind is not Kind.ERROR:
            raise _fail(
                "ids.parse-error",
                NO_ID,
                f"broken input was answered with {reply.raw[:200]!r}",
                "$.id" if reply.has_id else "$",
                reply,
            )


def check_parse_errors(records: Transcript | Iterable[Record], at_least: int = 1) -> None:
    """Input the server could not read as a request is answered with GenericError, at
    least `at_least` times (qmp-test's test_malformed: `qmp_expect_error_and_unref(resp,
    "GenericError")` after each broken input)."""
    errors = [r for r in replies(records) if not r.has_id and r.kind is Kind.ERROR]
    for error in errors:
        if error.error_class != "GenericError":
            raise _fail(
                "malformed.class",
                PARSE_ERROR,
                f"a parse error of class {error.error_class}: {error.raw[:200]!r}",
                "$.error.class",
            )
    if len(errors) < at_least:
        raise _fail(
            "malformed.unanswered",
            PARSE_ERROR,
            f"{len(errors)} parse error(s) where the input needs {at_least}: the broken input "
            "was not answered by itself",
        )


def check_probe_answered(
    records: Transcript | Iterable[Record], probe_id: object, error_class: str | None = None
) -> None:
    """After resynchronisation, the probe gets exactly one reply with its id: a success,
    or (before negotiation, where only qmp_capabilities runs) an error of
    `error_class`."""
    mine = [r for r in replies(records) if r.has_id and json_equal(r.id, probe_id)]
    if len(mine) != 1:
        raise _fail(
            "malformed.resync",
            RESYNC,
            f"the probe after resynchronisation got {len(mine)} replies, not one",
            "$.id",
        )
    if error_class is not None:
        if mine[0].kind is not Kind.ERROR or mine[0].error_class != error_class:
            raise _fail(
                "malformed.resync",
                RESYNC,
                f"the probe after resynchronisation got {mine[0].raw[:200]!r}, "
                f"not a {error_class} error",
            )
        return
    if mine[0].kind is not Kind.RETURN:
        raise _fail(
            "malformed.resync",
            RESYNC,
            f"the probe after resynchronisation failed: {mine[0].raw[:200]!r}",
        )
