"""What a test's failure is (a finding, known or new, or a harness error), the run's
findings store, and the exit status."""

from __future__ import annotations

import json
from collections.abc import Container, Generator
from dataclasses import dataclass

import pytest

from conformance.drive import unshrunk
from conformance.errors import EXIT_FINDINGS, EXIT_HARNESS, EXIT_OK, EXIT_USAGE, SetupError
from conformance.findings import baseline as baselines
from conformance.findings.backtrace import Backtracer
from conformance.findings.record import Finding, findings_from, leaves
from conformance.findings.signature import exit_finding_kind
from conformance.findings.store import FindingStore, load_minimiser
from conformance.machine.instance import QemuGone
from conformance.oracle import deviation as deviations
from conformance.oracle.failure import Failure, FindingKind
from conformance.runcontext import (
    DEVIATION_PROPERTY,
    FINDING_PROPERTY,
    KNOWN_PREFIX,
    SUITE_MARK,
    binary_info,
    run_context,
)


# trylast: the innermost wrapper, so that allure and JUnit see a known finding as such.
@pytest.hookimpl(wrapper=True, trylast=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if not in_suite(item):
        return report
    report.user_properties.append(SUITE_MARK)
    # A deviation is shown with the test that saw it, whatever the test's outcome.
    for seen in deviations.take():
        report.user_properties.append((DEVIATION_PROPERTY, json.dumps(seen.to_json())))
    excinfo = call.excinfo
    if report.failed and excinfo is not None and not _is_finding(excinfo.value):
        # Anything but a check failure is the suite's own bug, never a QEMU finding.
        report.user_properties.append(("harness-error", "true"))
    elif report.failed and excinfo is not None:
        kind = finding_kind(leaves(excinfo.value)[0])
        report.user_properties.append(("finding-kind", kind.value))
        found = _signed(item, excinfo.value, report.longreprtext)
        for finding in found:
            report.user_properties.append((FINDING_PROPERTY, json.dumps(finding.to_json())))
        keys = known_keys(item.config)
        if found and all(f.key in keys for f in found):
            # Reported like an xfail: JUnit and allure show it as known, not failed.
            report.outcome = "skipped"
            report.wasxfail = KNOWN_PREFIX + "; ".join(f.key for f in found)
    return report


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    """A hang, or a failure the baseline knows, ends its test unshrunk
    (`conformance.drive.unshrunk`); with --baseline-update a known one is shrunk, so
    the baseline records minimal signatures."""
    config = item.config
    if config.getoption("--always-shrink") or not in_suite(item):
        return (yield)
    known = () if config.getoption("--baseline-update") else known_keys(config)

    def judge(exc: BaseException) -> bool:
        if not _is_finding(exc):
            return False
        if all(finding_kind(leaf) is FindingKind.HANG for leaf in leaves(exc)):
            return True
        found = _signed(item, exc, "")
        return bool(found) and all(f.key in known for f in found)

    with unshrunk.judged_by(judge), unshrunk.holding(getattr(item, "obj", None)):
        return (yield)


def _signed(item: pytest.Item, exc: BaseException, report_text: str) -> list[Finding]:
    """The findings of a test's failure, signed as the baseline knows them."""
    found = findings_from(
        exc,
        item.nodeid,
        report_text,
        str(item.config.getoption("hypothesis_profile", None) or "default"),
    )
    # Here, before the baseline is asked: a frame-signed key is what it must know.
    return [backtracer(item.config).sign(f) for f in found]


def known_keys(config: pytest.Config) -> Container[str]:
    """The signatures the run's baseline knows (none without one)."""
    choice = run_context(config).baseline
    return (choice.baseline if choice is not None else None) or ()


BACKTRACER = pytest.StashKey[Backtracer]()


def backtracer(config: pytest.Config) -> Backtracer:
    """The run's `Backtracer` (one a process; its frames cache is the run's workdir)."""
    if BACKTRACER not in config.stash:
        ctx = run_context(config)
        config.stash[BACKTRACER] = Backtracer(ctx.qemu, str(ctx.workdir))
    return config.stash[BACKTRACER]


def _is_finding(exc: BaseException) -> bool:
    return all(isinstance(leaf, Failure | QemuGone) for leaf in leaves(exc))


def finding_kind(exc: BaseException) -> FindingKind:
    if isinstance(exc, Failure):
        return exc.kind
    if isinstance(exc, QemuGone):
        return exit_finding_kind(exc.exit_info)
    raise TypeError(exc)


def in_suite(item: pytest.Item) -> bool:
    """Whether `item` is a conformance test (as opposed to one of the project's own)."""
    module = getattr(item, "module", None)
    return module is not None and module.__name__.startswith("conformance.suite")


def suite_reports(stats: dict[str, list[object]]) -> list[pytest.TestReport]:
    # Reports reach the controller under xdist, so everything the summary and the exit
    # status say is computed from them, never from per-process counters.
    return [
        rep
        for reports in stats.values()
        for rep in reports
        if isinstance(rep, pytest.TestReport) and SUITE_MARK in rep.user_properties
    ]


def harness_errors(reports: list[pytest.TestReport]) -> list[str]:
    return [
        f"{rep.nodeid}: {str(rep.longrepr).strip().splitlines()[-1][:300]}"
        for rep in reports
        if ("harness-error", "true") in rep.user_properties
    ]


def is_known(report: pytest.TestReport) -> bool:
    return str(getattr(report, "wasxfail", "")).startswith(KNOWN_PREFIX)


@dataclass
class FindingsOutcome:
    """What the controller made of the run's findings, for the terminal summary."""

    store: FindingStore
    baseline_note: str = ""
    unseen: int = 0  # baseline signatures this run didn't hit
    updated: str = ""  # the baseline file written by --baseline-update
    minimiser_note: str = ""
    backtrace_note: str = ""  # why signal-only crashes carry no frames


OUTCOME = pytest.StashKey[FindingsOutcome]()


def _collect_findings(config: pytest.Config, reports: list[pytest.TestReport]) -> FindingsOutcome:
    """Deduplicate the reports' findings, minimise and write them, update the baseline."""
    ctx = run_context(config)
    info = binary_info(config)
    choice = ctx.baseline
    known = choice.baseline if choice is not None and choice.baseline is not None else None
    store = FindingStore(
        config.getoption("--findings-dir"),
        known=known or frozenset(),
        binary=ctx.qemu,
        qemu={"version": info.version_text, "package": info.package, "binary": info.path},
    )
    seen: set[tuple[str, str]] = set()
    for rep in reports:
        for name, value in rep.user_properties:
            if name == DEVIATION_PROPERTY:
                store.add_deviation(
                    deviations.Deviation.from_json(json.loads(str(value))), rep.nodeid
                )
            if name != FINDING_PROPERTY:
                continue
            finding = Finding.from_json(json.loads(str(value)))
            # One test counts once per signature, whichever phases it failed in.
            if (rep.nodeid, finding.key) not in seen:
                seen.add((rep.nodeid, finding.key))
                store.add(finding)
    outcome = FindingsOutcome(store, choice.note if choice is not None else "")
    if any(e.finding.signature.signal_only for e in store.entries):
        outcome.backtrace_note = backtracer(config).note
    budget = float(config.getoption("--minimise-budget"))
    minimiser = load_minimiser() if budget > 0 and store.new else None
    if minimiser is not None:
        store.minimise(minimiser, workdir_base=str(ctx.workdir / "minimise"), budget_s=budget)
    elif budget > 0 and store.new:
        outcome.minimiser_note = "reproducers not minimised: no minimiser installed"
    store.write()
    if known is not None:
        outcome.unseen = len(known.unseen(e.finding.key for e in store.entries))
    if choice is not None and choice.path is not None and config.getoption("--baseline-update"):
        baselines.save(
            choice.path,
            ((e.finding.key, e.finding.kind.value, e.finding.title) for e in store.entries),
            version=info.version_text,
            package=info.package,
            target=info.target,
        )
        outcome.updated = f"{choice.path} [{info.target}]"
    return outcome


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None or hasattr(config, "workerinput"):
        return
    reports = suite_reports(reporter.stats)
    if not reports:
        return
    try:
        outcome = _collect_findings(config, reports)
    except (SetupError, OSError) as exc:  # an unwritable findings directory or baseline
        reporter.write_line(f"qmp-conformance: {exc}", red=True)
        session.exitstatus = EXIT_USAGE
        return
    config.stash[OUTCOME] = outcome
    if harness_errors(reports):
        session.exitstatus = EXIT_HARNESS
    elif exitstatus in (EXIT_OK, EXIT_FINDINGS):
        # --baseline-update has just made every finding of this run a known one.
        new = outcome.store.new and not outcome.updated
        session.exitstatus = EXIT_FINDINGS if new else EXIT_OK
