"""The conformance matrix: for every command of the binary, how each area of the suite
judged it, and how much of its argument type the generated examples exercised.

Rows are the binary's commands (from the live schema, so a command no test reached
still has a row). Columns are the areas, read from each allure result's labels: the
feature is the command, epic and story say the area. A result may name more commands
with ``command`` labels (a sequence test names those it drives). A cell is pass, fail,
skip or n/a, with counts; a finding the baseline knows is a failure, marked known.

Coverage comes from the valid-arguments tests' ``coverage`` properties (the domain points
their cases sent: members present and absent, enum values, union variants, alternate
branches, integer boundaries, empty and long strings; conformance.drive.exchange) out of
everything the command's argument type has, less the points the covering phase
excluded (``coverage-excluded``: the generation or host-safety policy refuses the
values that would exercise them), which are listed with their reason.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from conformance.drive.report import command_tags
from conformance.feedback.credit import reached_text
from conformance.oracle.deviation import Deviation
from conformance.reporting.output import write_report
from conformance.reporting.results import Result
from conformance.reporting.verdict import FindingRow, Verdict
from conformance.spec import Schema
from conformance.spec.coverage import KINDS, Coverage, Item, command_items, summarise

AREAS: tuple[str, ...] = (
    "valid arguments",
    "malformed arguments",
    "doc examples",
    "doc error conditions",
    "doc drift",
    "behaviour rules",
    "sequences",
)
OUTCOMES = ("pass", "fail", "known", "skip")
STATUSES = ("fail", "pass", "skip", "n/a")  # a cell's or row's status, worst first
COMMAND_LABEL = "command"
TERMINAL_PREFIXES = 12  # trace-event prefixes the terminal table names, most reached first


def area_of(result: Result) -> str | None:
    """The matrix column of a result, from its epic and story; None: not per command."""
    epic, story = result.label("epic"), result.label("story")
    if epic == "commands":
        return {
            "valid arguments": "valid arguments",
            "no arguments": "valid arguments",  # the same check, with {} as arguments
            "sweep": "valid arguments",  # the same exchange, with every listed value
            "malformed arguments": "malformed arguments",
        }.get(story)
    if epic == "documentation":
        if story.startswith("example"):
            return "doc examples"
        if story.startswith("error condition"):
            return "doc error conditions"
        return "doc drift" if story == "drift" else None
    if epic == "sequences" or (epic == "behaviour" and story == "state machine"):
        return "sequences"
    return "behaviour rules" if epic == "behaviour" else None


@dataclass
class Cell:
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OUTCOMES, 0))

    @property
    def status(self) -> str:
        c = self.counts
        if c["fail"] or c["known"]:
            return "fail"
        if c["pass"]:
            return "pass"
        return "skip" if c["skip"] else "n/a"

    @property
    def text(self) -> str:
        """``fail 1/3 known``, ``pass 2``, ``skip 1``, ``n/a``: status and counts."""
        c = self.counts
        status = self.status
        if status == "fail":
            failed = c["fail"] + c["known"]
            known = " known" if not c["fail"] else ""
            return f"fail {failed}/{failed + c['pass']}{known}"
        if status == "pass":
            return f"pass {c['pass']}"
        return f"skip {c['skip']}" if status == "skip" else "n/a"


@dataclass
class Row:
    command: str
    cells: dict[str, Cell]
    coverage: Coverage
    tags: tuple[str, ...] = ()
    # Points left out of the coverage count, with why (the covering phase's).
    excluded: Mapping[Item, str] = field(default_factory=dict)

    @property
    def status(self) -> str:
        """The worst status of its cells."""
        statuses = {c.status for c in self.cells.values()}
        return next(s for s in STATUSES if s in statuses or s == "n/a")

    @property
    def known_only(self) -> bool:
        """Whether every failure of the row is a finding the baseline knows."""
        cells = self.cells.values()
        return self.status == "fail" and not any(c.counts["fail"] for c in cells)

    def to_json(self) -> dict[str, object]:
        return {
            "command": self.command,
            "status": self.status,
            "tags": list(self.tags),
            "areas": {a: {"status": c.status, **c.counts} for a, c in self.cells.items()},
            "coverage": self.coverage.to_json(),
            "excluded": {i.key: why for i, why in sorted(self.excluded.items())},
        }


@dataclass
class Matrix:
    rows: list[Row]
    # Deliberate departures QEMU's source or tests state (protocol-wide, so no row's):
    # shown beside the rows, never counted as failures.
    deviations: list[Deviation] = field(default_factory=list)
    # The trace events the run's QEMUs reached (`conformance.feedback.credit.reached_json`);
    # None when the run didn't record them.
    trace: dict[str, object] | None = None
    # The run's unique findings, new and known, with the baseline's triage fields.
    findings: list[FindingRow] = field(default_factory=list)

    @property
    def verdict(self) -> Verdict:
        return Verdict(self.findings)

    def totals(self) -> dict[str, int]:
        """How many commands have each status."""
        return {s: sum(1 for r in self.rows if r.status == s) for s in STATUSES}

    def coverage(self) -> Coverage:
        """All commands' coverage added up."""
        return Coverage(
            {k: sum(r.coverage.exercised[k] for r in self.rows) for k in KINDS},
            {k: sum(r.coverage.total[k] for r in self.rows) for k in KINDS},
            {k: sum(r.coverage.excluded.get(k, 0) for r in self.rows) for k in KINDS},
        )

    def to_json(self) -> dict[str, object]:
        return {
            "areas": list(AREAS),
            "coverage kinds": dict(KINDS),
            "totals": self.totals(),
            "coverage": self.coverage().to_json(),
            "commands": [r.to_json() for r in self.rows],
            "deviations": [d.to_json() for d in self.deviations],
            "verdict": self.verdict.line(),
            "findings": [f.to_json() for f in self.findings],
            **({"trace": self.trace} if self.trace is not None else {}),
        }


def build(
    schema: Schema,
    results: Iterable[Result],
    covered: Mapping[str, Iterable[Item]],
    deviations: Iterable[Deviation] = (),
    excluded: Mapping[str, Mapping[Item, str]] | None = None,
) -> Matrix:
    """The matrix of every command of ``schema`` from a run's results and coverage
    (``excluded``: the points left out of each command's count, with why)."""
    excluded = excluded or {}
    cells = {c: {a: Cell() for a in AREAS} for c in schema.commands}
    for result in results:
        area = area_of(result)
        if area is None:
            continue
        commands = {result.label("feature"), *result.labels.get(COMMAND_LABEL, ())}
        for command in commands & cells.keys():
            cells[command][area].counts[result.outcome] += 1
    rows = []
    for command in sorted(schema.commands):
        universe = command_items(schema, command)
        used = frozenset(covered.get(command, ()))
        left_out = {
            i: why
            for i, why in excluded.get(command, {}).items()
            if i in universe and i not in used
        }
        rows.append(
            Row(
                command,
                cells[command],
                summarise(universe, used, left_out),
                command_tags(schema.commands[command]),
                left_out,
            )
        )
    return Matrix(rows, list(deviations))


def percent(coverage: Coverage) -> str:
    total = sum(coverage.total.values())
    return f"{100 * coverage.ratio:.0f}%" if total else "-"


def _fraction(coverage: Coverage, kind: str) -> str:
    total = coverage.total[kind]
    out = coverage.excluded.get(kind, 0)
    excluded = f" (-{out})" if out else ""
    return f"{coverage.exercised[kind]}/{total - out}{excluded}" if total else "-"


def markdown(matrix: Matrix, title: str, chart: str | None = None) -> str:
    """matrix.md: a summary, a legend, and one table row per command."""
    totals = matrix.totals()
    overall = matrix.coverage()
    lines = [
        f"# Conformance matrix: {title}",
        "",
        f"Findings: {matrix.verdict.line()}.",
        "",
        f"{len(matrix.rows)} commands: "
        + ", ".join(f"{totals[s]} {s}" for s in STATUSES)
        + f". Schema coverage by generated valid arguments: {percent(overall)} ("
        + ", ".join(f"{KINDS[k]} {_fraction(overall, k)}" for k in KINDS)
        + ").",
        "",
        "A cell is `pass N`, `fail F/N` (F of the N results that ran failed; `known`: "
        "all are findings the baseline knows), `skip N` (none ran) or `n/a` (no test of "
        "that area for this command). Coverage columns: exercised/eligible domain points "
        "of the command's argument type, `(-N)`: N more points excluded (listed below "
        "with their reason); `-`: it has none.",
        "",
    ]
    if chart:
        lines += [f"![coverage and outcome per command]({chart})", ""]
    head = ["command", *AREAS, *(KINDS[k] for k in KINDS), "coverage"]
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in matrix.rows:
        name = f"`{row.command}`" + "".join(f" _{t}_" for t in row.tags)
        cells = [row.cells[a].text for a in AREAS]
        fractions = [_fraction(row.coverage, k) for k in KINDS]
        lines.append("| " + " | ".join([name, *cells, *fractions, percent(row.coverage)]) + " |")
    if matrix.findings:
        lines += ["", "## Findings", ""]
        lines += _findings(matrix.findings)
    if any(row.excluded for row in matrix.rows):
        lines += ["", "## Excluded coverage points", ""]
        lines += _exclusions(matrix)
    if matrix.trace is not None:
        lines += ["", "## Trace events", "", reached_text(matrix.trace) + "."]
    if matrix.deviations:
        lines += ["", "## Deviations (deliberate, not findings)", ""]
        lines += [
            f"- `{d.name}` ({d.check}): {d.summary}. {'; '.join(d.because)}"
            for d in matrix.deviations
        ]
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    """Free text in a markdown table cell."""
    return text.replace("|", "\\|").replace("\n", " ") or "-"


def _findings(rows: list[FindingRow]) -> list[str]:
    """The findings table: new ones first, each with the baseline's triage fields."""
    targets = len({r.target for r in rows}) > 1
    head = ["status", "kind", *(["target"] if targets else []), "finding", "results"]
    lines = [
        "| " + " | ".join([*head, "verdict", "note", "link"]) + " |",
        "|" + "---|" * (len(head) + 3),
    ]
    for r in rows:
        link = f"<{r.link}>" if r.link else "-"
        cells = [
            f"**{r.status}**" if r.status == "new" else r.status,
            r.kind,
            *([f"`{r.target}`"] if targets else []),
            # Double backticks: a signature may quote code with single ones.
            f"`` {_cell(r.key)} ``",
            str(r.results),
            _cell(r.verdict),
            _cell(r.note),
            link,
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


#: Excluded points named per command and reason in matrix.md; matrix.json lists all.
_NAMED = 12


def _exclusions(matrix: Matrix) -> list[str]:
    """Per command, its excluded points grouped by reason (the first few named)."""
    lines = []
    for row in matrix.rows:
        by_reason: dict[str, list[Item]] = {}
        for item, why in sorted(row.excluded.items()):
            by_reason.setdefault(why, []).append(item)
        for why, points in by_reason.items():
            named = ", ".join(f"`{i.key}`" for i in points[:_NAMED])
            more = f" and {len(points) - _NAMED} more" if len(points) > _NAMED else ""
            lines.append(f"- `{row.command}`: {len(points)} points, {why}: {named}{more}")
    return lines


_SHORT = {"pass": "pass", "fail": "FAIL", "skip": "skip", "n/a": "-"}


def table(matrix: Matrix) -> list[str]:
    """The terminal table: a line per command some test reached, a column per area,
    then coverage; the commands no test reached are counted, not listed."""
    reached = [r for r in matrix.rows if r.status != "n/a"]
    width = max((len(r.command) for r in reached), default=7)
    heads = ("valid", "malformed", "doc-ex", "doc-err", "drift", "behaviour", "sequences")
    lines = [f"{'command':<{width}}  " + " ".join(f"{h:<9}" for h in heads) + "  coverage"]
    for row in reached:
        marks = []
        for area in AREAS:
            cell = row.cells[area]
            mark = _SHORT[cell.status]
            if cell.status == "fail" and not cell.counts["fail"]:
                mark = "known"
            marks.append(f"{mark:<9}")
        lines.append(f"{row.command:<{width}}  " + " ".join(marks) + f"  {percent(row.coverage)}")
    totals = matrix.totals()
    lines.append(
        f"{len(matrix.rows)} commands: "
        + ", ".join(f"{totals[s]} {s}" for s in STATUSES)
        + f" (no test of this run reached them); schema coverage {percent(matrix.coverage())}"
    )
    lines += [f"deviation (not a finding): {d.name} ({d.check})" for d in matrix.deviations]
    if matrix.trace is not None:
        lines.append(reached_text(matrix.trace, limit=TERMINAL_PREFIXES))
    return lines


def write_matrix(matrix: Matrix, directory: Path, title: str, chart_svg: str) -> list[Path]:
    """Write matrix.md, matrix.json and the chart (matrix.svg) into ``directory``."""
    return [
        write_report(directory / "matrix.svg", chart_svg),
        write_report(directory / "matrix.md", markdown(matrix, title, chart="matrix.svg")),
        write_report(
            directory / "matrix.json",
            json.dumps({"title": title, **matrix.to_json()}, indent=1) + "\n",
        ),
    ]
