"""The doc model: what QEMU's documentation says about each command and event.

All three parsers (qmp-commands.hx, QAPI json doc comments, the qemu-qmp-ref.7 man page)
produce these, so that drift reports and example replay don't care where a doc came
from. Every example message is kept and classified; nothing is dropped silently.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field

from conformance.errors import SetupError


class Parse(enum.StrEnum):
    PARSED = "parsed"  # strict JSON as written
    REPAIRED = "repaired"  # JSON after named repairs (single quotes, ellipses, commas…)
    UNPARSABLE = "unparsable"  # kept as text, with the reason


@dataclass(frozen=True, slots=True)
class DocMessage:
    """One message of an example: `->` (client to server) or `<-` (server to client)."""

    direction: str  # "->", "<-", or "?" when the doc gives no marker
    text: str  # the message as written (continuation lines joined with "\n")
    status: Parse
    value: object = None  # the parsed JSON (None when unparsable)
    repairs: tuple[str, ...] = ()  # names of the repairs applied, e.g. "single-quotes"
    problem: str | None = None  # why it is unparsable
    line: int = 0  # 1-based line in the source file


@dataclass(frozen=True, slots=True)
class DocExample:
    """An ordered list of messages, with the title and prose around them."""

    messages: tuple[DocMessage, ...]
    title: str = ""
    prose: str = ""  # text between examples or inside the block that is not a message
    annotated: bool = False  # `:annotated:` in `.. qmp-example::`
    line: int = 0


@dataclass(frozen=True, slots=True)
class DocArgument:
    name: str
    description: str = ""
    type: str | None = None  # documented type, e.g. "string", "int", "BlockdevOptions"
    optional: bool | None = None  # None when the doc doesn't say
    since: str | None = None


@dataclass(frozen=True, slots=True)
class DocEntry:
    """Everything one document says about one command or event."""

    name: str
    kind: str  # "command" or "event"
    source: str  # "path:line" of the definition or heading
    summary: str = ""
    arguments: tuple[DocArgument, ...] = ()
    returns: str = ""
    errors: tuple[str, ...] = ()  # documented error conditions, one sentence each
    since: str | None = None
    features: tuple[tuple[str, str], ...] = ()  # (feature name, description)
    notes: tuple[str, ...] = ()  # deprecation and other notes
    examples: tuple[DocExample, ...] = ()
    condition: str | None = None  # the doc's If: condition (e.g. "CONFIG_SPICE")


@dataclass
class DocSet:
    """The parsed documentation from one source."""

    source: str  # the path that was parsed
    format: str  # "hx", "qapi" or "man"
    entries: dict[str, DocEntry] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)  # "path:line: what" for odd input
    version: str | None = None  # the QEMU version documented ("10.0.2"), when the source says

    def commands(self) -> list[DocEntry]:
        return [e for e in self.entries.values() if e.kind == "command"]

    def events(self) -> list[DocEntry]:
        return [e for e in self.entries.values() if e.kind == "event"]

    def examples(self) -> list[tuple[DocEntry, DocExample]]:
        return [(e, x) for e in self.entries.values() for x in e.examples]


_VERSION = re.compile(r"\d+\.\d+(?:\.\d+)?")


def qemu_version(text: str) -> str | None:
    """The first QEMU version ("10.0.2", "9.2.50") written in `text`, for `DocSet.version`."""
    found = _VERSION.search(text)
    return found.group() if found else None


class DocError(SetupError):
    """A doc source can't be read at all (missing, not text, not the named format)."""
