"""Read the QMP reference man page (`qemu-qmp-ref.7`) into the doc model.

Distributions install the QMP reference as a man page that Sphinx generates from the
QAPI doc comments of the QEMU they ship, so it is the doc of exactly the installed
QEMU, even when the QAPI sources of that version are nowhere on the machine.

The parser follows the layers the page was made by, so it holds for other QEMU and
Sphinx/docutils versions rather than for one file:

1. **roff** (`_Roff`): groff requests, escapes and fill modes, as docutils' man
   writer emits them (`.SH`/`.SS`, `.TP`+`.B`, `.IP`, `.INDENT`/`.RS`, `.nf`/`.EX`
   literal blocks, `.de` macro definitions, tables), becomes a flat list of tokens
   that know their source line and indentation depth.
2. **blocks** (`_blocks`): tokens become paragraphs, literal blocks and list items
   (definition-list terms, bullets) with their bodies.
3. **QAPI** (`_build_entry`): `.SS name (Command)` / `(Event)` headings start
   entries (the type headings `(Object)`, `(Enum)`, … are recognised and skipped);
   section headings (`.SS Arguments`, or a bold line / field name such as
   `\\fBNote:\\fP`, as newer Sphinx and docutils write them) split an entry into the
   parts of `DocEntry`.

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
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

from conformance.docs.examples import parse_example
from conformance.docs.model import (
    DocArgument,
    DocEntry,
    DocError,
    DocExample,
    DocSet,
)

__all__ = ["decode_escapes", "find_man_page", "parse_man", "parse_man_text"]

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
# Layer 1a: groff escapes
# ---------------------------------------------------------------------------------------

# Special characters (groff_char(7)) that docutils, Sphinx or hand-written pages use.
# Quotes decode to what they print, so smart quotes stay distinguishable from ASCII ones.
_SPECIAL = {
    "dq": '"', "aq": "'", "lq": "\u201c", "rq": "\u201d", "oq": "\u2018", "cq": "\u2019",
    "bq": "\u201e", "Bq": "\u201a", "Fo": "\u00ab", "Fc": "\u00bb", "fo": "\u2039",
    "fc": "\u203a", "em": "\u2014", "en": "\u2013", "hy": "-", "mi": "-", "bu": "\u2022",
    "ga": "`", "aa": "\u00b4", "ha": "^", "ti": "~", "rs": "\\", "sl": "/", "ba": "|",
    "br": "|", "at": "@", "sh": "#", "Do": "$", "pl": "+", "eq": "=", "lt": "<", "gt": ">",
    "la": "\u27e8", "ra": "\u27e9", "lB": "[", "rB": "]", "lC": "{", "rC": "}",
    "ul": "_", "ru": "_", "dg": "\u2020", "dd": "\u2021", "co": "\u00a9", "rg": "\u00ae",
    "tm": "\u2122", "de": "\u00b0", "mu": "\u00d7", "di": "\u00f7", "+-": "\u00b1",
    "->": "\u2192", "<-": "\u2190", "<=": "\u2264", ">=": "\u2265", "!=": "\u2260",
    "ps": "\u00b6", "sc": "\u00a7", "ct": "\u00a2", "Po": "\u00a3", "Eu": "\u20ac",
    "Ye": "\u00a5", "fm": "\u2032", "sd": "\u2033", "ss": "\u00df", "OK": "\u2713",
    "r!": "\u00a1", "r?": "\u00bf", "an": "\u23af", "sq": "\u25a1", "ci": "\u25cb",
}  # fmt: skip

# Predefined strings (`\*x`, `\*(xx`, `\*[name]`) of the man macros and of older
# docutils pages, which define `Aq` for the apostrophe.
_STRINGS = {"R": "\u00ae", "Tm": "\u2122", "lq": "\u201c", "rq": "\u201d", "Aq": "'"}

# Escapes that print nothing: zero-width and fixed spaces are kept as what they look like.
_SIMPLE = {
    "e": "\\", "E": "\\", "\\": "\\", "-": "-", ".": ".", "'": "\u00b4", "`": "`",
    " ": " ", "~": " ", "0": " ", "_": "_", "t": "\t", "|": "", "^": "", "&": "",
    "%": "", ":": "", ")": "", "/": "", ",": "", "c": "", "p": "", "r": "", "u": "",
    "d": "", "a": "", "{": "", "}": "", "z": "",
}  # fmt: skip

# Escapes whose argument is delimited by any character (`\w'text'`); none prints text we
# want (widths, motions, device controls, overstrikes), so the argument is dropped.
_DELIMITED = set("AbBDhHlLoRSvwxXZ")
# Escapes that take a name as `x`, `(xx` or `[name]`: fonts, registers, colours, marks.
_NAMED = set("fFgkmMnOVY$")


@dataclass(slots=True)
class _Scanner:
    text: str
    pos: int = 0

    def take(self) -> str:
        char = self.text[self.pos : self.pos + 1]
        self.pos += len(char)
        return char

    def name(self) -> str:
        """A groff name after an escape: `x`, `(xx` or `[long name]`."""
        first = self.take()
        if first == "(":
            return self.take() + self.take()
        if first == "[":
            end = self.text.find("]", self.pos)
            end = len(self.text) if end < 0 else end
            found = self.text[self.pos : end]
            self.pos = end + 1
            return found
        return first

    def delimited(self) -> str:
        delimiter = self.take()
        end = self.text.find(delimiter, self.pos) if delimiter else -1
        end = len(self.text) if end < 0 else end
        found = self.text[self.pos : end]
        self.pos = end + 1
        return found


def decode_escapes(text: str) -> tuple[str, list[str]]:
    """Plain text for one roff line: escapes decoded, font changes and comments dropped.

    Returns the text and what was odd about it (unknown escapes, registers…).
    """
    out: list[str] = []
    problems: list[str] = []
    scan = _Scanner(text)
    while scan.pos < len(text):
        backslash = text.find("\\", scan.pos)
        if backslash < 0:
            out.append(text[scan.pos :])
            break
        out.append(text[scan.pos : backslash])
        scan.pos = backslash + 1
        escape = scan.take()
        if escape in ('"', "#"):  # comment to the end of the line
            break
        if escape == "":
            problems.append("a lone backslash at the end of the line")
            break
        out.append(_one_escape(escape, scan, problems))
    return "".join(out), problems


def _one_escape(escape: str, scan: _Scanner, problems: list[str]) -> str:
    if escape in _SIMPLE:
        return _SIMPLE[escape]
    if escape == "(":
        return _special(scan.take() + scan.take(), problems)
    if escape == "[":
        scan.pos -= 1
        return _special(scan.name(), problems)
    if escape == "C":
        return _special(scan.delimited(), problems)
    if escape == "N":
        number = scan.delimited()
        if number.isdigit() and int(number) < 0x110000:
            return chr(int(number))
        problems.append(rf"bad \N'{number}'")
        return ""
    if escape == "*":
        name = scan.name().split(" ")[0]
        if name in _STRINGS:
            return _STRINGS[name]
        problems.append(rf"unknown string \*[{name}]")
        return ""
    if escape == "s":  # point size: \s0 \s+1 \s-1 \s(12 \s[12] \s'12'
        if scan.text[scan.pos : scan.pos + 1] in ("+", "-"):
            scan.pos += 1
        following = scan.text[scan.pos : scan.pos + 1]
        if following in ("(", "["):
            scan.name()
        elif following == "'":
            scan.delimited()
        else:
            while scan.text[scan.pos : scan.pos + 1].isdigit():
                scan.pos += 1
        return ""
    if escape in _DELIMITED:
        scan.delimited()
        return ""
    if escape in _NAMED:
        name = scan.name()
        if escape == "n":
            problems.append(rf"number register \n[{name}] not interpolated")
        elif escape == "$":
            problems.append(rf"macro argument \$[{name}] outside a macro")
        return ""
    if escape in ("!", "?"):  # transparent output: meaningless in text
        scan.pos = len(scan.text)
        return ""
    # groff prints an unknown escape's character and warns; do the same.
    problems.append(f"unknown escape \\{escape}")
    return escape


def _special(name: str, problems: list[str]) -> str:
    if name in _SPECIAL:
        return _SPECIAL[name]
    # Unicode forms: \[u00E9], \[u0041_0301] (composites), \[char65].
    if re.fullmatch(r"u[0-9A-Fa-f]{4,6}(?:_[0-9A-Fa-f]{4,6})*", name):
        points = [int(part, 16) for part in name[1:].split("_")]
        if all(point < 0x110000 for point in points):
            return "".join(chr(point) for point in points)
    if re.fullmatch(r"char\d{1,7}", name) and int(name[4:]) < 0x110000:
        return chr(int(name[4:]))
    problems.append(f"unknown special character \\[{name}]")
    return ""


# ---------------------------------------------------------------------------------------
# Layer 1b: roff requests → tokens
# ---------------------------------------------------------------------------------------

TokKind = Literal["h1", "h2", "para", "text", "lit_start", "literal", "lit_end", "item"]
ItemKind = Literal["term", "bullet", "enum", "tag"]


@dataclass(frozen=True, slots=True)
class _Tok:
    kind: TokKind
    line: int  # 1-based source line
    depth: int  # .INDENT/.RS nesting
    text: str = ""
    item: ItemKind = "term"  # for "item"
    bold: bool = False  # the whole line (or tag) is bold: a heading candidate


# Requests that only change formatting we don't model; ignoring them loses no text.
_IGNORED = frozenset(
    {
        "TH", "ft", "ad", "na", "hy", "nh", "ps", "vs", "ll", "nr", "ds", "as", "ne", "in",
        "ti", "ce", "PD", "DT", "ns", "rs", "lf", "cp", "hw", "ss", "ta", "fam", "ie", "el",
        "if", "tm", "mso", "pc", "UC", "AT", "rm", "rn", "als", "ch", "wh", "it", "bp", "pl",
        "po", "ev", "fl", "cs", "cu", "ul", "kern", "lg", "UR", "UE", "MT", "ME",
    }
)  # fmt: skip
_PARA = frozenset({"sp", "PP", "LP", "P", "HP", "br"})
_FONT = frozenset({"B", "I", "SB", "SM", "BI", "BR", "IB", "IR", "RB", "RI"})
_BOLD_FONTS = frozenset({"B", "SB"})
_ALTERNATING = frozenset({"BI", "BR", "IB", "IR", "RB", "RI"})
_BOLD_LINE = re.compile(r"\\f[B3]((?:(?!\\f).)*)\\f[PR1]")
_BULLETS = frozenset({"\u2022", "*", "-", "\u00b7", "\u2013", "\u2014", "o"})
_ENUM_TAG = re.compile(r"(?:\d+|[A-Za-z]|[ivxlcIVXLC]+)[.)]")


def _is_bold(raw: str) -> bool:
    """The whole line is one bold run, as docutils writes rubrics and admonition titles."""
    return _BOLD_LINE.fullmatch(raw.strip()) is not None


def _request_args(rest: str) -> list[str]:
    """Split a request's arguments the way groff does: spaces, "quoted", "" inside quotes."""
    args: list[str] = []
    i = 0
    while i < len(rest):
        if rest[i] in " \t":
            i += 1
            continue
        current: list[str] = []
        quoted = rest[i] == '"'
        i += quoted
        while i < len(rest):
            char = rest[i]
            if char == "\\" and i + 1 < len(rest):
                current.append(rest[i : i + 2])
                i += 2
                continue
            if quoted and char == '"':
                if rest[i + 1 : i + 2] == '"':
                    current.append('"')
                    i += 2
                    continue
                i += 1
                break
            if not quoted and char in " \t":
                break
            current.append(char)
            i += 1
        args.append("".join(current))
    return args


# docutils (QEMU ≥ 8 pages) sometimes writes an indent request straight after text with no
# newline ("\fBCONFIG_TPM\fP.INDENT 7.0", "type (TpmType) \-\- .INDENT 2.0"): groff would
# print it, but the .UNINDENT that closes it is a real request, so it is read as one too.
_GLUED_REQUEST = re.compile(r"(?<=.)(?=\.(?:INDENT(?:[ \t]+[\d.]+)?|UNINDENT)[ \t]*$)")


def _unglue(number: int, line: str) -> list[tuple[int, str]]:
    if line[:1] in ".'":
        return [(number, line)]
    parts = _GLUED_REQUEST.split(line, maxsplit=1)
    return [(number, part) for part in parts]


def _logical_lines(text: str) -> list[tuple[int, str]]:
    """Physical lines, with escaped newlines (a trailing odd backslash) joined up."""
    lines: list[tuple[int, str]] = []
    pending: tuple[int, str] | None = None
    for physical_number, physical in enumerate(text.split("\n"), start=1):
        number, line = physical_number, physical.removesuffix("\r")
        if pending is not None:
            number, line = pending[0], pending[1] + line
            pending = None
        trailing = len(line) - len(line.rstrip("\\"))
        if trailing % 2 == 1:
            pending = (number, line[:-1])
            continue
        lines.extend(_unglue(number, line))
    if pending is not None:
        lines.append(pending)
    return lines


def _split_request(line: str) -> tuple[str, str] | None:
    """(name, rest) for a control line (`.` or `'`), None for a text line."""
    if not line or line[0] not in ".'":
        return None
    body = line[1:].lstrip(" \t")
    if body.startswith(('\\"', "\\#")) or not body:
        return ("", "")  # a comment or an empty request: both do nothing
    # A name ends at a blank or an escape (`.B\fBx` is `.B` with argument `\fBx`).
    match = re.match(r"([^\s\\]*)[ \t]*(.*)", body)
    return (match.group(1), match.group(2)) if match else ("", "")


@dataclass
class _Roff:
    """Turns man-page source into tokens; collects problems on the way."""

    source: str
    tokens: list[_Tok] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    depth: int = 0
    literal: int = 0  # line where the current literal block started, 0 when filling
    bold_next: bool = False  # a `.B` with no arguments makes the next text line bold

    def problem(self, line: int, what: str) -> None:
        self.problems.append(f"{self.source}:{line}: {what}")

    def emit(
        self,
        kind: TokKind,
        line: int,
        text: str = "",
        *,
        item: ItemKind = "term",
        bold: bool = False,
    ) -> None:
        self.tokens.append(_Tok(kind, line, self.depth, text, item, bold))

    def decode(self, line: int, raw: str) -> str:
        text, problems = decode_escapes(raw)
        for what in problems:
            self.problem(line, what)
        return text

    def run(self, text: str) -> list[_Tok]:
        lines = _logical_lines(text)
        i = 0
        while i < len(lines):
            i = self.step(lines, i)
        if self.literal:
            self.problem(self.literal, "literal block not closed before the end of the file")
            self.emit("lit_end", lines[-1][0] if lines else 0)
        return self.tokens

    def step(self, lines: Sequence[tuple[int, str]], i: int) -> int:
        """Handle lines[i]; return the index of the next line to handle."""
        number, line = lines[i]
        request = _split_request(line)
        if request is None:
            self.text_line(number, line)
            return i + 1
        name, rest = request
        if name in ("de", "de1", "am", "am1", "ig"):
            return self.skip_definition(lines, i, name, rest)
        if name == "TS":
            return self.table(lines, i)
        if name in ("TP", "TQ"):
            return self.tagged_paragraph(lines, i)
        if name in ("SH", "SS"):
            # A heading with no arguments takes its text from the next line.
            if rest.strip() or i + 1 >= len(lines):
                self.heading(number, name, rest)
                return i + 1
            self.heading(number, name, lines[i + 1][1])
            return i + 2
        self.request(number, name, rest)
        return i + 1

    def text_line(self, number: int, line: str) -> None:
        if self.literal:
            self.emit("literal", number, self.decode(number, line))
            return
        if not line.strip():
            self.emit("para", number)  # a blank line is `.sp` in groff
            return
        bold = self.bold_next or _is_bold(line)
        self.bold_next = False
        self.emit("text", number, self.decode(number, line).strip(), bold=bold)

    def request(self, number: int, name: str, rest: str) -> None:
        if name == "":
            return
        if name in ("INDENT", "RS"):
            self.depth += 1
        elif name in ("UNINDENT", "RE"):
            if self.depth == 0:
                self.problem(number, f".{name} without a matching indent")
            self.depth = max(0, self.depth - 1)
        elif name in ("nf", "EX"):
            if not self.literal:
                self.literal = number
                self.emit("lit_start", number)
        elif name in ("fi", "EE"):
            if self.literal:
                self.literal = 0
                self.emit("lit_end", number)
        elif name in _PARA:
            if not self.literal:
                self.emit("para", number)
            elif name == "sp":  # vertical space in no-fill mode is an empty line
                self.emit("literal", number)
        elif name == "IP":
            self.list_item(number, _request_args(rest))
        elif name in _FONT:
            self.font_line(number, name, rest)
        elif name in ("ec", "eo", "cc", "c2", "so", "do"):
            self.problem(number, f".{name} is not followed (escape/control characters, includes)")
        elif name not in _IGNORED:
            self.problem(number, f"unknown request .{name}")

    def heading(self, number: int, name: str, rest: str) -> None:
        raw = " ".join(_request_args(rest))
        if self.literal:
            self.problem(self.literal, "literal block not closed before a heading")
            self.literal = 0
            self.emit("lit_end", number)
        self.depth = 0  # headings reset the left margin
        self.emit("h1" if name == "SH" else "h2", number, self.decode(number, raw).strip())

    def font_text(self, number: int, name: str, rest: str) -> str:
        """The text of a font macro line: `.B` joins its arguments with spaces, the
        alternating ones (`.BR`…) without."""
        joiner = "" if name in _ALTERNATING else " "
        return self.decode(number, joiner.join(_request_args(rest))).strip()

    def font_line(self, number: int, name: str, rest: str) -> None:
        if not _request_args(rest):
            self.bold_next = name in _BOLD_FONTS
            return
        text = self.font_text(number, name, rest)
        if self.literal:
            self.emit("literal", number, text)
        else:
            self.emit("text", number, text, bold=name in _BOLD_FONTS)

    def list_item(self, number: int, args: list[str]) -> None:
        tag = self.decode(number, args[0]).strip() if args else ""
        kind: ItemKind = "tag"
        if tag in _BULLETS:
            kind = "bullet"
        elif _ENUM_TAG.fullmatch(tag):
            kind = "enum"
        elif not tag:
            self.emit("para", number)  # `.IP` alone is an indented paragraph
            return
        self.emit("item", number, tag, item=kind)

    def tagged_paragraph(self, lines: Sequence[tuple[int, str]], i: int) -> int:
        """`.TP`: the next input line is the tag (docutils writes `.B term` there)."""
        number = lines[i][0]
        if i + 1 >= len(lines):
            self.problem(number, ".TP at the end of the file has no tag")
            return i + 1
        tag_number, tag_line = lines[i + 1]
        request = _split_request(tag_line)
        if request is None:
            text, bold = self.decode(tag_number, tag_line).strip(), _is_bold(tag_line)
        elif request[0] in _FONT:
            text = self.font_text(tag_number, *request)
            bold = request[0] in _BOLD_FONTS
        else:
            self.problem(number, f".TP followed by .{request[0]} instead of a tag line")
            self.emit("item", number, "", item="term")
            return i + 1
        self.emit("item", number, text, item="term", bold=bold)
        return i + 2

    def skip_definition(
        self, lines: Sequence[tuple[int, str]], i: int, name: str, rest: str
    ) -> int:
        """`.de NAME [END]`, `.am …`, `.ig [END]`: skip to the `.END` line (default `..`)."""
        args = _request_args(rest)
        end_at = 0 if name == "ig" else 1
        terminator = "." + (args[end_at] if len(args) > end_at else ".")
        for j in range(i + 1, len(lines)):
            if lines[j][1].strip() == terminator:
                return j + 1
        self.problem(lines[i][0], f".{name} block not closed before the end of the file")
        return len(lines)

    def table(self, lines: Sequence[tuple[int, str]], i: int) -> int:
        """tbl(1) data as text; the format lines (up to the one ending in '.') are dropped."""
        in_format = True
        self.emit("para", lines[i][0])
        for j in range(i + 1, len(lines)):
            number, line = lines[j]
            if line.strip() == ".TE":
                self.emit("para", number)
                return j + 1
            if in_format:
                in_format = not line.rstrip().endswith(".")
                continue
            if line.strip() in ("_", "=", "T{", "T}") or _split_request(line) is not None:
                continue
            cells = line.replace("T{", "").replace("T}", "").split("\t")
            text = " | ".join(
                cell for cell in (self.decode(number, c).strip() for c in cells) if cell
            )
            if text:
                self.emit("text", number, text)
        self.problem(lines[i][0], ".TS table not closed before the end of the file")
        return len(lines)


# ---------------------------------------------------------------------------------------
# Layer 2: tokens → blocks (paragraphs, literal blocks, list items with bodies)
# ---------------------------------------------------------------------------------------


@dataclass
class _Block:
    kind: Literal["para", "literal", "item"]
    line: int
    lines: list[tuple[int, str]] = field(default_factory=list)
    tag: str = ""  # item
    item: ItemKind = "term"
    children: list[_Block] = field(default_factory=list)
    closed: bool = False  # a paragraph ended by a break


def _blocks(tokens: Sequence[_Tok]) -> list[_Block]:
    """Nest tokens by depth: an item owns what follows it at its depth or deeper."""
    root: list[_Block] = []
    stack: list[tuple[int, _Block]] = []
    literal: _Block | None = None
    for tok in tokens:
        if literal is not None:
            if tok.kind == "literal":
                literal.lines.append((tok.line, tok.text))
                continue
            literal = None
            if tok.kind == "lit_end":
                continue
        if tok.kind == "item":
            while stack and stack[-1][0] >= tok.depth:
                stack.pop()
        else:
            while stack and stack[-1][0] > tok.depth:
                stack.pop()
        target = stack[-1][1].children if stack else root
        last = target[-1] if target else None
        if tok.kind == "item":
            block = _Block("item", tok.line, tag=tok.text, item=tok.item)
            target.append(block)
            stack.append((tok.depth, block))
        elif tok.kind == "text":
            if last is not None and last.kind == "para" and not last.closed:
                last.lines.append((tok.line, tok.text))
            else:
                target.append(_Block("para", tok.line, [(tok.line, tok.text)]))
        elif tok.kind == "para":
            if last is not None and last.kind == "para":
                last.closed = True
        elif tok.kind == "lit_start":
            literal = _Block("literal", tok.line)
            target.append(literal)
        elif tok.kind == "literal":  # a literal line outside a block: keep it as one
            target.append(_Block("literal", tok.line, [(tok.line, tok.text)]))
    return root


def _squash(text: str) -> str:
    return " ".join(text.split())


def _text(blocks: Sequence[_Block]) -> str:
    """Readable plain text: paragraphs apart, list items marked, literal lines kept."""
    parts: list[str] = []
    for block in blocks:
        if block.kind == "para":
            parts.append(_squash(" ".join(text for _, text in block.lines)))
        elif block.kind == "literal":
            parts.append("\n".join(text for _, text in block.lines).strip("\n"))
        else:
            body = _text(block.children)
            mark = "-" if block.item == "bullet" else block.tag
            parts.append(f"{mark} {body}".strip() if block.item != "term" else f"{mark}\n{body}")
    return "\n\n".join(part for part in parts if part.strip()).strip()


def _walk_lines(blocks: Sequence[_Block]) -> Iterator[tuple[bool, int, str]]:
    """(is_literal, line, text) for every line, in source order."""
    for block in blocks:
        if block.kind == "item":
            if block.tag:
                yield False, block.line, block.tag
            yield from _walk_lines(block.children)
        else:
            for number, text in block.lines:
                yield block.kind == "literal", number, text


# ---------------------------------------------------------------------------------------
# Layer 3: QAPI structure — entities, sections, and the doc model
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
    tokens: list[_Tok] = field(default_factory=list)
    since: str | None = None  # from the definition's own line (QEMU ≥ 8)
    depth: int = -1  # the definition line's indentation (QEMU ≥ 8); -1 for a heading


def _definition(tok: _Tok) -> _Entity | None:
    """A QEMU ≥ 8 definition line (`Command  name  (Since: X)`), as an entity."""
    if tok.kind != "item" or tok.item != "term" or not tok.bold:
        return None
    match = _DEFINITION.fullmatch(tok.text)
    if match is None:
        return None
    kind = match.group("kind").lower()
    return _Entity(match.group("name"), kind, tok.line, since=match.group("since"), depth=tok.depth)


def _entities(tokens: Sequence[_Tok], source: str, problems: list[str]) -> list[_Entity]:
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


def _next_heading_is_section(tokens: Sequence[_Tok], index: int) -> bool:
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
    tokens: list[_Tok] = field(default_factory=list)


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


def _header(tok: _Tok, tokens: Sequence[_Tok], index: int) -> tuple[str, str] | None:
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


def _alone_in_paragraph(tokens: Sequence[_Tok], index: int) -> bool:
    """No text joins this line into a paragraph. Text right after it but indented deeper
    is a body (docutils puts an admonition's first paragraph there without a break)."""
    depth = tokens[index].depth
    before = tokens[index - 1] if index > 0 else None
    after = tokens[index + 1] if index + 1 < len(tokens) else None
    return not any(
        tok is not None and tok.kind == "text" and tok.depth == depth for tok in (before, after)
    )


def _next_is_literal(tokens: Sequence[_Tok], index: int) -> bool:
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
    blocks: Sequence[_Block], where: str, problems: list[str], notes: list[str]
) -> list[DocArgument]:
    arguments: list[DocArgument] = []
    for block in blocks:
        if block.kind != "item":
            continue
        description = _text(block.children)
        if block.item == "bullet":
            match = _TYPED_FIELD.fullmatch(_squash(description))
            members_of = _MEMBERS_OF.fullmatch(_squash(description))
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


def _features(blocks: Sequence[_Block]) -> list[tuple[str, str]]:
    features: list[tuple[str, str]] = []
    for block in blocks:
        if block.kind != "item":
            continue
        if block.item != "bullet":
            if block.tag:
                features.append((block.tag, _text(block.children)))
            continue
        match = _FEATURE_BULLET.fullmatch(_squash(_text(block.children)))
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


def _clauses(block: _Block) -> list[str]:
    """A paragraph's candidate clauses: source lines starting "If"/"Error" begin one
    (docs listed errors one per line without bullets), and so does each sentence."""
    chunks: list[list[str]] = []
    for _, text in block.lines:
        if not chunks or _ERROR_LINE.match(text):
            chunks.append([])
        chunks[-1].append(text)
    sentences: list[str] = []
    for chunk in chunks:
        sentences.extend(_SENTENCE_END.split(_squash(" ".join(chunk))))
    return [s for s in sentences if s]


def _returns(blocks: Sequence[_Block], errors: list[str]) -> str:
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
                _squash(f"{block.tag} {_text(child.children)}") for child in block.children
            )
            continue
        if block.kind == "item":
            nested = [child for child in block.children if child.kind == "item"]
            text = _text([child for child in block.children if child.kind != "item"])
            clauses = [text] if text else []
            kept_nested = _returns(nested, errors) if nested else ""
        elif block.kind == "para":
            clauses, kept_nested = _clauses(block), ""
        else:
            kept.append(_text([block]))
            continue
        normal = [clause for clause in clauses if not _is_error(clause)]
        errors.extend(clause for clause in clauses if _is_error(clause))
        kept.extend(part for part in (" ".join(normal), kept_nested) if part)
    return "\n\n".join(kept)


def _error_list(blocks: Sequence[_Block]) -> list[str]:
    """A dedicated Errors section: every item and sentence-group is one condition."""
    errors: list[str] = []
    for block in blocks:
        if block.kind == "item" and any(child.kind == "item" for child in block.children):
            errors.extend(_error_list(block.children))
        elif block.kind == "item":
            errors.append(_squash(_text(block.children)))
        else:
            errors.append(_squash(_text([block])))
    return [error for error in errors if error]


def _has_messages(block: _Block) -> bool:
    return any(_MESSAGE_LINE.match(text) for _, text in block.lines)


def _example(
    title: str, blocks: Sequence[_Block], where: str, line: int, problems: list[str]
) -> DocExample | None:
    """One example from the blocks of one Example section (or one literal block).

    Prose before the first literal block titles the example when its heading didn't;
    prose between literal blocks is the `:annotated:` form of newer docs.
    """
    lines = list(_walk_lines(blocks))
    literal_at = [k for k, (literal, _, _) in enumerate(lines) if literal]
    if not literal_at:
        if not any(_MESSAGE_LINE.match(text) for _, _, text in lines):
            problems.append(f"{where}:{line}: Example section without a literal block")
            return None
        problems.append(f"{where}:{line}: example messages not in a literal block")
    elif not title:
        leading = [text for _, _, text in lines[: literal_at[0]] if text.strip()]
        title = _squash(" ".join(leading)).rstrip(":")
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
        blocks = _blocks(section.tokens)
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
        text = _text(blocks)
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
            since = since or _squash(text) or None
        elif section.kind == "features":
            features.extend(_features(blocks))
        elif section.kind == "notes":
            if text:
                notes.append(text)
        elif section.kind == "if":
            condition = _squash(section.title or text) or None
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
    roff = _Roff(source)
    tokens = roff.run(text)
    problems = roff.problems
    entities = _entities(tokens, source, problems)
    if not entities:
        raise DocError(f"{source}: no '.SS name (Command|Event|…)' entries: not a QMP reference")
    docs = DocSet(source=source, format="man", problems=problems)
    for entity in entities:
        if entity.kind not in _ENTRY_KINDS:
            continue
        if entity.name in docs.entries:
            problems.append(f"{source}:{entity.line}: {entity.name} is documented again; kept one")
            continue
        docs.entries[entity.name] = _build_entry(entity, source, problems)
    return docs
