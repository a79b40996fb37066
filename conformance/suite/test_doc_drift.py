"""Drift between the documentation and the binary, one result per command or event.

Each failing result lists the drift items for that name with their JSON paths and
the doc's file:line (see `conformance/docs/drift.py`).
"""

from __future__ import annotations

from conformance.docs.drift import Drift
from conformance.drive.report import label
from conformance.oracle.failure import Failure, FindingKind, qapi


def test_doc_drift(drift_items: tuple[str, tuple[Drift, ...]]) -> None:
    name, items = drift_items
    first = items[0]
    citation = qapi(f"{name} ({first.source})")
    label(epic="documentation", feature=name, story="drift", citation=str(citation))
    lines = [f"{i.kind} at {i.path}: {i.detail} [{i.source}]" for i in items]
    raise Failure(
        f"doc.drift.{first.kind}",
        citation,
        f"{len(items)} drift item(s): " + "; ".join(lines[:15]) + (" …" if len(lines) > 15 else ""),
        kind=FindingKind.DOC,
        path=first.path,
        paths=[i.path for i in items],
        command=name,
    )
