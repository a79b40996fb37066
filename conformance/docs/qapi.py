"""QAPI schema doc comments as a doc source: ``qapi/*.json`` → :class:`DocSet`.

A QAPI schema file is a series of top-level expressions in QAPI's JSON dialect (single-quoted
strings, ``#`` comments, no numbers or null) with documentation comments between them. A
documentation comment runs from a ``##`` line to the next ``##`` line; one whose first line is
``# @NAME:`` documents the definition that follows it, any other is free-form text (headings).

The parser is written to the doc-comment grammar of docs/devel/qapi-code-gen.rst and
scripts/qapi/parser.py across QEMU versions, which differ mainly in where a section ends:

* QEMU 2.9 to 8.x: a tagged section (``Returns:``, ``Example:``, ``Notes:``…) runs to the
  next tag, so an example's ``->``/``<-`` lines and a note's list may sit flush left; error
  conditions are lines of the ``Returns:`` section; ``#optional`` marks optional members.
* QEMU 9.0 on: a section's text is its first line plus the *indented* lines after it; a flush
  left paragraph after a blank line is plain text again. ``Errors:`` holds the error
  conditions. 9.1 replaced ``Example:`` by ``.. qmp-example::`` (with ``:title:`` and
  ``:annotated:``) and ``Note:`` by ``.. note::``.
* Before 2.9 nothing checked the comments, so the symbol line may lack its colon, ``Since``
  its colon, and a comment may lack its opening ``##``.

Those rules combine without ambiguity because each one only fires on text the others reject
(QEMU's parsers refuse it), so one lenient parser reads every version. Anything odd becomes
a ``path:line: what`` problem in the DocSet; only a source with nothing readable raises.

Where the text goes in a :class:`DocEntry`: the paragraphs before the first section are the
summary; ``@name:`` descriptions join the members of the definition's ``'data'`` (or of the
struct it names, base first); ``Returns:``/``Errors:``/``Since:``/``Features:`` go to their
fields; ``Note:`` sections, admonitions (``.. note::``…) and paragraphs after the sections
are notes; a paragraph right after an example is that example's prose. ``TODO:`` is dropped,
as QEMU's generator drops it.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from conformance.docs.examples import collapse_prose, parse_example
from conformance.docs.model import DocArgument, DocEntry, DocError, DocExample, DocSet

__all__ = ["parse_qapi", "parse_qapi_text"]

# A problem reporter: (1-based line, what is wrong).
_Report = Callable[[int, str], None]

# Deeper nesting than this is not a schema; the limit keeps recursion safe on arbitrary input.
_MAX_DEPTH = 64

_DEFINITION_KEYS = ("command", "event", "struct", "type", "union", "enum", "alternate")
_DIRECTIVE_KEYS = ("include", "pragma")


# --- lexer ------------------------------------------------------------------------------------


class _Token(NamedTuple):  # a tuple: files have tens of thousands of tokens
    kind: str  # one of "{}[]:,", "str", "bool", or "#" for a comment
    value: str | bool | None  # the string, the bool, or the comment text from its "#"
    line: int
    col: int
    first_on_line: bool  # nothing but blanks before it on its line


# Escapes QEMU's lexer accepted at some point; only "\\" survives today.
_ESCAPES = {"\\": "\\", "/": "/", "'": "'", '"': '"', "b": "\b", "f": "\f", "n": "\n"}
_ESCAPES.update({"r": "\r", "t": "\t"})
_ESCAPE_RE = re.compile(r"\\(u[0-9a-fA-F]{4}|.)")
# Blanks, then a token. Every character starts exactly one alternative, so the lexer consumes
# any text. A string runs to its closing quote or, unterminated, to the end of its line.
_TOKEN_RE = re.compile(
    r"""
    [^\S\n]*
    (?: (?P<newline>\n)
    | (?P<comment>\#[^\n]*)
    | (?P<punct>[{}\[\]:,])
    | (?P<string>'(?P<body>(?:[^'\\\n]|\\[^\n])*)(?P<close>'?))
    | (?P<bool>true|false)
    | (?P<stray>[^\[\]{}:,\s'"\#]+|.)
    | (?P<end>$) )
    """,
    re.VERBOSE,
)


def _unescape(body: str) -> tuple[str, str | None]:
    """A string's value from its text between the quotes, and an unknown escape if any."""
    unknown: list[str] = []

    def replace(match: re.Match[str]) -> str:
        escaped = match.group(1)
        if len(escaped) == 5:  # \uXXXX
            return chr(int(escaped[1:], 16))
        if escaped not in _ESCAPES:
            unknown.append(escaped)
        return _ESCAPES.get(escaped, escaped)

    value = _ESCAPE_RE.sub(replace, body) if "\\" in body else body
    return value, f"unknown escape \\{unknown[0]}" if unknown else None


def _tokenize(text: str, report: _Report) -> list[_Token]:
    """QAPI's tokens, following scripts/qapi/parser.py's ``accept()``; never raises.

    Where QEMU stops with an error (stray characters, an unterminated string) this reports
    once per line and goes on, so one bad spot doesn't hide the rest of the file.
    """
    tokens: list[_Token] = []
    line, line_start = 1, 0
    reported_line = 0
    first_on_line = True

    def problem(what: str) -> None:
        nonlocal reported_line
        if reported_line != line:
            report(line, what)
            reported_line = line

    for match in _TOKEN_RE.finditer(text):
        kind = match.lastgroup or "end"
        chunk = match.group(kind)
        if kind == "newline":
            line, line_start, first_on_line = line + 1, match.end(), True
            continue
        if kind == "end":
            continue
        col = match.start(kind) - line_start
        if kind == "comment":
            tokens.append(_Token("#", chunk.rstrip(), line, col, first_on_line))
        elif kind == "punct":
            tokens.append(_Token(chunk, None, line, col, first_on_line))
        elif kind == "string":
            value, unknown = _unescape(match.group("body"))
            if not match.group("close") or unknown:
                problem(unknown or 'missing terminating "\'"')
            tokens.append(_Token("str", value, line, col, first_on_line))
        elif kind == "bool":
            tokens.append(_Token("bool", chunk == "true", line, col, first_on_line))
        else:
            problem(f"stray {chunk[:20]!r}")
            continue
        first_on_line = False
    return tokens


# --- expressions --------------------------------------------------------------------------------


class _SyntaxError(Exception):
    """Internal: an expression can't be parsed; caught by :func:`_scan`, which recovers."""

    def __init__(self, index: int, line: int, message: str) -> None:
        super().__init__(message)
        self.index = index
        self.line = line
        self.message = message


def _is_doc_marker(token: _Token) -> bool:
    return token.kind == "#" and isinstance(token.value, str) and token.value.startswith("##")


class _ExprParser:
    """Recursive descent over QAPI's JSON dialect (``get_expr`` in scripts/qapi/parser.py).

    Ordinary comments are skipped; a ``##`` comment inside an expression is an error, as in
    QEMU, so that recovery resumes at the doc comment instead of swallowing it.
    """

    def __init__(self, tokens: Sequence[_Token], report: _Report) -> None:
        self._tokens = tokens
        self._report = report
        self.pos = 0

    def _peek(self) -> _Token | None:
        while self.pos < len(self._tokens):
            token = self._tokens[self.pos]
            if token.kind != "#" or _is_doc_marker(token):
                return token
            self.pos += 1
        return None

    def _fail(self, expected: str) -> _SyntaxError:
        token = self._peek()
        if token is None:
            last = self._tokens[-1].line if self._tokens else 1
            return _SyntaxError(self.pos, last, f"expected {expected}, found end of file")
        found = "a doc comment" if token.kind == "#" else repr(token.value or token.kind)
        return _SyntaxError(self.pos, token.line, f"expected {expected}, found {found}")

    def _expect(self, kinds: str, expected: str) -> _Token:
        token = self._peek()
        if token is None or token.kind not in kinds.split():
            raise self._fail(expected)
        self.pos += 1
        return token

    def value(self, depth: int = 0) -> object:
        token = self._peek()
        if token is None or token.kind not in ("{", "[", "str", "bool"):
            raise self._fail("'{', '[', string or boolean")
        if depth > _MAX_DEPTH:
            raise _SyntaxError(self.pos, token.line, "expression nested too deeply")
        self.pos += 1
        if token.kind == "{":
            return self._members(depth)
        if token.kind == "[":
            return self._elements(depth)
        return token.value

    def _members(self, depth: int) -> dict[str, object]:
        members: dict[str, object] = {}
        if self._accept("}"):
            return members
        while True:
            key = self._expect("str", "string or '}'")
            self._expect(":", "':'")
            value = self.value(depth + 1)
            assert isinstance(key.value, str)
            if key.value in members:
                self._report(key.line, f"duplicate key {key.value!r}")
            else:
                members[key.value] = value
            if self._expect("} ,", "',' or '}'").kind == "}":
                return members

    def _elements(self, depth: int) -> list[object]:
        elements: list[object] = []
        if self._accept("]"):
            return elements
        while True:
            elements.append(self.value(depth + 1))
            if self._expect("] ,", "',' or ']'").kind == "]":
                return elements

    def _accept(self, kind: str) -> bool:
        token = self._peek()
        if token is not None and token.kind == kind:
            self.pos += 1
            return True
        return False


# --- top level: expressions and doc comment blocks ----------------------------------------------


@dataclass(frozen=True, slots=True)
class _DocBlock:
    line: int  # the opening "##" (or the first line, when that is missing)
    lines: tuple[tuple[int, str], ...]  # (line, comment text from its "#")


@dataclass(frozen=True, slots=True)
class _Expr:
    line: int
    value: dict[str, object]


def _resume_point(tokens: Sequence[_Token], index: int) -> int:
    """Where to go on after a syntax error: the next expression or doc comment.

    Top-level expressions start at column 0 in every QAPI file, so a ``{`` there is the
    best guess at the next one.
    """
    while index < len(tokens):
        token = tokens[index]
        if (token.kind == "{" and token.col == 0) or _is_doc_marker(token):
            return index
        index += 1
    return index


def _starts_definition_doc(run: Sequence[_Token]) -> bool:
    """Whether a run of comment lines reads like a definition doc: ``# @NAME:`` first."""
    first = next((str(t.value) for t in run if str(t.value).strip("# ")), "")
    return re.match(r"#\s*@[^\s:]+:?\s*$", first) is not None


def _scan(tokens: Sequence[_Token], report: _Report) -> list[_DocBlock | _Expr]:
    """Split the token stream into doc comment blocks and top-level expressions, in order."""
    items: list[_DocBlock | _Expr] = []
    parser = _ExprParser(tokens, report)
    # Whole-line ordinary comments just before the current point, on consecutive lines: a
    # pre-2.9 doc comment that lacks its opening "##" is one of these runs.
    run: list[_Token] = []
    index = 0
    while index < len(tokens):
        token = tokens[index]
        if token.kind == "#":
            assert isinstance(token.value, str)
            if not _is_doc_marker(token):
                if not (run and run[-1].line == token.line - 1):
                    run = []
                if token.first_on_line:
                    run.append(token)
                index += 1
                continue
            following = tokens[index + 1] if index + 1 < len(tokens) else None
            if following is not None and following.kind == "#":
                block, index = _collect_doc(tokens, index, report)
                items.append(block)
            elif run and run[-1].line == token.line - 1 and _starts_definition_doc(run):
                # A "##" with no comment after it can only close a comment: the run above.
                report(run[0].line, "documentation comment lacks its opening '##'")
                items.append(_DocBlock(run[0].line, tuple((t.line, str(t.value)) for t in run)))
                index += 1
            else:
                report(token.line, "documentation comment must end with '##'")
                index += 1
            run = []
            continue
        run = []
        parser.pos = index
        try:
            value = parser.value()
        except _SyntaxError as error:
            report(error.line, error.message)
            index = _resume_point(tokens, max(error.index, index + 1))
            continue
        index = parser.pos
        if isinstance(value, dict):
            items.append(_Expr(token.line, value))
        else:
            report(token.line, "top-level expression must be an object")
    return items


def _collect_doc(tokens: Sequence[_Token], index: int, report: _Report) -> tuple[_DocBlock, int]:
    """The doc comment opened by the ``##`` at ``index``, and the index after it."""
    opening = tokens[index]
    lines: list[tuple[int, str]] = []
    if opening.value != "##":
        report(opening.line, "junk after '##' at start of documentation comment")
        junk = str(opening.value)[2:]
        if junk[:1].isspace():
            lines.append((opening.line, "# " + junk.strip()))  # "## @Name", pre-2.9
    index += 1
    while index < len(tokens) and tokens[index].kind == "#":
        token = tokens[index]
        text = str(token.value)
        index += 1
        if text.startswith("##"):
            if text != "##":
                report(token.line, "junk after '##' at end of documentation comment")
            return _DocBlock(opening.line, tuple(lines)), index
        lines.append((token.line, text))
    report(opening.line, "documentation comment must end with '##'")
    return _DocBlock(opening.line, tuple(lines)), index


# --- doc comment grammar ----------------------------------------------------------------------

_SYMBOL_RE = re.compile(r"@([^\s:]+)(:?)\s*(.*)$")
_MEMBER_RE = re.compile(r"@([^\s:]+):(?:\s+(.*))?$")
# Two colons make it rST ("Example::" starts a literal block), not a section tag.
_TAG_RE = re.compile(r"(Returns|Errors|Since|Notes?|Examples?|TODO):(?!:)\s*(.*)$")
# Before 2.9 nothing checked the tags, and "Since 0.14.0" was common.
_BARE_SINCE_RE = re.compile(r"Since\s+(v?\d+(?:\.\d+)*)\s*$")
_DIRECTIVE_RE = re.compile(r"\.\.\s+([A-Za-z][\w-]*(?::[\w-]+)*)::(?:\s+(.*))?$")
_OPTION_RE = re.compile(r"\s+:([\w-]+):(?:\s+(.*))?$")
_OPTIONAL_MARK_RE = re.compile(r"#optional\b\s*")
_MESSAGE_RE = re.compile(r"\s*(->|<-)")

# The old tagged sections that run to the next tag even across flush-left paragraphs; QEMU
# 9.x dropped them, so no newer file relies on the indentation rule for them.
_GREEDY_TAGS = ("Example", "Examples", "Note", "Notes")
_ADMONITIONS = frozenset(
    ("note", "warning", "caution", "important", "attention", "hint", "tip", "danger", "error")
)


@dataclass
class _Doc:
    """What one definition doc comment says, before it is linked to its definition."""

    symbol: str | None  # None for free-form documentation
    line: int
    summary: list[str] = field(default_factory=list)
    members: dict[str, tuple[int, str, bool]] = field(default_factory=dict)  # text, #optional
    features: dict[str, str] = field(default_factory=dict)
    returns: str | None = None
    errors: list[str] | None = None  # from an "Errors:" section
    since: str | None = None
    notes: list[str] = field(default_factory=list)
    examples: list[DocExample] = field(default_factory=list)


def _indent(text: str) -> int:
    return len(text) - len(text.lstrip())


def _classify(text: str) -> str:
    """What a flush-left line starts: a section, a directive, or a plain paragraph."""
    if text.rstrip() == "Features:":
        return "features"
    if _MEMBER_RE.match(text):
        return "member"
    if _TAG_RE.match(text):
        return "tag"
    if _DIRECTIVE_RE.match(text):
        return "directive"
    if _BARE_SINCE_RE.match(text):
        return "bare-since"
    return "plain"


def _starts_section(text: str) -> bool:
    return _indent(text) == 0 and _classify(text) != "plain"


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _strip_markup(line: int, comment: str, report: _Report) -> str:
    """A doc comment line without its ``#`` and the one space after it."""
    if comment == "#":
        return ""
    if comment[1] != " ":
        report(line, "missing space after '#'")
        return comment[1:].expandtabs(8)
    return comment[2:].expandtabs(8)


class _DocParser:
    """One definition doc comment, section by section (``get_doc`` in scripts/qapi/parser.py)."""

    def __init__(self, lines: Sequence[tuple[int, str]], doc: _Doc, report: _Report) -> None:
        self._lines = lines
        self._doc = doc
        self._report = report
        self._in_body = True  # no member, feature or tagged section yet
        self._in_features = False
        self._tagged = False  # a tagged section has been seen
        # What the last section was ("example", "detail" or ""), and what the one before the
        # section being handled was: plain text continues an example or detail before it.
        self._last = ""
        self._previous = ""
        # What each kind of flush-left line (see _classify) starts. Each handler takes the
        # index of the section's first line and returns the index after the section.
        self._handlers: dict[str, Callable[[int], int]] = {
            "features": self._features,
            "member": self._member,
            "tag": self._tag,
            "directive": self._directive,
            "bare-since": self._bare_since,
            "plain": self._plain,
        }

    def _text(self, index: int) -> str:
        return self._lines[index][1]

    def parse(self, start: int) -> None:
        index = start
        while index < len(self._lines):
            text = self._text(index)
            if not text.strip():
                index += 1
                continue
            kind = _classify(text) if _indent(text) == 0 else "plain"
            self._previous, self._last = self._last, ""
            index = max(self._handlers[kind](index), index + 1)

    def _section_end(self, start: int, *, has_text: bool, greedy: bool) -> int:
        """Where the section starting at ``start`` ends (trailing blank lines excluded).

        Indented lines always continue it. A flush-left line continues it when it directly
        follows the text (old style, ``@arg: text`` wrapped without indent), when the section
        has no text yet (``Returns:`` alone, its text a paragraph below), or when the section
        is greedy (old ``Example:``/``Notes:``); a new section or directive always ends it.
        """
        last = start
        blank_before = False
        index = start + 1
        while index < len(self._lines):
            text = self._text(index)
            if not text.strip():
                blank_before = True
            elif _indent(text) > 0:
                last, blank_before, has_text = index, False, True
            elif _starts_section(text) or (blank_before and has_text and not greedy):
                break
            else:
                last, blank_before, has_text = index, False, True
            index += 1
        return last + 1

    def _block_end(self, start: int) -> int:
        """Where an rST directive's block ends: at the first non-blank flush-left line."""
        last = start
        for index in range(start + 1, len(self._lines)):
            text = self._text(index)
            if text.strip() and _indent(text) == 0:
                break
            if text.strip():
                last = index
        return last + 1

    def _paragraph_end(self, start: int) -> int:
        index = start + 1
        while index < len(self._lines):
            text = self._text(index)
            if not text.strip() or _starts_section(text):
                break
            index += 1
        return index

    def _continuation(self, start: int, end: int) -> list[str]:
        return [self._text(index) for index in range(start + 1, end)]

    def _plain(self, start: int) -> int:
        return self._text_block(start, self._paragraph_end(start))

    def _text_block(self, start: int, end: int) -> int:
        lines = [self._text(index) for index in range(start, end)]
        if any(_MESSAGE_RE.match(line) for line in lines):
            # Plain text is never parsed for messages (a flush-left "->" under a
            # ".. qmp-example::" is not in its block), but they must not vanish silently.
            self._report(self._lines[start][0], "example messages outside an example")
        if self._previous == "example" and self._doc.examples:
            # Text right after an example talks about it ("This example has been
            # shortened…"); it is the example's prose.
            last = self._doc.examples[-1]
            prose = "\n\n".join(filter(None, (last.prose, collapse_prose(lines))))
            self._doc.examples[-1] = dataclasses.replace(last, prose=prose)
            self._last = "example"
        elif self._in_body:
            if self._doc.summary:
                self._doc.summary.append("")
            self._doc.summary.extend(lines)
        else:
            # Paragraphs after the sections ("This command is only supported on s390")
            # say more about the definition; the model's place for that is a note.
            if self._previous == "detail" and self._doc.notes:
                self._doc.notes[-1] += "\n\n" + collapse_prose(lines)
            else:
                self._doc.notes.append(collapse_prose(lines))
            self._last = "detail"
        return end

    def _features(self, start: int) -> int:
        self._in_features = True
        following = (self._text(i) for i in range(start + 1, len(self._lines)))
        if not _MEMBER_RE.match(next((text for text in following if text.strip()), "")):
            self._report(self._lines[start][0], "feature descriptions expected")
        return start + 1

    def _member(self, start: int) -> int:
        line, text = self._lines[start]
        match = _MEMBER_RE.match(text)
        assert match is not None
        name, first = match.group(1), match.group(2) or ""
        end = self._section_end(start, has_text=bool(first.strip()), greedy=False)
        description = collapse_prose([first, *self._continuation(start, end)])
        optional_mark = _OPTIONAL_MARK_RE.search(description) is not None
        description = _OPTIONAL_MARK_RE.sub("", description).strip()
        if self._in_features:
            if name in self._doc.features:
                self._report(line, f"feature '@{name}' described twice")
            else:
                self._doc.features[name] = description
        else:
            if self._tagged:
                self._report(line, f"description of '@{name}:' follows a section")
            if name in self._doc.members:
                self._report(line, f"'@{name}' described twice")
            else:
                self._doc.members[name] = (line, description, optional_mark)
        self._in_body = False
        return end

    def _tag(self, start: int) -> int:
        line, text = self._lines[start]
        match = _TAG_RE.match(text)
        assert match is not None
        tag, first = match.group(1), match.group(2)
        end = self._section_end(start, has_text=bool(first.strip()), greedy=tag in _GREEDY_TAGS)
        self._in_body = False
        self._in_features = False
        self._tagged = True
        if tag in ("Example", "Examples"):
            lines = [(line, first)] if first.strip() else []
            lines += [self._lines[index] for index in range(start + 1, end)]
            self._add_example(line, lines)
            return end
        body = collapse_prose([first, *self._continuation(start, end)])
        if not body:
            self._report(line, f"text required after '{tag}:'")
        if tag in ("Note", "Notes"):
            if body:
                self._doc.notes.append(body)
        elif tag == "Returns":
            if self._doc.returns is not None:
                self._report(line, "duplicated 'Returns' section")
            else:
                self._doc.returns = body
        elif tag == "Errors":
            if self._doc.errors is not None:
                self._report(line, "duplicated 'Errors' section")
            else:
                self._doc.errors = _error_items(body)
        elif tag == "Since":
            self._set_since(line, body)
        # "TODO:" is for QEMU's developers and never rendered; it is left out on purpose.
        return end

    def _bare_since(self, start: int) -> int:
        line, text = self._lines[start]
        self._report(line, "'Since' lacks its ':'")
        self._in_body = False
        self._tagged = True
        self._set_since(line, text.strip()[len("Since") :])
        return start + 1

    def _set_since(self, line: int, text: str) -> None:
        if self._doc.since is not None:
            self._report(line, "duplicated 'Since' section")
        elif text.strip():
            self._doc.since = _version(text)

    def _directive(self, start: int) -> int:
        line, text = self._lines[start]
        match = _DIRECTIVE_RE.match(text)
        assert match is not None
        name, argument = match.group(1), (match.group(2) or "").strip()
        end = self._block_end(start)
        options: dict[str, str] = {}
        index = start + 1
        while index < end and (option := _OPTION_RE.match(self._text(index))):
            options[option.group(1)] = (option.group(2) or "").strip()
            index += 1
        content = [self._lines[i] for i in range(index, end)]
        if name == "qmp-example" or (name == "code-block" and argument.lower() == "qmp"):
            unknown = set(options) - {"title", "annotated", "caption"}
            if unknown:
                self._report(line, f"unknown option(s) {', '.join(sorted(unknown))}")
            title = options.get("title") or options.get("caption") or ""
            self._add_example(line, content, title=title, annotated="annotated" in options)
            return end
        if name in _ADMONITIONS or name == "admonition":
            note = collapse_prose(
                [argument if name != "admonition" else "", *(t for _, t in content)]
            )
            heading = argument if name == "admonition" else name.capitalize()
            if heading not in ("Note", "Notes"):
                note = f"{heading}: {note}"
            self._doc.notes.append(note)
            return end
        # Any other rST directive is text like the paragraphs around it.
        return self._text_block(start, end)

    def _add_example(
        self,
        line: int,
        lines: Sequence[tuple[int, str]],
        *,
        title: str = "",
        annotated: bool = False,
    ) -> None:
        example = parse_example(lines, title=title, annotated=annotated)
        # The example starts at its heading ("Example:", ".. qmp-example::"), not its text.
        self._doc.examples.append(dataclasses.replace(example, line=line))
        self._last = "example"


def _parse_doc(block: _DocBlock, report: _Report) -> _Doc:
    """A doc comment block as a :class:`_Doc`; free-form blocks come back with no symbol."""
    lines = [(line, _strip_markup(line, text, report)) for line, text in block.lines]
    start = 0
    while start < len(lines) and not lines[start][1].strip():
        start += 1
    if start == len(lines):
        return _Doc(None, block.line)
    line, first = lines[start]
    match = _SYMBOL_RE.match(first)
    if match is None:
        return _Doc(None, block.line)  # free-form: headings and prose, not a definition
    symbol, colon, rest = match.groups()
    if rest and not colon:
        return _Doc(None, block.line)  # prose that starts with a reference: "@foo is…"
    doc = _Doc(symbol, line)
    if rest:
        report(line, f"'@{symbol}:' line should end with ':'")
        doc.summary.append(rest)
    elif not colon:
        report(line, f"'@{symbol}' lacks its ':'")
    _DocParser(lines, doc, report).parse(start + 1)
    return doc


def _version(text: str) -> str:
    """The release in a "Since:" text ("0.14", "2.12"), else the text itself, one line."""
    match = re.match(r"\s*v?(\d+(?:\.\d+)*)", text)
    return match.group(1) if match else _one_line(text)


_MEMBER_SINCE_RE = re.compile(r"\(\s*since:?\s+v?(\d+(?:\.\d+)*)", re.IGNORECASE)
_BULLET_RE = re.compile(r"[-*]\s+")
# How an old-style "Returns:" line starts an error condition rather than continuing one.
# QEMU's convention is "If <condition>, <ErrorClass>".
_ERROR_START_RE = re.compile(r"(If|When|Unless|Otherwise|On error|On failure)\b")
# An item that ends in an error class ("…, DeviceNotFound") is one even without the "If";
# QMP's error classes are named for what went wrong, never for a value.
_ERROR_CLASS_RE = re.compile(
    r",\s*(?:an?\s+)?[A-Z]\w*(?:Error|NotFound|NotActive|InUse|NotEncrypted|NotSupported"
    r"|Missing\w*)\.?$"
)


def _items(text: str, *, starts: re.Pattern[str] | None = None) -> list[str]:
    """Split section text into items: at bullets, else at lines matching ``starts``, else at
    blank lines. Each item is one line of whitespace-collapsed text."""
    lines = text.split("\n")
    bulleted = any(_BULLET_RE.match(line) for line in lines)
    items: list[list[str]] = [[]]
    for line in lines:
        if not line:
            if not bulleted and starts is None:
                items.append([])
            continue
        if bulleted:
            bullet = _BULLET_RE.match(line)
            if bullet:
                items.append([line[bullet.end() :]])
                continue
        elif starts is not None and starts.match(line) and items[-1]:
            items.append([line])
            continue
        items[-1].append(line)
    return [joined for item in items if (joined := _one_line(" ".join(item)))]


def _error_items(text: str) -> list[str]:
    """An ``Errors:`` section: one error condition per bullet (or paragraph)."""
    return _items(text)


def _is_error_item(item: str, *, first: bool) -> bool:
    """Whether an old-style ``Returns:`` item is an error condition, not the success value.

    The success value comes first, so a first item is an error only when it names an error
    class; a later one also when it starts like a condition ("If …").
    """
    # "on success", "If successful" (but not "opened successfully" inside a condition)
    if re.search(r"\bsuccess(?:ful)?\b", item, re.IGNORECASE):
        return False
    capitalized = item[:1].upper() + item[1:]
    starts = not first and _ERROR_START_RE.match(capitalized) is not None
    return starts or _ERROR_CLASS_RE.search(item) is not None


def _split_returns(text: str) -> tuple[str, list[str]]:
    """Pre-9.0 ``Returns:`` text as (the success value, the error conditions).

    Until 9.0 the error conditions were lines or bullets of the Returns section
    ("- If @device is not a valid block device, DeviceNotFound").
    """
    items = _items(text, starts=_ERROR_START_RE)
    is_error = [_is_error_item(item, first=index == 0) for index, item in enumerate(items)]
    if not any(is_error):
        return text, []
    success = [item for item, error in zip(items, is_error, strict=True) if not error]
    return "\n".join(success), [item for item, error in zip(items, is_error, strict=True) if error]


# --- definitions, includes and entries -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Definition:
    meta: str  # "command", "event", "struct" (also for old 'type'), "union", …
    name: str
    expr: dict[str, object]
    path: str
    line: int
    doc: _Doc | None


class _Schema:
    """Every file of one schema, read once each, and the definitions they hold."""

    def __init__(self) -> None:
        self.problems: list[str] = []
        self.definitions: dict[str, _Definition] = {}
        self.expressions = 0  # QAPI top-level expressions seen in all files
        self._seen: set[str] = set()

    def reporter(self, path: str) -> _Report:
        def report(line: int, what: str) -> None:
            self.problems.append(f"{path}:{line}: {what}")

        return report

    def load_file(self, path: str) -> str | None:
        """Read and parse one file and its includes, once; why it can't be read, if it can't."""
        key = os.path.realpath(path)
        if key in self._seen:
            return None
        self._seen.add(key)
        text, problem = _read_text(path)
        if text is None:
            return problem
        self.load_text(text, path)
        return None

    def load_text(self, text: str, path: str, *, follow_includes: bool = True) -> None:
        found: list[tuple[int, str]] = []

        def report(line: int, what: str) -> None:
            found.append((line, what))

        pending: _Doc | None = None  # the last definition doc, until an expression takes it
        for item in _scan(_tokenize(text, report), report):
            if isinstance(item, _DocBlock):
                _unattached(pending, report)
                pending = _parse_doc(item, report)
                if pending.symbol is None:
                    pending = None  # free-form text documents no definition
                continue
            doc, pending = pending, None
            self._expression(item, path, doc, report, follow_includes=follow_includes)
        _unattached(pending, report)
        # The lexer finds its problems before the parser does; in line order they read better.
        self.problems += [f"{path}:{line}: {what}" for line, what in sorted(found, key=_first)]

    def _expression(
        self, item: _Expr, path: str, doc: _Doc | None, report: _Report, *, follow_includes: bool
    ) -> None:
        expr = item.value
        meta = next((key for key in (*_DEFINITION_KEYS, *_DIRECTIVE_KEYS) if key in expr), None)
        if meta is None:
            report(item.line, "expression is not a QAPI definition or directive")
            return
        self.expressions += 1
        if meta in _DIRECTIVE_KEYS:
            _unattached(doc, report)
            if meta == "include":
                self._include(expr["include"], path, item.line, report, follow=follow_includes)
            return
        name = expr[meta]
        if not isinstance(name, str) or not name:
            report(item.line, f"'{meta}' must name the definition")
            return
        if doc is not None and doc.symbol != name:
            report(
                doc.line, f"documentation for '{doc.symbol}' precedes the definition of '{name}'"
            )
        if name in self.definitions:
            first = self.definitions[name]
            report(item.line, f"'{name}' is already defined at {first.path}:{first.line}")
            return
        kind = "struct" if meta == "type" else meta
        self.definitions[name] = _Definition(kind, name, expr, path, item.line, doc)

    def _include(
        self, target: object, path: str, line: int, report: _Report, *, follow: bool
    ) -> None:
        if not isinstance(target, str):
            report(line, "value of 'include' must be a string")
            return
        if not follow:
            report(line, f"include of '{target}' not followed (no file to resolve it from)")
            return
        included = os.path.normpath(os.path.join(os.path.dirname(path), target))
        problem = self.load_file(included)
        if problem is not None:
            report(line, f"can't read include file '{included}': {problem}")


def _unattached(doc: _Doc | None, report: _Report) -> None:
    if doc is not None:
        report(doc.line, f"documentation for '{doc.symbol}' is not followed by the definition")


def _first(pair: tuple[int, str]) -> int:
    return pair[0]


def _read_text(path: str) -> tuple[str | None, str]:
    """The file's text, or None and why not (missing, unreadable, not UTF-8 text)."""
    try:
        data = Path(path).read_bytes()
    except OSError as error:
        return None, error.strerror or str(error)
    if b"\0" in data:
        return None, "not a text file (NUL bytes)"
    try:
        return data.decode("utf-8"), ""
    except UnicodeDecodeError as error:
        return None, f"not UTF-8 text ({error.reason} at byte {error.start})"


def _type_text(value: object) -> str | None:
    """A member's type as written: ``'str'``, ``['int']`` as "[int]", the longhand's 'type'."""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and len(value) == 1 and isinstance(value[0], str):
        return f"[{value[0]}]"
    if isinstance(value, dict):
        return _type_text(value.get("type"))
    return None


def _condition(cond: object, report: _Report, line: int) -> str | None:
    """An ``'if'`` as QEMU's doc generator writes it (``docgen_ifcond``): "(A and not B)".

    Before 6.0 a list meant "all of these"; it is read the same way.
    """
    if cond is None:
        return None
    if isinstance(cond, str):
        return cond
    if isinstance(cond, list):
        return _condition(cond[0] if len(cond) == 1 else {"all": cond}, report, line)
    if isinstance(cond, dict) and len(cond) == 1:
        operator, operand = next(iter(cond.items()))
        if operator == "not":
            inner = _condition(operand, report, line)
            return None if inner is None else f"not {inner}"
        if operator in ("all", "any") and isinstance(operand, list) and operand:
            parts = [_condition(part, report, line) for part in operand]
            if all(part is not None for part in parts):
                joiner = " and " if operator == "all" else " or "
                return "(" + joiner.join(str(part) for part in parts) + ")"
    report(line, f"malformed 'if' condition {cond!r:.60}")
    return None


@dataclass(frozen=True, slots=True)
class _Member:
    name: str
    optional: bool
    type: str | None
    doc: _Doc | None  # the doc comment that may describe it


def _members(data: object, doc: _Doc | None) -> list[_Member]:
    if not isinstance(data, dict):
        return []
    members = []
    for key, value in data.items():
        optional = key.startswith("*")
        members.append(_Member(key[1:] if optional else key, optional, _type_text(value), doc))
    return members


class _Entries:
    """Turns the definitions of commands and events into :class:`DocEntry` values."""

    def __init__(self, schema: _Schema) -> None:
        self._schema = schema

    def build(self) -> dict[str, DocEntry]:
        entries: dict[str, DocEntry] = {}
        for definition in self._schema.definitions.values():
            if definition.meta in ("command", "event"):
                entries[definition.name] = self._entry(definition)
        return entries

    def _entry(self, definition: _Definition) -> DocEntry:
        report = self._schema.reporter(definition.path)
        doc = definition.doc or _Doc(definition.name, definition.line)
        if definition.doc is None:
            report(definition.line, f"{definition.meta} '{definition.name}' is undocumented")
        returns, errors = doc.returns or "", doc.errors
        if errors is None:
            returns, errors = _split_returns(returns)
        return DocEntry(
            name=definition.name,
            kind=definition.meta,
            source=f"{definition.path}:{definition.line}",
            summary=collapse_prose(doc.summary),
            arguments=tuple(self._arguments(definition, doc, report)),
            returns=returns,
            errors=tuple(errors),
            since=doc.since,
            features=self._features(definition, doc, report),
            notes=tuple(doc.notes),
            examples=tuple(doc.examples),
            condition=_condition(definition.expr.get("if"), report, definition.line),
        )

    def _arguments(self, definition: _Definition, doc: _Doc, report: _Report) -> list[DocArgument]:
        data = definition.expr.get("data")
        members: list[_Member] | None
        if data is None or isinstance(data, dict):
            members = _members(data, doc)
        elif isinstance(data, str):
            members = self._type_members(data, report, definition.line, set())
            if members is None:
                report(
                    definition.line,
                    f"arguments of '{definition.name}' come from type '{data}', which is "
                    "not defined in the parsed files",
                )
        else:
            report(definition.line, f"'data' of '{definition.name}' is not an object or a type")
            members = []
        if members is None:
            # The definition can't say what the arguments are; the doc can't be checked
            # against it, and the arguments stay empty rather than half known.
            return []
        names = {member.name for member in members}
        for name, (line, _, _) in doc.members.items():
            if name not in names:
                report(line, f"'@{name}' is not a member of '{definition.name}'")
        return [self._argument(member, doc, report) for member in members]

    def _argument(self, member: _Member, doc: _Doc, report: _Report) -> DocArgument:
        # The definition's own doc comment first, then the one of the type it came from.
        described = doc.members.get(member.name)
        if described is None and member.doc is not None and member.doc is not doc:
            described = member.doc.members.get(member.name)
        text, mark = (described[1], described[2]) if described else ("", False)
        if described and mark and not member.optional:
            report(described[0], f"'@{member.name}' is marked #optional but is mandatory")
        return DocArgument(member.name, text, member.type, member.optional, _member_since(text))

    def _type_members(
        self, name: str, report: _Report, line: int, seen: set[str]
    ) -> list[_Member] | None:
        """The members of a named struct, or the common members of a union (its base).

        None when the type is not in the parsed files. A union's variant members depend on
        its discriminator's value, so they are no fixed part of the arguments.
        """
        definition = self._schema.definitions.get(name)
        if definition is None:
            return None
        if name in seen:
            report(line, f"type '{name}' is its own base")
            return []
        seen.add(name)
        if definition.meta not in ("struct", "union"):
            report(line, f"type '{name}' is a {definition.meta}, not a struct or union")
            return []
        base = definition.expr.get("base")
        members: list[_Member] = []
        if isinstance(base, str):
            members = self._type_members(base, report, line, seen) or []
        elif isinstance(base, dict):
            members = _members(base, definition.doc)
        if definition.meta == "struct":
            members += _members(definition.expr.get("data"), definition.doc)
        return members

    def _features(
        self, definition: _Definition, doc: _Doc, report: _Report
    ) -> tuple[tuple[str, str], ...]:
        declared = _feature_names(definition.expr.get("features"))
        # A doc's "Features:" also describes the features of its members ("@deprecated:
        # Members @base and @top are deprecated"), which only the members declare.
        data = definition.expr.get("data")
        member_features = {
            name
            for value in (data.values() if isinstance(data, dict) else ())
            if isinstance(value, dict)
            for name in _feature_names(value.get("features"))
        }
        for name in doc.features:
            if name not in declared and name not in member_features:
                report(
                    doc.line,
                    f"documented feature '@{name}' is not a feature of '{definition.name}'",
                )
        names = declared + [name for name in doc.features if name not in declared]
        return tuple((name, doc.features.get(name, "")) for name in names)


def _feature_names(features: object) -> list[str]:
    """The names in a FEATURES list: each a string or ``{'name': …, 'if': …}``."""
    names = []
    for feature in features if isinstance(features, list) else []:
        name = feature.get("name") if isinstance(feature, dict) else feature
        if isinstance(name, str):
            names.append(name)
    return names


def _member_since(text: str) -> str | None:
    match = _MEMBER_SINCE_RE.search(text)
    return match.group(1) if match else None


# --- API ---------------------------------------------------------------------------------------


def _finish(schema: _Schema, source: str, what: str) -> DocSet:
    if schema.expressions == 0:
        raise DocError(f"{source}: no QAPI schema expressions in {what}")
    return DocSet(
        source=source, format="qapi", entries=_Entries(schema).build(), problems=schema.problems
    )


def parse_qapi(path: str | os.PathLike[str]) -> DocSet:
    """The commands and events documented by a QAPI schema: a directory or one .json file.

    A directory is read from its qapi-schema.json when it has one, else every ``*.json``
    in it; includes are followed relative to the including file, each file once. Missing
    includes and odd content are problems in the DocSet. Raises :class:`DocError` only
    when nothing can be read: a missing path, a file that is not text, no QAPI expressions.
    """
    source = os.fspath(path)
    schema = _Schema()
    if os.path.isdir(source):
        files = [os.path.join(source, "qapi-schema.json")]
        if not os.path.isfile(files[0]):
            try:
                names = os.listdir(source)
            except OSError as error:
                raise DocError(f"{source}: {error.strerror or error}") from error
            files = sorted(os.path.join(source, name) for name in names if name.endswith(".json"))
        if not files:
            raise DocError(f"{source}: no .json files in the directory")
        problems = [(file, schema.load_file(file)) for file in files]
        failed = [(file, problem) for file, problem in problems if problem is not None]
        if len(failed) == len(files):
            raise DocError(f"{failed[0][0]}: {failed[0][1]}")
        schema.problems += [f"{file}:0: {problem}" for file, problem in failed]
        return _finish(schema, source, "the directory's files")
    problem = schema.load_file(source)
    if problem is not None:
        raise DocError(f"{source}: {problem}")
    return _finish(schema, source, "the file")


def parse_qapi_text(text: str, *, source: str = "<text>") -> DocSet:
    """Like :func:`parse_qapi` for one schema given as text; includes are not followed.

    Raises :class:`DocError` only when the text holds no QAPI expression at all.
    """
    schema = _Schema()
    schema.load_text(text, source, follow_includes=False)
    return _finish(schema, source, "the text")
