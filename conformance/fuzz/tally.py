"""What a fuzz run has done so far, and the lines that say it.

The parent keeps one `Tally`, fed by the workers' `Chunk` notes and harness errors; the
progress line and the summary read it and the findings store, nothing else.
"""

from __future__ import annotations

import textwrap
from collections import Counter
from dataclasses import dataclass, field

from conformance.feedback.corpus import Entry
from conformance.feedback.credit import Coverage, headline, prefix_lines
from conformance.findings.store import FindingStore, deviation_summary
from conformance.fuzz.worker import Chunk


@dataclass
class Tally:
    commands: int  # commands the run fuzzes (the schema minus the policy's skips)
    started: float  # monotonic
    examples: int = 0
    covered: set[str] = field(default_factory=set)  # commands with an example run
    machine_steps: Counter[str] = field(default_factory=Counter)
    harness_errors: list[str] = field(default_factory=list)
    coverage: Coverage | None = None  # trace events reached (None: blind)
    corpus: list[Entry] = field(default_factory=list)  # new corpus entries

    def add(self, chunk: Chunk) -> None:
        self.examples += chunk.examples
        if self.coverage is not None:
            self.coverage.merge(chunk.pairs)
        self.corpus.extend(chunk.corpus)
        if not chunk.command:
            self.machine_steps[chunk.what] += chunk.examples
        elif chunk.examples:
            self.covered.add(chunk.what)

    def rate(self, now: float) -> float:
        elapsed = now - self.started
        return self.examples / elapsed if elapsed > 0 else 0.0


def duration(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def by_kind(store: FindingStore) -> str:
    """Unique findings per kind, as ``kind new/known``."""
    kinds: dict[str, list[int]] = {}
    for entry in store.entries:
        counts = kinds.setdefault(entry.finding.kind.value, [0, 0])
        counts[1 if entry.known else 0] += 1
    if not kinds:
        return "none"
    return ", ".join(f"{kind} {new}/{known}" for kind, (new, known) in sorted(kinds.items()))


def progress_line(tally: Tally, store: FindingStore, now: float) -> str:
    errors = f"  harness errors {len(tally.harness_errors)}" if tally.harness_errors else ""
    trace = f"  {headline(tally.coverage)}" if tally.coverage is not None else ""
    return (
        f"{duration(now - tally.started)}  {tally.examples} examples "
        f"({tally.rate(now):.1f}/s)  commands {len(tally.covered)}/{tally.commands}{trace}  "
        f"findings (new/known): {by_kind(store)}{errors}"
    )


def summary(tally: Tally, store: FindingStore, now: float, *, ended: str) -> list[str]:
    steps = ", ".join(f"{m} {n} steps" for m, n in sorted(tally.machine_steps.items()))
    where = f"; written to {store.directory}" if store.directory is not None else ""
    lines = [
        f"fuzz ended ({ended}) after {duration(now - tally.started)}: {tally.examples} examples "
        f"({tally.rate(now):.1f}/s); commands covered {len(tally.covered)}/{tally.commands}"
        + (f"; {steps}" if steps else ""),
        f"findings: {len(store.entries)} unique ({len(store.known_entries)} known, "
        f"{len(store.new)} new){where}",
    ]
    if tally.coverage is not None:
        lines.append(f"{headline(tally.coverage)}; reached per subsystem prefix:")
        text = ", ".join(prefix_lines(tally.coverage))
        lines.extend(textwrap.wrap(text, 100, initial_indent="  ", subsequent_indent="  "))
    for entry in store.entries:
        directory = store.directory / entry.slug if store.directory is not None else entry.slug
        lines.append(
            f"  {entry.status:<5} {entry.finding.key}  occurrences {entry.occurrences}  {directory}"
        )
    lines.extend(deviation_summary(store.deviations))
    lines.append(f"harness errors: {len(tally.harness_errors)}")
    lines.extend(f"  {error}" for error in tally.harness_errors)
    return lines
