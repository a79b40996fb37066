"""Several runs' reports merged into one: CI shards, or the targets of ``--all-installed``.

``qmp-conformance report --merge DIR...`` (and the end of ``run --all-installed``):

- **allure results**: every result, container and attachment file of every DIR is
  copied into ``REPORTS/allure-results``. allure names them by UUID, so they never
  collide; a name seen twice with the same bytes (a DIR given twice) is copied once, and
  with other bytes is an error rather than a silent overwrite. ``categories.json`` is
  written once; ``environment.properties`` once, each key with the distinct values of
  the runs (``qemu.target=aarch64, x86_64``); ``known-findings.json`` once, with the
  known findings of every run (conformance.reporting.known).
- **findings**: each run's finding directories (``findings/`` beside its allure
  results) are copied into ``REPORTS/findings``, a name seen twice once, so that the
  results' reproducer links answer in the merged report; the runs' indexes are not
  merged.
- **matrices**: each DIR's ``matrix.json`` (in DIR, or beside its allure-results: its
  parent; a matrix index, as ``--all-installed`` writes, stands for the per-target
  matrices it lists) is merged with those of the same QEMU and target, cell by cell:
  counts add, since the shards of one binary ran disjoint tests. A command's schema
  coverage is the largest any run measured, because shards split by command, so only
  one shard ran a command's argument tests (coverage sets can't be added from counts).
  One QEMU and target: ``REPORTS/matrix.{md,json,svg}``. Several:
  ``REPORTS/targets/<target>/matrix.*`` and an index, ``REPORTS/matrix.{md,json}``,
  with one row per target.

Then ``report`` builds the HTML as usual (conformance.reporting.html).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from conformance.errors import SetupError
from conformance.feedback.credit import merge_reached
from conformance.jsonfile import read_json
from conformance.reporting import chart
from conformance.reporting.categories import write_categories
from conformance.reporting.environment import properties_text
from conformance.reporting.known import FILE as KNOWN_FILE
from conformance.reporting.known import (
    FINDINGS_DIR,
    KnownFinding,
    merge_known,
    read_known,
    write_known,
)
from conformance.reporting.matrix import (
    AREAS,
    OUTCOMES,
    STATUSES,
    Cell,
    Matrix,
    Row,
    percent,
    write_matrix,
)
from conformance.reporting.output import write_report
from conformance.reporting.verdict import FindingRow, Verdict
from conformance.spec.coverage import KINDS, Coverage, Item

__all__ = [
    "INDEX_KEY",
    "IndexEntry",
    "MatrixFile",
    "cmd_report",
    "load_json",
    "matrix_from_file",
    "merge_environment",
    "merge_findings",
    "merge_matrices",
    "merge_reports",
    "merge_results",
    "read_matrices",
    "read_properties",
    "write_index",
]

CATEGORIES = "categories.json"
ENVIRONMENT = "environment.properties"
MATRIX_JSON = "matrix.json"
RESULTS_DIR = "allure-results"
TARGETS_DIR = "targets"
#: The key marking a matrix.json that is an index of per-target matrices.
INDEX_KEY = "qmp-matrix-index"
INDEX_VERSION = 1
_TITLE = re.compile(r"^QEMU (?P<version>\S+) (?P<target>\S+)$")


def cmd_report(ns: argparse.Namespace, passthrough: list[str]) -> int:
    """``qmp-conformance report [--merge DIR...] [--no-html]``: merge, then build the HTML
    (the options are defined in conformance.cli)."""
    from conformance.reporting import html

    if ns.merge:
        for line in merge_reports([Path(d) for d in ns.merge], Path(ns.reports)):
            print(line)
        if ns.no_html:
            return 0
    elif ns.no_html:
        raise SetupError("--no-html only goes with --merge")
    return html.cmd_report(ns, passthrough)


# -- allure results ------------------------------------------------------------------------


@dataclass
class ResultsMerge:
    """What merging allure result directories did."""

    copied: int = 0
    duplicates: int = 0  # same name, same bytes: copied once
    results: int = 0  # *-result.json files among the copied
    environment: dict[str, str] = field(default_factory=dict)


def _unescape(text: str) -> str:
    out = []
    chars = iter(text)
    for c in chars:
        if c != "\\":
            out.append(c)
            continue
        nxt = next(chars, "")
        out.append({"n": "\n", "r": "\r", "t": "\t"}.get(nxt, nxt))
    return "".join(out)


def read_properties(path: Path) -> dict[str, str]:
    """A properties file as written by conformance.reporting.environment (``{}`` when
    there is none)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return {}
    values: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith(("#", "!")):
            continue
        # The first '=' not escaped ends the key.
        m = re.match(r"^((?:[^\\=]|\\.)*)=(.*)$", line)
        if m is None:
            continue
        values[_unescape(m[1])] = _unescape(m[2])
    return values


def merge_environment(runs: Iterable[Mapping[str, str]]) -> dict[str, str]:
    """Each key once, in first-seen order, with the distinct values of the runs in
    first-seen order, joined by ``, ``."""
    merged: dict[str, list[str]] = {}
    for values in runs:
        for key, value in values.items():
            seen = merged.setdefault(key, [])
            if value not in seen:
                seen.append(value)
    return {k: ", ".join(v) for k, v in merged.items()}


def _same_file(a: Path, b: Path) -> bool:
    return a.stat().st_size == b.stat().st_size and a.read_bytes() == b.read_bytes()


def merge_results(sources: Sequence[Path], dest: Path) -> ResultsMerge:
    """Copy every file of the allure result directories ``sources`` into ``dest``, which
    is emptied first; SetupError when a source is missing or two files would clobber."""
    dest_real = dest.resolve()
    for src in sources:
        if not src.is_dir():
            raise SetupError(f"no allure results at {src}")
        if src.resolve() == dest_real:
            raise SetupError(f"{src} is the merge's own output directory; merge it from elsewhere")
    if dest.exists():
        shutil.rmtree(dest)
    try:
        dest.mkdir(parents=True)
    except OSError as exc:
        raise SetupError(f"cannot create {dest}: {exc.strerror or exc}") from exc
    outcome = ResultsMerge()
    environments: list[dict[str, str]] = []
    categories: Path | None = None
    known: list[list[KnownFinding]] = []
    for src in sources:
        for path in sorted(src.iterdir()):
            if not path.is_file():
                continue
            if path.name == KNOWN_FILE:
                known.append(read_known(src))
                continue
            if path.name == ENVIRONMENT:
                environments.append(read_properties(path))
                continue
            if path.name == CATEGORIES:
                categories = categories or path
                continue
            target = dest / path.name
            if target.exists():
                if not _same_file(path, target):
                    raise SetupError(
                        f"{path.name} is in two runs with different contents "
                        f"(last from {src}); not merging over it"
                    )
                outcome.duplicates += 1
                continue
            try:
                shutil.copyfile(path, target)
            except OSError as exc:
                raise SetupError(f"cannot copy {path}: {exc.strerror or exc}") from exc
            outcome.copied += 1
            outcome.results += path.name.endswith("-result.json")
    if categories is not None:
        shutil.copyfile(categories, dest / CATEGORIES)
    else:
        write_categories(dest / CATEGORIES)
    if known:
        write_known(dest, merge_known(known))
    outcome.environment = merge_environment(environments)
    if outcome.environment:
        write_report(dest / ENVIRONMENT, properties_text(outcome.environment))
    return outcome


# -- matrices ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MatrixFile:
    """One run's matrix.json, read."""

    path: Path
    title: str
    data: Mapping[str, object]

    @property
    def target(self) -> str:
        """The QEMU target from the title (``QEMU 7.2.22 x86_64``), else the title
        made safe for a directory name."""
        m = _TITLE.match(self.title)
        if m is not None:
            return m["target"]
        return re.sub(r"[^A-Za-z0-9._-]+", "-", self.title).strip("-") or "unknown"


def load_json(path: Path) -> dict[str, object]:
    """A JSON object from ``path``; SetupError (one line) when it can't be read."""
    data = read_json(path)
    if not isinstance(data, dict):
        raise SetupError(f"{path}: not a matrix (a JSON object expected)")
    return data


def read_matrices(path: Path) -> list[MatrixFile]:
    """The matrix at ``path``, or the per-target matrices of the index at ``path``."""
    data = load_json(path)
    if INDEX_KEY in data:
        targets = data.get("targets")
        if not isinstance(targets, list):
            raise SetupError(f"{path}: a matrix index without a targets list")
        found: list[MatrixFile] = []
        for entry in targets:
            link = entry.get("matrix") if isinstance(entry, dict) else None
            if isinstance(link, str) and link.endswith(".json"):
                found += read_matrices(path.parent / link)
        return found
    if not isinstance(data.get("commands"), list):
        raise SetupError(f"{path}: not a conformance matrix (no commands list)")
    return [MatrixFile(path, str(data.get("title", "")), data)]


def _int(value: object) -> int:
    return value if isinstance(value, int) else 0


def _counts(excluded: Mapping[Item, str]) -> dict[str, int]:
    return {k: sum(1 for i in excluded if i.kind == k) for k in KINDS}


def _traces(files: Sequence[MatrixFile]) -> list[dict[str, object]]:
    found: list[dict[str, object]] = []
    for f in files:
        trace = f.data.get("trace")
        if isinstance(trace, dict):
            found.append(trace)
    return found


def merge_matrices(files: Sequence[MatrixFile]) -> Matrix:
    """One matrix of the same QEMU and target: cell counts added, coverage the largest
    measured, tags the first seen; rows sorted by command."""
    cells: dict[str, dict[str, Cell]] = {}
    exercised: dict[str, dict[str, int]] = {}
    totals: dict[str, dict[str, int]] = {}
    excluded: dict[str, dict[Item, str]] = {}
    tags: dict[str, tuple[str, ...]] = {}
    for f in files:
        commands = f.data.get("commands")
        for row in commands if isinstance(commands, list) else ():
            if not isinstance(row, dict) or not isinstance(row.get("command"), str):
                raise SetupError(f"{f.path}: a matrix row without a command")
            name = row["command"]
            mine = cells.setdefault(name, {a: Cell() for a in AREAS})
            areas = row.get("areas")
            for area, counts in (areas if isinstance(areas, dict) else {}).items():
                if area in mine and isinstance(counts, dict):
                    for outcome in OUTCOMES:
                        mine[area].counts[outcome] += _int(counts.get(outcome))
            cov = row.get("coverage")
            for kind in KINDS:
                item = cov.get(kind) if isinstance(cov, dict) else None
                item = item if isinstance(item, dict) else {}
                ex = exercised.setdefault(name, dict.fromkeys(KINDS, 0))
                tot = totals.setdefault(name, dict.fromkeys(KINDS, 0))
                ex[kind] = max(ex[kind], _int(item.get("exercised")))
                tot[kind] = max(tot[kind], _int(item.get("total")))
            # The shard that measured a command's coverage is the one that excluded.
            left_out = row.get("excluded")
            if isinstance(left_out, dict) and left_out:
                excluded[name] = {Item.parse(str(k)): str(v) for k, v in left_out.items()}
            raw_tags = row.get("tags")
            if name not in tags and isinstance(raw_tags, list):
                tags[name] = tuple(str(t) for t in raw_tags)
    return Matrix(
        [
            Row(
                name,
                cells[name],
                Coverage(exercised[name], totals[name], _counts(excluded.get(name, {}))),
                tags.get(name, ()),
                excluded.get(name, {}),
            )
            for name in sorted(cells)
        ],
        trace=merge_reached(_traces(files)),
        findings=_findings(files),
    )


def _findings(files: Sequence[MatrixFile]) -> list[FindingRow]:
    """The runs' findings, each (target, signature) once: its results added (shards ran
    disjoint tests), new if any run found it new."""
    merged: dict[tuple[str, str], FindingRow] = {}
    for f in files:
        rows = f.data.get("findings")
        for data in rows if isinstance(rows, list) else ():
            if not isinstance(data, dict):
                continue
            row = FindingRow.from_json(data)
            seen = merged.get((row.target, row.key))
            if seen is not None:
                row = replace(
                    seen,
                    results=seen.results + row.results,
                    status="new" if "new" in (seen.status, row.status) else "known",
                )
            merged[(row.target, row.key)] = row
    return Verdict(list(merged.values())).sorted().rows


@dataclass(frozen=True, slots=True)
class IndexEntry:
    """One target's row of the matrix index."""

    target: str
    title: str
    matrix: str  # the per-target matrix.md, relative to the index
    commands: int
    totals: Mapping[str, int]
    coverage: str  # percent, as the matrix prints it
    note: str = ""  # e.g. the run's exit status

    @classmethod
    def of(cls, target: str, title: str, built: Matrix, matrix: str, note: str = "") -> IndexEntry:
        """The index row of ``built``, the matrix of ``target`` linked as ``matrix``."""
        return cls(
            target, title, matrix, len(built.rows), built.totals(), percent(built.coverage()), note
        )

    def to_json(self) -> dict[str, object]:
        """The row in matrix.json (the link to the target's matrix.json)."""
        return {
            "target": self.target,
            "title": self.title,
            "matrix": self.matrix.removesuffix(".md") + ".json",
            "commands": self.commands,
            "totals": dict(self.totals),
            "coverage": self.coverage,
            "note": self.note,
        }


def matrix_from_file(f: MatrixFile) -> Matrix:
    """A matrix.json read back as a Matrix."""
    return merge_matrices([f])


def write_index(
    reports: Path,
    entries: Sequence[IndexEntry],
    skipped: Sequence[tuple[str, str]] = (),
    heading: str = "Conformance matrices",
) -> list[Path]:
    """``REPORTS/matrix.md`` and ``matrix.json``: one row per target with its command
    counts, coverage and a link to its matrix; then the binaries that did not run."""
    lines = [
        f"# {heading}",
        "",
        f"{len(entries)} targets. Each row counts the target's commands by their worst "
        "cell (see the target's matrix for the legend); coverage is the schema coverage "
        "of the generated valid arguments.",
        "",
        "| target | QEMU | commands | " + " | ".join(STATUSES) + " | coverage | run | matrix |",
        "|" + "---|" * (len(STATUSES) + 6),
    ]
    for e in entries:
        counts = [str(e.totals.get(s, 0)) for s in STATUSES]
        lines.append(
            f"| `{e.target}` | {e.title} | {e.commands} | "
            + " | ".join(counts)
            + f" | {e.coverage} | {e.note or '-'} | [{e.matrix}]({e.matrix}) |"
        )
    if skipped:
        lines += ["", "Not run:", ""]
        lines += [f"- `{name}`: {why}" for name, why in skipped]
    index = {
        INDEX_KEY: INDEX_VERSION,
        "targets": [e.to_json() for e in entries],
        "skipped": [{"binary": n, "reason": r} for n, r in skipped],
    }
    return [
        write_report(reports / "matrix.md", "\n".join(lines) + "\n"),
        write_report(reports / MATRIX_JSON, json.dumps(index, indent=1) + "\n"),
    ]


# -- report --merge ------------------------------------------------------------------------


def _source(directory: Path) -> tuple[Path, Path | None]:
    """(allure results, matrix.json or None) of one ``--merge`` DIR."""
    if not directory.is_dir():
        raise SetupError(f"--merge {directory}: no such directory")
    if (directory / RESULTS_DIR).is_dir():
        results, base = directory / RESULTS_DIR, directory
    else:
        results = directory
        base = directory if (directory / MATRIX_JSON).is_file() else directory.parent
    if not any(results.glob("*-result.json")):
        raise SetupError(f"--merge {directory}: no allure results (*-result.json) in {results}")
    matrix = base / MATRIX_JSON
    return results, (matrix if matrix.is_file() else None)


def merge_findings(sources: Sequence[Path], dest: Path) -> int:
    """Copy the finding directories of the runs' findings directories ``sources`` into
    ``dest`` (the results' reproducer links point there), each name once: the first
    run's. The runs' indexes are not merged. How many were copied."""
    copied = 0
    for src in sources:
        if not src.is_dir() or src.resolve() == dest.resolve():
            continue
        for finding in sorted(p for p in src.iterdir() if p.is_dir()):
            if (dest / finding.name).exists():
                continue
            try:
                shutil.copytree(finding, dest / finding.name)
            except OSError as exc:
                raise SetupError(f"cannot copy {finding}: {exc.strerror or exc}") from exc
            copied += 1
    return copied


def merge_reports(directories: Sequence[Path], reports: Path) -> list[str]:
    """Merge runs' allure results, findings and matrices into ``reports``; lines to
    print."""
    sources = [_source(d) for d in directories]
    merged = merge_results([r for r, _ in sources], reports / RESULTS_DIR)
    lines = [
        f"merged {merged.results} results ({merged.copied} files"
        + (f", {merged.duplicates} duplicates copied once" if merged.duplicates else "")
        + f") from {len(directories)} directories into {reports / RESULTS_DIR}"
    ]
    # A run writes its findings beside its allure results.
    findings = merge_findings([r.parent / FINDINGS_DIR for r, _ in sources], reports / FINDINGS_DIR)
    if findings:
        lines.append(f"copied {findings} finding directories into {reports / FINDINGS_DIR}")
    files: list[MatrixFile] = []
    read: set[Path] = set()
    for directory, (_, matrix) in zip(directories, sources, strict=True):
        if matrix is None:
            lines.append(f"no {MATRIX_JSON} for {directory}: its results are not in the matrix")
            continue
        for f in read_matrices(matrix):
            # A run named twice (its DIR and its allure-results) counts once.
            if f.path.resolve() not in read:
                read.add(f.path.resolve())
                files.append(f)
    by_title: dict[str, list[MatrixFile]] = {}
    for f in files:
        by_title.setdefault(f.title, []).append(f)
    if len(by_title) == 1:
        ((title, group),) = by_title.items()
        built = merge_matrices(group)
        _write_matrix(built, reports, title)
        lines.append(f"matrix of {title} ({len(group)} runs): {reports / 'matrix.md'}")
    elif by_title:
        entries = []
        taken: set[str] = set()
        for title, group in sorted(by_title.items(), key=lambda kv: (kv[1][0].target, kv[0])):
            target = group[0].target
            # Two QEMU versions of one target: the directory names both apart.
            name = target if target not in taken else f"{target}-{len(taken)}"
            taken.add(name)
            built = merge_matrices(group)
            _write_matrix(built, reports / TARGETS_DIR / name, title)
            link = f"{TARGETS_DIR}/{name}/matrix.md"
            entries.append(IndexEntry.of(name, title, built, link, f"{len(group)} runs"))
        write_index(reports, entries)
        lines.append(f"matrices of {len(entries)} targets: index {reports / 'matrix.md'}")
    return lines


def _write_matrix(built: Matrix, directory: Path, title: str) -> None:
    write_matrix(built, directory, title, chart.svg(built, title))
