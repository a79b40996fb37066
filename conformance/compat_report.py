"""The schema part of `qmp-conformance diff`: what changed between A and B, as a reader sees it.

The changes come from `conformance.oracle.compat`; this module names the two sides,
prints the changes grouped as removed, changed and added (findings first in each group,
each with the rule it was judged by, the rules quoted once at the end), and gives them
as JSON. The schemas come from the two binaries, or from two saved ``query-qmp-schema``
replies (``--schema A --schema B``), which is all a packager may have of an old build.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass

from conformance.errors import EXIT_FINDINGS, EXIT_OK, SetupError
from conformance.oracle.compat import RULES, Change, Status, by_kind, compare_schemas, counts
from conformance.spec import Schema
from conformance.spec.introspect import load_schema_file, read_schema_document

__all__ = ["SchemaDiff", "cmd_schema_files", "from_files", "render"]

_STATUS_WIDTH = max(len(s.value) for s in Status)
_WHAT_WIDTH = 18
#: Findings first (they are what a reader came for), and how the summary counts each status.
_COUNTED = {
    Status.FINDING: "findings",
    Status.DEPRECATED: "incompatible but deprecated in A",
    Status.UNSTABLE: "incompatible but unstable",
    Status.COMPATIBLE: "compatible",
}


@dataclass(frozen=True, slots=True)
class SchemaDiff:
    """The two sides' names and the changes from A to B."""

    a: str
    b: str
    changes: list[Change]

    @classmethod
    def of(cls, a: str, b: str, schema_a: Schema, schema_b: Schema) -> SchemaDiff:
        return cls(a, b, compare_schemas(schema_a, schema_b))

    @property
    def findings(self) -> int:
        return sum(1 for c in self.changes if c.status is Status.FINDING)

    def exit_code(self) -> int:
        return EXIT_FINDINGS if self.findings else EXIT_OK

    def to_json(self) -> dict[str, object]:
        return {
            "a": self.a,
            "b": self.b,
            "counts": counts(self.changes),
            "changes": [c.to_json() for c in self.changes],
        }


def render(diff: SchemaDiff) -> str:
    """The changes grouped by kind, each line marked with its status; a summary line last."""
    if not diff.changes:
        return summary(diff) + "\n"
    lines = [f"schema A: {diff.a}", f"schema B: {diff.b}"]
    cited: dict[str, None] = {}
    for kind, group in by_kind(diff.changes):
        lines.append(f"{kind} ({len(group)}):")
        for change in sorted(group, key=lambda c: list(_COUNTED).index(c.status)):
            rule = ""
            if change.status is not Status.COMPATIBLE:
                rule = f"  [{change.rule}]"
                cited[change.rule] = None
            lines.append(
                f"  {change.status.value:<{_STATUS_WIDTH}}  {change.what:<{_WHAT_WIDTH}}"
                f"  {change.where()}{rule}"
            )
    for rule in cited:
        lines.append(f"[{rule}] {RULES[rule]}")
    lines.append(summary(diff))
    return "\n".join(lines) + "\n"


def summary(diff: SchemaDiff) -> str:
    if not diff.changes:
        return "schema: no differences between A and B"
    tally = counts(diff.changes)
    shown = ", ".join(f"{tally[s.value]} {label}" for s, label in _COUNTED.items())
    return f"schema: {len(diff.changes)} changes: {shown}"


def from_files(paths: list[str]) -> SchemaDiff:
    """The difference between two saved schemas; a usage error unless there are two."""
    if len(paths) != 2:
        raise SetupError(f"--schema given {len(paths)} times: give two, A then B")
    labelled = [_load(path) for path in paths]
    return SchemaDiff.of(labelled[0][0], labelled[1][0], labelled[0][1], labelled[1][1])


def _load(path: str) -> tuple[str, Schema]:
    schema = load_schema_file(path)
    _, metadata = read_schema_document(path)
    version = _version_text(metadata.get("qemu-version"))
    return (f"QEMU {version} {path}" if version else path), schema


def _version_text(value: object) -> str:
    """A recording's ``qemu-version``: a string, or a ``query-version`` reply's value."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        qemu = value.get("qemu", value)
        if isinstance(qemu, dict) and all(k in qemu for k in ("major", "minor", "micro")):
            return f"{qemu['major']}.{qemu['minor']}.{qemu['micro']}"
    return ""


def print_diff(diff: SchemaDiff, as_json: bool) -> None:
    if as_json:
        json.dump(diff.to_json(), sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(render(diff))


def cmd_schema_files(ns: argparse.Namespace) -> int:
    """`diff --schema A --schema B`: saved schemas can only be compared, not run."""
    if ns.qemu:
        raise SetupError("--schema compares saved schemas: give --qemu or --schema, not both")
    diff = from_files(ns.schema)
    print_diff(diff, ns.json)
    return diff.exit_code()
