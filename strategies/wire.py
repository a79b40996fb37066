"""Malformed QMP envelopes and broken wire bytes: inputs the server must refuse and survive.

Two families, both for the negative side of the protocol:

* :func:`envelopes` generates **well-formed JSON that is not a valid request**: each example
  breaks exactly one envelope rule of the qmp-spec "Issuing Commands" section, so the server must
  answer with a ``GenericError`` and stay usable. :func:`encode` turns one into wire bytes.
* :func:`wire_bytes` generates **broken bytes**: truncated requests, stray bytes, invalid UTF-8,
  raw control characters, bad escapes, broken single quotes, deep nesting and long tokens. After
  each case the suite sends :data:`RESYNC` (the spec's "Forcing the JSON parser into known-good
  state") and a :func:`probe`, whose answer proves the connection survived.

How QEMU reads these (``qobject/json-lexer.c``, ``json-streamer.c``, ``json-parser.c``, checked
against QEMU 7.2 by hand) decides where a broken case may hide a command:

* The lexer works byte by byte. A byte that cannot continue a token is a *lexical error*: the
  streamer drops every token of the message in progress and answers ``JSON parse error, stray
  '...'`` at once; the lexer then skips input up to the next structural character
  (``[ ] { } : ,``), control character or 0xFE/0xFF byte and starts afresh there. Whatever
  follows an error point is therefore parsed as *new* input: ``[1, \\x01 {"execute": ...}]``
  runs that inner command, as the spec's resynchronisation rule intends.
* A message is handed to the parser when its brackets balance. *Parse errors* (a bad escape,
  invalid UTF-8 inside a string, an unknown keyword, a missing colon) reject that whole message.
* The streamer limits a message to ``MAX_NESTING`` (1024) open brackets and braces,
  ``MAX_TOKEN_COUNT`` (2 Mi) tokens and ``MAX_TOKEN_SIZE`` (64 MiB) bytes of tokens. Passing one
  is answered like a lexical error (message dropped, streamer reset) but the lexer does *not*
  skip: parsing resumes with the very next token.
* Errors from the JSON layer never carry an id; only a parsed JSON object can have its id echoed.

So every wire case that embeds a would-be command (``{"execute": "query-version", "id":
"MUST-NOT-RUN-<n>"}``, harmless but observable) keeps that command's opening brace as the only
``{`` of the case and puts every defect after it: whether QEMU stops at a lexical error or
rejects the whole message, no complete object with that id can remain. No reply may ever carry
an id starting with :data:`MUST_NOT_RUN_PREFIX`; an error's ``desc`` may quote it (QEMU echoes a
stray token's text). The exception is deliberate: ``deep-nesting`` puts the command at the
deepest level, and past the limit QEMU resumes parsing inside the rejected value and runs it:
a parser differential, its own finding kind (conformance/oracle/conversation.py). A command
holding C0 80 in a string runs too, by QEMU's design ("modified UTF-8"): a deviation
(conformance/oracle/deviation.py), not a finding.

Every input is at most :data:`MAX_CASE_BYTES` bytes, since the monitor reads about 130 KB/s.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy

from conformance.qmp.wirejson import QEMU_MAX_NESTING, dumps

__all__ = [
    "ACCEPTED_CASES",
    "ENVELOPE_RULES",
    "HMP_ONLY_NAMES",
    "LIMIT_CASES",
    "MAX_CASE_BYTES",
    "MAX_NESTING",
    "MIN_MAX_SIZE",
    "MUST_NOT_RUN_PREFIX",
    "RESYNC",
    "STRUCTURAL_CASES",
    "WIRE_RULES",
    "Accepted",
    "Envelope",
    "WireCase",
    "accepted_cases",
    "encode",
    "envelopes",
    "json_ids",
    "limit_cases",
    "probe",
    "structural_cases",
    "unknown_commands",
    "wire_bytes",
]

ENVELOPE_RULES: Final = (
    "not-object",
    "no-execute",
    "execute-not-string",
    "arguments-not-object",
    "unknown-member",
    "execute-and-exec-oob",
)
"""The envelope rules, in generation order (examples shrink toward the first)."""

WIRE_RULES: Final = (
    "truncation",
    "stray-bytes",
    "invalid-utf8",
    "control-chars",
    "bad-escape",
    "single-quotes",
    "deep-nesting",
    "long-token",
)
"""The wire-byte rules, in generation order (examples shrink toward the first)."""

MAX_NESTING: Final = QEMU_MAX_NESTING
"""``MAX_NESTING`` in QEMU's json-streamer.c (``1 << 10``): open brackets plus braces allowed."""

MAX_CASE_BYTES: Final = 1_000_000
"""Upper bound on one generated input, newline included."""

MIN_MAX_SIZE: Final = 16 * 1024
"""Smallest ``max_size`` :func:`wire_bytes` accepts: the deepest nesting case needs about 6 KB."""

MUST_NOT_RUN_PREFIX: Final = "MUST-NOT-RUN-"
"""Id prefix of the commands hidden in broken input: a reply carrying such an id is a finding."""

RESYNC: Final = b"\x1b\n"
"""The spec's resynchronisation sequence: an ASCII control character other than tab, CR and LF.

ESC is a lexical error in any lexer state (QEMU also lists 0xFF, for versions that predate the
control-character rule; it is not valid UTF-8, so ESC is used). QEMU answers it with one id-less
``JSON parse error, stray '\\u001B'``; the newline only keeps the transcript line-oriented.
"""

_ENVELOPE_MEMBERS: Final = frozenset({"execute", "exec-oob", "arguments", "id", "control"})
"""Top-level names some QEMU accepts. ``control`` carried OOB flags in 2.12 before ``exec-oob``
replaced it; it is never generated as an unknown member, so old servers are judged fairly."""

_HARMLESS_COMMAND: Final = "query-version"
"""Harmless (reads static data) and observable (it answers with the id it was given)."""

_MAX_MUST_NOT_RUN_NUMBER: Final = 999_999


@dataclass(frozen=True)
class Envelope:
    """One complete JSON message that breaks exactly one envelope rule.

    ``rule`` is one of :data:`ENVELOPE_RULES`; ``value`` is the JSON value to send. ``has_id``
    says whether ``value`` is an object with an ``id`` member, and ``id`` is that member's value
    (``None`` when there is none, which is distinct from ``has_id`` with a null id).
    """

    rule: str
    value: object
    has_id: bool
    id: object


@dataclass(frozen=True)
class WireCase:
    """Bytes the server must reject without running any part of them.

    ``rule`` is one of :data:`WIRE_RULES`. ``data`` ends with ``\\n`` and holds at most
    ``max_size`` bytes (see :func:`wire_bytes`).
    """

    rule: str
    data: bytes


# --- JSON values ---------------------------------------------------------------------------

# QEMU's parser (util/unicode.c) rejects noncharacters, U+FDD0..U+FDEF and every U+xFFFE/U+xFFFF,
# with "is not a valid Unicode character", although RFC 8259 allows them. An id holding one would
# be refused at the JSON layer, without its id, and blur every envelope check into that quirk; it
# belongs to a test of its own, so envelope text leaves them out.
_NONCHARACTERS: Final = "".join(
    [chr(cp) for cp in range(0xFDD0, 0xFDF0)]
    + [chr(plane << 16 | low) for plane in range(17) for low in (0xFFFE, 0xFFFF)]
)
_TEXT: Final = st.text(st.characters(codec="utf-8", exclude_characters=_NONCHARACTERS), max_size=8)

# Integers that change representation inside QEMU (int64, uint64, double) plus small ones.
# Values beyond the double range are left out: QEMU 7.2 echoes them as a bare ``inf``, which is
# not JSON (noted in conformance/qmp/wirejson.py); that is a finding about replies, not envelopes.
_INTEGER_EDGES: Final = (
    2**53,
    2**53 + 1,
    2**63 - 1,
    2**63,
    2**64 - 1,
    2**64,
    2**64 + 1,
    10**20,
    2**70,
    -(2**63),
    -(2**63) - 1,
    -(10**20),
)
_INTEGERS: Final = st.integers(-(2**70), 2**70) | st.sampled_from(_INTEGER_EDGES)
_FLOATS: Final = st.floats(allow_nan=False, allow_infinity=False)

# Every JSON type; the recursive step adds small arrays and objects.
_SCALARS: Final = st.one_of(_INTEGERS, _TEXT, st.none(), st.booleans(), _FLOATS)
_JSON_VALUES: Final = st.recursive(
    _SCALARS,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(_TEXT, children, max_size=3),
    max_leaves=6,
)
_ARRAYS: Final = st.lists(_JSON_VALUES, max_size=3)
_OBJECTS: Final = st.dictionaries(_TEXT, _JSON_VALUES, max_size=3)
_NON_STRINGS: Final = st.one_of(_INTEGERS, st.none(), st.booleans(), _FLOATS, _ARRAYS, _OBJECTS)
_NON_OBJECTS: Final = st.one_of(_INTEGERS, _TEXT, st.none(), st.booleans(), _FLOATS, _ARRAYS)

# Names a sloppy server might take for a real member (case, spacing, spelling, a hidden NUL or
# zero-width space, JSON-RPC vocabulary), then arbitrary text.
_NEAR_MISS_NAMES: Final = (
    "Execute",
    "EXECUTE",
    "execute ",
    " execute",
    "execute\x00",
    "execute\u200b",
    "exec_oob",
    "execOob",
    "exec-OOB",
    "arguments ",
    "args",
    "argument",
    "params",
    "ID",
    "Id",
    "id\x00",
    "",
    "method",
    "jsonrpc",
    "__org.qemu_x-member",
)
_UNKNOWN_NAMES: Final = st.sampled_from(_NEAR_MISS_NAMES) | _TEXT.filter(
    lambda name: name not in _ENVELOPE_MEMBERS
)


# --- ids -----------------------------------------------------------------------------------


def json_ids(*, noncharacters: bool = False, huge: bool = False) -> SearchStrategy[object]:
    """Generate request ids: any JSON value, bounded (strings of at most 16 characters,
    arrays and objects of at most 3 members, 6 leaves).

    Integers cover the int64/uint64/double edges. ``huge`` adds integers of up to 400
    digits, which a server can only echo by re-serialising them (QEMU 7.2 echoes those
    past the double range as a bare ``inf``). ``noncharacters`` lets strings hold
    U+FDD0..U+FDEF and U+xFFFE/U+xFFFF, valid JSON that QEMU 7.2 refuses as invalid
    UTF-8; left out by default so that a test about something else isn't blurred by it.

    Shrinks toward small integers (0), then short strings, flat values and fewer members.
    """
    text = (
        st.text(st.characters(codec="utf-8"), max_size=16)
        if noncharacters
        else st.text(st.characters(codec="utf-8", exclude_characters=_NONCHARACTERS), max_size=16)
    )
    integers = _INTEGERS | (st.integers(-(10**400), 10**400) if huge else st.nothing())
    scalars = st.one_of(integers, text, st.booleans(), st.none(), _FLOATS)
    return st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
        max_leaves=6,
    )


# --- envelopes -----------------------------------------------------------------------------


def _object_envelope(
    rule: str, required: SearchStrategy[dict[str, object]]
) -> SearchStrategy[Envelope]:
    """An object made of ``required`` members, maybe ``arguments`` (an object) and ``id``.

    ``arguments`` is only added when ``required`` has none, so no second rule gets broken.
    Members come out in a drawn order, which shrinks to ``required`` first, then ``arguments``,
    then ``id``.
    """

    @st.composite
    def build(draw: st.DrawFn) -> Envelope:
        members = draw(required)
        if "arguments" not in members and draw(st.booleans()):
            members["arguments"] = draw(_OBJECTS)
        has_id = draw(st.booleans())
        if has_id:
            members["id"] = draw(_JSON_VALUES)
        order = draw(st.permutations(list(members)))
        return Envelope(rule, {name: members[name] for name in order}, has_id, members.get("id"))

    return build()


def _envelope_rules(names: SearchStrategy[str]) -> dict[str, SearchStrategy[Envelope]]:
    # Arrays may hold request-shaped objects: a batch, which QMP does not have.
    requests = st.fixed_dictionaries({"execute": names}, optional={"id": _JSON_VALUES})
    not_objects = _NON_OBJECTS | st.lists(requests, min_size=1, max_size=2)
    return {
        "not-object": not_objects.map(lambda value: Envelope("not-object", value, False, None)),
        "no-execute": _object_envelope("no-execute", st.builds(dict)),
        "execute-not-string": _object_envelope(
            "execute-not-string", st.fixed_dictionaries({"execute": _NON_STRINGS})
        ),
        "arguments-not-object": _object_envelope(
            "arguments-not-object",
            st.fixed_dictionaries({"execute": names, "arguments": _NON_OBJECTS}),
        ),
        "unknown-member": _object_envelope(
            "unknown-member",
            st.builds(
                lambda command, extra: {"execute": command, **extra},
                names,
                st.dictionaries(_UNKNOWN_NAMES, _JSON_VALUES, min_size=1, max_size=2),
            ),
        ),
        "execute-and-exec-oob": _object_envelope(
            "execute-and-exec-oob",
            st.fixed_dictionaries({"execute": names, "exec-oob": names}),
        ),
    }


def _chosen(rules: Sequence[str], known: Sequence[str]) -> tuple[str, ...]:
    chosen = tuple(rules)
    if not chosen:
        raise ValueError("rules must name at least one rule")
    unknown = [rule for rule in chosen if rule not in known]
    if unknown:
        raise ValueError(f"unknown rules {unknown}; known rules are {list(known)}")
    return chosen


def envelopes(
    *,
    command_names: Sequence[str] = (_HARMLESS_COMMAND,),
    rules: Sequence[str] = ENVELOPE_RULES,
) -> SearchStrategy[Envelope]:
    """Generate JSON messages that each break exactly one QMP envelope rule.

    Where a message names a command (``execute``, ``exec-oob``), the name comes from
    ``command_names``. Ids and other payloads are bounded JSON values of every type: strings,
    integers (around the int64/uint64/double edges too), finite floats, null, booleans, arrays
    and objects. By rule, and whether QEMU can echo the id in its ``GenericError``:

    * ``not-object``: an array, string, number, boolean or null as the whole message; arrays may
      hold request-shaped objects. No id: there is no object to read one from. QEMU: "QMP input
      must be a JSON object".
    * ``no-execute``: an object with neither ``execute`` nor ``exec-oob``, maybe with
      ``arguments`` and ``id`` (``{}`` included). Id echoed: QEMU reads it before the checks.
    * ``execute-not-string``: ``execute`` holds a non-string. Id echoed.
    * ``arguments-not-object``: ``arguments`` holds a non-object (null included). Id echoed.
    * ``unknown-member``: one or two extra members, never ``control``, often near misses such as
      ``"Execute"``, ``"id\\u0000"`` or ``"execute "``. Id echoed.
    * ``execute-and-exec-oob``: both members, both strings. Id echoed. Without the ``oob``
      capability QEMU calls ``exec-oob`` unexpected; with it, a second command member.

    Only ``rules`` (a subset of :data:`ENVELOPE_RULES`) are generated. Text never holds a
    noncharacter such as U+FFFF, which QEMU 7.2 refuses as "not a valid Unicode character".

    Shrinks toward the first rule, no ``arguments``, no id (then a small one such as ``[]`` or
    ``0``), short values and the members in the order listed.
    """
    if isinstance(command_names, str):
        raise TypeError("command_names must be a sequence of names, not one string")
    names = tuple(command_names)
    if not names:
        raise ValueError("command_names must name at least one command")
    by_rule = _envelope_rules(st.sampled_from(names))
    return st.one_of([by_rule[rule] for rule in _chosen(rules, ENVELOPE_RULES)])


def encode(envelope: Envelope) -> bytes:
    """The envelope as compact UTF-8 JSON followed by ``\\n``."""
    return dumps(envelope.value) + b"\n"


def probe(id_value: object) -> bytes:
    """A liveness probe: ``query-version`` with id ``id_value``, as compact JSON and ``\\n``.

    Send it after :data:`RESYNC`; its reply, carrying ``id_value``, shows the connection works.
    """
    return dumps({"execute": _HARMLESS_COMMAND, "id": id_value}) + b"\n"


# --- wire bytes ----------------------------------------------------------------------------

_Tokens = list[bytes]
_Builder = Callable[[int], SearchStrategy[WireCase]]

# Token separators; a case uses one throughout. All are JSON whitespace.
_SEPARATORS: Final = (b"", b" ", b"\t", b"\r\n")


def _quoted(text: str) -> bytes:
    return b'"' + text.encode("ascii") + b'"'


@st.composite
def _would_be_command(draw: st.DrawFn) -> _Tokens:
    """``{"execute": "query-version", "id": "MUST-NOT-RUN-<n>"}`` as tokens, either member first.

    Its contents are ASCII and free of quotes, backslashes and brackets, which the rules below
    rely on when they cut strings open or insert bytes.
    """
    number = draw(st.integers(0, _MAX_MUST_NOT_RUN_NUMBER))
    members = [
        (b'"execute"', _quoted(_HARMLESS_COMMAND)),
        (b'"id"', _quoted(f"{MUST_NOT_RUN_PREFIX}{number}")),
    ]
    if draw(st.booleans()):
        members.reverse()
    (key1, value1), (key2, value2) = members
    return [b"{", key1, b":", value1, b",", key2, b":", value2, b"}"]


def _string_positions(tokens: _Tokens) -> list[int]:
    return [i for i, token in enumerate(tokens) if token.startswith(b'"')]


def _insert_in_string(draw: st.DrawFn, tokens: _Tokens, defect: bytes) -> _Tokens:
    """``defect`` inside the contents of one string token, at a drawn offset.

    Never inside the id's prefix: a server that ran the command anyway, dropping or replacing
    the bad bytes, must still answer with an id that gives it away.
    """
    at = draw(st.sampled_from(_string_positions(tokens)))
    contents = tokens[at][1:-1]
    prefix = MUST_NOT_RUN_PREFIX.encode("ascii")
    offset = draw(st.integers(len(prefix) if contents.startswith(prefix) else 0, len(contents)))
    return [
        *tokens[:at],
        b'"' + contents[:offset] + defect + contents[offset:] + b'"',
        *tokens[at + 1 :],
    ]


def _insert_between(draw: st.DrawFn, tokens: _Tokens, defect: bytes) -> _Tokens:
    """``defect`` between two tokens, after the opening brace and before the closing one."""
    at = draw(st.integers(1, len(tokens) - 1))
    return [*tokens[:at], defect, *tokens[at:]]


_Place = Callable[[st.DrawFn, _Tokens], _Tokens]


def _in_a_string(defects: SearchStrategy[bytes]) -> _Place:
    return lambda draw, tokens: _insert_in_string(draw, tokens, draw(defects))


def _between_tokens(defects: SearchStrategy[bytes]) -> _Place:
    return lambda draw, tokens: _insert_between(draw, tokens, draw(defects))


def _render(draw: st.DrawFn, tokens: _Tokens) -> bytes:
    return draw(st.sampled_from(_SEPARATORS)).join(tokens)


def _defect_in_command(rule: str, *places: _Place) -> SearchStrategy[WireCase]:
    """The would-be command with one defect, put in place by one of ``places``."""

    @st.composite
    def build(draw: st.DrawFn) -> WireCase:
        place = draw(st.sampled_from(places))
        return WireCase(rule, _render(draw, place(draw, draw(_would_be_command()))) + b"\n")

    return build()


def _truncation(max_size: int) -> SearchStrategy[WireCase]:
    @st.composite
    def build(draw: st.DrawFn) -> WireCase:
        full = _render(draw, draw(_would_be_command()))
        # Every proper prefix of an object is unfinished JSON; the empty one would send nothing.
        cut = draw(st.integers(1, len(full) - 1))
        return WireCase("truncation", full[:cut] + b"\n")

    return build()


# Garbage that cannot start a JSON token, as seen by a strict parser and by QEMU's lexer alike
# (never a quote, digit, minus, bracket, comma, colon, lowercase letter or JSON whitespace),
# biased toward what lenient parsers accept: comments, JavaScript constants, hex and signed
# numbers, Unicode whitespace, a byte order mark. "undefined" is the one lowercase snippet: QEMU
# lexes it as a keyword and its parser rejects it.
_GARBAGE: Final = (
    b"@",
    b"#",
    b"$",
    b"&",
    b"*",
    b";",
    b"=",
    b"\\",
    b"`",
    b"|",
    b"~",
    b"()",
    b"<>",
    b"//",
    b"/**/",
    b"=>",
    b"+1",
    b".5",
    b"NaN",
    b"Infinity",
    b"True",
    b"None",
    b"0x1F",
    b"undefined",
    "\u00a0".encode(),  # no-break space
    "\u2028".encode(),  # line separator
    "\u3000".encode(),  # ideographic space
    "\ufeff".encode(),  # byte order mark
    "é".encode(),
)
_STRAY: Final = st.lists(st.sampled_from(_GARBAGE), min_size=1, max_size=3).map(b"".join)


def _stray_bytes(max_size: int) -> SearchStrategy[WireCase]:
    return _defect_in_command("stray-bytes", _between_tokens(_STRAY))


# Every way UTF-8 goes wrong, roughly from the most to the least common. QEMU decodes "modified
# UTF-8", in which C0 80 is U+0000: 7.2 accepts it inside strings (a deviation from the spec's
# UTF-8) and runs the command around it. Elsewhere it is a lexical error, like any byte >= 0x80.
_BAD_UTF8: Final = (
    b"\x80",  # lone continuation bytes
    b"\xbf",
    b"\x80\xbf\x80",
    b"\xc3",  # sequences cut short
    b"\xe2\x82",
    b"\xf0\x9f\x98",
    b"\xc0\x80",  # overlong forms
    b"\xc0\xaf",
    b"\xc1\xbf",
    b"\xe0\x80\xaf",
    b"\xf0\x80\x80\xaf",
    b"\xf8\x88\x80\x80\x80",
    b"\xfc\x84\x80\x80\x80\x80",
    b"\xed\xa0\x80",  # surrogates encoded in UTF-8 (CESU-8 for the pair)
    b"\xed\xbf\xbf",
    b"\xed\xa0\xbd\xed\xb8\x80",
    b"\xf4\x90\x80\x80",  # past U+10FFFF
    b"\xf5\x80\x80\x80",
    b"\xfe",  # never valid in UTF-8; QEMU's lexer rejects them even inside strings
    b"\xff",
    b"\xff\xfe",
)


def _invalid_utf8(max_size: int) -> SearchStrategy[WireCase]:
    bad = st.sampled_from(_BAD_UTF8)
    return _defect_in_command("invalid-utf8", _in_a_string(bad), _between_tokens(bad))


# Raw control characters: all of C0 inside strings (tab, CR and LF too); between tokens the ones
# that are not JSON whitespace, plus DEL. DEL inside a string is valid JSON and is not generated.
_CONTROLS_IN_STRINGS: Final = st.lists(st.integers(0x00, 0x1F), min_size=1, max_size=3).map(bytes)
_CONTROLS_BETWEEN: Final = st.lists(
    st.sampled_from([c for c in [*range(0x20), 0x7F] if c not in b"\t\r\n"]), min_size=1, max_size=3
).map(bytes)


def _control_chars(max_size: int) -> SearchStrategy[WireCase]:
    return _defect_in_command(
        "control-chars", _in_a_string(_CONTROLS_IN_STRINGS), _between_tokens(_CONTROLS_BETWEEN)
    )


# Escapes RFC 8259 forbids and QEMU's parser rejects too. Left out on purpose: \' (a documented
# QEMU extension), a backslash before a control character or 0xFE/0xFF (lexical errors that
# belong to control-chars and invalid-utf8) and noncharacters such as \uffff (valid JSON that QEMU
# 7.2 rejects; not a bad escape).
_BAD_ESCAPES: Final = (
    rb"\x41",
    rb"\a",
    rb"\v",
    rb"\0",
    rb"\e",
    rb"\N",
    rb"\ ",
    rb"\U0001F600",
    "\\é".encode(),
    rb"\ux",  # \u cut short; the x keeps the contents that follow from completing it
    rb"\u1x",
    rb"\u12x",
    rb"\u123x",
    rb"\uG000",
    rb"\u00g0",
    rb"\u+123",
    rb"\u 123",
    rb"\ud800",  # lone surrogates
    rb"\udbff",
    rb"\udc00",
    rb"\udfff",
    rb"\ud800x",
    rb"\ud800\u0041",
    rb"\ud800\ud800",
    rb"\udc00\ud800",
)


def _bad_escape(max_size: int) -> SearchStrategy[WireCase]:
    return _defect_in_command("bad-escape", _in_a_string(st.sampled_from(_BAD_ESCAPES)))


# How the broken string opens and "closes". QEMU accepts 'single-quoted' strings and \' in both
# kinds, so a mismatched pair that still balances (say 'abc" ... "xyz') is a valid QEMU string.
# Each breakage below instead leaves a string open to the end of the line: every later string is
# written with the other quote, so the opener never reappears; QEMU's lexer errors at the newline.
_QUOTE_BREAKS: Final = (
    (b"'", b""),  # unterminated
    (b"'", b'"'),  # opened with ', closed with "
    (b'"', b"'"),  # opened with ", closed with '
    (b"'", b"\\'"),  # closing quote escaped
)


def _single_quotes(max_size: int) -> SearchStrategy[WireCase]:
    @st.composite
    def build(draw: st.DrawFn) -> WireCase:
        tokens = draw(_would_be_command())
        strings = _string_positions(tokens)
        broken = draw(st.sampled_from(strings))
        opener, closer = draw(st.sampled_from(_QUOTE_BREAKS))
        other = b'"' if opener == b"'" else b"'"
        for position in strings:
            contents = tokens[position][1:-1]
            if position < broken:
                quote = draw(st.sampled_from((b'"', b"'")))
                tokens[position] = quote + contents + quote
            elif position == broken:
                tokens[position] = opener + contents + closer
            else:
                tokens[position] = other + contents + other
        return WireCase("single-quotes", _render(draw, tokens) + b"\n")

    return build()


# One level of nesting around the would-be command. The outermost level is always an array, so
# every case is valid JSON that is not a request, whatever its depth.
_ARRAY_LEVEL: Final = (b"[", b"]")
_OBJECT_LEVEL: Final = (b'{"a":', b"}")
_NESTING_SHAPES: Final = ("array", "object", "alternating")


def _level(shape: str, index: int) -> tuple[bytes, bytes]:
    if index == 0 or shape == "array" or (shape == "alternating" and index % 2 == 0):
        return _ARRAY_LEVEL
    return _OBJECT_LEVEL


def _deep_nesting(max_size: int) -> SearchStrategy[WireCase]:
    # Both branches draw one integer, so the first (any depth) stays the simpler one and a failure
    # shrinks to depth 2, or to 1025 if it needs the limit passed; the second keeps depths next
    # to the limit frequent (Hypothesis favours range bounds, so 1023 and 1024 often).
    depths = st.integers(2, MAX_NESTING + 8) | st.integers(MAX_NESTING - 1, MAX_NESTING + 8)

    @st.composite
    def build(draw: st.DrawFn) -> WireCase:
        # Depth counts every open bracket and brace, the command's own brace included, as the
        # streamer does; 2 is the shallowest that is not a bare request.
        depth = draw(depths)
        shape = draw(st.sampled_from(_NESTING_SHAPES))
        levels = [_level(shape, index) for index in range(depth - 1)]
        command = _render(draw, draw(_would_be_command()))
        opening = b"".join(open_ for open_, _ in levels)
        closing = b"".join(close for _, close in reversed(levels))
        return WireCase("deep-nesting", opening + command + closing + b"\n")

    return build()


# Long tokens, each dangling as a member without a colon or value, so that the message is a
# parse error whatever the token's size: a bare name (QEMU: invalid keyword), a string key with
# no value (missing ':'), a number where a key belongs (key is not a string). As a member with a
# value it would be an unknown member, valid JSON whose id QEMU echoes. A megabyte cannot reach
# the streamer's 64 MiB or 2 Mi-token limits; the case probes the lexer's and parser's handling
# of big tokens below them. Each token repeats a short unit, whose alphabet holds no quote,
# backslash or bracket.
def _repeat(unit: bytes, size: int) -> bytes:
    return (unit * (size // len(unit) + 1))[:size]


_LONG_TOKENS: Final[Mapping[str, tuple[str, Callable[[bytes, int], bytes]]]] = {
    "name": ("abcdefghijklmnopqrstuvwxyz", _repeat),
    "string": (
        "abcdefghijklmnopqrstuvwxyz0123456789 -_.",
        lambda unit, size: b'"' + _repeat(unit, size - 2) + b'"',
    ),
    "number": ("0123456789", lambda unit, size: b"1" + _repeat(unit, size - 1)),
}


def _long_token(max_size: int) -> SearchStrategy[WireCase]:
    @st.composite
    def build(draw: st.DrawFn) -> WireCase:
        tokens = draw(_would_be_command())
        separator = draw(st.sampled_from(_SEPARATORS))
        alphabet, make = _LONG_TOKENS[draw(st.sampled_from(tuple(_LONG_TOKENS)))]
        unit = draw(st.text(alphabet, min_size=1, max_size=3)).encode("ascii")
        # Room left for the token once the command, the comma after the token, the two
        # separators they add and the newline are counted.
        room = max_size - len(separator.join(tokens)) - 2 * len(separator) - 2
        token = make(unit, draw(st.integers(2, room)))
        at = draw(st.sampled_from([1] + [i + 1 for i, t in enumerate(tokens) if t == b","]))
        return WireCase(
            "long-token", separator.join([*tokens[:at], token, b",", *tokens[at:]]) + b"\n"
        )

    return build()


_WIRE_BUILDERS: Final[Mapping[str, _Builder]] = {
    "truncation": _truncation,
    "stray-bytes": _stray_bytes,
    "invalid-utf8": _invalid_utf8,
    "control-chars": _control_chars,
    "bad-escape": _bad_escape,
    "single-quotes": _single_quotes,
    "deep-nesting": _deep_nesting,
    "long-token": _long_token,
}


LIMIT_CASES: Final = (
    "nested-below-limit",
    "nested-at-limit",
    "nested-one-past-limit",
    "nested-two-past-limit",
    "overlong-nul-in-string",
    "overlong-slash-in-string",
    "surrogate-in-string",
    "ff-between-tokens",
    "longest-token",
)
"""The names of :func:`limit_cases`, in order."""


def limit_cases(max_size: int = MAX_CASE_BYTES) -> dict[str, WireCase]:
    """The broken inputs at the parser's documented limits, by name (:data:`LIMIT_CASES`).

    Hypothesis reaches these only sometimes in a short derandomised run, and they are
    where parsers go wrong: a command nested one bracket either side of
    :data:`MAX_NESTING` (depth counting the command's own brace), the overlong and
    surrogate encodings modified-UTF-8 decoders accept, the 0xFF byte older QEMU used for
    resynchronisation, and a token as long as ``max_size`` allows. Each must run nothing,
    like every :func:`wire_bytes` case. Not a strategy: fixed inputs, nothing to shrink.
    """
    if not MIN_MAX_SIZE <= max_size <= MAX_CASE_BYTES:
        raise ValueError(f"max_size must be between {MIN_MAX_SIZE} and {MAX_CASE_BYTES}")

    def hidden(number: int, inside_id: bytes = b"") -> bytes:
        return (
            b'{"execute":"'
            + _HARMLESS_COMMAND.encode()
            + b'","id":"'
            + MUST_NOT_RUN_PREFIX.encode()
            + str(number).encode()
            + inside_id
            + b'"}'
        )

    def nested(depth: int) -> WireCase:
        # An array per level around the command, whose brace is the last level.
        opening, closing = b"[" * (depth - 1), b"]" * (depth - 1)
        return WireCase("deep-nesting", opening + hidden(depth) + closing + b"\n")

    command = hidden(0)
    room = max_size - len(command) - 3
    cases = {
        "nested-below-limit": nested(MAX_NESTING - 1),
        "nested-at-limit": nested(MAX_NESTING),
        "nested-one-past-limit": nested(MAX_NESTING + 1),
        "nested-two-past-limit": nested(MAX_NESTING + 2),
        "overlong-nul-in-string": WireCase("invalid-utf8", hidden(1, b"\xc0\x80") + b"\n"),
        "overlong-slash-in-string": WireCase("invalid-utf8", hidden(2, b"\xc0\xaf") + b"\n"),
        "surrogate-in-string": WireCase("invalid-utf8", hidden(3, b"\xed\xa0\x80") + b"\n"),
        "ff-between-tokens": WireCase("invalid-utf8", command[:1] + b"\xff" + command[1:] + b"\n"),
        "longest-token": WireCase(
            "long-token", command[:1] + _repeat(b"abc", room) + b"," + command[1:] + b"\n"
        ),
    }
    assert tuple(cases) == LIMIT_CASES
    return cases


def wire_bytes(
    *, rules: Sequence[str] = WIRE_RULES, max_size: int = MAX_CASE_BYTES
) -> SearchStrategy[WireCase]:
    """Generate broken byte strings, each ending in ``\\n``, that must run nothing.

    Every case embeds the would-be command ``{"execute": "query-version", "id":
    "MUST-NOT-RUN-<n>"}``, never with a defect inside the id's prefix; outside ``deep-nesting``
    its brace is the case's only ``{`` (the module notes say why). By rule, with the reason each
    case is not a valid request:

    * ``truncation``: the command cut after 1 to len-1 bytes. Rejected by a strict parser. QEMU
      waits for the rest (or errors at the newline inside a cut string): :data:`RESYNC` needed.
    * ``stray-bytes``: garbage between two tokens: punctuation, comments, ``NaN``, ``0x1F``,
      Unicode whitespace, a BOM. Valid UTF-8; rejected by a strict parser.
    * ``invalid-utf8``: a bad sequence inside a string or between tokens: lone continuation
      bytes, cut sequences, overlong forms, encoded surrogates, code points past U+10FFFF,
      0xFE/0xFF. Rejected by a strict parser. Deliberate deviation: QEMU accepts the overlong
      NUL ``C0 80`` inside strings ("modified UTF-8", util/unicode.c) and runs the command.
    * ``control-chars``: raw U+0000..U+001F inside a string, or a non-whitespace control
      character or DEL between tokens. Rejected by a strict parser.
    * ``bad-escape``: an invalid ``\\x``-style escape, a malformed ``\\u`` or a lone ``\\u``
      surrogate inside a string (never ``\\'``, which QEMU accepts). Rejected by a strict parser.
    * ``single-quotes``: one string opened with one quote and left unterminated, closed with the
      other quote, or closed with an escaped quote, despite QEMU's single-quote extension.
      Rejected by a strict parser; QEMU sees an unterminated string.
    * ``deep-nesting``: the command inside arrays and ``{"a": ...}`` objects (outermost an
      array), ``depth`` counting every bracket and brace: below :data:`MAX_NESTING` (2 to 1023),
      at it (1024) or just above (1025 to 1032). Valid JSON, but an array, so not a request.
      Past the limit QEMU drops the message at the 1025th opener and parses the rest afresh,
      so at depth 1026 the inner command runs and is answered: a parser differential (the
      spec promises known-good state only after a lexical error), not a protocol violation.
    * ``long-token``: a name, string or number of 2 bytes up to the size limit, dangling inside
      the command object without a value. Rejected by a strict parser; a parse error for QEMU.

    Only ``rules`` (a subset of :data:`WIRE_RULES`) are generated, and no case exceeds
    ``max_size`` bytes (:data:`MIN_MAX_SIZE` to :data:`MAX_CASE_BYTES`).

    Shrinks toward the first rule, short inputs (the one-byte cut ``{``, one garbage snippet,
    two-byte tokens), shallow nesting (depth 2, or 1025 when only a passed limit fails), a
    defect right after the opening brace, and the id ``MUST-NOT-RUN-0``.
    """
    if not MIN_MAX_SIZE <= max_size <= MAX_CASE_BYTES:
        raise ValueError(f"max_size must be between {MIN_MAX_SIZE} and {MAX_CASE_BYTES}")
    return st.one_of([_WIRE_BUILDERS[rule](max_size) for rule in _chosen(rules, WIRE_RULES)])


# --- structural errors, accepted extensions, unknown commands -------------------------------

STRUCTURAL_CASES: Final = (
    "bracket-mismatch",
    "lone-close-brace",
    "lone-close-bracket",
    "stray-colon",
    "stray-comma",
    "trailing-comma-object",
    "trailing-comma-array",
    "missing-value",
    "keyword-key",
    "array-key",
    "object-key",
    "leading-zero",
    "exponent-without-digits",
    "percent-p",
    "percent-d",
    "percent-in-object",
)
"""The names of :func:`structural_cases`, in order."""


def structural_cases() -> dict[str, WireCase]:
    """Whole inputs that are not JSON for a structural or lexical reason, by name
    (:data:`STRUCTURAL_CASES`): the ones QEMU's qmp-test sends in ``test_malformed``
    (``{]``, the interpolation ``%p``) and the grammar errors check-qjson exercises
    (a lone ``}`` or ``]``, a stray ``:`` or ``,``, trailing commas, a missing value,
    ``true``, ``[]`` or ``{}`` as a key, ``00``, ``1e``). ``%`` is no JSON token:
    QEMU's lexer interpolates ``%`` only for its own callers (``qobject_from_jsonf``),
    never for monitor input, which must reject it.

    Each is one line holding no request at all, so the server must answer it on its
    own with an id-less error (GenericError) and run nothing. Rule ``structural`` or
    ``percent``. Not a strategy: fixed inputs, nothing to shrink.
    """
    inputs = {
        "bracket-mismatch": ("structural", b"{]"),
        "lone-close-brace": ("structural", b"}"),
        "lone-close-bracket": ("structural", b"]"),
        "stray-colon": ("structural", b":"),
        "stray-comma": ("structural", b","),
        "trailing-comma-object": ("structural", b'{"execute":"query-version",}'),
        "trailing-comma-array": ("structural", b"[1,]"),
        "missing-value": ("structural", b'{"execute":}'),
        "keyword-key": ("structural", b'{true:"query-version"}'),
        "array-key": ("structural", b'{[]:"query-version"}'),
        "object-key": ("structural", b'{{}:"query-version"}'),
        "leading-zero": ("structural", b"00"),
        "exponent-without-digits": ("structural", b"1e"),
        "percent-p": ("percent", b"%p"),
        "percent-d": ("percent", b"%d"),
        "percent-in-object": ("percent", b'{"execute":%s}'),
    }
    cases = {name: WireCase(rule, data + b"\n") for name, (rule, data) in inputs.items()}
    assert tuple(cases) == STRUCTURAL_CASES
    return cases


@dataclass(frozen=True)
class Accepted:
    """A request spelled with a JSON extension or escape the server documents or RFC 8259
    allows: ``data`` (one line) must run, and its reply carry ``id`` (the value the
    spelling denotes)."""

    data: bytes
    id: object


def _request_with_id(id_text: bytes, *, quote: bytes = b'"') -> bytes:
    name = quote + b"execute" + quote
    command = quote + _HARMLESS_COMMAND.encode("ascii") + quote
    return b"{" + name + b":" + command + b"," + quote + b"id" + quote + b":" + id_text + b"}\n"


ACCEPTED_CASES: Final = (
    "escaped-solidus",
    "escaped-apostrophe",
    "single-quoted",
    "single-quoted-escaped-apostrophe",
    "single-quoted-double-quote",
    "single-quoted-members",
    "short-escapes",
    "lowercase-hex-escape",
    "uppercase-hex-escape",
    "surrogate-pair",
    "raw-utf8",
    "raw-del",
    "negative-zero",
    "exponent",
)
"""The names of :func:`accepted_cases`, in order."""


def accepted_cases() -> dict[str, Accepted]:
    """Requests that use what the QMP spec's "Protocol Specification" adds to JSON
    (``'single-quoted'`` strings, the ``\\'`` escape in both kinds of string) and what
    RFC 8259 allows and a careless parser gets wrong (``\\/``, short escapes, ``\\u``
    escapes in either case, a surrogate pair, raw UTF-8 and DEL, ``-0``, an exponent),
    each in the request's id, by name (:data:`ACCEPTED_CASES`). Each must run and be
    answered with the id it denotes. Not a strategy: fixed inputs, nothing to shrink.
    """
    cases = {
        "escaped-solidus": Accepted(_request_with_id(rb'"a\/b"'), "a/b"),
        "escaped-apostrophe": Accepted(_request_with_id(rb'"a\'b"'), "a'b"),
        "single-quoted": Accepted(_request_with_id(b"'ab'"), "ab"),
        "single-quoted-escaped-apostrophe": Accepted(_request_with_id(rb"'a\'b'"), "a'b"),
        "single-quoted-double-quote": Accepted(_request_with_id(b"'a\"b'"), 'a"b'),
        "single-quoted-members": Accepted(_request_with_id(b"'ab'", quote=b"'"), "ab"),
        "short-escapes": Accepted(_request_with_id(rb'"\"\\\b\f\n\r\t"'), '"\\\b\f\n\r\t'),
        "lowercase-hex-escape": Accepted(_request_with_id(rb'"\u00e9\u00ff"'), "\u00e9\u00ff"),
        "uppercase-hex-escape": Accepted(_request_with_id(rb'"\u00E9\u00FF"'), "\u00e9\u00ff"),
        "surrogate-pair": Accepted(_request_with_id(rb'"\ud83d\ude00"'), "\U0001f600"),
        "raw-utf8": Accepted(_request_with_id('"é€😀"'.encode()), "é€😀"),
        "raw-del": Accepted(_request_with_id(b'"a\x7fb"'), "a\x7fb"),
        "negative-zero": Accepted(_request_with_id(b"-0"), 0),
        "exponent": Accepted(_request_with_id(b"1E2"), 100),
    }
    assert tuple(cases) == ACCEPTED_CASES
    return cases


HMP_ONLY_NAMES: Final = (
    "help",
    "?",
    "q",
    "c",
    "info",
    "info status",
    "query-",
    "x",
    "xp",
    "print",
    "p",
    "sendkey",
    "savevm",
    "loadvm",
    "delvm",
    "drive_add",
    "hostfwd_add",
    "mouse_move",
    "log",
    "gdbserver",
    "i",
    "o",
    "sum",
    "nmi",
    "mce",
    "commit",
    "wavcapture",
    "snapshot_blkdev_internal",
    "QUERY-VERSION",
    "query_version",
    " query-version",
    "query-version ",
)
"""Names that are no QMP command: HMP's commands and abbreviations (``help``, ``q``,
``info``, ``savevm``...), a bare ``query-`` prefix, and near misses of a real name.
:func:`unknown_commands` leaves out any that the binary's schema does define."""


def unknown_commands(known: Collection[str]) -> SearchStrategy[str]:
    """Generate command names that the binary doesn't define (``known`` is its schema's
    command names): :data:`HMP_ONLY_NAMES`, then short text, the empty string included.
    Text never holds a noncharacter (refused at the JSON layer, without the id).

    Shrinks toward the first HMP name (``help``), then toward short ASCII text.
    """
    names = st.sampled_from([n for n in HMP_ONLY_NAMES if n not in known]) | _TEXT
    return names.filter(lambda name: name not in known)
