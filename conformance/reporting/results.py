"""A run's results read back: allure result files, and the coverage test properties.

allure results carry what the matrix sorts by (epic, feature, story labels, the status
and its message) for every conformance test; the coverage a test exercised travels in
its user properties, which pytest hands to the controller (and writes to JUnit XML).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from conformance.drive.exchange import COVERAGE_PROPERTY, EXCLUDED_PROPERTY
from conformance.errors import SetupError
from conformance.feedback.credit import START, Coverage, reached_json
from conformance.machine.trace_events import TraceEvents
from conformance.oracle.deviation import Deviation
from conformance.reporting.categories import KNOWN_MESSAGE
from conformance.reporting.labels import FINDING_LABEL, STATUS_LABEL
from conformance.runcontext import DEVIATION_PROPERTY, TRACE_PROPERTY
from conformance.spec.coverage import Item


@dataclass(frozen=True, slots=True)
class Result:
    """One allure test result: its labels (name → values), status and message."""

    name: str
    status: str  # passed, failed, broken, skipped, unknown
    labels: dict[str, tuple[str, ...]]
    message: str = ""

    def label(self, name: str) -> str:
        """The last value of label ``name`` (allure shows the last), or ''."""
        values = self.labels.get(name, ())
        return values[-1] if values else ""

    @property
    def outcome(self) -> str:
        """pass, fail, known (a finding the baseline knows) or skip."""
        if self.status == "passed":
            return "pass"
        if self.status in ("failed", "broken"):
            return "known" if self.label(STATUS_LABEL) == "known" else "fail"
        # A known finding the end of the run has not rewritten (an older run's).
        return "known" if self.message.startswith(KNOWN_MESSAGE) else "skip"

    @property
    def findings(self) -> tuple[str, ...]:
        """The signatures of the findings the result failed with."""
        return self.labels.get(FINDING_LABEL, ())


def read_allure(directory: Path) -> list[Result]:
    """Every ``*-result.json`` in ``directory``; SetupError when it can't be read."""
    if not directory.is_dir():
        raise SetupError(f"no allure results at {directory}")
    results = []
    for path in sorted(directory.glob("*-result.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise SetupError(f"unreadable allure result {path}: {exc}") from exc
        results.append(_result(data))
    return results


def _result(data: object) -> Result:
    if not isinstance(data, dict):
        return Result("", "unknown", {})
    labels: dict[str, tuple[str, ...]] = {}
    for label in data.get("labels") or ():
        if isinstance(label, dict):
            name, value = str(label.get("name", "")), str(label.get("value", ""))
            labels[name] = (*labels.get(name, ()), value)
    details = data.get("statusDetails")
    message = details.get("message") if isinstance(details, dict) else None
    return Result(
        str(data.get("name", "")),
        str(data.get("status") or "unknown"),
        labels,
        message if isinstance(message, str) else "",
    )


def coverage_items(properties: Iterable[tuple[str, object]]) -> dict[str, set[Item]]:
    """Exercised coverage items by command, merged from ``(name, value)`` properties."""
    found: dict[str, set[Item]] = {}
    for name, value in properties:
        if name != COVERAGE_PROPERTY:
            continue
        try:
            data = json.loads(str(value))
            command = str(data["command"])
            items = {Item.parse(str(k)) for k in data["items"]}
        except (ValueError, KeyError, TypeError) as exc:
            raise SetupError(f"bad {COVERAGE_PROPERTY} property {str(value)[:80]!r}") from exc
        found.setdefault(command, set()).update(items)
    return found


def coverage_exclusions(properties: Iterable[tuple[str, object]]) -> dict[str, dict[Item, str]]:
    """Coverage items excluded from each command's count, with their reason, merged from
    ``(name, value)`` properties (the first reason given for an item wins)."""
    found: dict[str, dict[Item, str]] = {}
    for name, value in properties:
        if name != EXCLUDED_PROPERTY:
            continue
        try:
            data = json.loads(str(value))
            command = str(data["command"])
            items = {Item.parse(str(k)): str(why) for k, why in data["excluded"].items()}
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise SetupError(f"bad {EXCLUDED_PROPERTY} property {str(value)[:80]!r}") from exc
        mine = found.setdefault(command, {})
        for item, why in items.items():
            mine.setdefault(item, why)
    return found


def deviations(properties: Iterable[tuple[str, object]]) -> list[Deviation]:
    """The deliberate deviations tests recorded, each (name, check) once, in order."""
    seen: dict[tuple[str, str], Deviation] = {}
    for name, value in properties:
        if name == DEVIATION_PROPERTY:
            deviation = Deviation.from_json(json.loads(str(value)))
            seen.setdefault((deviation.name, deviation.check), deviation)
    return list(seen.values())


def trace_reached(
    trace: TraceEvents, properties: Iterable[tuple[str, object]]
) -> dict[str, object]:
    """The trace events the tests' QEMUs logged (`TRACE_PROPERTY`), out of the ones
    recorded, as the matrix carries them."""
    coverage = Coverage(trace.recorded)
    for name, value in properties:
        if name == TRACE_PROPERTY:
            coverage.credit(START, map(str, json.loads(str(value))))
    return reached_json(trace, coverage)
