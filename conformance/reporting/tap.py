"""A run's results as TAP on stdout (`qmp-conformance run --tap`), for meson's
``protocol: 'tap'`` and any other TAP consumer (docs/ci-integration.md).

TAP version 13: one line per conformance test, numbered in the order the results reach
the controller (under xdist, the order workers finish them), the plan at the end
(``1..N``), since the controller of an xdist run never collects and so can't know N
first.

- passed: ``ok N - <test id>`` (the node id from the suite's package on, e.g.
  ``test_arguments.py::test_valid_arguments[query-status]``, whatever the directory)
- skipped: ``ok N - <test id> # SKIP <reason>``
- a new finding: ``not ok N - <test id>`` and a YAML block listing each finding's kind,
  signature, title, reproducer path and replay command (from the finding the test's
  report carries in its user properties, as `conformance.plugin` put it there)
- only findings the ``--baseline`` knows: ``not ok N - <test id> # TODO known finding``
  with the same block: TAP's TODO is "expected to fail", which is what a baseline says;
  a consumer counts it as an expected failure, not a failure
- a harness error (the suite's own failure, exit 3): ``not ok`` with ``outcome:
  harness-error`` and the error's last line
- a run that can't go on (interrupted, a setup error inside pytest): ``Bail out!``

The lines are written by `conformance.tapstream`; the CLI keeps stdout for them.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest

from conformance.findings.record import Finding
from conformance.reporting.known import replay_command
from conformance.runcontext import (
    FINDING_PROPERTY,
    KNOWN_PREFIX,
    SUITE_MARK,
    binary_info,
    run_context,
)
from conformance.tapstream import TapWriter, Yaml

SUITE_PACKAGE = "conformance/suite/"


def short_id(nodeid: str) -> str:
    """A conformance test's id as the TAP line names it, the same from any directory: its
    node id from the suite's package on (pytest's node ids start at its rootdir, which
    follows the current directory, e.g. a meson build directory)."""
    return nodeid.rpartition(SUITE_PACKAGE)[2]


class TapReporter:
    """pytest plugin, registered by the CLI on the controller only: the conformance tests'
    results as TAP, one line per test, written when its last report arrives."""

    def __init__(self, writer: TapWriter) -> None:
        self.writer = writer
        self._pending: dict[str, list[pytest.TestReport]] = {}
        self._stopped = ""
        self._config: pytest.Config | None = None

    @pytest.hookimpl(tryfirst=True)
    def pytest_configure(self, config: pytest.Config) -> None:
        self._config = config

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.writer.result(
                False,
                short_id(report.nodeid) or "collection",
                details={"outcome": "harness-error", "message": _last_line(report)},
            )
        elif report.skipped and isinstance(report.longrepr, tuple):
            self.writer.result(True, short_id(report.nodeid), "SKIP", _skip_reason(report))

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if SUITE_MARK not in report.user_properties:
            return
        reports = self._pending.setdefault(report.nodeid, [])
        reports.append(report)
        # xdist reports a test its crashed worker was running with when="???".
        if report.when not in ("setup", "call"):
            del self._pending[report.nodeid]
            self._emit(report.nodeid, reports)

    def pytest_keyboard_interrupt(self, excinfo: pytest.ExceptionInfo[BaseException]) -> None:
        message = getattr(excinfo.value, "msg", "") or "interrupted"
        self._stopped = str(message)

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self.writer.ended:
            return
        if self._stopped:
            self.writer.bail_out(self._stopped)
        elif session.exitstatus == pytest.ExitCode.NO_TESTS_COLLECTED:
            # Not "1..0": that reads as "all skipped", and the run is a usage error (2).
            self.writer.bail_out("the selection collected no conformance tests")
        else:
            self.writer.plan()

    def _emit(self, nodeid: str, reports: list[pytest.TestReport]) -> None:
        config = self._config
        nodeid = short_id(nodeid)
        failed = [r for r in reports if r.failed]
        properties = [p for r in reports for p in r.user_properties]
        known = next((r for r in reports if _is_known(r)), None)
        if failed:
            self.writer.result(False, nodeid, details=_failure_details(config, failed, properties))
        elif known is not None:
            details = _failure_details(config, [known], properties)
            self.writer.result(False, nodeid, "TODO", "known finding", details)
        elif any(r.skipped for r in reports):
            skipped = next(r for r in reports if r.skipped)
            xfail = str(getattr(skipped, "wasxfail", ""))
            if xfail:
                self.writer.result(False, nodeid, "TODO", xfail)
            else:
                self.writer.result(True, nodeid, "SKIP", _skip_reason(skipped))
        else:
            self.writer.result(True, nodeid)


def _is_known(report: pytest.TestReport) -> bool:
    return report.skipped and str(getattr(report, "wasxfail", "")).startswith(KNOWN_PREFIX)


def _skip_reason(report: pytest.TestReport | pytest.CollectReport) -> str:
    if isinstance(report.longrepr, tuple):
        return str(report.longrepr[2]).removeprefix("Skipped: ")
    return "skipped"


def _last_line(report: pytest.TestReport | pytest.CollectReport) -> str:
    lines = str(report.longrepr).strip().splitlines()
    return lines[-1][:300] if lines else report.outcome


def _failure_details(
    config: pytest.Config | None,
    reports: list[pytest.TestReport],
    properties: list[tuple[str, object]],
) -> dict[str, Yaml]:
    """The YAML block of a failed or known-failing test: what kind of failure, and for a
    finding everything needed to act on it."""
    props = dict(properties)
    if props.get("harness-error") == "true":
        return {"outcome": "harness-error", "message": _last_line(reports[-1])}
    findings: dict[str, Finding] = {}
    for name, value in properties:
        if name == FINDING_PROPERTY:
            finding = Finding.from_json(json.loads(str(value)))
            findings.setdefault(finding.key, finding)
    if not findings or config is None:
        return {"outcome": "failed", "message": _last_line(reports[-1])}
    choice = run_context(config).baseline
    known = choice.baseline if choice is not None and choice.baseline is not None else ()
    return {
        "outcome": "finding",
        "finding-kind": str(props.get("finding-kind", "")),
        "findings": [_finding_details(config, f, f.key in known) for f in findings.values()],
    }


def _finding_details(config: pytest.Config, finding: Finding, known: bool) -> dict[str, Yaml]:
    found: dict[str, Yaml] = {
        "kind": finding.kind.value,
        "signature": finding.key,
        "title": finding.title,
        "known": known,
    }
    if finding.citation:
        found["citation"] = finding.citation
    findings_dir = config.getoption("--findings-dir")
    if finding.reproducer is not None and findings_dir is not None:
        directory = Path(findings_dir) / finding.signature.slug
        found["reproducer"] = str(directory / "reproducer.jsonl")
        found["replay"] = replay_command(binary_info(config).path, shlex.quote(str(directory)))
    else:
        found["reproducer"] = "none: the failure carried no transcript"
    return found
