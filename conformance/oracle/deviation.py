"""Deviations: where QEMU departs from the spec or RFC 8259 on purpose, and says so.

A check failure is a finding only when a QEMU maintainer would accept it. When QEMU's
own source or tests state the behaviour a check objects to as intended, the failure is a
**deviation** instead: it is recorded with the sentence of QEMU that makes it deliberate
and the sentence of the spec it departs from, shown in the findings index, the terminal
summary and the conformance matrix, and it never fails a run or enters a baseline.

A check doesn't know its inputs' history, so the caller says when a deliberate
deviation applies (`deliberate(NONCHARACTERS, when=holds_noncharacter(sent_id))`); the
failures that deviation explains, and only those, are recorded instead of raised. The
rest of the checks of the block don't run: under the deviation's reading of the input
their premise (broken input) doesn't hold. Recording, not raising, lets Hypothesis go
on exploring: an id that is a deviation must not hide one that is a finding.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from conformance.oracle.conversation import replies
from conformance.oracle.failure import Citation, Failure, Source, qemu, rfc8259, spec
from conformance.oracle.visitor import MALFORMED_CLASS
from conformance.qmp.message import Kind, Message
from conformance.qmp.transcript import Direction, Record
from conformance.qmp.wirejson import StrictJSONError, loads_strict
from conformance.spec.validate import RULES

__all__ = [
    "DEVICE_ADD_BY_HAND",
    "MODIFIED_UTF8_NUL",
    "NONCHARACTERS",
    "Deliberate",
    "Deviation",
    "answered_modified_utf8",
    "deliberate",
    "holds_noncharacter",
    "modified_utf8_ids",
    "modified_utf8_json",
    "recorded",
    "refused_noncharacter",
    "take",
]


@dataclass(frozen=True, slots=True)
class Deliberate:
    """A departure QEMU documents or tests as intended."""

    name: str
    summary: str
    departs_from: Citation  # the spec's or RFC 8259's sentence
    because: tuple[Citation, ...]  # QEMU's source comment or test assertion
    excuses: frozenset[str]  # the check ids whose failure it explains

    def __post_init__(self) -> None:
        if any(c.source is not Source.QEMU for c in self.because):
            raise ValueError(f"{self.name}: a deviation is made deliberate by QEMU's own words")


@dataclass(frozen=True, slots=True)
class Deviation:
    """One observation of a deliberate departure: which, what the check saw, where."""

    name: str
    summary: str
    check: str
    message: str
    departs_from: str
    because: tuple[str, ...]

    def to_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "summary": self.summary,
            "check": self.check,
            "message": self.message,
            "departs_from": self.departs_from,
            "because": list(self.because),
        }

    @classmethod
    def from_json(cls, value: dict[str, object]) -> Deviation:
        because = value.get("because")
        return cls(
            str(value["name"]),
            str(value.get("summary", "")),
            str(value.get("check", "")),
            str(value.get("message", "")),
            str(value.get("departs_from", "")),
            tuple(str(b) for b in because) if isinstance(because, list) else (),
        )


_UNICODE_C = "util/unicode.c: mod_utf8_codepoint()"
_CHECK_QJSON = "tests/unit/check-qjson.c"

NONCHARACTERS = Deliberate(
    "noncharacter-refused",
    "QEMU refuses strings holding a Unicode noncharacter (U+FDD0..U+FDEF, U+xFFFE, "
    "U+xFFFF), so a request whose id holds one is answered as unparseable, without its id",
    rfc8259(
        "7. Strings",
        "All Unicode characters may be placed within the quotation marks, except for the "
        "characters that MUST be escaped: quotation mark, reverse solidus, and the control "
        "characters (U+0000 through U+001F).",
    ),
    (
        qemu(
            _UNICODE_C,
            "A well-formed sequence is valid unless it encodes a codepoint outside the "
            "Unicode range U+0000..U+10FFFF, one of Unicode's 66 noncharacters, a "
            "surrogate codepoint, or is overlong.",
        ),
        qemu(
            f"{_CHECK_QJSON}: escaped_string(), utf8_string() 5.3",
            '{ "noncharacter U+FDD0 \\\\uFDD0", NULL }, ... '
            "/* \\U+FFFF */ ... NULL: cstr = from_json_str(...); g_assert(!cstr);",
        ),
    ),
    frozenset({"ids.echo"}),
)

MODIFIED_UTF8_NUL = Deliberate(
    "modified-utf8-nul",
    'QEMU reads its input as "modified UTF-8", in which the overlong C0 80 is U+0000: '
    "a request holding it in a string is a request, not broken input",
    spec(
        "Introduction",
        "The server expects its input to be encoded in UTF-8, and sends its output "
        "encoded in ASCII.",
    ),
    (
        qemu(
            _UNICODE_C,
            "Modified UTF-8 is exactly like UTF-8, except U+0000 is encoded as "
            '"\\xC0\\x80". [...] Except the overlong sequence "\\xC0\\x80" is valid.',
        ),
        qemu(
            f"{_CHECK_QJSON}: utf8_string() 4.3 Overlong representation of the NUL character",
            '{ /* \\U+0000 */ "\\xC0\\x80", "\\xC0\\x80", "\\\\u0000" }: parsed with '
            "&error_abort and unparsed back",
        ),
    ),
    frozenset({"malformed.executed", "malformed.parsed", "ids.parse-error"}),
)

DEVICE_ADD_BY_HAND = Deliberate(
    "device-add-bypasses-qapi",
    "device_add is 'gen': false: QEMU reads its arguments by hand, not through QAPI's "
    "generated visitor, so ill-typed arguments are refused by whichever of its own checks "
    "meets them first (a bus not found: DeviceNotFound), not as one GenericError",
    MALFORMED_CLASS,
    (
        qemu(
            "qapi/qdev.json: device_add",
            'TODO: This command effectively bypasses QAPI completely due to its "additional '
            "arguments\" business.  It shouldn't have been added to the schema in this form. "
            "[...] 'gen': false, # so we can get the additional arguments",
        ),
    ),
    frozenset(f"malformed.{rule}.class" for rule in RULES),
)

# Deviations seen by this process since the last take(): the plugin attaches them to
# the test that saw them (a test's examples run in one process, xdist or not).
_seen: list[Deviation] = []


def take() -> list[Deviation]:
    """The deviations recorded since the last call, each once, and forget them."""
    unique = list({(d.name, d.check): d for d in _seen}.values())
    _seen.clear()
    return unique


@contextmanager
def recorded() -> Iterator[list[Deviation]]:
    """The deviations recorded inside the block, in the list yielded (filled when the
    block ends), and not left for `take()`: a caller that judges them itself (replay)
    keeps them from the test that runs it."""
    mark = len(_seen)
    found: list[Deviation] = []
    try:
        yield found
    finally:
        found.extend({(d.name, d.check): d for d in _seen[mark:]}.values())
        del _seen[mark:]


@contextmanager
def deliberate(deviation: Deliberate, *, when: bool) -> Iterator[None]:
    """Run checks; when `when` holds, a failure `deviation` explains is recorded as
    that deviation instead of raised. Any other failure is raised as it is."""
    try:
        yield
    except Failure as failure:
        if not when or failure.check not in deviation.excuses:
            raise
        _seen.append(
            Deviation(
                deviation.name,
                deviation.summary,
                failure.check,
                failure.message,
                str(deviation.departs_from),
                tuple(str(c) for c in deviation.because),
            )
        )


def _is_noncharacter(char: str) -> bool:
    cp = ord(char)
    return 0xFDD0 <= cp <= 0xFDEF or cp & 0xFFFE == 0xFFFE


@contextmanager
def refused_noncharacter(answers: Iterable[Message], sent_id: object) -> Iterator[None]:
    """The id checks of a request whose id was `sent_id`, answered by `answers`, with
    `NONCHARACTERS` deliberate: QEMU refusing an id that holds a noncharacter as
    unparseable input (an id-less error among the answers) is recorded, not raised."""
    refused = any(not a.has_id and a.kind is Kind.ERROR for a in answers)
    with deliberate(NONCHARACTERS, when=refused and holds_noncharacter(sent_id)):
        yield


def holds_noncharacter(value: object) -> bool:
    """Whether a JSON value has a noncharacter in any string, member names included."""
    if isinstance(value, str):
        return any(_is_noncharacter(c) for c in value)
    if isinstance(value, list):
        return any(holds_noncharacter(v) for v in value)
    if isinstance(value, dict):
        return any(holds_noncharacter(k) or holds_noncharacter(v) for k, v in value.items())
    return False


def modified_utf8_ids(records: Iterable[Record], prefix: str) -> list[object]:
    """The ids (starting with `prefix`) of the replies that answer a request holding C0 80
    in a string that is JSON read as modified UTF-8; empty unless every reply with such
    an id does, so that a deviation never hides a command run from broken input.
    The sends are read as one stream (a request may be written in pieces, or across
    lines: JSON allows CR and LF between its tokens)."""
    records = list(records)
    stream = b"".join(r.raw for r in records if r.direction is Direction.SEND)
    values = _values(stream)
    found: list[object] = []
    for reply in replies(records):
        if not (reply.has_id and isinstance(reply.id, str) and reply.id.startswith(prefix)):
            continue
        # The id as it was written: QEMU echoes the U+0000 that C0 80 stood for.
        token = f'"{reply.id}"'.encode().replace(b"\0", b"\xc0\x80")
        if not any(token in value and modified_utf8_json(value) for value in values):
            return []
        found.append(reply.id)
    return found


# Bytes that may stand between JSON tokens, and the bytes of JSON's other tokens outside
# strings (literals, numbers, ':' and ','): anything else there is a lexical error.
_WHITESPACE = frozenset(b" \t\r\n")
_TOKEN = frozenset(b"0123456789+-.eEtrufalsn:,")


#: Where json-lexer.c's error recovery (IN_RECOVERY) starts lexing again: a control
#: character other than TAB, the bytes FE and FF, and the structural characters.
_RESYNC = frozenset([*range(0x20), 0xFE, 0xFF, *b"[]{}:,"]) - {0x09}


def _string_error(byte: int) -> bool:
    """Whether `byte` inside a string is a lexical error (json-lexer.c's IN_DQ_STRING
    takes 0x20 to 0xFD only)."""
    return byte < 0x20 or byte > 0xFD


def _values(stream: bytes) -> list[bytes]:
    """The complete top-level objects and arrays of `stream`, split as QEMU's JSON
    streamer splits them: by bracket depth outside strings; after a lexical error (a
    control character inside a string, a byte no JSON token holds such as the
    resynchronising ESC or a stray C0 80 between tokens) the partial value is dropped and,
    as json-lexer.c's error recovery does, bytes are skipped up to the next structural or
    control character, where lexing starts again."""
    values: list[bytes] = []
    depth, start, in_string, escape, recovering = 0, -1, False, False, False
    for i, byte in enumerate(stream):
        if recovering:
            if byte not in _RESYNC:
                continue
            recovering = False  # this byte starts the next token (the lexer's lookahead)
        if in_string:
            if _string_error(byte):
                depth, start, in_string, escape, recovering = 0, -1, False, False, True
            elif escape:
                escape = False
            elif byte == 0x5C:  # backslash
                escape = True
            elif byte == 0x22:  # quotation mark
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in b"{[":
            if depth == 0:
                start = i
            depth += 1
        elif byte in b"}]":
            depth -= 1
            if depth == 0 and start >= 0:
                values.append(stream[start : i + 1])
            if depth <= 0:
                depth, start = 0, -1
        elif byte not in _WHITESPACE and byte not in _TOKEN:
            depth, start, recovering = 0, -1, True
    return values


@contextmanager
def answered_modified_utf8(records: Iterable[Record], prefix: str) -> Iterator[list[object]]:
    """The hidden-command checks over `records`, with QEMU's modified UTF-8 deliberate:
    yields the ids (`modified_utf8_ids`) of the requests QEMU rightly read, and records a
    failure about them as the `MODIFIED_UTF8_NUL` deviation."""
    excused = modified_utf8_ids(records, prefix)
    with deliberate(MODIFIED_UTF8_NUL, when=bool(excused)):
        yield excused


def modified_utf8_json(data: bytes) -> bool:
    """Whether `data` holds C0 80 only inside strings and, each read as U+0000 (as
    QEMU's modified UTF-8 reads it), is strict JSON: objects or arrays and whitespace."""
    if b"\xc0\x80" not in data:
        return False
    # Outside a string, C0 80 is no JSON token: the value it stands in is broken input.
    values = _values(data)
    rest = data
    for value in values:
        rest = rest.replace(value, b"", 1)
    if not values or any(byte not in _WHITESPACE for byte in rest):
        return False
    try:
        for value in values:
            loads_strict(value.replace(b"\xc0\x80", rb"\u0000"))
    except StrictJSONError:
        return False
    return True
