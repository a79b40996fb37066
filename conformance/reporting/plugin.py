"""pytest hooks of the reports, for conformance tests only (the project's own are left be).

- Every conformance result gets the run's parameters (binary, version, target, machine
  profiles, Hypothesis profile and seed), its target as parent suite, and links to the
  sources its citations name; a failed one its finding kind as a label, a severity, the
  ``finding kind:`` line the allure categories match, each finding's reproducer with
  its replay commands, and a schema check's list of violations; an argument test a
  short summary attachment (examples, replies, coverage), so that a passing result
  says what it did without carrying a transcript.
- At the end of the run (on the controller): ``categories.json`` and
  ``environment.properties`` go to ``--alluredir``; the conformance matrix is built
  from the allure results and the tests' coverage properties, printed as a table, and,
  with ``--reports-dir``, written there as matrix.md, matrix.json and matrix.svg, with
  a copy of categories.json.

It is loaded by conformance.plugin (``pytest_plugins``) and reads that plugin's marks.
"""

from __future__ import annotations

import json
from collections.abc import Generator
from pathlib import Path

import allure
import pytest
from hypothesis import settings

from conformance.drive.exchange import REPLIES_PROPERTY
from conformance.drive.report import take_citations
from conformance.errors import EXIT_USAGE, SetupError
from conformance.findings.record import Finding, leaves
from conformance.findings.reproducer import one_liner
from conformance.machine.instance import QemuGone, QemuInstance
from conformance.machine.trace import collect
from conformance.oracle.failure import Failure
from conformance.reporting import chart, matrix, verdict
from conformance.reporting.categories import HARNESS_ERROR, write_categories
from conformance.reporting.environment import (
    environment,
    trace_environment,
    write_environment,
)
from conformance.reporting.known import replay_command, rewrite, write_known
from conformance.reporting.labels import (
    add_links,
    add_parameters,
    add_target,
    file_failure,
    label_deviations,
    label_findings,
)
from conformance.reporting.results import (
    coverage_exclusions,
    coverage_items,
    deviations,
    read_allure,
    trace_reached,
)
from conformance.runcontext import (
    FINDING_PROPERTY,
    KNOWN_PREFIX,
    SUITE_MARK,
    TRACE_PROPERTY,
    binary_info,
    live_schema,
    run_context,
)
from conformance.spec.coverage import KINDS, command_items, summarise

_PARAMETERS = pytest.StashKey[dict[str, str]]()
_MATRIX = pytest.StashKey[matrix.Matrix]()
_READABLE = 120  # characters of a parameter's repr that a report still shows whole


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.getgroup("qmp-conformance").addoption(
        "--reports-dir",
        default=None,
        help="write the conformance matrix (matrix.md, matrix.json, matrix.svg) and "
        "categories.json into this directory",
    )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    # Outside conformance.plugin's wrapper (trylast), inside allure's: the marks are
    # there, and allure hasn't yet read the exception's message.
    report = yield
    if SUITE_MARK not in report.user_properties:
        return report
    props = dict(report.user_properties)
    version = binary_info(item.config).version
    if report.when == "setup":
        add_parameters({**_short_parameters(item), **run_parameters(item.config)})
        add_target(binary_info(item.config).target)
    for citation in take_citations():
        add_links(citation, version)
    label_deviations(d.name for d in deviations(report.user_properties))
    kind = HARNESS_ERROR if props.get("harness-error") == "true" else props.get("finding-kind")
    if call.excinfo is not None and kind is not None:
        file_failure(call.excinfo.value, str(kind))
        for leaf in leaves(call.excinfo.value):
            if isinstance(leaf, Failure):
                add_links(str(leaf.citation), version)
        attach_finding_evidence(item.config, call.excinfo.value, report.user_properties)
        keys = [_key(v) for n, v in report.user_properties if n == FINDING_PROPERTY]
        if kind != HARNESS_ERROR and keys:
            known = str(getattr(report, "wasxfail", "")).startswith(KNOWN_PREFIX)
            label_findings(keys, known)
    if report.when == "teardown" and run_context(item.config).trace.setup is not None:
        # Everything the test's QEMUs logged: read here, on the process that ran it.
        logged = collect()
        events = sorted({*logged.start, *logged.events})
        if events:
            report.user_properties.append((TRACE_PROPERTY, json.dumps(events)))
    if report.when == "teardown" and REPLIES_PROPERTY in props:
        allure.attach(
            argument_summary(item.config, props), "summary.txt", allure.attachment_type.TEXT
        )
    return report


def attach_finding_evidence(
    config: pytest.Config, exc: BaseException, properties: list[tuple[str, object]]
) -> None:
    """Attach what a failed result needs to be acted on: each finding's reproducer with
    the commands that replay it, and a schema check's whole list of violations.

    The reproducer is the unminimised one of this occurrence; the findings directory
    (written at the end of the run) holds the minimised one, which the replay command
    names.
    """
    binary = binary_info(config).path
    findings_dir = config.getoption("--findings-dir")
    for name, value in properties:
        if name != FINDING_PROPERTY:
            continue
        finding = Finding.from_json(json.loads(str(value)))
        if finding.reproducer is None:
            continue
        allure.attach(
            finding.reproducer.to_jsonl(), "reproducer.jsonl", allure.attachment_type.JSON
        )
        allure.attach(
            replay_text(finding, binary, findings_dir), "replay.txt", allure.attachment_type.TEXT
        )
    details = [d for leaf in leaves(exc) if isinstance(leaf, Failure) for d in leaf.details]
    if details:
        allure.attach(
            json.dumps(details, indent=1), "schema-violations.json", allure.attachment_type.JSON
        )


def replay_text(finding: Finding, binary: str, findings_dir: str | None) -> str:
    """How to bring a finding about again: ``qmp-conformance replay`` (exit 1 when it
    reproduces, also under ``git bisect run``) and a shell one-liner needing only QEMU."""
    assert finding.reproducer is not None
    where = (
        str(Path(findings_dir) / finding.signature.slug)
        if findings_dir is not None
        else "reproducer.jsonl  # this result's reproducer.jsonl attachment, saved"
    )
    return (
        f"signature: {finding.key}\n\n"
        f"{replay_command(binary, where)}\n\n"
        f"{one_liner(finding.reproducer, binary)}\n"
    )


def _key(value: object) -> str:
    """The signature of a finding property."""
    return Finding.from_json(json.loads(str(value))).key


def run_parameters(config: pytest.Config) -> dict[str, str]:
    """The allure parameters every result of this run carries."""
    if _PARAMETERS not in config.stash:
        info = binary_info(config)
        seed = config.getoption("hypothesis_seed", None)
        if seed is None:
            seed = "derandomized" if settings().derandomize else "random"
        config.stash[_PARAMETERS] = {
            "QEMU binary": info.path,
            "QEMU version": f"{info.version_text} ({info.package})"
            if info.package
            else info.version_text,
            "target": info.target,
            "machine": ", ".join(run_context(config).profiles),
            "Hypothesis profile": str(config.getoption("hypothesis_profile", None) or "default"),
            "seed": str(seed),
        }
    return config.stash[_PARAMETERS]


def _short_parameters(item: pytest.Item) -> dict[str, str]:
    """allure shows a test's parameters by repr; a documented example's is its whole
    DocEntry. Those too long to read are shown as the test id instead."""
    callspec = getattr(item, "callspec", None)
    if callspec is None:
        return {}
    return {
        name: str(callspec.id)
        for name, value in callspec.params.items()
        if len(repr(value)) > _READABLE
    }


def argument_summary(config: pytest.Config, props: dict[str, object]) -> str:
    """What an argument test sent: examples, replies by kind, and the schema coverage
    of its valid examples."""
    replies = json.loads(str(props[REPLIES_PROPERTY]))
    lines = [
        f"{props.get('examples', 0)} examples sent, "
        f"{props.get('rejected', 0)} dropped by the host-safety policy",
        "replies: " + (", ".join(f"{n} {k}" for k, n in sorted(replies.items())) or "none"),
    ]
    pairs = list(props.items())
    excluded = coverage_exclusions(pairs)
    for command, used in coverage_items(pairs).items():
        coverage = summarise(
            command_items(live_schema(config), command), used, excluded.get(command, {})
        )
        lines.append(f"schema coverage of {command}'s arguments: {matrix.percent(coverage)}")
        lines += [
            f"  {KINDS[k]}: {coverage.exercised[k]}/{coverage.total[k]}"
            + (f" ({coverage.excluded[k]} excluded)" if coverage.excluded[k] else "")
            for k in KINDS
            if coverage.total[k]
        ]
    return "\n".join(lines) + "\n"


def accelerator(config: pytest.Config) -> str:
    """The accelerator the run's QEMUs use (none of them asks for one): KVM or TCG, or
    none for qemu-storage-daemon, which runs no guest."""
    ctx = run_context(config)
    if binary_info(config).storage_daemon:
        return "none"
    try:
        with QemuInstance(ctx.launch_config(ctx.profiles[0])) as inst:
            value = inst.execute("query-kvm").value
    except (QemuGone, SetupError):
        return "unknown"
    return "kvm" if isinstance(value, dict) and value.get("enabled") else "tcg"


def pytest_sessionfinish(session: pytest.Session) -> None:
    config = session.config
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None or hasattr(config, "workerinput"):
        return
    reports = [
        rep
        for reps in reporter.stats.values()
        for rep in reps
        if isinstance(rep, pytest.TestReport) and SUITE_MARK in rep.user_properties
    ]
    results_dir = getattr(config.option, "allure_report_dir", None)
    if not reports or not results_dir:
        return
    try:
        _write_reports(config, Path(results_dir), reports)
    except SetupError as exc:
        reporter.write_line(f"qmp-conformance: {exc}", red=True)
        session.exitstatus = EXIT_USAGE


def _write_reports(
    config: pytest.Config, results_dir: Path, reports: list[pytest.TestReport]
) -> None:
    info = binary_info(config)
    ctx = run_context(config)
    # Known findings become the failures they are, now that pytest's outcome and the
    # exit status are settled (conformance.reporting.known).
    choice = ctx.baseline
    known_baseline = choice.baseline if choice is not None else None
    rewritten = rewrite(
        results_dir,
        known_baseline.entry if known_baseline is not None else None,
        config.getoption("--findings-dir"),
    )
    write_known(results_dir, rewritten.known.values())
    write_categories(results_dir / "categories.json")
    reached = trace_reached(ctx.trace, (p for rep in reports for p in rep.user_properties))
    write_environment(
        results_dir / "environment.properties",
        {**environment(info, ctx.profiles, accelerator(config)), **trace_environment(reached)},
    )
    results = read_allure(results_dir)
    built = matrix.build(
        live_schema(config),
        results,
        coverage_items(p for rep in reports for p in rep.user_properties),
        deviations(p for rep in reports for p in rep.user_properties),
        coverage_exclusions(p for rep in reports for p in rep.user_properties),
    )
    built.trace = reached
    built.findings = verdict.verdict(results, rewritten.known.values()).rows
    config.stash[_MATRIX] = built
    out = config.getoption("--reports-dir")
    if out is not None:
        title = f"QEMU {info.version_text} {info.target}"
        write_categories(Path(out) / "categories.json")
        matrix.write_matrix(built, Path(out), title, chart.svg(built, title))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    built = terminalreporter.config.stash.get(_MATRIX, None)
    if built is None:
        return
    terminalreporter.write_sep("=", "conformance matrix")
    for line in matrix.table(built):
        terminalreporter.write_line(line)
    terminalreporter.write_line(f"findings: {built.verdict.line()}")
    out = terminalreporter.config.getoption("--reports-dir")
    if out is not None:
        terminalreporter.write_line(f"written to {Path(out) / 'matrix.md'} (and .json, .svg)")
