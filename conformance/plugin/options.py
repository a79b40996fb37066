"""The suite's command-line options, and the run context they make at configure time."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from conformance import lifeline
from conformance.errors import EXIT_USAGE, SetupError
from conformance.findings import baseline as baselines
from conformance.machine.cache import BinaryCache
from conformance.machine.profiles import PROFILES
from conformance.runcontext import (
    RUN_CONTEXT,
    RunContext,
    binary_info,
)

DEFAULT_QEMU = "qemu-system-x86_64"

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
        help="write every finding of this run into the --baseline file's section of the "
        "binary's target",
    )
    group.addoption(
        "--always-shrink",
        action="store_true",
        help="shrink every failing example (by default a hang, and a failure the baseline "
        "knows, end their test unshrunk)",
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
        try:
            # Every baseline is read for the binary's target (its own section).
            ctx.baseline = baselines.choose(
                spec, binary_info(config), update=config.getoption("--baseline-update")
            )
        except SetupError as exc:
            pytest.exit(f"qmp-conformance: {exc}", returncode=EXIT_USAGE)


def pytest_unconfigure(config: pytest.Config) -> None:
    ctx = config.stash.get(RUN_CONTEXT, None)
    if ctx is not None and ctx.own_workdir and not ctx.keep_workdir:
        shutil.rmtree(ctx.workdir, ignore_errors=True)
