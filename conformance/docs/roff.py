"""roff as docutils' man writer emits it: man-page source → tokens → blocks.

1. **tokens** (`Roff`): groff requests, escapes and fill modes (`.SH`/`.SS`, `.TP`+`.B`,
   `.IP`, `.INDENT`/`.RS`, `.nf`/`.EX` literal blocks, `.de` macro definitions, tables)
   become a flat list of tokens that know their source line and indentation depth.
2. **blocks** (`build_blocks`): tokens become paragraphs, literal blocks and list items
   (definition-list terms, bullets) with their bodies.

Nothing here knows about QAPI; `manpage.py` reads the QMP reference out of the blocks.
Odd input never raises: what had to be guessed is collected as a problem.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Literal

__all__ = [
    "Block",
    "ItemKind",
    "Roff",
    "Tok",
    "TokKind",
    "block_text",
    "build_blocks",
    "decode_escapes",
    "squash",
    "title_fields",
    "walk_lines",
]

# ---------------------------------------------------------------------------------------
# Escapes
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
# Requests → tokens
# ---------------------------------------------------------------------------------------

TokKind = Literal["h1", "h2", "para", "text", "lit_start", "literal", "lit_end", "item"]
ItemKind = Literal["term", "bullet", "enum", "tag"]


@dataclass(frozen=True, slots=True)
class Tok:
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


def title_fields(text: str) -> list[str]:
    """The decoded fields of the page's first `.TH` request (title, section, date, source,
    manual), or [] when it has none."""
    for _, line in _logical_lines(text):
        request = _split_request(line)
        if request is not None and request[0] == "TH":
            return [decode_escapes(arg)[0] for arg in _request_args(request[1])]
    return []


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
class Roff:
    """Turns man-page source into tokens; collects problems on the way."""

    source: str
    tokens: list[Tok] = field(default_factory=list)
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
        self.tokens.append(Tok(kind, line, self.depth, text, item, bold))

    def decode(self, line: int, raw: str) -> str:
        text, problems = decode_escapes(raw)
        for what in problems:
            self.problem(line, what)
        return text

    def run(self, text: str) -> list[Tok]:
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
# Tokens → blocks (paragraphs, literal blocks, list items with bodies)
# ---------------------------------------------------------------------------------------


@dataclass
class Block:
    kind: Literal["para", "literal", "item"]
    line: int
    lines: list[tuple[int, str]] = field(default_factory=list)
    tag: str = ""  # item
    item: ItemKind = "term"
    children: list[Block] = field(default_factory=list)
    closed: bool = False  # a paragraph ended by a break


def build_blocks(tokens: Sequence[Tok]) -> list[Block]:
    """Nest tokens by depth: an item owns what follows it at its depth or deeper."""
    root: list[Block] = []
    stack: list[tuple[int, Block]] = []
    literal: Block | None = None
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
            block = Block("item", tok.line, tag=tok.text, item=tok.item)
            target.append(block)
            stack.append((tok.depth, block))
        elif tok.kind == "text":
            if last is not None and last.kind == "para" and not last.closed:
                last.lines.append((tok.line, tok.text))
            else:
                target.append(Block("para", tok.line, [(tok.line, tok.text)]))
        elif tok.kind == "para":
            if last is not None and last.kind == "para":
                last.closed = True
        elif tok.kind == "lit_start":
            literal = Block("literal", tok.line)
            target.append(literal)
        elif tok.kind == "literal":  # a literal line outside a block: keep it as one
            target.append(Block("literal", tok.line, [(tok.line, tok.text)]))
    return root


def squash(text: str) -> str:
    return " ".join(text.split())


def block_text(blocks: Sequence[Block]) -> str:
    """Readable plain text: paragraphs apart, list items marked, literal lines kept."""
    parts: list[str] = []
    for block in blocks:
        if block.kind == "para":
            parts.append(squash(" ".join(text for _, text in block.lines)))
        elif block.kind == "literal":
            parts.append("\n".join(text for _, text in block.lines).strip("\n"))
        else:
            body = block_text(block.children)
            mark = "-" if block.item == "bullet" else block.tag
            parts.append(f"{mark} {body}".strip() if block.item != "term" else f"{mark}\n{body}")
    return "\n\n".join(part for part in parts if part.strip()).strip()


def walk_lines(blocks: Sequence[Block]) -> Iterator[tuple[bool, int, str]]:
    """(is_literal, line, text) for every line, in source order."""
    for block in blocks:
        if block.kind == "item":
            if block.tag:
                yield False, block.line, block.tag
            yield from walk_lines(block.children)
        else:
            for number, text in block.lines:
                yield block.kind == "literal", number, text
