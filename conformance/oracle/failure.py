"""A check failure: what rule broke, where it is written, and what was seen.

Every check is a plain function that returns None or raises `Failure`. A Failure is an
AssertionError so that pytest reports it as a failed test (the product working), not as
an error in the suite.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

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
    # QEMU and a strict RFC 8259 reader disagree about what a byte stream holds (where
    # one message ends and the next begins): neither reading breaks a sentence the spec
    # makes a promise with, but a proxy or client that reads the stream the other way
    # runs or drops a command QEMU doesn't.
    PARSER_DIFFERENTIAL = "parser-differential"
    # Schema-valid arguments that QEMU's input visitor refused as ill-typed, missing or
    # unexpected (conformance/oracle/visitor.py): the binary's schema and its parser disagree.
    VISITOR = "visitor-mismatch"


class Source(enum.StrEnum):
    """What a finding holds QEMU to. Nothing else makes a finding: behaviour QEMU's own
    source or tests call deliberate is a deviation (conformance.oracle.deviation)."""

    QMP_SPEC = "qmp-spec"  # docs/interop/qmp-spec.rst
    # QEMU's documentation of its commands, types and events: the QAPI schema's doc
    # comments and what is generated from them (qemu-qmp-ref.7), qmp-commands.hx before
    # QAPI docs existed, and the compatibility rules of docs/devel/qapi-code-gen.rst.
    QAPI = "qapi"
    RFC_8259 = "rfc8259"  # JSON itself, where the spec defers to "the JSON standard"
    # QEMU's own tests of its QMP (tests/qtest/qmp-test.c, qmp-cmd-test.c, ...): what
    # they assert of every build, e.g. an error class they pin. Breaking it is a
    # regression QEMU's own CI would call one.
    QEMU_TESTS = "qemu-tests"
    # QEMU's source comments and tests: what a deviation cites, never a Failure.
    QEMU = "qemu"


#: The sources each kind of finding holds QEMU to. A Failure whose citation names
#: another source is a bug of the suite (Failure raises ValueError).
HOLDS_TO: Mapping[FindingKind, frozenset[Source]] = MappingProxyType(
    {
        # "There are two possible responses which the Server will issue as the result
        # of a command execution: success or error" (qmp-spec, Commands Responses):
        # a crash, a hang or a dropped connection is neither.
        FindingKind.CRASH: frozenset({Source.QMP_SPEC}),
        FindingKind.SANDBOX: frozenset({Source.QMP_SPEC}),
        FindingKind.HANG: frozenset({Source.QMP_SPEC}),
        FindingKind.DISCONNECT: frozenset({Source.QMP_SPEC}),
        FindingKind.PROTOCOL: frozenset({Source.QMP_SPEC, Source.RFC_8259, Source.QEMU_TESTS}),
        FindingKind.PARSER_DIFFERENTIAL: frozenset({Source.QMP_SPEC, Source.RFC_8259}),
        FindingKind.SCHEMA: frozenset({Source.QAPI}),
        # Documented behaviour: the QAPI docs' sentences, and the spec's about events.
        FindingKind.BEHAVIOUR: frozenset({Source.QAPI, Source.QMP_SPEC, Source.QEMU_TESTS}),
        # The schema QEMU reports (introspection, a QAPI artefact) against what its
        # input visitor accepts; the error class QEMU's tests pin for ill-typed input.
        FindingKind.VISITOR: frozenset({Source.QAPI, Source.QMP_SPEC, Source.QEMU_TESTS}),
        FindingKind.DOC: frozenset({Source.QAPI}),
        # qapi-code-gen's compatibility rules, and the spec's "Compatibility
        # Considerations" (what a client may rely on between versions).
        FindingKind.COMPAT: frozenset({Source.QAPI, Source.QMP_SPEC}),
    }
)


@dataclass(frozen=True, slots=True)
class Citation:
    """Where a rule is written down."""

    source: Source
    section: str  # a section title, or "qapi/block-core.json: blockdev-add"
    quote: str = ""

    def __post_init__(self) -> None:
        # A plain string naming a source is accepted and kept as the Source it names.
        object.__setattr__(self, "source", Source(self.source))

    def __str__(self) -> str:
        head = f"{self.source} § {self.section}"
        return f'{head}: "{self.quote}"' if self.quote else head


def spec(section: str, quote: str = "") -> Citation:
    """A citation of the QMP specification (docs/interop/qmp-spec)."""
    return Citation(Source.QMP_SPEC, section, quote)


def qapi(definition: str, quote: str = "") -> Citation:
    """A citation of the QAPI schema or its documentation for one definition."""
    return Citation(Source.QAPI, definition, quote)


def rfc8259(section: str, quote: str = "") -> Citation:
    """A citation of RFC 8259, which the QMP spec names as the definition of JSON."""
    return Citation(Source.RFC_8259, section, quote)


def qemu_tests(where: str, quote: str = "") -> Citation:
    """A citation of QEMU's own QMP tests (a test function, and what it asserts)."""
    return Citation(Source.QEMU_TESTS, where, quote)


def qemu(where: str, quote: str = "") -> Citation:
    """A citation of QEMU's own source or tests (a file, and the comment or assertion)."""
    return Citation(Source.QEMU, where, quote)


#: What every finding of a QEMU exit (crash, sandbox hit, hang, disconnect) breaks.
ANSWERED = Citation(
    Source.QMP_SPEC,
    "Commands Responses",
    "There are two possible responses which the Server will issue as the result of a "
    "command execution: success or error.",
)


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
        paths: Iterable[str] = (),
        facets: Mapping[str, str] | None = None,
    ) -> None:
        if citation.source not in HOLDS_TO[kind]:
            allowed = ", ".join(sorted(HOLDS_TO[kind]))
            raise ValueError(
                f"[{check}] a {kind} finding holds QEMU to {allowed}, not {citation.source}"
            )
        self.check = check
        self.citation = citation
        self.message = message
        self.kind = kind
        self.path = path
        self.command = command
        # Everything else the check saw (a validator's other violations, one per line):
        # the message names the first, a report attaches them all.
        self.details = details
        # Every place the failure is about (`path` is the first one the message names):
        # two failures of one check at different sets of places are different findings.
        self.paths = tuple(paths)
        # What else tells this failure apart from others of the same check (the class of
        # an id, of a broken server message: conformance.oracle.classes), for its
        # signature; a finding's recorder adds the test's case.
        self.facets = dict(facets or {})
        where = f" at {path}" if path else ""
        subject = f"{command}: " if command else ""
        super().__init__(f"[{check}] {subject}{message}{where} — {citation}")
