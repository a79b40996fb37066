"""Every finding holds QEMU to the QMP spec, the QAPI docs or RFC 8259, by kind, and
every citation the checks and rules carry names one of them (a deviation's QEMU
sentences excepted); docs/findings.md tells the same table."""

from __future__ import annotations

import importlib
import pkgutil
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

import conformance
from conformance.behaviour.rule import Rule
from conformance.oracle import deviation
from conformance.oracle.failure import HOLDS_TO, Citation, Failure, FindingKind, Source, qapi

FINDING_SOURCES = {Source.QMP_SPEC, Source.QAPI, Source.RFC_8259, Source.QEMU_TESTS}
DOCS = Path(__file__).resolve().parents[2] / "docs" / "findings.md"


def _citations(value: object, depth: int = 0) -> Iterator[Citation]:
    if isinstance(value, Citation):
        yield value
    elif isinstance(value, Rule):
        yield value.citation
    elif depth < 3 and isinstance(value, tuple | list | frozenset | set):
        for item in value:
            yield from _citations(item, depth + 1)
    elif depth < 3 and isinstance(value, dict):
        for item in value.values():
            yield from _citations(item, depth + 1)
    elif depth < 3 and hasattr(value, "items") and not isinstance(value, type):
        try:
            for _, item in value.items():
                yield from _citations(item, depth + 1)
        except TypeError:
            return


def _module_citations() -> dict[str, list[Citation]]:
    found: dict[str, list[Citation]] = {}
    for info in pkgutil.walk_packages(conformance.__path__, "conformance."):
        if info.name == deviation.__name__:
            continue  # its QEMU sentences are what make a deviation, never a finding
        module = importlib.import_module(info.name)
        for name, value in vars(module).items():
            if not name.startswith("__"):
                cited = list(_citations(value))
                if cited:
                    found[f"{info.name}.{name}"] = cited
    return found


def test_every_kind_holds_qemu_to_a_spec_source() -> None:
    assert set(HOLDS_TO) == set(FindingKind)
    for kind, sources in HOLDS_TO.items():
        assert sources, kind
        assert sources <= FINDING_SOURCES, kind


def test_every_citation_of_a_check_or_rule_names_a_finding_source() -> None:
    found = _module_citations()
    # The walk reaches the protocol, conversation, schema and job checks and the rules.
    assert {
        "conformance.oracle.protocol.RESPONSES",
        "conformance.oracle.conversation.NESTING",
        "conformance.behaviour.rules.backup.SOURCE_ERROR",
    } <= set(found)
    bad = {
        where: c.source
        for where, cited in found.items()
        for c in cited
        if c.source not in FINDING_SOURCES
    }
    assert bad == {}


def test_deviation_sentences_are_qemus() -> None:
    for known in (deviation.NONCHARACTERS, deviation.MODIFIED_UTF8_NUL):
        assert {c.source for c in known.because} == {Source.QEMU}


def test_a_failure_citing_another_source_than_its_kind_holds_is_refused() -> None:
    with pytest.raises(ValueError, match="holds QEMU to"):
        Failure("x", qapi("a"), "m", kind=FindingKind.PROTOCOL)
    with pytest.raises(ValueError, match="holds QEMU to"):
        Failure("x", Citation(Source.QEMU, "util/unicode.c"), "m", kind=FindingKind.DOC)
    with pytest.raises(ValueError, match="is not a valid Source"):
        Citation("qmp-commands.hx", "x")  # type: ignore[arg-type]


def test_the_docs_table_is_the_mapping() -> None:
    text = DOCS.read_text(encoding="utf-8")
    rows = dict(re.findall(r"^\| `([a-z-]+)` \| ([^|]+) \|", text, re.MULTILINE))
    names = {
        Source.QMP_SPEC: "QMP spec",
        Source.QAPI: "QAPI doc",
        Source.RFC_8259: "RFC 8259",
        Source.QEMU_TESTS: "QEMU's tests",
    }
    assert set(rows) == {k.value for k in FindingKind}
    for kind, sources in HOLDS_TO.items():
        assert {s.strip() for s in rows[kind.value].split(",")} == {names[s] for s in sources}


def test_rules_cite_what_their_kind_holds_qemu_to() -> None:
    from conformance.behaviour.rules import RULES
    from conformance.oracle.compat import RULES as COMPAT_RULES

    for rule in RULES:
        assert rule.citation.source in HOLDS_TO[rule.kind], rule.id
    for name, citation in COMPAT_RULES.items():
        assert citation.source in HOLDS_TO[FindingKind.COMPAT], name
