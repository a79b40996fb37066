"""A run's verdict in the suite's own terms, counted from its allure results: how many
unique findings are new and how many known, by kind ("0 new findings, 34 known:
5 crashes, 1 protocol violation, …"), and the list of them with their triage state.

A finding counts once per target and signature however many results hit it (the
findings index counts the same way), and is new when any result saw it new. The
report's title carries the line (conformance.reporting.html), the matrix the line and
the list (conformance.reporting.matrix).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from conformance.reporting.categories import KINDS, category_name
from conformance.reporting.known import (
    KnownFinding,
    findings_link,
    json_text,
    kind_of,
    known_keys,
)
from conformance.reporting.results import Result

__all__ = ["FindingRow", "Verdict", "plural", "verdict"]


@dataclass(frozen=True, slots=True)
class FindingRow:
    """One unique finding of a run: its signature, new or known, and triage fields."""

    key: str
    status: str  # new, known
    target: str = ""
    results: int = 1  # how many results hit it
    verdict: str = ""
    note: str = ""
    link: str = ""

    @property
    def kind(self) -> str:
        return kind_of(self.key)

    def to_json(self) -> dict[str, object]:
        return {
            "signature": self.key,
            "kind": self.kind,
            "status": self.status,
            "target": self.target,
            "results": self.results,
            "verdict": self.verdict,
            "note": self.note,
            "link": self.link,
            "finding": findings_link(self.key),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> FindingRow:
        def text(name: str) -> str:
            return json_text(data, name)

        count = data.get("results")
        return cls(
            text("signature"),
            text("status") or "new",
            text("target"),
            count if isinstance(count, int) else 1,
            text("verdict"),
            text("note"),
            text("link"),
        )


@dataclass
class Verdict:
    """The unique findings of a run, in the order people triage in (by kind)."""

    rows: list[FindingRow] = field(default_factory=list)

    def sorted(self) -> Verdict:
        """New findings first, then by kind as people triage, then by signature."""
        return Verdict(
            sorted(self.rows, key=lambda r: (r.status != "new", _order(r.kind), r.key, r.target))
        )

    def counts(self, status: str) -> Counter[str]:
        return Counter(r.kind for r in self.rows if r.status == status)

    def line(self) -> str:
        """``0 new findings, 34 known: 5 crashes, 27 doc mismatches``; each side by kind."""
        new, known = self.counts("new"), self.counts("known")
        head = f"{sum(new.values())} new {'finding' if sum(new.values()) == 1 else 'findings'}"
        if new:
            head += ": " + _by_kind(new) + ";"
        else:
            head += ","
        tail = f"{sum(known.values())} known"
        return f"{head} {tail}" + (": " + _by_kind(known) if known else "")


def plural(kind: str, n: int) -> str:
    """``2 doc mismatches``, ``1 crash``: a count of a kind, in words."""
    name = category_name(kind)
    if n == 1:
        return f"{n} {name}"
    return f"{n} {name}{'es' if name.endswith(('s', 'sh', 'ch', 'x')) else 's'}"


def _order(kind: str) -> int:
    return KINDS.index(kind) if kind in KINDS else len(KINDS)


def _by_kind(counts: Counter[str]) -> str:
    return ", ".join(plural(k, counts[k]) for k in sorted(counts, key=lambda k: (_order(k), k)))


def verdict(results: Iterable[Result], known: Iterable[KnownFinding] = ()) -> Verdict:
    """The unique findings of ``results`` (with ``known``'s triage fields)."""
    triage = {(k.target, k.key): k for k in known}
    status: dict[tuple[str, str], str] = {}
    hits: Counter[tuple[str, str]] = Counter()
    for result in results:
        outcome = result.outcome
        if outcome not in ("fail", "known"):
            continue
        keys = result.findings or tuple(known_keys(result.message) or ())
        for key in keys:
            at = (result.label("parentSuite"), key)
            hits[at] += 1
            # A result with a new finding and a known one fails as new: its known
            # signature is still known.
            seen = "known" if outcome == "known" or at in triage else "new"
            if status.get(at) != "new":
                status[at] = seen
    rows = []
    for (target, key), seen in status.items():
        entry = triage.get((target, key)) or KnownFinding(key)
        rows.append(
            FindingRow(
                key, seen, target, hits[(target, key)], entry.verdict, entry.note, entry.link
            )
        )
    return Verdict(rows).sorted()
