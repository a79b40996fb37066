"""The pytest plugin: options, fixtures, parametrisation from the live schema, labels.

It is loaded only for a run of the conformance suite: `qmp-conformance run` names it
(``-p conformance.plugin``), and the `pytest11` entry point (`conformance.pytest_entry`)
loads it when pytest is pointed at `conformance.suite`; every other pytest session in
the environment never imports it, so never gets its options, its temporary workdir or
its Hypothesis profiles. In an xdist worker of `qmp-conformance run` it makes the
worker die with its controller (`conformance.lifeline`).

Test ids are command names taken from the binary's own `query-qmp-schema`, so the
number of tests follows the binary, never a list written here.

Findings: each failed conformance test's exception becomes findings on the process that
ran it (`conformance.findings.record`), carried to the controller as JSON in the
report's user properties; a finding whose signature is in the ``--baseline`` is reported
as known (xfail-like), not failed. The controller deduplicates them, writes
``--findings-dir``, updates the baseline on request, and decides the exit status:
3 on a harness error, 1 on a new finding, else 0.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import Phase, settings

from conformance import hypothesis_profiles, lifeline
from conformance.behaviour.rules import RULES
from conformance.docs.conditions import conditions
from conformance.docs.drift import Drift, drift
from conformance.docs.load import docs_for_binary
from conformance.docs.model import DocError, DocSet
from conformance.drive.exchange import ArgumentRun
from conformance.drive.harvest import harvest
from conformance.drive.report import command_tags, evidence, label
from conformance.errors import EXIT_FINDINGS, EXIT_HARNESS, EXIT_OK, EXIT_USAGE, SetupError
from conformance.findings import baseline as baselines
from conformance.findings.record import Finding, findings_from, leaves
from conformance.findings.signature import exit_finding_kind
from conformance.findings.store import FindingStore, load_minimiser
from conformance.machine.cache import BinaryCache
from conformance.machine.instance import QemuGone, QemuInstance
from conformance.machine.lifecycle import lifecycle_reason
from conformance.machine.pool import InstancePool
from conformance.machine.profiles import PROFILES
from conformance.oracle.conversation import messages
from conformance.oracle.failure import Failure, FindingKind, qapi
from conformance.oracle.jobs import check_job_events
from conformance.qmp.message import Kind, Message
from conformance.runcontext import (
    FINDING_PROPERTY,
    KNOWN_PREFIX,
    RUN_CONTEXT,
    SUITE_MARK,
    RunContext,
    binary_info,
    live_schema,
    run_context,
)
from conformance.spec import Schema
from strategies import safety
from strategies.policy import GenerationPolicy
from strategies.pools import KINDS, Pools
from strategies.wire import MAX_CASE_BYTES, MIN_MAX_SIZE

# Labels, categories, environment and the matrix: what a finished run is read as; and
# --shard, which splits the run for CI jobs in parallel.
pytest_plugins = ["conformance.reporting.plugin", "conformance.sharding"]

DEFAULT_QEMU = "qemu-system-x86_64"

# Hypothesis profiles, chosen with --hypothesis-profile (docs/hypothesis-profiles.md).
hypothesis_profiles.register()
#: Examples per test in the CI profile (`--suite-profile ci`; docs/suite.md, "The CI profile").
CI_EXAMPLES = hypothesis_profiles.CI_EXAMPLES
SUITE_PROFILES = ("full", "ci")
DEFAULT_MINIMISE_BUDGET = 120.0


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("qmp-conformance", "QMP conformance suite")
    group.addoption(
        "--qemu",
        default=os.environ.get("QMPC_QEMU", DEFAULT_QEMU),
        help=f"QEMU binary under test, a name on PATH or a path (default {DEFAULT_QEMU})",
    )
    group.addoption(
        "--machine",
        action="append",
        default=None,
        choices=sorted(PROFILES),
        help="machine profile(s) for per-profile checks (repeatable; default: the "
        "binary's target's, e.g. none, q35 and pc for x86_64)",
    )
    group.addoption("--qmp-timeout", type=float, default=5.0, help="deadline for each reply (s)")
    group.addoption(
        "--qmp-workdir",
        default=None,
        help="directory for the run's QEMU workdirs (default: a new temporary directory)",
    )
    group.addoption("--keep-workdir", action="store_true", help="keep QEMU workdirs after the run")
    group.addoption(
        "--docs",
        default=None,
        help="documentation whose examples are replayed: a QAPI directory, a "
        "qmp-commands.hx or a man page (default: the binary's own qemu-qmp-ref.7)",
    )
    group.addoption(
        "--wire-max-bytes",
        type=int,
        default=64 * 1024,
        help="largest generated broken input in bytes (default 65536; up to 1000000, "
        "which the monitor reads at about 130 KB/s)",
    )
    group.addoption(
        "--suite-profile",
        default="full",
        choices=SUITE_PROFILES,
        help="full (default): one QEMU per argument test and per doc example; ci: "
        "argument tests and read-only doc examples share a QEMU until a command changes "
        "its state, and cases are drawn from the harvest as it was at the start "
        "(use with --hypothesis-profile=qmpc-ci)",
    )
    group.addoption(
        "--qmp-cache",
        default=None,
        help="directory caching the binary's schema and harvest between processes and "
        "runs, keyed by the binary's SHA-256 (default: no cache)",
    )
    group.addoption(
        "--findings-dir",
        default=None,
        help="write each unique finding's reproducer directory and an index here",
    )
    group.addoption(
        "--baseline",
        default=None,
        help="known findings (a baseline JSON file, or 'auto' for the packaged one of the "
        "binary's QEMU version): reported as known, the run does not fail on them",
    )
    group.addoption(
        "--baseline-update",
        action="store_true",
        help="write every finding of this run into the --baseline file",
    )
    group.addoption(
        "--minimise-budget",
        type=float,
        default=DEFAULT_MINIMISE_BUDGET,
        help="seconds for minimising all the run's reproducers on the real binary "
        f"(default {DEFAULT_MINIMISE_BUDGET:g}; 0 disables)",
    )


def pytest_configure(config: pytest.Config) -> None:
    if hasattr(config, "workerinput"):
        lifeline.adopt()  # an xdist worker of `qmp-conformance run`: dies with it
    config.addinivalue_line("markers", "qmp_area(name): the conformance area a test belongs to")
    wd = config.getoption("--qmp-workdir")
    own = wd is None
    workdir = Path(tempfile.mkdtemp(prefix="qmpc-run-")) if own else Path(wd)
    workdir.mkdir(parents=True, exist_ok=True)
    config.stash[RUN_CONTEXT] = RunContext(
        qemu=config.getoption("--qemu"),
        chosen=tuple(config.getoption("--machine") or ()),
        timeout=config.getoption("--qmp-timeout"),
        workdir=workdir,
        keep_workdir=config.getoption("--keep-workdir"),
        own_workdir=own,
        suite_profile=config.getoption("--suite-profile"),
    )
    cache_dir = config.getoption("--qmp-cache")
    if cache_dir is not None:
        config.stash[RUN_CONTEXT].cache = BinaryCache(cache_dir)
    spec = config.getoption("--baseline")
    if spec is None and config.getoption("--baseline-update"):
        raise pytest.UsageError("--baseline-update needs --baseline FILE (or auto)")
    if spec is not None:
        ctx = config.stash[RUN_CONTEXT]
        info = binary_info(config) if spec == baselines.AUTO else None
        try:
            ctx.baseline = baselines.choose(
                spec, info, update=config.getoption("--baseline-update")
            )
        except SetupError as exc:
            pytest.exit(f"qmp-conformance: {exc}", returncode=EXIT_USAGE)


def pytest_unconfigure(config: pytest.Config) -> None:
    ctx = config.stash.get(RUN_CONTEXT, None)
    if ctx is not None and ctx.own_workdir and not ctx.keep_workdir:
        shutil.rmtree(ctx.workdir, ignore_errors=True)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    names = metafunc.fixturenames
    if "command_name" in names:
        schema = live_schema(metafunc.config)
        commands = sorted(schema.commands)
        metafunc.parametrize("command_name", commands, ids=commands)
    if "no_arg_command" in names:
        schema = live_schema(metafunc.config)
        no_args = sorted(c for c in schema.commands if not schema.arg_members_required(c))
        metafunc.parametrize("no_arg_command", no_args, ids=no_args)
    if "doc_example" in names:
        _parametrize_from_docs(metafunc, "doc_example", _example_params)
    if "drift_items" in names:
        _parametrize_from_docs(metafunc, "drift_items", _drift_params)
    if "doc_error" in names:
        _parametrize_from_docs(metafunc, "doc_error", _error_params)
    if "behaviour_rule" in names:
        metafunc.parametrize("behaviour_rule", RULES, ids=[r.id for r in RULES])
    if "profile_name" in names:
        profiles = run_context(metafunc.config).profiles
        metafunc.parametrize("profile_name", profiles, ids=profiles, scope="module")


def _parametrize_from_docs(
    metafunc: pytest.Metafunc,
    argname: str,
    build: Callable[[DocSet, pytest.Config], list[tuple[str, object]]],
) -> None:
    """Parametrize `argname` from the doc set, or skip it with why there is none."""
    docs, why = _doc_set(metafunc.config)
    if docs is None:
        metafunc.parametrize(argname, [pytest.param(None, marks=pytest.mark.skip(reason=why))])
        return
    params = build(docs, metafunc.config)
    metafunc.parametrize(argname, [v for _, v in params], ids=[i for i, _ in params])


def _example_params(docs: DocSet, _config: pytest.Config) -> list[tuple[str, object]]:
    return [
        (f"{e.name}-{i + 1}", (e, i, x))
        for e in docs.entries.values()
        for i, x in enumerate(e.examples)
    ]


def _error_params(docs: DocSet, config: pytest.Config) -> list[tuple[str, object]]:
    schema = live_schema(config)
    return [
        (f"{e.name}-{i + 1}", (e, i, c))
        for e in docs.entries.values()
        for i, c in enumerate(conditions(e, schema))
    ]


def _drift_params(docs: DocSet, config: pytest.Config) -> list[tuple[str, object]]:
    grouped: dict[str, list[Drift]] = {}
    for item in drift(docs, live_schema(config), binary_info(config).target):
        grouped.setdefault(item.name, []).append(item)
    return [(n, (n, tuple(items))) for n, items in sorted(grouped.items())]


_DOCS = pytest.StashKey[tuple[DocSet | None, str]]()


def _doc_set(config: pytest.Config) -> tuple[DocSet | None, str]:
    """The documentation under test, parsed once per process (or why there is none)."""
    if _DOCS not in config.stash:
        try:
            info = binary_info(config)
            docs = docs_for_binary(
                config.getoption("--docs"),
                run_context(config).qemu,
                info.version,
                daemon=info.storage_daemon,
            )
            config.stash[_DOCS] = (docs, "")
        except DocError as exc:
            config.stash[_DOCS] = (None, str(exc))
    return config.stash[_DOCS]


# -- fixtures ------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def qmp_run(request: pytest.FixtureRequest) -> RunContext:
    """The run's settings (binary, profiles, deadlines, workdir)."""
    binary_info(request.config)
    return run_context(request.config)


@pytest.fixture(scope="session")
def schema(request: pytest.FixtureRequest) -> Schema:
    """The spec model of the binary under test."""
    return live_schema(request.config)


@pytest.fixture(scope="session")
def qemu_pool(qmp_run: RunContext) -> Iterator[InstancePool]:
    """Live QEMU instances reused across tests, restarted when one dies."""
    pool = InstancePool(qmp_run.launch_config)
    yield pool
    pool.close()


@pytest.fixture
def fresh_qemu(qmp_run: RunContext) -> Iterator[QemuInstance]:
    """A new, not yet started instance of the first profile; closed after the test."""
    inst = QemuInstance(qmp_run.launch_config(qmp_run.profiles[0]))
    try:
        yield inst
    finally:
        inst.close()


@pytest.fixture(scope="session")
def doc_set(request: pytest.FixtureRequest) -> DocSet:
    """The parsed documentation whose examples are replayed."""
    docs, why = _doc_set(request.config)
    if docs is None:
        pytest.skip(why)
    return docs


@pytest.fixture(scope="session")
def wire_max_bytes(request: pytest.FixtureRequest) -> int:
    """The size bound of generated broken inputs (`strategies.wire.wire_bytes`)."""
    value = int(request.config.getoption("--wire-max-bytes"))
    if not MIN_MAX_SIZE <= value <= MAX_CASE_BYTES:
        pytest.exit(
            f"qmp-conformance: --wire-max-bytes must be between {MIN_MAX_SIZE} and "
            f"{MAX_CASE_BYTES}",
            returncode=EXIT_USAGE,
        )
    return value


@pytest.fixture(scope="session")
def generation_policy() -> GenerationPolicy:
    """What generated commands may contain: the host-safety exclusions."""
    return safety.generation_policy()


@pytest.fixture(scope="session")
def pools(qmp_run: RunContext, schema: Schema) -> Pools:
    """Strings harvested from the live binary, grown with every reply during the run
    (in the CI profile: as harvested, so that each test's cases are the same whatever
    ran before it on its worker)."""
    config = qmp_run.launch_config(qmp_run.argument_profile)
    cache = qmp_run.cache
    key = ""
    if cache is not None and qmp_run.info is not None:
        argv = PROFILES[qmp_run.argument_profile].args
        key = BinaryCache.key(qmp_run.info.path, "harvest", argv)
        cached = cache.load(key)
        if isinstance(cached, dict):
            return _pools_from_json(cached)
    found = Pools()
    with QemuInstance(config) as inst:
        harvest(inst, schema, found)
    if cache is not None and key:
        cache.store(key, _pools_json(found))
    return found


def _pools_json(pools: Pools) -> dict[str, list[str]]:
    return {kind: list(pools.values(kind)) for kind in KINDS}


def _pools_from_json(value: dict[str, object]) -> Pools:
    pools = Pools()
    for kind, strings in value.items():
        if kind in KINDS and isinstance(strings, list):
            pools.extend(kind, [v for v in strings if isinstance(v, str)])
    return pools


@pytest.fixture
def argument_run(
    request: pytest.FixtureRequest,
    command_name: str,
    schema: Schema,
    pools: Pools,
    generation_policy: GenerationPolicy,
    qmp_run: RunContext,
    qemu_pool: InstancePool,
) -> Iterator[ArgumentRun]:
    """One command's generated examples, on one QEMU restarted after crashes (in the
    CI profile: the worker's QEMU, while no earlier command changed its state)."""
    command = schema.commands[command_name]
    mode = "malformed" if "malformed" in request.function.__name__ else "valid"
    label(
        epic="commands",
        feature=command_name,
        story=f"{mode} arguments",
        tags=command_tags(command),
        citation=str(qapi(command_name, "arguments as introspected by query-qmp-schema")),
    )
    reason = lifecycle_reason(command_name) or safety.skip_reason(command_name)
    if reason:
        pytest.skip(f"{command_name}: {reason}")
    shared = qmp_run.reuse
    instances = qemu_pool if shared else InstancePool(qmp_run.launch_config)
    run = ArgumentRun(
        command_name,
        schema,
        pools,
        generation_policy,
        instances,
        qmp_run.argument_profile,
        frozen=shared,
    )
    if shared:
        # Events an earlier test left queued are not this command's to judge.
        run.instance().drain_events()
    try:
        yield run
    finally:
        if not shared:
            instances.close()
        elif run.spoiled:
            instances.retire(qmp_run.argument_profile)
        request.node.user_properties.extend(run.properties())
        if shared:
            request.node.user_properties.append(("restarted", int(run.spoiled)))


# -- reporting -----------------------------------------------------------------------------


def _job_id(message: Message) -> str | None:
    value = message.value
    if message.event_name != "JOB_STATUS_CHANGE" or not isinstance(value, dict):
        return None
    data = value.get("data")
    job = data.get("id") if isinstance(data, dict) else None
    return job if isinstance(job, str) else None


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    """After each conformance test, judge the job state machine on the whole transcript
    of every QEMU the test talked to: jobs run in any test (a generated blockdev-backup,
    a doc example), and each one's JOB_STATUS_CHANGE stream must follow JobStatus."""
    if not _in_suite(item):
        return (yield)
    before = {id(i): len(i.transcript) for i in QemuInstance.started}
    for inst in list(QemuInstance.started):
        # A reused QEMU's exit is signed by what it writes during this test.
        inst.mark_stderr()
    result = yield
    version = binary_info(item.config).version
    for inst in list(QemuInstance.started):
        mark = before.get(id(inst), 0)
        if len(inst.transcript) == mark:
            continue
        fresh = {_job_id(m) for m in messages(inst.transcript.since(mark))} - {None}
        if not fresh:
            continue  # most tests move no job: don't rescan a long-lived transcript
        events = [m for m in messages(inst.transcript) if m.kind is Kind.EVENT]
        # Whole streams (the transcript starts with QEMU, so with each job's start), of
        # the jobs this test moved: an earlier test's finding isn't reported again.
        with evidence(inst):
            # In the evidence path: a broken stream is a finding with a reproducer.
            check_job_events([m for m in events if _job_id(m) in fresh], version)
    return result


# trylast: the innermost wrapper, so that allure and JUnit see a known finding as such.
@pytest.hookimpl(wrapper=True, trylast=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if not _in_suite(item):
        return report
    report.user_properties.append(SUITE_MARK)
    excinfo = call.excinfo
    if report.failed and excinfo is not None and not _is_finding(excinfo.value):
        # Anything but a check failure is the suite's own bug, never a QEMU finding.
        report.user_properties.append(("harness-error", "true"))
    elif report.failed and excinfo is not None:
        kind = finding_kind(leaves(excinfo.value)[0])
        report.user_properties.append(("finding-kind", kind.value))
        found = findings_from(
            excinfo.value,
            item.nodeid,
            report.longreprtext,
            str(item.config.getoption("hypothesis_profile", None) or "default"),
        )
        for finding in found:
            report.user_properties.append((FINDING_PROPERTY, json.dumps(finding.to_json())))
        known = run_context(item.config).baseline
        if found and known is not None and all(f.key in (known.baseline or ()) for f in found):
            # Reported like an xfail: JUnit and allure show it as known, not failed.
            report.outcome = "skipped"
            report.wasxfail = KNOWN_PREFIX + "; ".join(f.key for f in found)
    return report


def _is_finding(exc: BaseException) -> bool:
    return all(isinstance(leaf, Failure | QemuGone) for leaf in leaves(exc))


def finding_kind(exc: BaseException) -> FindingKind:
    if isinstance(exc, Failure):
        return exc.kind
    if isinstance(exc, QemuGone):
        return exit_finding_kind(exc.exit_info)
    raise TypeError(exc)


def _in_suite(item: pytest.Item) -> bool:
    """Whether `item` is a conformance test (as opposed to one of the project's own)."""
    module = getattr(item, "module", None)
    return module is not None and module.__name__.startswith("conformance.suite")


def _suite_reports(stats: dict[str, list[object]]) -> list[pytest.TestReport]:
    # Reports reach the controller under xdist, so everything the summary and the exit
    # status say is computed from them, never from per-process counters.
    return [
        rep
        for reports in stats.values()
        for rep in reports
        if isinstance(rep, pytest.TestReport) and SUITE_MARK in rep.user_properties
    ]


def _outcome_line(
    tr: pytest.TerminalReporter,
    reports: list[pytest.TestReport],
    kind: str,
    nodeid: str,
    what: tuple[str, str, str],
) -> None:
    """One summary line: how many of a doc-driven test passed, failed and skipped."""
    run = [r for r in reports if nodeid in r.nodeid and (r.when == "call" or r.skipped)]
    if run:
        counts = (
            sum(1 for r in run if r.passed),
            sum(1 for r in run if r.failed or _is_known(r)),
            sum(1 for r in run if r.skipped and not _is_known(r)),
        )
        parts = ", ".join(f"{w} {n}" for w, n in zip(what, counts, strict=True))
        tr.write_line(f"{kind}: {len(run)}: {parts}")


def _harness_errors(reports: list[pytest.TestReport]) -> list[str]:
    return [
        f"{rep.nodeid}: {str(rep.longrepr).strip().splitlines()[-1][:300]}"
        for rep in reports
        if ("harness-error", "true") in rep.user_properties
    ]


def _is_known(report: pytest.TestReport) -> bool:
    return str(getattr(report, "wasxfail", "")).startswith(KNOWN_PREFIX)


@dataclass
class FindingsOutcome:
    """What the controller made of the run's findings, for the terminal summary."""

    store: FindingStore
    baseline_note: str = ""
    unseen: int = 0  # baseline signatures this run didn't hit
    updated: str = ""  # the baseline file written by --baseline-update
    minimiser_note: str = ""


_OUTCOME = pytest.StashKey[FindingsOutcome]()


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
            if name != FINDING_PROPERTY:
                continue
            finding = Finding.from_json(json.loads(str(value)))
            # One test counts once per signature, whichever phases it failed in.
            if (rep.nodeid, finding.key) not in seen:
                seen.add((rep.nodeid, finding.key))
                store.add(finding)
    outcome = FindingsOutcome(store, choice.note if choice is not None else "")
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
        )
        outcome.updated = str(choice.path)
    return outcome


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None or hasattr(config, "workerinput"):
        return
    reports = _suite_reports(reporter.stats)
    if not reports:
        return
    try:
        outcome = _collect_findings(config, reports)
    except (SetupError, OSError) as exc:  # an unwritable findings directory or baseline
        reporter.write_line(f"qmp-conformance: {exc}", red=True)
        session.exitstatus = EXIT_USAGE
        return
    config.stash[_OUTCOME] = outcome
    if _harness_errors(reports):
        session.exitstatus = EXIT_HARNESS
    elif exitstatus in (EXIT_OK, EXIT_FINDINGS):
        # --baseline-update has just made every finding of this run a known one.
        new = outcome.store.new and not outcome.updated
        session.exitstatus = EXIT_FINDINGS if new else EXIT_OK


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    tr = terminalreporter
    reports = _suite_reports(tr.stats)
    if not reports:
        return
    ctx = run_context(tr.config)
    info = binary_info(tr.config)
    tr.write_sep("=", "qmp-conformance")
    tr.write_line(
        f"binary {info.path}  QEMU {info.version_text} ({info.package})  "
        f"sandbox {'on' if info.sandbox else 'unsupported'}  profiles {', '.join(ctx.profiles)}"
    )
    examples: dict[str, list[int]] = {}
    rejected = 0
    policy_skips: dict[str, str] = {}
    for rep in reports:
        props = dict(rep.user_properties)
        if rep.when == "teardown" and "examples" in props:
            mode = "malformed" if "malformed" in rep.nodeid else "valid"
            examples.setdefault(mode, []).append(int(str(props["examples"])))
            rejected += int(str(props.get("rejected", 0)))
        if rep.skipped and "_arguments[" in rep.nodeid and isinstance(rep.longrepr, tuple):
            reason = str(rep.longrepr[2]).removeprefix("Skipped: ")
            command, _, why = reason.partition(": ")
            policy_skips[command] = why
    for mode, counts in sorted(examples.items()):
        tr.write_line(
            f"{mode} arguments: {len(counts)} commands, examples per command "
            f"min {min(counts)} max {max(counts)} total {sum(counts)}"
        )
    if examples:
        tr.write_line(
            f"host-safety policy: {len(policy_skips)} commands not run with generated "
            f"arguments, {rejected} examples dropped as unconfinable"
        )
        for command, why in sorted(policy_skips.items()):
            tr.write_line(f"  skipped {command}: {why}")
    teardowns = [dict(r.user_properties) for r in reports if r.when == "teardown"]
    if ctx.reuse:
        _ci_profile_lines(tr, teardowns)
    for machine in ("wire", "resource"):
        counted = [p for p in teardowns if f"{machine}-steps" in p]
        if counted:
            tr.write_line(
                f"{machine} state machine: "
                f"{sum(int(str(p[f'{machine}-steps'])) for p in counted)} steps in "
                f"{sum(int(str(p[f'{machine}-runs'])) for p in counted)} runs"
            )
    no_docs = tr.config.stash.get(_DOCS, (None, ""))[1]
    if no_docs:  # one skipped placeholder per doc test is no example or condition
        tr.write_line(f"documentation tests skipped: {no_docs}")
    for kind, nodeid, what in (
        ("documented examples", "test_doc_example[", ("match", "mismatch", "not replayable")),
        ("documented error conditions", "test_doc_error[", ("match", "mismatch", "not inducible")),
    ):
        if not no_docs:
            _outcome_line(tr, reports, kind, nodeid, what)
    errors = _harness_errors(reports)
    tr.write_line(f"harness errors: {len(errors)}")
    for line in errors[:20]:
        tr.write_line(f"  {line}")
    outcome = tr.config.stash.get(_OUTCOME, None)
    if outcome is not None:
        _findings_summary(tr, outcome)


def _ci_profile_lines(tr: pytest.TerminalReporter, teardowns: list[dict[str, object]]) -> None:
    """What the CI profile leaves out of a full run, so that nothing is left out silently."""
    shared = [p for p in teardowns if "restarted" in p]
    restarts = sum(int(str(p["restarted"])) for p in shared)
    name = str(tr.config.getoption("hypothesis_profile", None) or "default")
    chosen = settings.get_profile(name)
    shrinking = (
        "shrinking"
        if Phase.shrink in chosen.phases
        else "no shrinking (reproducers are minimised from transcripts)"
    )
    full = settings.get_profile(hypothesis_profiles.FULL)
    tr.write_line(
        f"ci profile: Hypothesis profile {name}, {chosen.max_examples} examples per test "
        f"(full run: {full.max_examples}); {shrinking}; cases drawn "
        f"from the harvest only (not from replies)"
    )
    tr.write_line(
        f"ci profile: {len(shared)} argument tests on shared QEMUs, restarted {restarts} "
        f"times after a command changed the machine; read-only doc examples and refused "
        f"error conditions share QEMUs too"
    )


def _findings_summary(tr: pytest.TerminalReporter, outcome: FindingsOutcome) -> None:
    store = outcome.store
    where = f"; written to {store.directory}" if store.directory is not None else ""
    tr.write_line(
        f"findings: {len(store.entries)} unique ({len(store.known_entries)} known, "
        f"{len(store.new)} new){where}"
    )
    for entry in store.new:
        tr.write_line(f"  new {entry.slug}: {entry.finding.title}")
    if outcome.baseline_note:
        unseen = f"; {outcome.unseen} known signatures not seen" if outcome.unseen else ""
        tr.write_line(outcome.baseline_note + unseen)
    if outcome.updated:
        tr.write_line(f"baseline updated: {outcome.updated} ({len(store.entries)} signatures)")
    if outcome.minimiser_note:
        tr.write_line(outcome.minimiser_note)
    for entry in store.entries:
        if entry.minimise_note:
            tr.write_line(f"  {entry.slug}: {entry.minimise_note}")
