"""The QEMU 2.x ``qmp-commands.hx`` file: the dispatch table and the doc blocks beside it.

The file interleaves two grammars. Outside ``SQMP``/``EQMP`` lines it is C: one initializer
per command, ``{ .name = "...", .args_type = "...", ... },``, inside ``#if`` conditions, with
``HXCOMM`` comment lines. Between them is the documentation: a heading (the command name,
underlined with dashes; ``===`` underlines are chapter headings), then paragraphs and
flush-left sections: ``Arguments:`` with ``- "name": text (json-type, optional)`` items,
``Example:``/``Examples:`` followed by ``->``/``<-`` messages, ``Note:``/``Notes:``,
``Returns:``, ``Since:``. The two halves are matched by name, because regular commands put
the table entry before their block and query commands after it.

The table is what the server enforced, so it completes the doc: an argument's optionality comes
from ``.args_type`` where the doc doesn't say, undocumented table arguments are added, and a
:class:`DocArgument`'s type names both (``"json-string; B (block device)"``). Everything the
two halves disagree on, and every construct the grammar doesn't expect, is a ``problem``.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from conformance.docs.examples import parse_example
from conformance.docs.model import DocArgument, DocEntry, DocError, DocExample, DocSet

__all__ = ["TableArgument", "TableEntry", "describe_args_type", "parse_args_type", "parse_hx"]

Line = tuple[int, str]  # (1-based line number, text)


@dataclass
class _Problems:
    """Odd input, each as "path:line: what"."""

    path: str
    found: list[str] = field(default_factory=list)

    def add(self, line: int, what: str) -> None:
        self.found.append(f"{self.path}:{line}: {what}")


# --- .args_type ---------------------------------------------------------------------------------

# The monitor's argument type letters (monitor.c, "Supported types") and what QMP checks for
# each: F, B and s take a JSON string; i, l, M and o an int; T a number; b and -x flags a bool;
# q any value; O makes the command accept members the table doesn't name.
_TYPE_NAMES = {
    "F": "filename",
    "B": "block device",
    "s": "string",
    "S": "string",
    "O": "options dict",
    "i": "int",
    "l": "long",
    "M": "size in MiB",
    "o": "size in bytes",
    "T": "number",
    "b": "bool",
    "q": "any JSON value",
}
_ARG_NAME_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")


@dataclass(frozen=True, slots=True)
class TableArgument:
    """One ``name:TYPE`` of an ``.args_type`` string."""

    name: str
    code: str  # the type as written, without the "?" suffix: "B", "s", "-f"
    optional: bool  # a "?" suffix, or a "-x" flag (QMP treats flags as optional bools)

    @property
    def accepts_unknowns(self) -> bool:
        """``O``: the name is a placeholder and the command takes members it doesn't list."""
        return self.code == "O"

    @property
    def type(self) -> str:
        """The letter and what it means, e.g. ``"B (block device)"``, ``"-f (flag)"``."""
        if self.code.startswith("-"):
            return f"{self.code} (flag)"
        name = _TYPE_NAMES.get(self.code)
        return f"{self.code} ({name})" if name else self.code


def parse_args_type(text: str) -> tuple[TableArgument, ...]:
    """Split an ``.args_type`` value into its arguments.

    Raises ValueError, naming the piece, for a piece that is not ``name:TYPE``.
    """
    arguments: list[TableArgument] = []
    if not text:
        return ()
    for piece in text.split(","):
        name, colon, code = piece.partition(":")
        # The monitor only looks for "?" right after the first type character.
        optional = len(code) == 2 and code.endswith("?")
        code = code[:1] if optional else code
        if not colon or not _ARG_NAME_RE.fullmatch(name) or not code or "?" in code:
            raise ValueError(f"bad .args_type piece {piece!r} (expected name:TYPE)")
        arguments.append(TableArgument(name, code, optional or code.startswith("-")))
    return tuple(arguments)


def describe_args_type(text: str) -> str:
    """A readable form of an ``.args_type`` value, for reports."""
    return ", ".join(
        f"{a.name}: {a.type}{', optional' if a.optional else ''}" for a in parse_args_type(text)
    )


# --- the C table --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TableEntry:
    """One initializer of the dispatch table."""

    name: str
    line: int
    args_type: str
    arguments: tuple[TableArgument, ...]
    condition: str | None = None  # the #if around it, e.g. "CONFIG_SPICE"


_C_TOKEN_RE = re.compile(
    r"""
      (?P<space>\s+)
    | (?P<comment>/\*.*?\*/|//.*)
    | (?P<open_comment>/\*.*)
    | (?P<string>"(?:[^"\\]|\\.)*")
    | (?P<word>[A-Za-z0-9_]+)
    | (?P<punct>.)
    """,
    re.VERBOSE,
)
_DIRECTIVE_RE = re.compile(r"^\s*#\s*(?P<name>[a-z]+)\b\s*(?P<expr>.*?)\s*$")
_COMMENT_RE = re.compile(r"/\*.*?\*/|/\*.*|//.*")
_DEFINED_RE = re.compile(r"\bdefined\s*(?:\(\s*(\w+)\s*\)|(\w+))")
_C_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "'": "'"}


@dataclass(frozen=True, slots=True)
class _CToken:
    kind: str  # "string", "word" or "punct"
    text: str
    line: int
    condition: str | None


def _c_string(literal: str) -> str:
    return re.sub(r"\\(.)", lambda m: _C_ESCAPES.get(m.group(1), m.group(1)), literal[1:-1])


def _condition_text(expr: str) -> str:
    expr = _COMMENT_RE.sub("", expr)
    return _DEFINED_RE.sub(lambda m: m.group(1) or m.group(2), expr).strip()


class _Conditions:
    """The stack of ``#if`` conditions around the current line."""

    def __init__(self) -> None:
        self.stack: list[str] = []

    def apply(self, name: str, expr: str) -> str | None:
        """Follow one directive; returns a problem, or None."""
        if name in ("if", "ifdef"):
            self.stack.append(_condition_text(expr))
        elif name == "ifndef":
            self.stack.append(f"!{_condition_text(expr)}")
        elif name in ("else", "elif"):
            if not self.stack:
                return f"#{name} without #if"
            negated = f"!({self.stack.pop()})"
            if name == "elif":
                negated = f"{negated} && {_condition_text(expr)}"
            self.stack.append(negated)
        elif name == "endif":
            if not self.stack:
                return "#endif without #if"
            self.stack.pop()
        return None

    @property
    def current(self) -> str | None:
        return " && ".join(self.stack) if self.stack else None


def _c_tokens(lines: Sequence[Line], problems: _Problems) -> Iterator[_CToken]:
    conditions = _Conditions()
    in_comment = False
    for number, raw in lines:
        text = raw
        if in_comment:
            end = text.find("*/")
            if end < 0:
                continue
            text, in_comment = text[end + 2 :], False
        directive = _DIRECTIVE_RE.match(text)
        if directive:
            problem = conditions.apply(directive["name"], directive["expr"])
            if problem:
                problems.add(number, f"{problem}")
            continue
        for match in _C_TOKEN_RE.finditer(text):
            kind = match.lastgroup
            if kind == "open_comment":
                in_comment = True
            elif kind in ("string", "word", "punct"):
                yield _CToken(kind, match.group(), number, conditions.current)


def _parse_table(lines: Sequence[Line], problems: _Problems) -> list[TableEntry]:
    """The ``{ .field = value, ... }`` initializers among ``lines``."""
    entries: list[TableEntry] = []
    tokens = list(_c_tokens(lines, problems))
    index = 0
    while index < len(tokens):
        token = tokens[index]
        if token.text != "{":
            if token.text not in ",;":
                problems.add(token.line, f"stray {token.text!r} between entries")
            index += 1
            continue
        fields: dict[str, str] = {}
        index = _parse_initializer(tokens, index + 1, fields, problems)
        entry = _table_entry(token, fields, problems)
        if entry is not None:
            entries.append(entry)
    return entries


def _parse_initializer(
    tokens: Sequence[_CToken], index: int, fields: dict[str, str], problems: _Problems
) -> int:
    """Read ``.a.b = value,`` designators up to the closing brace; returns the index after it."""
    while index < len(tokens):
        if tokens[index].text == "}":
            return index + 1
        start = tokens[index]
        designator: list[str] = []
        while (
            index + 1 < len(tokens)
            and tokens[index].text == "."
            and tokens[index + 1].kind == "word"
        ):
            designator.append(tokens[index + 1].text)
            index += 2
        if not designator or index >= len(tokens) or tokens[index].text != "=":
            problems.add(start.line, f"unexpected {start.text!r} in a table entry")
            index += 1
            continue
        index += 1
        value: list[_CToken] = []
        depth = 0
        while index < len(tokens) and not (depth == 0 and tokens[index].text in ",}"):
            depth += {"{": 1, "}": -1}.get(tokens[index].text, 0)
            value.append(tokens[index])
            index += 1
        if index < len(tokens) and tokens[index].text == ",":
            index += 1
        # Adjacent string literals are one string in C: long .args_type values are split.
        if value and all(t.kind == "string" for t in value):
            fields[".".join(designator)] = "".join(_c_string(t.text) for t in value)
        else:
            fields[".".join(designator)] = " ".join(t.text for t in value)
    problems.add(tokens[-1].line, "table entry not closed before the end of the file")
    return index


def _table_entry(
    opening: _CToken, fields: dict[str, str], problems: _Problems
) -> TableEntry | None:
    name = fields.get("name")
    if not name:
        problems.add(opening.line, "table entry without a .name")
        return None
    args_type = fields.get("args_type")
    if args_type is None:
        problems.add(opening.line, f"table entry {name!r} without .args_type")
        args_type = ""
    try:
        arguments = parse_args_type(args_type)
    except ValueError as exc:
        problems.add(opening.line, f"{name}: {exc}")
        arguments = ()
    return TableEntry(name, opening.line, args_type, arguments, opening.condition)


# --- splitting the file -------------------------------------------------------------------------


@dataclass
class _Block:
    """The lines between one SQMP and its EQMP."""

    line: int  # of the SQMP
    lines: list[Line]
    after: TableEntry | None = None  # the table entry just before it, if any


def _read(path: str | os.PathLike[str]) -> list[Line]:
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise DocError(f"{os.fspath(path)}: cannot read: {exc.strerror or exc}") from None
    if b"\0" in data:
        raise DocError(f"{os.fspath(path)}: not a text file (it holds NUL bytes)")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DocError(f"{os.fspath(path)}: not UTF-8 text (byte {exc.start})") from None
    # Split on "\n" only: str.splitlines() also breaks at form feeds and other separators,
    # and line numbers must match what an editor shows.
    return [(n, t.rstrip("\r")) for n, t in enumerate(text.split("\n"), start=1)]


def _split(lines: Sequence[Line], problems: _Problems) -> tuple[list[_Block], list[Line]]:
    """Doc blocks, and the lines outside them (C, directives; HXCOMM lines dropped)."""
    blocks: list[_Block] = []
    outside: list[Line] = []
    current: _Block | None = None
    for number, text in lines:
        if text.startswith("HXCOMM"):
            continue
        marker = text.strip()
        if marker == "SQMP":
            if current is not None:
                problems.add(number, f"SQMP inside the SQMP block of line {current.line}")
                blocks.append(current)
            current = _Block(number, [])
        elif marker == "EQMP":
            if current is None:
                problems.add(number, "EQMP without SQMP")
            else:
                blocks.append(current)
                current = None
            # Keep the place of the marker among the C lines, to order entries and blocks.
            outside.append((number, ""))
        elif current is not None:
            current.lines.append((number, text))
        else:
            outside.append((number, text))
    if current is not None:
        problems.add(current.line, "SQMP block not closed by EQMP")
        blocks.append(current)
    return blocks, outside


# --- doc blocks: headings -----------------------------------------------------------------------

_DASH_UNDERLINE_RE = re.compile(r"^\s*-{3,}\s*$")
_EQUALS_UNDERLINE_RE = re.compile(r"^\s*={3,}\s*$")
_NAME_RE = re.compile(r"@?(?P<name>[A-Za-z][A-Za-z0-9_.+-]*)")
_EVENT_RE = re.compile(r"[A-Z][A-Z0-9_]*")


@dataclass
class _Segment:
    """One heading of a block and the lines up to the next heading."""

    title: str
    line: int
    chapter: bool
    body: list[Line] = field(default_factory=list)
    underlined: bool = True


def _segments(block: _Block, problems: _Problems) -> list[_Segment]:
    lines = block.lines
    segments: list[_Segment] = []
    index = 0
    while index < len(lines):
        number, text = lines[index]
        following = lines[index + 1][1] if index + 1 < len(lines) else ""
        dashes = _DASH_UNDERLINE_RE.match(following) is not None
        if text.strip() and (dashes or _EQUALS_UNDERLINE_RE.match(following)):
            segments.append(_Segment(text.strip(), number, chapter=not dashes))
            index += 2
            continue
        if not segments and text.strip():
            # The first line of a block is its heading, even when the underline was forgotten,
            # if it is a single name; anything else is text with no heading to belong to.
            if _NAME_RE.fullmatch(text.strip()):
                segments.append(_Segment(text.strip(), number, chapter=False, underlined=False))
                index += 1
                continue
            problems.add(number, "text before any heading in the SQMP block")
            segments.append(_Segment("", number, chapter=True))
        if segments:
            segments[-1].body.append((number, text))
        index += 1
    return segments


# --- doc blocks: sections -----------------------------------------------------------------------

_ARGUMENTS_RE = re.compile(r"^Arguments?:\s*(?P<rest>.*?)\s*$")
_EXAMPLE_RE = re.compile(r"^Examples?\b(?P<rest>.*?)\s*$")
_NOTES_RE = re.compile(r"^(?:Notes?|NOTE|Warning):\s*(?P<rest>.*?)\s*$")
_RETURNS_RE = re.compile(r"^Returns?:\s*(?P<rest>.*?)\s*$")
_SINCE_RE = re.compile(r"^Since:?\s+(?P<rest>\d[\w.]*)\s*$")
_NUMBERED_RE = re.compile(r"^(?P<n>\d+)\.\s+(?P<title>\S.*?):?\s*$")
_MARKER_RE = re.compile(r"^\s*(?:->|<-)")
_RETURN_WORD_RE = re.compile(r"\breturn", re.IGNORECASE)
# How far an "Example ..." title may run before the colon that ends it.
_MAX_TITLE_LINES = 3


@dataclass
class _Section:
    kind: str  # "description", "arguments", "example", "notes", "returns", "since"
    line: int
    rest: str  # what followed the keyword on its line(s)
    lines: list[Line] = field(default_factory=list)


def _example_title(body: Sequence[Line], index: int) -> tuple[str, int] | None:
    """The title of an ``Example...:`` heading at ``index`` and how many lines it takes.

    The colon may come a line or two later ("Example for pc machine type started with" /
    "-smp 1,maxcpus=2:"); without one it is not a heading but prose that starts with the word.
    """
    match = _EXAMPLE_RE.match(body[index][1])
    if match is None:
        return None
    parts: list[str] = []
    text = match["rest"]
    for count in range(_MAX_TITLE_LINES):
        if count:
            if index + count >= len(body):
                return None
            text = body[index + count][1]
            if not text.strip() or _MARKER_RE.match(text):
                return None
        head, colon, tail = text.partition(":")
        parts.extend((head.strip(), tail.strip()) if colon else (text.strip(),))
        if colon:
            return " ".join(part for part in parts if part), count + 1
    return None


def _sections(body: Sequence[Line]) -> list[_Section]:
    sections: list[_Section] = []
    current = _Section("description", body[0][0] if body else 0, "")
    sections.append(current)
    index = 0
    while index < len(body):
        number, text = body[index]
        section: _Section | None = None
        taken = 1
        if match := _ARGUMENTS_RE.match(text):
            section = _Section("arguments", number, match["rest"])
        elif (title := _example_title(body, index)) is not None:
            section = _Section("example", number, title[0])
            taken = title[1]
        elif match := _NOTES_RE.match(text):
            section = _Section("notes", number, match["rest"])
        elif match := _RETURNS_RE.match(text):
            section = _Section("returns", number, match["rest"])
        elif match := _SINCE_RE.match(text):
            sections.append(_Section("since", number, match["rest"]))
            # A Since: line stands alone; what follows is description again.
            section = _Section("description", number + 1, "")
        elif current.kind == "example" and (numbered := _NUMBERED_RE.match(text)):
            # "Examples:" followed by "1. Change a removable medium": one example per item,
            # and the heading itself, with nothing under it yet, is not one.
            section = _Section("example", number, numbered["title"])
            if not any(t.strip() for _, t in current.lines):
                sections.remove(current)
        if section is not None:
            sections.append(section)
            current = section
            index += taken
            continue
        current.lines.append((number, text))
        index += 1
    return sections


def _paragraphs(lines: Sequence[Line]) -> list[list[Line]]:
    paragraphs: list[list[Line]] = [[]]
    for number, text in lines:
        if text.strip():
            paragraphs[-1].append((number, text))
        elif paragraphs[-1]:
            paragraphs.append([])
    return [p for p in paragraphs if p]


def _text(lines: Sequence[Line]) -> str:
    """Lines as one text: common indentation removed, blank runs made one, ends trimmed."""
    indents = [len(t) - len(t.lstrip()) for _, t in lines if t.strip()]
    cut = min(indents, default=0)
    out: list[str] = []
    for _, text in lines:
        stripped = text[cut:].rstrip()
        if stripped or (out and out[-1]):
            out.append(stripped)
    return "\n".join(out).strip()


# --- doc blocks: arguments ----------------------------------------------------------------------

_ITEM_RE = re.compile(r"^(?P<indent>\s*)-\s+(?P<head>.*)$")
_ARRAY_RE = re.compile(r"^(?P<indent>\s*)(?P<name>[A-Za-z][\w-]*)\s+array:\s*$")
_QUOTED_ITEM_RE = re.compile(r'^"(?P<name>[^"]+)"\s*:\s*(?P<text>.*)$')
_BARE_ITEM_RE = re.compile(r"^(?P<name>[A-Za-z][\w.-]*)\s*:\s*(?P<text>.*)$")
_GROUP_RE = re.compile(r"\(([^()]*)\)")
_JSON_TYPE_RE = re.compile(
    r"json[-_][a-z]+|int|string|str|bool|number|dict|array|object|[A-Z][a-z0-9]+(?:[A-Z][A-Za-z0-9]*)+"
)
_SINCE_PART_RE = re.compile(r"since\s+(?P<version>\d[\w.]*)", re.IGNORECASE)


@dataclass
class _Item:
    line: int
    head: str
    lines: list[Line]
    array: str | None = None  # "keys array:" names an array argument


@dataclass(frozen=True, slots=True)
class _Annotation:
    """What the parenthesised notes of an item say: ``(json-string, optional) (Since 2.1)``."""

    type: str | None = None
    optional: bool | None = None
    since: str | None = None


def _annotation(description: str) -> _Annotation:
    """Read the item's parenthesised groups whose parts are types, "optional" or "since".

    A group counts when one of its comma-separated parts is one of those; other parts
    ("device tree path", "default 'report'") and other groups are prose and are ignored.
    """
    kind: str | None = None
    optional = False
    since: str | None = None
    annotated = False
    for group in _GROUP_RE.findall(description):
        for part in (p.strip() for p in group.split(",")):
            if part.lower() == "optional":
                optional = annotated = True
            elif match := _SINCE_PART_RE.fullmatch(part):
                since = since or match["version"]
            elif _JSON_TYPE_RE.fullmatch(part):
                kind = kind or part
                annotated = True
    if not annotated:
        return _Annotation(since=since)
    return _Annotation(kind, optional, since)


def _argument_items(lines: Sequence[Line]) -> tuple[list[_Item], list[Line]]:
    """The items of an Arguments: section, and the lines after the list ends.

    An item runs on through its continuation lines (any indentation right after it, deeper
    indentation after a blank line); a flush-left paragraph that is not an item ends the list.
    """
    items: list[_Item] = []
    base: int | None = None
    blank: Line | None = None  # the last blank line, while the next line decides its place
    for index, (number, text) in enumerate(lines):
        if not text.strip():
            blank = blank or (number, "")
            continue
        indent = len(text) - len(text.lstrip())
        item = _ITEM_RE.match(text)
        array = _ARRAY_RE.match(text)
        at_base = base is None or indent <= base
        if item and at_base:
            base = indent if base is None else base
            items.append(_Item(number, item["head"], []))
        elif array and at_base:
            base = indent if base is None else base
            items.append(_Item(number, "", [], array=array["name"]))
        elif items and (not blank or (base is not None and indent > base)):
            # A blank line inside an item separates its paragraphs.
            items[-1].lines.extend([blank, (number, text)] if blank else [(number, text)])
        else:
            return items, list(lines[index:])
        blank = None
    return items, []


@dataclass(frozen=True, slots=True)
class _Documented:
    argument: DocArgument
    line: int
    stated: bool  # whether the doc said if it is optional


def _doc_arguments(name: str, items: Sequence[_Item], problems: _Problems) -> list[_Documented]:
    arguments: list[_Documented] = []
    for item in items:
        if item.array is not None:
            description = _text(item.lines)
            arguments.append(
                _Documented(DocArgument(item.array, description, "array"), item.line, False)
            )
            continue
        match = _QUOTED_ITEM_RE.match(item.head) or _BARE_ITEM_RE.match(item.head)
        if match is None:
            problems.add(item.line, f"{name}: argument item without a name: - {item.head}")
            continue
        # Paragraphs of an item are lines joined into one; blank lines separate them.
        description = "\n\n".join(
            " ".join(t.strip() for _, t in paragraph)
            for paragraph in _paragraphs([(item.line, match["text"]), *item.lines])
        )
        annotation = _annotation(description)
        argument = DocArgument(
            name=match["name"],
            description=description,
            type=annotation.type,
            optional=annotation.optional,
            since=annotation.since,
        )
        arguments.append(_Documented(argument, item.line, annotation.optional is not None))
    return arguments


def _merge_arguments(
    name: str, documented: Sequence[_Documented], row: TableEntry | None, problems: _Problems
) -> tuple[DocArgument, ...]:
    """The doc's arguments completed from the table entry, with disagreements as problems.

    Optionality the doc states is kept as stated (a disagreement is a problem); where the doc
    says nothing the table's is used. Table arguments the doc leaves out are added after it.
    """
    if row is None:
        return tuple(d.argument for d in documented)
    by_name = {a.name: a for a in row.arguments if not a.accepts_unknowns}
    accepts_unknowns = any(a.accepts_unknowns for a in row.arguments)
    merged: list[DocArgument] = []
    for doc in documented:
        argument = doc.argument
        column = by_name.pop(argument.name, None)
        if column is None:
            if not accepts_unknowns:
                problems.add(
                    doc.line,
                    f"{name}: argument {argument.name!r} is documented but not in "
                    f".args_type {row.args_type!r}",
                )
            merged.append(argument)
            continue
        if doc.stated and argument.optional != column.optional:
            problems.add(
                doc.line,
                f"{name}: argument {argument.name!r} is documented as "
                f"{'optional' if argument.optional else 'required'} but .args_type has "
                f"{_args_type_piece(column)}",
            )
        merged.append(
            dataclasses.replace(
                argument,
                type=f"{argument.type}; {column.type}" if argument.type else column.type,
                optional=argument.optional if doc.stated else column.optional,
            )
        )
    for column in by_name.values():
        problems.add(row.line, f"{name}: .args_type argument {column.name!r} is not documented")
        merged.append(DocArgument(column.name, "", column.type, column.optional))
    return tuple(merged)


def _args_type_piece(argument: TableArgument) -> str:
    suffix = "?" if argument.optional and not argument.code.startswith("-") else ""
    return f"{argument.name}:{argument.code}{suffix}"


# --- doc blocks: entries ------------------------------------------------------------------------


def _notes(section: _Section) -> list[str]:
    """A Note(s): section, one note per "(1)"-numbered item or one for the whole section."""
    lines = [(section.line, section.rest), *section.lines] if section.rest else section.lines
    notes: list[list[Line]] = []
    for number, text in lines:
        if re.match(r"^\s*\(\d+\)\s", text) or not notes:
            notes.append([])
        notes[-1].append((number, text))
    return [text for text in (_text(note) for note in notes) if text]


def _example(section: _Section) -> DocExample:
    example = parse_example(section.lines, title=section.rest)
    return dataclasses.replace(example, line=section.line)


@dataclass
class _EntryText:
    """What the sections of one heading say, before the table is merged in."""

    summary: list[str] = field(default_factory=list)
    returns: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    since: str | None = None
    items: list[_Item] = field(default_factory=list)
    examples: list[DocExample] = field(default_factory=list)


def _read_sections(name: str, body: Sequence[Line], problems: _Problems) -> _EntryText:
    out = _EntryText()
    arguments_seen = False
    for section in _sections(body):
        description = section.lines
        if section.kind == "arguments":
            items, description = _argument_items(section.lines)
            explicit_none = section.rest.rstrip(".").lower() == "none"
            if arguments_seen:
                problems.add(section.line, f"{name}: a second Arguments: section")
            arguments_seen = True
            if section.rest and not explicit_none:
                problems.add(section.line, f"{name}: text after Arguments: {section.rest!r}")
            if explicit_none and items:
                problems.add(section.line, f"{name}: Arguments: None, then arguments")
            if not explicit_none and not items:
                problems.add(section.line, f"{name}: empty Arguments: section")
            out.items.extend(items)
        elif section.kind == "example":
            example = _example(section)
            if not example.messages:
                problems.add(section.line, f"{name}: example without any -> or <- message")
            out.examples.append(example)
            continue
        elif section.kind == "notes":
            out.notes.extend(_notes(section))
            continue
        elif section.kind == "returns":
            lines = [(section.line, section.rest), *section.lines]
            for _, text in lines:
                if text.strip().startswith("If "):
                    out.errors.append(text.strip())
                elif text.strip():
                    out.returns.append(text.strip())
            continue
        elif section.kind == "since":
            out.since = section.rest
            continue
        # Description: the first paragraph is the summary; from the first later one that
        # speaks of what is returned, the rest describes the return value.
        for paragraph in _paragraphs(description):
            text = _text(paragraph)
            target = out.returns if out.returns else out.summary
            if out.summary and not out.returns and _RETURN_WORD_RE.search(text):
                target = out.returns
            target.append(text)
    return out


def _entry_name(
    segment: _Segment,
    block: _Block,
    table: dict[str, TableEntry],
    documented: set[str],
    problems: _Problems,
) -> str | None:
    """The command a heading documents.

    Normally the heading itself (a leading "@" is QAPI habit and dropped). A heading that is a
    title ("Show rocker switch") or names nothing in the table ("dump") documents the table
    entry right before its block, if that entry has no block of its own.
    """
    match = _NAME_RE.fullmatch(segment.title)
    name = match["name"] if match else None
    if name is not None and (name in table or _EVENT_RE.fullmatch(name)):
        return name
    candidate = block.after
    if candidate is not None and candidate.name not in documented:
        what = "names no command in the table" if name else "is a title, not a command name"
        problems.add(
            segment.line,
            f"heading {segment.title!r} {what}; taken as {candidate.name!r}, "
            "the table entry before its block",
        )
        return candidate.name
    if name is not None:
        problems.add(segment.line, f"heading {name!r} names no command in the table")
    return name


def _entries(
    blocks: Sequence[_Block], table: dict[str, TableEntry], problems: _Problems
) -> dict[str, DocEntry]:
    entries: dict[str, DocEntry] = {}
    segments = [(block, segment) for block in blocks for segment in _segments(block, problems)]
    # Names with a heading of their own, so that a title heading is never given a command
    # that is documented elsewhere.
    documented = {
        m["name"]
        for _, segment in segments
        if (m := _NAME_RE.fullmatch(segment.title)) and m["name"] in table
    }
    for block, segment in segments:
        if segment.chapter:
            continue
        name = _entry_name(segment, block, table, documented, problems)
        if name is None:
            continue  # a titled block with no command: the file's introduction
        documented.add(name)
        if not segment.underlined:
            problems.add(segment.line, f"heading {segment.title!r} is not underlined")
        if name in entries:
            problems.add(
                segment.line,
                f"{name!r} is documented again (first at {entries[name].source}); "
                "the first is kept",
            )
            continue
        text = _read_sections(name, segment.body, problems)
        row = table.get(name)
        arguments = _merge_arguments(
            name, _doc_arguments(name, text.items, problems), row, problems
        )
        # A title heading says what the command does: it leads the summary.
        titled = _NAME_RE.fullmatch(segment.title) is None
        entries[name] = DocEntry(
            name=name,
            kind="event" if _EVENT_RE.fullmatch(name) and row is None else "command",
            source=f"{problems.path}:{segment.line}",
            summary="\n\n".join([segment.title, *text.summary] if titled else text.summary),
            arguments=arguments,
            returns="\n\n".join(text.returns),
            errors=tuple(text.errors),
            since=text.since,
            notes=tuple(text.notes),
            examples=tuple(text.examples),
            condition=row.condition if row else None,
        )
    return entries


def _attach_table_entries(blocks: Sequence[_Block], rows: Sequence[TableEntry]) -> None:
    """Give each block the table entry between it and the block before it, if any."""
    previous = 0
    for block in blocks:
        between = [row for row in rows if previous < row.line < block.line]
        block.after = between[-1] if between else None
        previous = block.line


def parse_hx(path: str | os.PathLike[str]) -> DocSet:
    """Parse a ``qmp-commands.hx`` file.

    Raises DocError (one line, naming the file) when it can't be read, isn't text, or has no
    SQMP blocks. Odd content never raises: it is listed in ``DocSet.problems``.
    """
    problems = _Problems(os.fspath(path))
    blocks, outside = _split(_read(path), problems)
    if not blocks:
        raise DocError(f"{problems.path}: no SQMP blocks: not a qmp-commands.hx file")
    rows = _parse_table(outside, problems)
    table: dict[str, TableEntry] = {}
    for row in rows:
        if row.name in table:
            problems.add(row.line, f"{row.name!r} is in the table twice")
        table.setdefault(row.name, row)
    _attach_table_entries(blocks, rows)
    entries = _entries(blocks, table, problems)
    for row in rows:
        if row.name not in entries:
            problems.add(row.line, f"{row.name!r} is in the table but has no SQMP block")
    return DocSet(source=problems.path, format="hx", entries=entries, problems=problems.found)
