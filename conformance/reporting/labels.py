"""allure labels that come from a result's outcome and its run, not from the test body.

The test body labels what it checks (epic, feature, story, tags: conformance.drive.report).
What only the outcome or the run knows is added here: the finding kind of a failure
(a label, a severity, and the ``finding kind:`` line the categories match), its
findings' signatures and whether they are new or known (labels and a tag), the run's
parameters (binary, version, target, machine, profile, seed), and links to the sources
a citation names, at the binary's version.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

import allure

from conformance.oracle.failure import FindingKind
from conformance.reporting.categories import DEVIATION_LABEL, HARNESS_ERROR, kind_note

KIND_LABEL = "finding-kind"
#: A finding's signature (one label per finding of the result): what the run's verdict
#: counts, once each.
FINDING_LABEL = "finding"
#: ``new`` or ``known``: whether the run's baseline knew every finding of the result.
STATUS_LABEL = "finding-status"
# allure-pytest's dynamic API has no annotations.
_DYNAMIC: Any = allure.dynamic

#: allure severity by finding kind: what takes QEMU down outranks a wrong error class.
SEVERITY: Mapping[str, str] = {
    FindingKind.CRASH: "blocker",
    FindingKind.SANDBOX: "critical",
    FindingKind.HANG: "critical",
    FindingKind.DISCONNECT: "critical",
    FindingKind.PROTOCOL: "normal",
    FindingKind.PARSER_DIFFERENTIAL: "normal",
    FindingKind.SCHEMA: "normal",
    FindingKind.BEHAVIOUR: "normal",
    FindingKind.DOC: "minor",
    FindingKind.COMPAT: "normal",
    FindingKind.VISITOR: "normal",
    HARNESS_ERROR: "trivial",  # our bug: says nothing about QEMU
}


def file_failure(exc: BaseException, kind: str) -> None:
    """Label the current allure result with ``kind`` and its severity, and note the kind
    on ``exc``, whose message the categories read (conformance.reporting.categories)."""
    note = kind_note(kind)
    if note not in getattr(exc, "__notes__", ()):
        exc.add_note(note)
    _DYNAMIC.label(KIND_LABEL, kind)
    _DYNAMIC.label("severity", SEVERITY.get(kind, "normal"))


def finding_tag(known: bool) -> str:
    """The tag that sets a known finding's result apart from a new one's."""
    return "known finding" if known else "new finding"


def label_findings(keys: list[str], known: bool) -> None:
    """Label the current allure result with its findings' signatures and whether the
    baseline knew them (a tag too, which the tree shows)."""
    for key in keys:
        _DYNAMIC.label(FINDING_LABEL, key)
    _DYNAMIC.label(STATUS_LABEL, "known" if known else "new")
    _DYNAMIC.tag(finding_tag(known))


def add_parameters(parameters: Mapping[str, str]) -> None:
    """Add run parameters to the current allure result.

    Excluded from allure's history id: the same check on another binary or machine is
    the same test, so its history follows it across QEMU versions.
    """
    for name, value in parameters.items():
        _DYNAMIC.parameter(name, value, excluded=True)


def add_target(target: str) -> None:
    """File the current result under its target (allure's parent suite): a report built
    from several binaries' runs (``run --all-installed``, ``report --merge``) groups by
    target first, then by module and test."""
    _DYNAMIC.parent_suite(target)


_REPO = "https://gitlab.com/qemu-project/qemu/-/blob"
_SOURCE_FILE = re.compile(r"(?<![\w/.-])((?:[\w-]+/)*[\w-]+\.(?:json|c|h|hx|txt|rst))\b")


def citation_links(citation: str, version: tuple[int, int, int]) -> list[tuple[str, str]]:
    """``(name, url)`` of each source a citation text names, at QEMU ``version``.

    ``citation`` is the text form of one or more `Citation` s joined by ``"; "``
    (``qapi § qapi/block.json: blockdev-open-tray``, ``job.c JobVerbTable``). A named
    file links to it at the version's tag; the QMP specification and the QAPI reference
    link to their documents; anything else gets no link.
    """
    tag = "v" + ".".join(map(str, version))
    links: list[tuple[str, str]] = []
    for part in citation.split("; "):
        source, _, section = part.partition(" § ") if " § " in part else ("", "", part)
        section = section.split(': "', 1)[0]  # drop the quote
        found = _SOURCE_FILE.search(section)
        if found:
            links.append((section, f"{_REPO}/{tag}/{found.group(1)}"))
        elif source == "qmp-spec":
            links.append((f"qmp-spec: {section}", f"{_REPO}/{tag}/{_qmp_spec(version)}"))
        elif source in ("qapi", "man"):
            # The man page is generated from the same QAPI doc comments as the reference.
            reference = f"https://qemu.readthedocs.io/en/{tag}/interop/qemu-qmp-ref.html"
            links.append((f"QMP reference: {section}", reference))
    return links


def _qmp_spec(version: tuple[int, int, int]) -> str:
    # The specification became reStructuredText in QEMU 8.2.
    return "docs/interop/qmp-spec.rst" if version >= (8, 2, 0) else "docs/interop/qmp-spec.txt"


def add_links(citation: str, version: tuple[int, int, int]) -> None:
    """Link the current allure result to the sources its citation names."""
    for name, url in citation_links(citation, version):
        _DYNAMIC.link(url, name=name)


def label_deviations(names: Iterable[str]) -> None:
    """Label the current allure result with each deliberate deviation it saw, which the
    deviation category files it by (conformance.reporting.categories)."""
    for name in sorted(set(names)):
        _DYNAMIC.label(DEVIATION_LABEL, name)
