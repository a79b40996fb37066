"""Read the QMP reference man page (`qemu-qmp-ref.7`) into the doc model.

Distributions install the QMP reference as a man page that Sphinx generates from the
QAPI doc comments of the QEMU they ship, so it is the doc of exactly the installed
QEMU, even when the QAPI sources of that version are nowhere on the machine.

The parser follows the layers the page was made by, so it holds for other QEMU and
Sphinx/docutils versions rather than for one file:

1. **roff** (`conformance/docs/roff.py`): requests, escapes and fill modes become
   tokens with their source line and indentation depth, then paragraphs, literal
   blocks and list items with their bodies.
2. **QAPI** (`_build_entry`): definitions start entries, in either layout QEMU has
   shipped — `.SS name (Command)` / `(Event)` headings (QEMU ≤ 7.2), or a tagged
   paragraph `.TP` / `.B Command  name  (Since: X)` with its body indented under it
   (QEMU ≥ 8, whose own Sphinx QAPI domain writes `Availability:` lines for `If:`
   conditions and feature bullets). Type definitions (`Object`, `Enum`, …) are
   recognised and skipped. Section headings (`.SS Arguments`, or a bold line / field
   name / admonition title such as `\\fBNote:\\fP`, `.B Errors`, `.IP "Example:"`)
   split an entry into the parts of `DocEntry`.

Odd input never raises: anything the parser had to guess about is recorded in
`DocSet.problems` as "path:line: what". Only a file that can't be read as a man page
at all raises `DocError`.
"""

from __future__ import annotations

import gzip
import os
import re
import shutil
import subprocess
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from conformance.docs.examples import parse_example
from conformance.docs.model import (
    DocArgument,
    DocEntry,
    DocError,
    DocExample,
    DocSet,
    qemu_version,
)
from conformance.docs.roff import (
    Block,
    Roff,
    Tok,
    block_text,
    build_blocks,
    decode_escapes,
    squash,
    title_fields,
    walk_lines,
)

__all__ = ["decode_escapes", "find_man_page", "man_page_version", "parse_man", "parse_man_text"]

# ---------------------------------------------------------------------------------------
# Finding and reading the file
# ---------------------------------------------------------------------------------------

MAN_DIRS = (Path("/usr/share/man/man7"), Path("/usr/local/share/man/man7"))
_MAN_TIMEOUT = 10.0  # seconds; `man -w` only searches its index, but a broken setup can hang
_MAX_BYTES = 64 * 1024 * 1024  # the 7.2 page is ~1 MiB; more is a gzip bomb, not a man page
_GZIP_MAGIC = b"\x1f\x8b"


def find_man_page(name: str = "qemu-qmp-ref") -> Path | None:
    """The installed man page `name`, plain or gzipped, or None when it isn't installed.

    Asks `man -w` first (it knows MANPATH and the distribution's layout) and falls back
    to the standard section-7 directories when man-db is missing or says nothing.
    """
    found = _ask_man(name)
    if found is not None:
        return found
    for directory in MAN_DIRS:
        for candidate in (directory / f"{name}.7", directory / f"{name}.7.gz"):
            if candidate.is_file():
                return candidate
    return None


def _ask_man(name: str) -> Path | None:
    man = shutil.which("man")
    if man is None:
        return None
    try:
        done = subprocess.run(
            [man, "-w", name],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=_MAN_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if done.returncode != 0:
        return None
    for line in done.stdout.splitlines():
        path = Path(line.strip())
        if line.strip() and path.is_file():
            return path
    return None


def parse_man(path: str | os.PathLike[str]) -> DocSet:
    """Parse a QMP reference man page, plain or gzip-compressed (told apart by content)."""
    source = os.fspath(path)
    data = _read_bytes(source)
    text, problems = _decode(data, source)
    docs = parse_man_text(text, source=source)
    docs.problems[:0] = problems
    return docs


def man_page_version(path: str | os.PathLike[str]) -> str | None:
    """The QEMU version a man page documents, from its `.TH` line (None when it has none)."""
    source = os.fspath(path)
    text, _ = _decode(_read_bytes(source), source)
    return _title_version(text)


def _title_version(text: str) -> str | None:
    """Sphinx's man writer puts the project version in the `.TH` line's fourth field
    (`.TH "QEMU-QMP-REF" "7" "Sep 05, 2025" "10.0.2" "QEMU"`); QEMU's build sets it to
    its own version, and distributions keep it."""
    fields = title_fields(text)
    return qemu_version(fields[3]) if len(fields) > 3 else None


def _read_bytes(source: str) -> bytes:
    try:
        with open(source, "rb") as raw:
            head = raw.read(2)
            raw.seek(0)
            if head == _GZIP_MAGIC:
                with gzip.GzipFile(fileobj=raw) as unzipped:
                    data = unzipped.read(_MAX_BYTES + 1)
            else:
                data = raw.read(_MAX_BYTES + 1)
    except FileNotFoundError:
        raise DocError(f"{source}: no such file") from None
    except IsADirectoryError:
        raise DocError(f"{source}: is a directory, not a man page") from None
    except PermissionError:
        raise DocError(f"{source}: permission denied") from None
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
        raise DocError(f"{source}: corrupt gzip data ({exc or 'truncated'})") from None
    except OSError as exc:
        raise DocError(f"{source}: can't be read ({exc.strerror or exc})") from None
    if len(data) > _MAX_BYTES:
        raise DocError(f"{source}: more than {_MAX_BYTES} bytes, not a man page")
    return data


def _decode(data: bytes, source: str) -> tuple[str, list[str]]:
    # NUL never occurs in roff source; it is the cheapest reliable sign of a binary file.
    if b"\x00" in data:
        raise DocError(f"{source}: binary data, not a man page")
    try:
        return data.decode("utf-8"), []
    except UnicodeDecodeError as exc:
        # Sphinx writes UTF-8; a few stray bytes are odd content, not a reason to refuse.
        line = data.count(b"\n", 0, exc.start) + 1
        text = data.decode("utf-8", errors="replace")
        return text, [f"{source}:{line}: invalid UTF-8, replaced with U+FFFD"]


# ---------------------------------------------------------------------------------------
# QAPI structure — entities, sections, and the doc model
# ---------------------------------------------------------------------------------------

_ENTITY = re.compile(r"(?P<name>[A-Za-z_][\w.+-]*)\s+\((?P<kind>[A-Za-z-]+)\)")
_ENTRY_KINDS = frozenset({"command", "event"})
_TYPE_KINDS = frozenset({"object", "enum", "alternate", "struct", "union", "type", "built-in"})

# Section titles as QAPI doc generators spell them (7.2: `.SS Arguments`; newer: field
# names, admonition titles like `Note:`). Titles must start upper-case: member and
# feature names are lower-case, and must not be read as section headings.
_SECTIONS = {
    "arguments": "arguments", "argument": "arguments", "parameters": "arguments",
    "members": "arguments", "returns": "returns", "return": "returns",
    "errors": "errors", "error": "errors", "since": "since", "example": "example",
    "examples": "example", "note": "notes", "notes": "notes", "caution": "notes",
    "warning": "notes", "attention": "notes", "important": "notes", "hint": "notes",
    "tip": "notes", "danger": "notes", "features": "features", "feature": "features",
    "if": "if", "todo": "todo", "values": "values",
}  # fmt: skip
_EXAMPLE_TITLE = re.compile(r"Examples?(?:\s+\d+)?(?:\s*[:.\-\u2013\u2014]\s*(?P<title>.*))?")
_MESSAGE_LINE = re.compile(r"\s*(?:->|<-)")


def _section_kind(title: str) -> tuple[str, str] | None:
    """(section kind, title remainder) when `title` names a doc section."""
    title = title.strip()
    if not title or not title[0].isupper():
        return None
    key = title.rstrip(":").strip().lower()
    if key in _SECTIONS:
        return _SECTIONS[key], ""
    match = _EXAMPLE_TITLE.fullmatch(title)
    if match:
        return "example", (match.group("title") or "").strip().rstrip(":")
    return None


# QEMU ≥ 8 (its own Sphinx QAPI domain) writes each definition as a tagged paragraph,
# `.TP` / `.B Command  query\-status  (Since: 0.14)`, inside `.INDENT 0.0`; its body is
# indented under it and ends where the indentation goes back out.
_DEFINITION = re.compile(
    r"(?P<kind>Command|Event|Object|Enum|Alternate|Union|Struct|Built-in)\s+"
    r"(?P<name>[A-Za-z_][\w.+-]*)(?:\s+\(Since:\s*(?P<since>[^()]*?)\s*\))?"
)
# "Availability: CONFIG_SPICE" opens the description; a generated sentence may come first
# on the same line ("This command is unstable/experimental.Availability: …").
_AVAILABILITY = re.compile(r"(?P<before>(?:.*[.!?])?)\s*Availability:\s*(?P<condition>.+)")


@dataclass
class _Entity:
    name: str
    kind: str  # "command", "event", or a type kind ("object"…), which is skipped
    line: int
    tokens: list[Tok] = field(default_factory=list)
    since: str | None = None  # from the definition's own line (QEMU ≥ 8)
    depth: int = -1  # the definition line's indentation (QEMU ≥ 8); -1 for a heading


def _definition(tok: Tok) -> _Entity | None:
    """A QEMU ≥ 8 definition line (`Command  name  (Since: X)`), as an entity."""
    if tok.kind != "item" or tok.item != "term" or not tok.bold:
        return None
    match = _DEFINITION.fullmatch(tok.text)
    if match is None:
        return None
    kind = match.group("kind").lower()
    return _Entity(match.group("name"), kind, tok.line, since=match.group("since"), depth=tok.depth)


def _entities(tokens: Sequence[Tok], source: str, problems: list[str]) -> list[_Entity]:
    """Cut the token list at entity headings; known section headings stay inside."""
    found: list[_Entity] = []
    current: _Entity | None = None
    after_unknown: str | None = None
    for index, tok in enumerate(tokens):
        if current is not None and tok.depth < current.depth:
            current = None  # a QEMU ≥ 8 definition's body ends where its indent does
        definition = _definition(tok)
        if definition is not None:
            current, after_unknown = definition, None
            found.append(current)
            continue
        if tok.kind == "h2":
            match = _ENTITY.fullmatch(tok.text)
            kind = match.group("kind").lower() if match else ""
            if match and (kind in _ENTRY_KINDS or kind in _TYPE_KINDS):
                current = _Entity(match.group("name"), kind, tok.line)
                found.append(current)
                after_unknown = None
                continue
            if _section_kind(tok.text) is not None:
                if current is not None:
                    current.tokens.append(tok)
                elif after_unknown is not None:
                    problems.append(
                        f"{source}:{tok.line}: section {tok.text!r} outside any entry"
                        f" (after heading {after_unknown!r})"
                    )
                continue
            # An unknown .SS is a doc-section heading (QAPI `= Title`), which ends the
            # entry, unless a section heading follows it: then it is the entry's own.
            if current is not None and _next_heading_is_section(tokens, index):
                current.tokens.append(tok)
                continue
            current, after_unknown = None, tok.text
        elif tok.kind == "h1":
            current, after_unknown = None, tok.text
        elif current is not None:
            current.tokens.append(tok)
    return found


def _next_heading_is_section(tokens: Sequence[Tok], index: int) -> bool:
    for tok in tokens[index + 1 :]:
        if tok.kind == "h1":
            return False
        if tok.kind == "h2":
            return _section_kind(tok.text) is not None
    return False


@dataclass
class _Section:
    kind: str  # a _SECTIONS value, "body" for the description, "other" for unknown .SS
    title: str  # the title remainder ("Example: Foo" → "Foo"), or the unknown heading
    line: int
    tokens: list[Tok] = field(default_factory=list)


def _sections(entity: _Entity) -> list[_Section]:
    sections = [_Section("body", "", entity.line)]
    tokens = entity.tokens
    for index, tok in enumerate(tokens):
        header = _header(tok, tokens, index)
        if header is not None:
            sections.append(_Section(header[0], header[1], tok.line))
            if header[0] == "if" and header[1]:
                # "Availability: CONFIG_X" is one line; the description goes on after it.
                sections.append(_Section("body", "", tok.line))
                available = _AVAILABILITY.fullmatch(tok.text)
                if available is not None and available.group("before"):
                    before = replace(tok, text=available.group("before"))
                    sections[-1].tokens.extend([before, replace(tok, kind="para")])
        elif tok.kind == "h2":
            sections.append(_Section("other", tok.text, tok.line))
        else:
            sections[-1].tokens.append(tok)
    return sections


def _header(tok: Tok, tokens: Sequence[Tok], index: int) -> tuple[str, str] | None:
    """Is this token a section heading? Which forms count depends on the generator:
    `.SS Title` (QEMU ≤ 9.0), a bold line (`\\fBNote:\\fP`, docutils admonitions and
    Sphinx rubrics), a field name or admonition title (`.TP`/`.B Returns`, `.IP
    "Example:"`), or a lone "Example:" / "Example: title" paragraph just before a
    literal block (`Example::` in the doc comment)."""
    if tok.kind == "h2":
        return _section_kind(tok.text)
    if tok.kind == "item" and tok.item in ("term", "tag") and (tok.bold or tok.item == "tag"):
        return _section_kind(tok.text)
    if tok.kind != "text":
        return None
    if (available := _AVAILABILITY.fullmatch(tok.text)) is not None:
        return "if", available.group("condition")
    alone = _alone_in_paragraph(tokens, index)
    if tok.bold and alone:
        return _section_kind(tok.text)
    if alone and _next_is_literal(tokens, index):
        kind = _section_kind(tok.text)
        return kind if kind is not None and kind[0] == "example" else None
    return None


def _alone_in_paragraph(tokens: Sequence[Tok], index: int) -> bool:
    """No text joins this line into a paragraph. Text right after it but indented deeper
    is a body (docutils puts an admonition's first paragraph there without a break)."""
    depth = tokens[index].depth
    before = tokens[index - 1] if index > 0 else None
    after = tokens[index + 1] if index + 1 < len(tokens) else None
    return not any(
        tok is not None and tok.kind == "text" and tok.depth == depth for tok in (before, after)
    )


def _next_is_literal(tokens: Sequence[Tok], index: int) -> bool:
    for tok in tokens[index + 1 :]:
        if tok.kind != "para":
            return tok.kind == "lit_start"
    return False


# --- section contents ------------------------------------------------------------------

_ARG_TERM = re.compile(
    r"(?P<name>[A-Za-z_][\w.+-]*)\s*(?::\s*(?P<type>[^()]*?))?\s*(?P<rest>\(.*)?"
)
# Sphinx typed fields (`:arg string device: …`) render as "device (string) -- text".
_TYPED_FIELD = re.compile(
    r"(?P<name>[A-Za-z_][\w.+-]*)\s*\((?P<type>[^()]*)\)\s*(?:--|\u2013|\u2014)\s*(?P<desc>.*)",
    re.S,
)
_MARKER = re.compile(r"\(([^()]*)\)")
_SINCE = re.compile(r"\bsince:?\s*v?(?P<version>\d+\.\d+(?:\.\d+)?)", re.I)
_MEMBERS_OF = re.compile(r"The members of\s+(?P<rest>.+?)\.?")


def _arguments(
    blocks: Sequence[Block], where: str, problems: list[str], notes: list[str]
) -> list[DocArgument]:
    arguments: list[DocArgument] = []
    for block in blocks:
        if block.kind != "item":
            continue
        description = block_text(block.children)
        if block.item == "bullet":
            match = _TYPED_FIELD.fullmatch(squash(description))
            members_of = _MEMBERS_OF.fullmatch(squash(description))
            if match is None and members_of is not None:
                notes.append(f"Arguments: the members of {members_of.group('rest')}")
                continue
            if match is None:
                problems.append(f"{where}:{block.line}: argument bullet not understood")
                continue
            arguments.append(_typed_field(match))
            continue
        members_of = _MEMBERS_OF.fullmatch(block.tag)
        if members_of is not None:
            # A boxed or based argument type: its members are documented with the type.
            notes.append(f"Arguments: the members of {members_of.group('rest')}")
            continue
        argument = _argument_from_term(block.tag, description)
        if argument is None:
            problems.append(f"{where}:{block.line}: argument term {block.tag!r} not understood")
            continue
        arguments.append(argument)
    return arguments


def _argument_from_term(term: str, description: str) -> DocArgument | None:
    match = _ARG_TERM.fullmatch(term)
    if match is None:
        return None
    optional = False
    since: str | None = None
    for marker in _MARKER.findall(match.group("rest") or ""):
        if marker.strip().lower() == "optional":
            optional = True
        elif (found := _SINCE.search(marker)) is not None:
            since = found.group("version")
    if since is None:
        found = _SINCE.search(" ".join(_MARKER.findall(description)))
        since = found.group("version") if found else None
    type_ = (match.group("type") or "").strip() or None
    return DocArgument(match.group("name"), description, type_, optional, since)


def _typed_field(match: re.Match[str]) -> DocArgument:
    parts = [part.strip() for part in match.group("type").split(",")]
    optional = "optional" in parts
    kept = [part for part in parts if part and part != "optional" and not _SINCE.search(part)]
    found = _SINCE.search(match.group("type")) or _SINCE.search(
        " ".join(_MARKER.findall(match.group("desc")))
    )
    return DocArgument(
        match.group("name"),
        match.group("desc").strip(),
        ", ".join(kept) or None,
        optional,
        found.group("version") if found else None,
    )


# QEMU ≥ 8 lists features as bullets: "deprecated -- Member device is deprecated."
_FEATURE_BULLET = re.compile(r"(?P<name>[\w.+-]+)\s+(?:--|\u2013|\u2014)\s*(?P<desc>.*)", re.S)


def _features(blocks: Sequence[Block]) -> list[tuple[str, str]]:
    features: list[tuple[str, str]] = []
    for block in blocks:
        if block.kind != "item":
            continue
        if block.item != "bullet":
            if block.tag:
                features.append((block.tag, block_text(block.children)))
            continue
        match = _FEATURE_BULLET.fullmatch(squash(block_text(block.children)))
        if match is not None:
            features.append((match.group("name"), match.group("desc")))
    return features


# Error conditions in the 7.2 era are phrases under Returns, e.g. "If @device is not a
# valid block device, DeviceNotFound" or "error if the server is not running".
_ERROR_START = re.compile(r"(?:if|errors?|any other error)\b", re.I)
_CLASS_ERROR = re.compile(r"[A-Z][a-z0-9]+(?:[A-Z][A-Za-z0-9]*)+\s+error\b")
_ERROR_CLASS_TAIL = re.compile(r",\s*[A-Z][a-z0-9]+(?:[A-Z][A-Za-z0-9]*)+\b[^,]*$")
_ERROR_PHRASE = re.compile(r"\b(?:returns? an error|an error is returned|error if)\b", re.I)
_ERROR_WORD = re.compile(r"\berror", re.I)
_SUCCESS = re.compile(r"\bon success\b|^if successful\b", re.I)
_ERROR_LINE = re.compile(r"(?:If|Error|Errors)\b")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")


def _is_error(clause: str) -> bool:
    if _SUCCESS.search(clause):
        return False
    if _ERROR_PHRASE.search(clause):
        return True
    if _CLASS_ERROR.match(clause):  # "DeviceNotFound error, if …"
        return True
    starts = _ERROR_START.match(clause) is not None
    return starts and (
        _ERROR_WORD.search(clause) is not None or bool(_ERROR_CLASS_TAIL.search(clause))
    )


def _clauses(block: Block) -> list[str]:
    """A paragraph's candidate clauses: source lines starting "If"/"Error" begin one
    (docs listed errors one per line without bullets), and so does each sentence."""
    chunks: list[list[str]] = []
    for _, text in block.lines:
        if not chunks or _ERROR_LINE.match(text):
            chunks.append([])
        chunks[-1].append(text)
    sentences: list[str] = []
    for chunk in chunks:
        sentences.extend(_SENTENCE_END.split(squash(" ".join(chunk))))
    return [s for s in sentences if s]


def _returns(blocks: Sequence[Block], errors: list[str]) -> str:
    kept: list[str] = []
    for block in blocks:
        if (
            block.kind == "item"
            and block.item == "term"
            and block.children
            and all(child.kind == "item" for child in block.children)
        ):
            # ".TP error if" + bullets: each bullet completes the term.
            errors.extend(
                squash(f"{block.tag} {block_text(child.children)}") for child in block.children
            )
            continue
        if block.kind == "item":
            nested = [child for child in block.children if child.kind == "item"]
            text = block_text([child for child in block.children if child.kind != "item"])
            clauses = [text] if text else []
            kept_nested = _returns(nested, errors) if nested else ""
        elif block.kind == "para":
            clauses, kept_nested = _clauses(block), ""
        else:
            kept.append(block_text([block]))
            continue
        normal = [clause for clause in clauses if not _is_error(clause)]
        errors.extend(clause for clause in clauses if _is_error(clause))
        kept.extend(part for part in (" ".join(normal), kept_nested) if part)
    return "\n\n".join(kept)


def _error_list(blocks: Sequence[Block]) -> list[str]:
    """A dedicated Errors section: every item and sentence-group is one condition."""
    errors: list[str] = []
    for block in blocks:
        if block.kind == "item" and any(child.kind == "item" for child in block.children):
            errors.extend(_error_list(block.children))
        elif block.kind == "item":
            errors.append(squash(block_text(block.children)))
        else:
            errors.append(squash(block_text([block])))
    return [error for error in errors if error]


def _has_messages(block: Block) -> bool:
    return any(_MESSAGE_LINE.match(text) for _, text in block.lines)


def _example(
    title: str, blocks: Sequence[Block], where: str, line: int, problems: list[str]
) -> DocExample | None:
    """One example from the blocks of one Example section (or one literal block).

    Prose before the first literal block titles the example when its heading didn't;
    prose between literal blocks is the `:annotated:` form of newer docs.
    """
    lines = list(walk_lines(blocks))
    literal_at = [k for k, (literal, _, _) in enumerate(lines) if literal]
    if not literal_at:
        if not any(_MESSAGE_LINE.match(text) for _, _, text in lines):
            problems.append(f"{where}:{line}: Example section without a literal block")
            return None
        problems.append(f"{where}:{line}: example messages not in a literal block")
    elif not title:
        leading = [text for _, _, text in lines[: literal_at[0]] if text.strip()]
        title = squash(" ".join(leading)).rstrip(":")
        lines = lines[literal_at[0] :]
        literal_at = [k - literal_at[0] for k in literal_at]
    between = lines[literal_at[0] : literal_at[-1]] if literal_at else []
    annotated = any(not literal and text.strip() for literal, _, text in between)
    return parse_example(
        [(number, text) for _, number, text in lines], title=title, annotated=annotated
    )


# --- one entry -------------------------------------------------------------------------


def _build_entry(entity: _Entity, source: str, problems: list[str]) -> DocEntry:
    where = source
    summary: list[str] = []
    arguments: list[DocArgument] = []
    returns: list[str] = []
    errors: list[str] = []
    since: str | None = None
    features: list[tuple[str, str]] = []
    notes: list[str] = []
    examples: list[DocExample] = []
    condition: str | None = None
    for section in _sections(entity):
        blocks = build_blocks(section.tokens)
        if section.kind == "example":
            example = _example(section.title, blocks, where, section.line, problems)
            if example is not None:
                examples.append(example)
            continue
        # Message-bearing literal blocks are examples wherever they stand (newer docs
        # write "Example::" paragraphs rather than sections).
        loose = [b for b in blocks if b.kind == "literal" and _has_messages(b)]
        for block in loose:
            example = _example("", [block], where, block.line, problems)
            if example is not None:
                examples.append(example)
        blocks = [b for b in blocks if not any(b is other for other in loose)]
        text = block_text(blocks)
        if section.kind == "body":
            if text:
                summary.append(text)
        elif section.kind == "arguments":
            arguments.extend(_arguments(blocks, where, problems, notes))
        elif section.kind == "returns":
            returned = _returns(blocks, errors)
            if returned:
                returns.append(returned)
        elif section.kind == "errors":
            errors.extend(_error_list(blocks))
        elif section.kind == "since":
            if since is not None:
                problems.append(f"{where}:{section.line}: a second Since section")
            since = since or squash(text) or None
        elif section.kind == "features":
            features.extend(_features(blocks))
        elif section.kind == "notes":
            if text:
                notes.append(text)
        elif section.kind == "if":
            condition = squash(section.title or text) or None
        elif section.kind == "other":
            problems.append(f"{where}:{section.line}: unknown section {section.title!r}")
            if text:
                notes.append(f"{section.title}: {text}")
        # "todo" and "values" say nothing about the protocol.
    return DocEntry(
        name=entity.name,
        kind=entity.kind,
        source=f"{source}:{entity.line}",
        summary="\n\n".join(summary),
        arguments=tuple(arguments),
        returns="\n\n".join(returns),
        errors=tuple(errors),
        since=since or entity.since,
        features=tuple(features),
        notes=tuple(notes),
        examples=tuple(examples),
        condition=condition,
    )


def parse_man_text(text: str, *, source: str = "<string>") -> DocSet:
    """Parse man-page source already in memory; `source` names it in problems and errors."""
    roff = Roff(source)
    tokens = roff.run(text)
    problems = roff.problems
    entities = _entities(tokens, source, problems)
    if not entities:
        raise DocError(
            f"{source}: no '.SS name (Command|Event|…)' or '.B Command  name' entries:"
            " not a QMP reference"
        )
    docs = DocSet(source=source, format="man", problems=problems, version=_title_version(text))
    for entity in entities:
        if entity.kind not in _ENTRY_KINDS:
            continue
        if entity.name in docs.entries:
            problems.append(f"{source}:{entity.line}: {entity.name} is documented again; kept one")
            continue
        docs.entries[entity.name] = _build_entry(entity, source, problems)
    return docs
