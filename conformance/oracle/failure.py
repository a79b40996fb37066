"""A check failure: what rule broke, where it is written, and what was seen.

Every check is a plain function that returns None or raises `Failure`. A Failure is an
AssertionError so that pytest reports it as a failed test (the product working), not as
an error in the suite.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from conformance.errors import QemuMisbehaviour


class FindingKind(enum.StrEnum):
    CRASH = "crash"
    SANDBOX = "sandbox-hit"
    HANG = "hang"
    DISCONNECT = "unexpected-disconnect"
    PROTOCOL = "protocol-violation"
    SCHEMA = "schema-violation"
    BEHAVIOUR = "behaviour-mismatch"
    DOC = "doc-mismatch"
    COMPAT = "incompatible-change"  # between two QEMU versions' schemas
    # Schema-valid arguments that QEMU's input visitor refused as ill-typed, missing or
    # unexpected (conformance/oracle/visitor.py): the binary's schema and its parser disagree.
    VISITOR = "visitor-mismatch"


@dataclass(frozen=True, slots=True)
class Citation:
    """Where a rule is written down."""

    source: str  # "qmp-spec", "qapi", "qmp-commands.hx", "qemu-source"
    section: str  # a section title, or "qapi/block-core.json: blockdev-add"
    quote: str = ""

    def __str__(self) -> str:
        head = f"{self.source} § {self.section}"
        return f'{head}: "{self.quote}"' if self.quote else head


def spec(section: str, quote: str = "") -> Citation:
    """A citation of the QMP specification (docs/interop/qmp-spec)."""
    return Citation("qmp-spec", section, quote)


def qapi(definition: str, quote: str = "") -> Citation:
    """A citation of the QAPI schema or its documentation for one definition."""
    return Citation("qapi", definition, quote)


class Failure(QemuMisbehaviour, AssertionError):
    """A check failed. Carries the check id, the citation, the JSON path and details."""

    def __init__(
        self,
        check: str,
        citation: Citation,
        message: str,
        *,
        kind: FindingKind,
        path: str | None = None,
        command: str | None = None,
        details: tuple[str, ...] = (),
    ) -> None:
        self.check = check
        self.citation = citation
        self.message = message
        self.kind = kind
        self.path = path
        self.command = command
        # Everything else the check saw (a validator's other violations, one per line):
        # the message names the first, a report attaches them all.
        self.details = details
        where = f" at {path}" if path else ""
        subject = f"{command}: " if command else ""
        super().__init__(f"[{check}] {subject}{message}{where} — {citation}")
