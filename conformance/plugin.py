"""The pytest plugin: options, fixtures, parametrisation from the live schema, labels.

It is registered through the `pytest11` entry point and stays inert unless a test asks
for one of its fixtures; the conformance tests in `conformance.suite` do.

Test ids are command names taken from the binary's own `query-qmp-schema`, so the
number of tests follows the binary, never a list written here.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from conformance.errors import EXIT_HARNESS, EXIT_USAGE, SetupError
from conformance.machine.instance import LaunchConfig, QemuGone, QemuInstance
from conformance.machine.pool import InstancePool
from conformance.machine.probe import BinaryInfo, probe
from conformance.machine.profiles import PROFILES
from conformance.oracle.failure import Failure, FindingKind
from conformance.spec import Schema, SchemaError, schema_from_reply

DEFAULT_QEMU = "qemu-system-x86_64"
DEFAULT_PROFILES = ("none", "q35")


@dataclass
class RunContext:
    """Per-process state of a conformance run."""

    qemu: str
    profiles: tuple[str, ...]
    timeout: float
    workdir: Path
    keep_workdir: bool
    own_workdir: bool
    info: BinaryInfo | None = None
    schema: Schema | None = None
    harness_errors: list[str] = field(default_factory=list)
    suite_items: int = 0

    def launch_config(self, profile: str) -> LaunchConfig:
        return LaunchConfig(
            binary=self.qemu,
            profile=profile,
            timeout=self.timeout,
            workdir_base=str(self.workdir),
            keep_workdir=self.keep_workdir,
        )


_CTX = pytest.StashKey[RunContext]()


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
        help="machine profile(s) for per-profile checks (repeatable; default: none and q35)",
    )
    group.addoption("--qmp-timeout", type=float, default=10.0, help="deadline for each reply (s)")
    group.addoption(
        "--qmp-workdir",
        default=None,
        help="directory for the run's QEMU workdirs (default: a new temporary directory)",
    )
    group.addoption("--keep-workdir", action="store_true", help="keep QEMU workdirs after the run")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "qmp_area(name): the conformance area a test belongs to")
    wd = config.getoption("--qmp-workdir")
    own = wd is None
    workdir = Path(tempfile.mkdtemp(prefix="qmpc-run-")) if own else Path(wd)
    workdir.mkdir(parents=True, exist_ok=True)
    config.stash[_CTX] = RunContext(
        qemu=config.getoption("--qemu"),
        profiles=tuple(config.getoption("--machine") or DEFAULT_PROFILES),
        timeout=config.getoption("--qmp-timeout"),
        workdir=workdir,
        keep_workdir=config.getoption("--keep-workdir"),
        own_workdir=own,
    )


def pytest_unconfigure(config: pytest.Config) -> None:
    ctx = config.stash.get(_CTX, None)
    if ctx is not None and ctx.own_workdir and not ctx.keep_workdir:
        shutil.rmtree(ctx.workdir, ignore_errors=True)


def run_context(config: pytest.Config) -> RunContext:
    return config.stash[_CTX]


def binary_info(config: pytest.Config) -> BinaryInfo:
    ctx = run_context(config)
    if ctx.info is None:
        try:
            ctx.info = probe(ctx.qemu)
        except SetupError as exc:
            pytest.exit(f"qmp-conformance: {exc}", returncode=EXIT_USAGE)
    return ctx.info


def live_schema(config: pytest.Config) -> Schema:
    """The binary's schema, read once per process through `query-qmp-schema`."""
    ctx = run_context(config)
    if ctx.schema is None:
        binary_info(config)
        try:
            with QemuInstance(ctx.launch_config("none")) as inst:
                reply = inst.execute("query-qmp-schema")
                ctx.schema = schema_from_reply(reply.value)
        except (SetupError, QemuGone, SchemaError) as exc:
            pytest.exit(f"qmp-conformance: {exc}", returncode=EXIT_USAGE)
    return ctx.schema


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
    if "profile_name" in names:
        profiles = run_context(metafunc.config).profiles
        metafunc.parametrize("profile_name", profiles, ids=profiles, scope="module")


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


# -- reporting -----------------------------------------------------------------------------


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if not _in_suite(item):
        return report
    excinfo = call.excinfo
    if report.failed and excinfo is not None and not isinstance(excinfo.value, Failure | QemuGone):
        # Anything but a check failure is the suite's own bug, never a QEMU finding.
        ctx = run_context(item.config)
        ctx.harness_errors.append(f"{item.nodeid}: {excinfo.typename}: {excinfo.value}")
        report.user_properties.append(("harness-error", "true"))
    elif report.failed and excinfo is not None:
        kind = finding_kind(excinfo.value)
        report.user_properties.append(("finding-kind", kind.value))
    return report


def finding_kind(exc: BaseException) -> FindingKind:
    if isinstance(exc, Failure):
        return exc.kind
    if isinstance(exc, QemuGone):
        from conformance.machine.exits import ExitKind

        return {
            ExitKind.HANG: FindingKind.HANG,
            ExitKind.SANDBOX: FindingKind.SANDBOX,
            ExitKind.EXIT: FindingKind.DISCONNECT,
            ExitKind.CLEAN: FindingKind.DISCONNECT,
            ExitKind.KILLED: FindingKind.DISCONNECT,
        }.get(exc.exit_info.kind, FindingKind.CRASH)
    raise TypeError(exc)


def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    run_context(config).suite_items = sum(1 for i in items if _in_suite(i))


def _in_suite(item: pytest.Item) -> bool:
    """Whether `item` is a conformance test (as opposed to one of the project's own)."""
    module = getattr(item, "module", None)
    return module is not None and module.__name__.startswith("conformance.suite")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    ctx = session.config.stash.get(_CTX, None)
    if ctx is not None and ctx.harness_errors and ctx.suite_items:
        session.exitstatus = EXIT_HARNESS


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    ctx = terminalreporter.config.stash.get(_CTX, None)
    if ctx is None or not ctx.suite_items:
        return
    tr = terminalreporter
    if ctx.info is not None:
        tr.write_sep("=", "qmp-conformance")
        tr.write_line(
            f"binary {ctx.info.path}  QEMU {ctx.info.version_text} ({ctx.info.package})  "
            f"sandbox {'on' if ctx.info.sandbox else 'unsupported'}"
        )
    tr.write_line(f"harness errors: {len(ctx.harness_errors)}")
    for line in ctx.harness_errors[:20]:
        tr.write_line(f"  {line}")
