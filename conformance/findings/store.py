"""The findings of a run, deduplicated by signature, and the directory they are written to.

Layout of a findings directory (``reports/findings/`` for ``qmp-conformance run``)::

    index.json, index.md        every unique finding: signature, kind, title,
                                occurrences, known or new
    <signature-slug>/
        finding.json            signature key, kind, title, message, citation,
                                occurrences, the tests that hit it, known or new,
                                the QEMU (version, package, binary) it was found on
        affected.json           written later by a replay on several versions
                                (conformance.findings.affected)
        reproducer.jsonl        the (minimised) messages and the expected outcome
        reproducer.full.jsonl   the reproducer before minimisation, when it shrank
        command-line.txt        QEMU's command line, the workdir as $WORKDIR
        reproduce.sh            the printf … | qemu … -chardev stdio,id=qmp one-liner
        hypothesis.txt          test, Hypothesis profile, @reproduce_failure blob
        transcript.jsonl        the whole original transcript
        qemu-stderr.txt         what QEMU wrote to stderr

The first occurrence of a signature is the one kept: later ones only count.
"""

from __future__ import annotations

import importlib
import json
import shutil
import time
from collections.abc import Callable, Container
from dataclasses import dataclass, field
from pathlib import Path

from conformance.findings.record import Finding
from conformance.findings.reproducer import Reproducer
from conformance.oracle.deviation import Deviation

__all__ = [
    "FORMAT_VERSION",
    "DeviationEntry",
    "Entry",
    "FindingStore",
    "Minimiser",
    "load_minimiser",
]

FORMAT_VERSION = 1
_FINDING_FILE = "finding.json"
_INDEX_KEY = "qmp-findings"

#: `conformance.findings.minimise.minimise`: (reproducer, binary, workdir_base, budget_s).
Minimiser = Callable[..., Reproducer]


@dataclass
class Entry:
    """A unique finding: its first occurrence, and every test that hit it."""

    finding: Finding
    known: bool
    occurrences: int = 1
    tests: list[str] = field(default_factory=list)
    minimised: Reproducer | None = None  # set when minimisation shrank the reproducer
    minimise_note: str = ""  # why it wasn't minimised, or how it went wrong

    @property
    def status(self) -> str:
        return "known" if self.known else "new"

    @property
    def slug(self) -> str:
        return self.finding.signature.slug

    def to_json(self) -> dict[str, object]:
        f = self.finding
        rep = self.minimised or f.reproducer
        return {
            "signature": f.key,
            "slug": self.slug,
            "kind": f.kind.value,
            "command": f.signature.command,
            "title": f.title,
            "message": f.message,
            "citation": f.citation,
            "occurrences": self.occurrences,
            "tests": self.tests,
            "status": self.status,
            "reproducer": None if rep is None else {"messages": len(rep.messages)},
            "minimised": self.minimised is not None,
            "minimise_note": self.minimise_note,
        }


@dataclass
class DeviationEntry:
    """A deliberate deviation of QEMU's (not a finding), and every test that saw it."""

    deviation: Deviation
    tests: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, object]:
        return self.deviation.to_json() | {"tests": self.tests}


class FindingStore:
    """Unique findings by signature key, in the order they were first seen."""

    def __init__(
        self,
        directory: str | Path | None,
        *,
        known: Container[str] = frozenset(),
        binary: str = "qemu-system-x86_64",
        qemu: dict[str, str] | None = None,
    ) -> None:
        self.directory = Path(directory) if directory is not None else None
        self.known = known
        self.binary = binary  # the binary named in command-line.txt and reproduce.sh
        self.qemu = qemu or {}
        self._entries: dict[str, Entry] = {}
        self._deviations: dict[tuple[str, str], DeviationEntry] = {}

    def add(self, finding: Finding) -> Entry:
        """Record one occurrence; the entry is new when its `occurrences` is 1."""
        entry = self._entries.get(finding.key)
        if entry is None:
            entry = Entry(finding, finding.key in self.known)
            self._entries[finding.key] = entry
        else:
            entry.occurrences += 1
        if finding.test and finding.test not in entry.tests:
            entry.tests.append(finding.test)
        return entry

    def add_deviation(self, deviation: Deviation, test: str) -> DeviationEntry:
        """Record a deviation seen by `test`: listed in the index, never a finding, so it
        neither fails a run nor enters a baseline."""
        entry = self._deviations.setdefault(
            (deviation.name, deviation.check), DeviationEntry(deviation)
        )
        if test not in entry.tests:
            entry.tests.append(test)
        return entry

    @property
    def deviations(self) -> list[DeviationEntry]:
        return list(self._deviations.values())

    @property
    def entries(self) -> list[Entry]:
        return list(self._entries.values())

    @property
    def new(self) -> list[Entry]:
        return [e for e in self._entries.values() if not e.known]

    @property
    def known_entries(self) -> list[Entry]:
        return [e for e in self._entries.values() if e.known]

    # -- minimisation ----------------------------------------------------------------------

    def minimise(self, minimiser: Minimiser, *, workdir_base: str, budget_s: float) -> None:
        """Shrink each new finding's reproducer on the real binary, within one budget for
        them all, each getting an equal share of what is left. Known findings are left
        as found: they were minimised when they were new, and CI's time is for new ones."""
        todo = [e for e in self.new if e.finding.reproducer is not None]
        end = time.monotonic() + budget_s
        for done, entry in enumerate(todo):
            share = (end - time.monotonic()) / (len(todo) - done)
            if share <= 0:
                entry.minimise_note = "not minimised: the run's minimisation budget ran out"
                continue
            full = entry.finding.reproducer
            assert full is not None
            try:
                smaller = minimiser(full, self.binary, workdir_base=workdir_base, budget_s=share)
            except Exception as exc:  # the minimiser's bug must not cost us the finding
                entry.minimise_note = f"minimisation failed: {type(exc).__name__}: {exc}"
                continue
            if smaller != full:
                entry.minimised = smaller

    # -- writing ---------------------------------------------------------------------------

    def write(self) -> None:
        """Write every finding and the index; stale finding directories are removed."""
        if self.directory is None:
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        current = {e.slug for e in self._entries.values()}
        for old in self.directory.iterdir():
            # Only directories this store wrote (they hold finding.json): a finding fixed
            # since the last run into the same directory must not linger.
            if old.is_dir() and old.name not in current and (old / _FINDING_FILE).is_file():
                shutil.rmtree(old)
        for entry in self._entries.values():
            self.write_entry(entry)
        self.write_index()

    def write_entry(self, entry: Entry) -> Path | None:
        """Write one finding's directory (again, as occurrences grow); returns it."""
        if self.directory is None:
            return None
        d = self.directory / entry.slug
        d.mkdir(parents=True, exist_ok=True)
        f = entry.finding
        full = f.reproducer
        if full is not None:
            (entry.minimised or full).save(d, self.binary)
            if entry.minimised is not None:
                (d / "reproducer.full.jsonl").write_text(full.to_jsonl(), encoding="utf-8")
        if f.transcript:
            (d / "transcript.jsonl").write_text(f.transcript, encoding="utf-8")
        (d / "qemu-stderr.txt").write_text(f.stderr, encoding="utf-8")
        # The QEMU it was found on travels with a finding directory copied out of the run.
        _write_json(d / _FINDING_FILE, entry.to_json() | ({"qemu": self.qemu} if self.qemu else {}))
        return d

    def write_index(self) -> None:
        if self.directory is None:
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        rows = [
            {k: e.to_json()[k] for k in ("slug", "signature", "kind", "title", "occurrences")}
            | {"status": e.status}
            for e in self._entries.values()
        ]
        _write_json(
            self.directory / "index.json",
            {
                _INDEX_KEY: FORMAT_VERSION,
                "qemu": self.qemu,
                "findings": rows,
                "deviations": [d.to_json() for d in self._deviations.values()],
            },
        )
        lines = [
            "# Findings",
            "",
            f"QEMU {self.qemu.get('version', '?')} ({self.qemu.get('package', '?')}): "
            f"{len(rows)} unique, {len(self.new)} new, {len(self.known_entries)} known.",
            "",
            "| status | kind | occurrences | finding | title |",
            "|---|---|---|---|---|",
        ]
        for r in rows:
            title = str(r["title"]).replace("|", r"\|")  # a pipe would end the cell
            lines.append(
                f"| {r['status']} | {r['kind']} | {r['occurrences']} "
                f"| [{r['slug']}]({r['slug']}/) | {title} |"
            )
        lines += _deviation_lines(self.deviations)
        (self.directory / "index.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


def deviation_summary(entries: list[DeviationEntry]) -> list[str]:
    """A run summary's lines for the deviations seen (none when there were none)."""
    if not entries:
        return []
    lines = [f"deviations: {len(entries)} (deliberate per QEMU's source or tests; not findings)"]
    for seen in entries:
        d = seen.deviation
        lines.append(f"  {d.name} ({d.check}, {len(seen.tests)} tests): {d.summary}")
    return lines


def _deviation_lines(entries: list[DeviationEntry]) -> list[str]:
    if not entries:
        return []
    lines = [
        "",
        "## Deviations",
        "",
        "Behaviour QEMU's own source or tests state as deliberate: not findings, never "
        "in a baseline, never a failed run.",
        "",
        "| deviation | check | tests | departs from | deliberate per |",
        "|---|---|---|---|---|",
    ]
    for e in entries:
        d = e.deviation
        cells = [d.name, d.check, str(len(e.tests)), d.departs_from, "; ".join(d.because)]
        lines.append("| " + " | ".join(c.replace("|", r"\|") for c in cells) + " |")
    return lines


def load_minimiser() -> Minimiser | None:
    """`conformance.findings.minimise.minimise`, or None while that module doesn't exist."""
    try:
        module = importlib.import_module("conformance.findings.minimise")
    except ModuleNotFoundError as exc:
        if exc.name != "conformance.findings.minimise":
            raise
        return None
    found: Minimiser | None = getattr(module, "minimise", None)
    return found


def _write_json(path: Path, value: object) -> None:
    path.write_text(json.dumps(value, indent=1) + "\n", encoding="utf-8")
