"""Example blocks in QEMU's docs: split them into messages and parse each one's JSON.

Doc examples are written for people, so their JSON is often not JSON: QMP's single-quoted
strings, ``...`` for elided members, commas lost or left over when an example was trimmed.
:func:`parse_json_text` tries strict JSON first and then a fixed set of named repairs, alone and
in combination, so every message ends up parsed, repaired (with the repairs that made it parse)
or unparsable (with the reason). Repairs work on tokens, not on characters, so they never touch
the inside of a string, and each one only fixes what its grammar rule says; a repair that would
guess at what the author meant is left out, because wrong JSON is worse than no JSON.

The format parsers (hx, QAPI doc comments, man page) strip their own markup and hand
:func:`parse_example` the bare lines of one example block.
"""

from __future__ import annotations

import enum
import itertools
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from conformance.docs.model import DocExample, DocMessage, Parse
from conformance.qmp.wirejson import StrictJSONError, loads_strict

__all__ = ["REPAIRS", "parse_example", "parse_json_text"]


# --- tokens -----------------------------------------------------------------------------------


class _Kind(enum.Enum):
    SPACE = enum.auto()
    STRING = enum.auto()  # "…", complete on one line (JSON strings cannot span lines)
    SQ_STRING = enum.auto()  # '…', QMP's single-quoted string
    OPEN_STRING = enum.auto()  # a quote that is never closed on its line
    COMMENT = enum.auto()  # "#…" or "//…" to the end of the line
    ELLIPSIS = enum.auto()  # "..." (or more dots) or "…"
    PUNCT = enum.auto()  # one of {}[]:,
    WORD = enum.auto()  # anything else: numbers, true/false/null, or prose
    ELIDED = enum.auto()  # made by the ellipsis repair: a run of ellipses and prose words
    ELIDED_CONTAINER = enum.auto()  # made by the ellipsis repair: "{...}" or "[ ... ]"


@dataclass(frozen=True, slots=True)
class _Token:
    kind: _Kind
    text: str


# Alternatives are tried in order at each position and together match every character, so the
# tokenizer consumes any text. A "#" or "//" starts a comment only at the start of a token, so
# that a "/" or "#" inside a word (a path, "#block212" written unquoted) stays part of the word.
_TOKEN_RE = re.compile(
    r"""
      (?P<SPACE>\s+)
    | (?P<STRING>"(?:[^"\\\n]|\\[^\n])*")
    | (?P<SQ_STRING>'(?:[^'\\\n]|\\[^\n])*')
    | (?P<OPEN_STRING>["'][^\n]*)
    | (?P<COMMENT>(?:\#|//)[^\n]*)
    | (?P<ELLIPSIS>\.{3,}|…)
    | (?P<PUNCT>[{}\[\]:,])
    | (?P<WORD>(?:(?!\.\.\.)[^\s{}\[\]:,"'…])+)
    """,
    re.VERBOSE,
)
_LITERAL_RE = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?|true|false|null")
_INSIGNIFICANT = (_Kind.SPACE, _Kind.COMMENT)
_STRINGS = (_Kind.STRING, _Kind.SQ_STRING)
_OPENERS = {"{": "}", "[": "]"}


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN_RE.match(text, pos)
        if match is None or match.end() == pos:  # unreachable by construction; never loop
            tokens.append(_Token(_Kind.WORD, text[pos]))
            pos += 1
            continue
        assert match.lastgroup is not None
        tokens.append(_Token(_Kind[match.lastgroup], match.group()))
        pos = match.end()
    return tokens


def _untokenize(tokens: Sequence[_Token]) -> str:
    return "".join(token.text for token in tokens)


def _is_literal(token: _Token) -> bool:
    return token.kind is _Kind.WORD and _LITERAL_RE.fullmatch(token.text) is not None


def _is_punct(token: _Token | None, chars: str) -> bool:
    return token is not None and token.kind is _Kind.PUNCT and token.text in chars


def _next_significant(tokens: Sequence[_Token], start: int) -> tuple[int, _Token | None]:
    for index in range(start, len(tokens)):
        if tokens[index].kind not in _INSIGNIFICANT:
            return index, tokens[index]
    return len(tokens), None


def _last_significant(tokens: Sequence[_Token]) -> tuple[int, _Token | None]:
    for index in range(len(tokens) - 1, -1, -1):
        if tokens[index].kind not in _INSIGNIFICANT:
            return index, tokens[index]
    return -1, None


# --- repairs ------------------------------------------------------------------------------------


def _drop_comments(tokens: list[_Token]) -> list[_Token]:
    return [token for token in tokens if token.kind is not _Kind.COMMENT]


def _double_quote(single: str) -> str:
    """``'…'`` as the JSON string with the same value.

    QEMU's lexer reads ``\\'`` as a quote in either kind of string and a bare ``"`` inside
    single quotes as itself; every other escape means the same in both, so it is kept.
    """
    out = ['"']
    chars = iter(single[1:-1])
    for char in chars:
        if char == "\\":
            escaped = next(chars, "")
            out.append("'" if escaped == "'" else "\\" + escaped)
        elif char == '"':
            out.append('\\"')
        else:
            out.append(char)
    out.append('"')
    return "".join(out)


def _double_quotes(tokens: list[_Token]) -> list[_Token]:
    return [
        _Token(_Kind.STRING, _double_quote(token.text)) if token.kind is _Kind.SQ_STRING else token
        for token in tokens
    ]


def _mark_elisions(tokens: list[_Token]) -> list[_Token]:
    """Turn each run of ellipses and prose words ("... more channels follow ...") into ELIDED.

    Prose words only join a run that holds an ellipsis, and JSON literals never join one, so
    ``[1, 2, ...]`` keeps its numbers.
    """
    out: list[_Token] = []
    run: list[_Token] = []  # significant tokens of the current run, with the space between

    def flush() -> None:
        if any(token.kind is _Kind.ELLIPSIS for token in run):
            end = len(run)
            while run[end - 1].kind in _INSIGNIFICANT:
                end -= 1
            out.append(_Token(_Kind.ELIDED, _untokenize(run[:end])))
            out.extend(run[end:])
        else:
            out.extend(run)
        run.clear()

    for token in tokens:
        elidable = token.kind is _Kind.ELLIPSIS or (
            token.kind is _Kind.WORD and not _is_literal(token)
        )
        if elidable or (run and token.kind in _INSIGNIFICANT):
            run.append(token)
        else:
            flush()
            out.append(token)
    flush()
    return out


def _collapse_elided_containers(tokens: list[_Token]) -> list[_Token]:
    """``{...}`` and ``[ ... ]``, containers that hold nothing but an elision, become one token."""
    out: list[_Token] = []
    # For each open bracket: its index in out, and whether all it holds so far is elided
    # (None while it holds nothing). Kept as it goes, so deep nesting stays linear.
    opened: list[tuple[int, bool | None]] = []
    for token in tokens:
        current = token
        if _is_punct(token, "}]") and opened:
            start, only_elided = opened.pop()
            if only_elided and _OPENERS[out[start].text] == token.text:
                current = _Token(_Kind.ELIDED_CONTAINER, _untokenize([*out[start:], token]))
                del out[start:]
        if opened and current.kind not in _INSIGNIFICANT:
            start, only_elided = opened[-1]
            opened[-1] = (start, only_elided is not False and current.kind is _Kind.ELIDED)
        if _is_punct(current, "{["):
            opened.append((len(out), None))
        out.append(current)
    return out


def _drop_elisions(tokens: list[_Token]) -> list[_Token]:
    """Remove elided members, elements and values with the comma that separated them.

    An elided container that is a member's value (``"return": [ ... ]``) becomes empty, keeping
    the value's type; anywhere else an elision stands for members or elements left out, and
    goes. An elided plain value (``"return": ...``) stays: its type is unknown, and dropping the
    member would make a different message, so the text stays unparsable rather than a guess.
    """
    out: list[_Token] = []
    drop_next_comma = False
    for index, token in enumerate(tokens):
        if token.kind is _Kind.PUNCT and token.text == "," and drop_next_comma:
            drop_next_comma = False
            continue
        if token.kind not in _INSIGNIFICANT:
            drop_next_comma = False
        if token.kind not in (_Kind.ELIDED, _Kind.ELIDED_CONTAINER):
            out.append(token)
            continue
        last_index, last = _last_significant(out)
        if _is_punct(last, ":"):
            if token.kind is _Kind.ELIDED_CONTAINER:
                empty = "{}" if token.text.startswith("{") else "[]"
                out.append(_Token(_Kind.PUNCT, empty[0]))
                out.append(_Token(_Kind.PUNCT, empty[1]))
            else:
                out.append(token)
            continue
        if _is_punct(last, ","):
            del out[last_index:]
        else:
            drop_next_comma = _is_punct(_next_significant(tokens, index + 1)[1], ",")
    return out


def _elide(tokens: list[_Token]) -> list[_Token]:
    if not any(token.kind is _Kind.ELLIPSIS for token in tokens):
        return tokens
    elided = _drop_elisions(_collapse_elided_containers(_mark_elisions(tokens)))
    # All or nothing: an elision that could not be dropped leaves the text as written.
    if any(token.kind in (_Kind.ELIDED, _Kind.ELIDED_CONTAINER) for token in elided):
        return tokens
    return elided


def _drop_trailing_commas(tokens: list[_Token]) -> list[_Token]:
    return [
        token
        for index, token in enumerate(tokens)
        if not (_is_punct(token, ",") and _is_punct(_next_significant(tokens, index + 1)[1], "}]"))
    ]


def _insert_missing_commas(tokens: list[_Token]) -> list[_Token]:
    """Add the comma between a value and the next member or element on a following line.

    Only across a line break, where a trimmed or hand-joined example loses them: inside an
    object before a ``"key":``, inside an array before a string or an object.
    """
    out: list[_Token] = []
    stack: list[str] = []  # the open brackets
    for index, token in enumerate(tokens):
        out.append(token)
        if _is_punct(token, "{["):
            stack.append(token.text)
            continue
        if _is_punct(token, "}]"):
            if stack:
                stack.pop()
        elif token.kind not in _STRINGS and not _is_literal(token):
            continue
        # token ends a value (or is a key, which ":" follows, so nothing is added below).
        if not stack:
            continue
        next_index, following = _next_significant(tokens, index + 1)
        if following is None or "\n" not in _untokenize(tokens[index + 1 : next_index]):
            continue
        if stack[-1] == "{":
            after = _next_significant(tokens, next_index + 1)[1]
            needed = following.kind in _STRINGS and _is_punct(after, ":")
        else:
            needed = following.kind in _STRINGS or _is_punct(following, "{")
        if needed:
            out.append(_Token(_Kind.PUNCT, ","))
    return out


Repair = Callable[[list[_Token]], list[_Token]]

# In the order they are applied and reported. Comments go first so that no other repair sees
# them; single quotes next so the rest see ordinary strings.
REPAIRS: tuple[tuple[str, Repair], ...] = (
    ("comments", _drop_comments),
    ("single-quotes", _double_quotes),
    ("ellipsis", _elide),
    ("trailing-comma", _drop_trailing_commas),
    ("missing-comma", _insert_missing_commas),
)


# --- JSON with repairs ---------------------------------------------------------------------------


def _loads(text: str) -> tuple[object, str | None]:
    try:
        # surrogatepass: arbitrary text may hold lone surrogates; the strict parser then
        # reports them as invalid UTF-8 instead of the encoder raising here.
        return loads_strict(text.encode("utf-8", "surrogatepass")), None
    except StrictJSONError as exc:
        return None, str(exc)


def _apply(tokens: list[_Token], names: Sequence[str]) -> tuple[list[_Token], tuple[str, ...]]:
    """The tokens after the named repairs, and the names of those that changed anything."""
    applied: list[str] = []
    for name, repair in REPAIRS:
        if name in names:
            repaired = repair(tokens)
            if repaired != tokens:
                applied.append(name)
                tokens = repaired
    return tokens, tuple(applied)


def parse_json_text(text: str) -> tuple[Parse, object, tuple[str, ...], str | None]:
    """Parse one example message: ``(status, value, repairs, problem)``. Never raises.

    Strict JSON is PARSED. Otherwise the smallest combination of repairs that makes it parse
    wins (REPAIRED, with the repair names in the order applied); failing that it is UNPARSABLE,
    with the strict parser's complaint about the text after every repair that applied.
    """
    value, problem = _loads(text)
    if problem is None:
        return Parse.PARSED, value, (), None
    tokens = _tokenize(text)
    # Only repairs that change the text as written are combined: that keeps the search small,
    # and a repair with nothing to fix can't be what made a text parse.
    candidates = [name for name, repair in REPAIRS if repair(tokens) != tokens]
    for size in range(1, len(candidates) + 1):
        for subset in itertools.combinations(candidates, size):
            repaired, applied = _apply(tokens, subset)
            if applied != subset:
                continue  # one of them had nothing left to fix: a smaller subset covers it
            value, failure = _loads(_untokenize(repaired))
            if failure is None:
                return Parse.REPAIRED, value, subset, None
    repaired, applied = _apply(tokens, candidates)
    if applied:
        _, residual = _loads(_untokenize(repaired))
        problem = f"{residual} (after repairs: {', '.join(applied)})"
    return Parse.UNPARSABLE, None, (), problem


# --- example blocks ----------------------------------------------------------------------------

_MARKERS = ("->", "<-")
# What a line must start with to go on with an open message: JSON can continue with these,
# while prose such as "1. Add a node" or "(the rest is omitted)" cannot.
_CONTINUING_KINDS = (
    _Kind.STRING,
    _Kind.SQ_STRING,
    _Kind.OPEN_STRING,
    _Kind.PUNCT,
    _Kind.ELLIPSIS,
    _Kind.COMMENT,
)


def _depth(text: str) -> int:
    """How many brackets ``text`` opens minus how many it closes, outside strings."""
    depth = 0
    for token in _tokenize(text):
        if _is_punct(token, "{["):
            depth += 1
        elif _is_punct(token, "}]"):
            depth -= 1
    return depth


def _first_token(text: str) -> _Token | None:
    return _next_significant(_tokenize(text), 0)[1]


def _continues_json(text: str) -> bool:
    token = _first_token(text)
    return token is not None and (token.kind in _CONTINUING_KINDS or _is_literal(token))


def _continues_closed_json(text: str) -> bool:
    """A line that can't begin anything: the message above it closed too early.

    A line starting ``"arguments": {`` right after ``{"execute": "x"}`` belongs to that
    message; keeping it there makes the message unparsable instead of parsing the wrong thing.
    """
    token = _first_token(text)
    return token is not None and (
        token.kind in (_Kind.STRING, _Kind.SQ_STRING, _Kind.OPEN_STRING) or _is_punct(token, ":,}]")
    )


@dataclass
class _Pending:
    direction: str
    line: int
    parts: list[str]
    depth: int
    opened: bool
    blanks: list[str] = field(default_factory=list)  # blank lines that may still be inside

    @property
    def is_open(self) -> bool:
        return self.depth > 0 or not self.opened

    def add(self, text: str) -> None:
        self.parts.extend(self.blanks)
        self.blanks.clear()
        self.parts.append(text)
        self.depth += _depth(text)
        self.opened = self.opened or _first_token(text) is not None

    def message(self) -> DocMessage:
        text = "\n".join(self.parts).strip()
        status, value, repairs, problem = parse_json_text(text)
        return DocMessage(
            direction=self.direction,
            text=text,
            status=status,
            value=value,
            repairs=repairs,
            problem=problem,
            line=self.line,
        )


def _start(direction: str, line: int, text: str) -> _Pending:
    # A marker alone on its line leaves the message unopened: its JSON starts on the next line.
    pending = _Pending(direction, line, [], 0, False)
    pending.add(text)
    return pending


def collapse_prose(lines: Iterable[str]) -> str:
    """Doc text without its layout: lines stripped, blank runs made one, ends trimmed."""
    out: list[str] = []
    for line in lines:
        stripped = line.strip()
        if stripped or (out and out[-1]):
            out.append(stripped)
    return "\n".join(out).strip()


def parse_example(
    lines: Sequence[tuple[int, str]], *, title: str = "", annotated: bool = False
) -> DocExample:
    """Split one example block into its messages and prose. Never raises.

    A message starts at a line beginning ``->`` or ``<-`` (after blanks), or ``{`` with no
    marker (direction "?"), and goes on while its brackets are open and the next lines can
    continue JSON (blank lines included, as pretty-printed replies have them). Everything else
    is prose. An unbalanced message ends at the next marker or prose line and is unparsable.
    """
    messages: list[DocMessage] = []
    prose: list[str] = []
    pending: _Pending | None = None

    def finish() -> None:
        nonlocal pending
        if pending is not None:
            messages.append(pending.message())
            prose.extend(pending.blanks)
            pending = None

    for number, raw in lines:
        text = raw.rstrip()
        stripped = text.strip()
        if stripped[:2] in _MARKERS:
            finish()
            pending = _start(stripped[:2], number, stripped[2:].strip())
            continue
        if pending is not None:
            if not stripped:
                if pending.is_open and pending.opened:
                    pending.blanks.append(text)
                    continue
                finish()
            elif pending.is_open:
                if pending.opened and _continues_json(stripped):
                    pending.add(text)
                    continue
                if not pending.opened and stripped[0] in "{[":
                    pending.add(text)
                    continue
                finish()
            elif not pending.blanks and _continues_closed_json(stripped):
                pending.add(text)
                continue
            else:
                finish()
        if stripped.startswith("{"):
            pending = _start("?", number, stripped)
        else:
            prose.append(text)
    finish()
    return DocExample(
        messages=tuple(messages),
        title=title,
        prose=collapse_prose(prose),
        annotated=annotated,
        line=lines[0][0] if lines else 0,
    )
