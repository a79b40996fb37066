"""`qmp-conformance`: run the suite (on one binary, or on every installed one), inspect the
spec model, build and merge reports, fetch a packaged QEMU version to test.

Exit codes: 0 nothing new found, 1 findings, 2 usage or configuration error, 3 harness
error, 130 interrupted (`conformance.errors.EXIT_CODES`, rendered in docs/cli.md); `run
--skip-exit CODE` for a QEMU that can't start here; `replay` has `git bisect run`'s.

The binary under test is --qemu's, else $QEMU_TEST_QEMU_BINARY's, else qemu-system-x86_64.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from conformance import hypothesis_profiles, lifeline
from conformance.docs.model import DocError
from conformance.errors import (
    EXIT_HARNESS,
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    USAGE_EXIT,
    CannotStart,
    SetupError,
)
from conformance.interrupts import interrupts
from conformance.logs import LOG_FORMAT
from conformance.machine.instance import LaunchConfig, QemuGone, QemuInstance
from conformance.machine.preflight import preflight
from conformance.machine.probe import FALLBACK_QEMU, QEMU_BINARY_ENV, default_qemu
from conformance.machine.profiles import PROFILES
from conformance.packages.fetch import add_arguments as add_fetch_arguments
from conformance.reporting.html import add_arguments as add_report_arguments
from conformance.spec import Schema, SchemaError, load_schema_file, schema_from_reply
from conformance.spec.render import schema_json, schema_summary

if TYPE_CHECKING:
    from conformance.tapstream import TapWriter

# Without --qemu (docs/ci-integration.md, "Which binary").
DEFAULT_HELP = f"default ${QEMU_BINARY_ENV}, else {FALLBACK_QEMU}"

# pytest's own exit codes, mapped to ours.
_PYTEST_EXIT = {0: 0, 1: 1, 2: EXIT_USAGE, 3: EXIT_HARNESS, 4: EXIT_USAGE, 5: EXIT_USAGE}


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    passthrough: list[str] = []
    if "--" in args:
        cut = args.index("--")
        args, passthrough = args[:cut], args[cut + 1 :]
    parser = _parser()
    # The command is the first word: the top level has no options but -h.
    usage_exit = USAGE_EXIT.get(args[0], EXIT_USAGE) if args else EXIT_USAGE
    try:
        ns = parser.parse_args(args)
    except SystemExit as exc:
        # argparse says 2 for a bad argument; `replay`, under `git bisect run`, must not.
        return usage_exit if exc.code == EXIT_USAGE else int(exc.code or 0)
    _configure_logging(getattr(ns, "log_level", LOG_LEVELS[0]))
    # A child run of `run --all-installed` dies with its parent (conformance.lifeline).
    lifeline.adopt()
    try:
        return int(ns.func(ns, passthrough))
    except SetupError as exc:
        print(f"qmp-conformance: {exc}", file=sys.stderr)
        return usage_exit if exc.exit_code == EXIT_USAGE else exc.exit_code
    except (SchemaError, DocError) as exc:
        print(f"qmp-conformance: {exc}", file=sys.stderr)
        return usage_exit
    except KeyboardInterrupt:
        print("qmp-conformance: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader (| head) left; that is not an error of ours.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="qmp-conformance",
        description="Conformance and fuzz testing of QEMU's QMP against its own schema and docs.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run the conformance suite (pytest) against a binary")
    binaries = run.add_mutually_exclusive_group()
    binaries.add_argument(
        "--qemu", default=default_qemu(), help=f"binary under test ({DEFAULT_HELP})"
    )
    binaries.add_argument(
        "--all-installed",
        action="store_true",
        help="run once per qemu-system-* on PATH and qemu-storage-daemon, each into "
        "REPORTS/targets/<target>/, then merge (docs/targets.md)",
    )
    run.add_argument(
        "--targets",
        help="with --all-installed: only these targets, comma-separated (x86_64,aarch64,"
        "qemu-storage-daemon)",
    )
    run.add_argument(
        "--shard",
        metavar="K/N",
        help="run shard K of N (1-based): tests split by command, balanced by expected cost",
    )
    run.add_argument(
        "--machine",
        action="append",
        choices=sorted(PROFILES),
        help="machine profile (repeatable; default: the binary's target's profiles, e.g. "
        "none, q35 and pc for x86_64, none and virt for aarch64)",
    )
    run.add_argument(
        "--docs",
        help="documentation to judge the binary by: a man page, a QAPI directory or a .hx "
        "(default: the man page beside the binary, else the system's, if its version matches)",
    )
    run.add_argument("--reports", default="reports", help="report directory (default ./reports)")
    run.add_argument("--keep-workdir", action="store_true", help="keep QEMU workdirs")
    run.add_argument(
        "--profile",
        default="full",
        choices=("full", "ci"),
        help="full (default): the whole suite; ci: every command, protocol area and "
        "behaviour rule with fewer examples, QEMUs shared while their state allows "
        "(docs/suite.md, 'The CI profile'). Either uses a worker per core unless -- -n N",
    )
    run.add_argument(
        "--hypothesis-profile",
        default=None,
        choices=hypothesis_profiles.NAMES,
        help=f"Hypothesis profile (default: {hypothesis_profiles.FULL} with --profile full, "
        f"derandomised, 20 examples per test; {hypothesis_profiles.CI} with --profile ci, "
        f"{hypothesis_profiles.CI_EXAMPLES} examples and no shrinking)",
    )
    run.add_argument(
        "--baseline",
        help="known findings (a baseline JSON file; the section of the binary's target): "
        "reported as known, the run does not fail on them; 'auto' picks the packaged "
        "baseline for the binary's QEMU version",
    )
    run.add_argument(
        "--baseline-update",
        action="store_true",
        help="write every finding of this run into the --baseline file's section of the "
        "binary's target",
    )
    run.add_argument(
        "--tap",
        action="store_true",
        help="results as TAP on stdout, one line per test, everything else on stderr "
        "(for meson's protocol: 'tap'; docs/ci-integration.md)",
    )
    run.add_argument(
        "--skip-exit",
        type=int,
        metavar="CODE",
        help="a QEMU that dies as it starts on this host is a skip, not a configuration "
        "error: exit with CODE (77 for automake, meson's exitcode protocol and "
        "autopkgtest; 0 with --tap, which then prints '1..0 # SKIP why')",
    )
    run.set_defaults(func=cmd_run)

    report = sub.add_parser(
        "report", help="build the HTML report of a run with Allure 3 (npm, in reports/)"
    )
    add_report_arguments(report)
    report.add_argument(
        "--merge",
        nargs="+",
        metavar="DIR",
        help="first merge these runs' allure results and matrices into REPORTS (report "
        "directories of CI jobs or shards, or allure-results directories)",
    )
    report.add_argument(
        "--no-html", action="store_true", help="with --merge: merge only, build no HTML"
    )
    report.set_defaults(func=_lazy("conformance.reporting.merge", "cmd_report"))

    replay = sub.add_parser(
        "replay",
        help="replay a finding's reproducer; exit 0 not reproduced, 1 reproduced, "
        "125 cannot test, 128 no verdict (for git bisect run; docs/cli.md)",
    )
    replay.add_argument("reproducer", help="a reproducer.jsonl or a finding directory")
    replay.add_argument(
        "--qemu",
        action="append",
        help=f"binary to replay on ({DEFAULT_HELP}); repeat it, or add --package, to "
        "replay on several versions: a table of each version's verdict, recorded in "
        "FINDING/affected.json (docs/findings.md)",
    )
    replay.add_argument(
        "--package",
        action="append",
        metavar="PACKAGE=VERSION",
        help="also replay on this Debian package version, fetched as `fetch` does (the "
        "cache first), e.g. qemu-system-x86=1:7.2+dfsg-7+deb12u15; repeatable",
    )
    replay.add_argument(
        "--suite", help="with --package: also use this suite of the system's Debian mirror"
    )
    replay.add_argument(
        "--runs", type=int, default=3, help="replays; a finding seen in only some is flaky"
    )
    replay.add_argument("--timeout", type=float, default=5.0, help="deadline for each reply (s)")
    replay.add_argument(
        "--tap",
        action="store_true",
        help="TAP on stdout: each replay a test that passes when the finding did not come "
        "back; 'cannot test' a skipped plan (docs/ci-integration.md)",
    )
    replay.set_defaults(
        func=_lazy("conformance.findings.replay", "cmd_replay"), fetch=fetch_launcher
    )

    diff = sub.add_parser(
        "diff", help="run the same generated cases on two binaries or set-ups and compare"
    )
    diff.add_argument(
        "--qemu",
        action="append",
        help=f"binary A, then binary B (repeat; one: both sides; {DEFAULT_HELP})",
    )
    diff.add_argument(
        "--machine",
        action="append",
        choices=sorted(PROFILES),
        help="machine profile of A, then of B (one: both sides; default none)",
    )
    diff.add_argument(
        "--compat",
        action="append",
        help="a -compat policy for A, then for B ('' for none), e.g. deprecated-input=reject",
    )
    diff.add_argument("--commands", help="comma-separated commands (default: all of A's)")
    diff.add_argument("--examples", type=int, default=10, help="examples per command")
    diff.add_argument("--seed", type=int, default=0, help="the generation seed (same on A and B)")
    diff.add_argument("--json", action="store_true", help="print the differences as JSON")
    diff.add_argument(
        "--schema-only", action="store_true", help="stop after the schema difference of A and B"
    )
    diff.add_argument(
        "--schema",
        action="append",
        metavar="FILE",
        help="a saved query-qmp-schema reply of A, then of B, instead of --qemu (schema only)",
    )
    diff.set_defaults(func=_lazy("conformance.differential", "cmd_diff"))

    fuzz = sub.add_parser("fuzz", help="generate continuously; findings go to REPORTS/findings")
    fuzz.add_argument("--qemu", default=default_qemu(), help=f"binary under test ({DEFAULT_HELP})")
    fuzz.add_argument("--time", default="10m", help="how long: 90s, 10m, 2h (default 10m)")
    fuzz.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="processes")
    fuzz.add_argument("--reports", default="reports", help="report directory (default ./reports)")
    fuzz.add_argument("--seed", type=int, default=None, help="seed (default: random, printed)")
    fuzz.add_argument("--baseline", help="known findings: counted as known, not as new")
    fuzz.add_argument(
        "--engine",
        choices=("compiled", "hypothesis"),
        default="compiled",
        help="how argument examples are drawn: generators compiled from the schema, "
        "pipelined in batches before one liveness probe (default), or Hypothesis's "
        "engine, one example per liveness probe",
    )
    fuzz.add_argument(
        "--guide",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="steer generation by the trace events examples reach, and keep and replay "
        "the corpus in REPORTS/fuzz-corpus (default); --no-guide only records them",
    )
    fuzz.set_defaults(func=_lazy("conformance.fuzz", "cmd_fuzz"))

    spec = sub.add_parser(
        "spec", help="summarise or dump the spec model of a binary or schema file"
    )
    src = spec.add_mutually_exclusive_group()
    src.add_argument("--qemu", help=f"read query-qmp-schema from this binary ({DEFAULT_HELP})")
    src.add_argument("--schema", help="read a saved query-qmp-schema reply (JSON file)")
    spec.add_argument("--json", action="store_true", help="dump the whole model as JSON")
    spec.set_defaults(func=cmd_spec)

    fetch = sub.add_parser(
        "fetch",
        help="download and unpack a Debian QEMU package version without installing it; "
        "prints its launcher (docs/fetch.md)",
    )
    add_fetch_arguments(fetch)
    fetch.set_defaults(func=_lazy("conformance.packages.fetch", "cmd_fetch"))

    docs = sub.add_parser("docs", help="report drift between the documentation and a binary")
    docs_src = docs.add_mutually_exclusive_group()
    docs_src.add_argument("--qemu", help=f"binary to compare with ({DEFAULT_HELP})")
    docs_src.add_argument("--schema", help="a saved query-qmp-schema reply instead of a binary")
    docs.add_argument(
        "--docs",
        help="a QAPI directory or .json file, a qmp-commands.hx, or a man page "
        "(default: the binary's own qemu-qmp-ref.7, beside it or installed)",
    )
    docs.add_argument("--json", action="store_true", help="print the report as JSON")
    docs.set_defaults(func=cmd_docs)
    for command in (run, replay, diff, fuzz):
        command.add_argument(
            "--log-level",
            default=LOG_LEVELS[0],
            choices=LOG_LEVELS,
            help="show the harness's decisions at this level and above on stderr: INFO "
            "for QEMU restarts, exit classifications and policy skips, DEBUG for "
            "confinement rewrites too (default WARNING: nothing more)",
        )
    return parser


#: --log-level's choices, the default first.
LOG_LEVELS = ("WARNING", "INFO", "DEBUG", "ERROR")


def _configure_logging(level: str) -> None:
    """The harness's loggers (`logging.getLogger(__name__)` per module) to stderr."""
    logging.basicConfig(
        level=level,
        stream=sys.stderr,
        format=LOG_FORMAT,
    )


def _worker_arguments(passthrough: Sequence[str]) -> list[str]:
    """xdist's options for a run that names none: a worker per usable core, each
    stealing tests from the others when its own share is done (a machine-type sweep or
    a state machine lasts minutes, so static shares would end far apart). The
    caller's ``-n``/``--numprocesses``/``--dist``/``-p no:xdist`` win; on one core,
    no workers."""
    chosen = ("-n", "--numprocesses", "--dist", "-d", "no:xdist")
    if any(a == c or a.startswith((f"{c}=", "-n")) for a in passthrough for c in chosen):
        return []
    cores = len(os.sched_getaffinity(0))
    return ["-n", str(cores), "--dist", "worksteal"] if cores > 1 else []


def _log_arguments(level: str) -> list[str]:
    """pytest's options that show the harness's log lines of a suite run: live in the
    process that runs the tests, and in each test's report."""
    if level == LOG_LEVELS[0]:
        return []  # the default: output as it always was
    return ["-o", "log_cli=true", f"--log-cli-level={level}", f"--log-level={level}"]


def _lazy(module: str, name: str) -> Callable[[argparse.Namespace, list[str]], int]:
    """A subcommand implemented in `module`, imported only when it runs."""

    def run(ns: argparse.Namespace, passthrough: list[str]) -> int:
        import importlib

        func: Callable[[argparse.Namespace, list[str]], int] = getattr(
            importlib.import_module(module), name
        )
        return func(ns, passthrough)

    return run


def fetch_launcher(spec: str, suite: str | None) -> str:
    """`qmp-conformance fetch SPEC --suite SUITE`'s launcher (the cache first): how
    `replay --package` gets a binary."""
    from conformance.packages.fetch import fetch

    return str(fetch(spec, suite=suite))


def cmd_run(ns: argparse.Namespace, passthrough: list[str]) -> int:
    if ns.skip_exit is not None and not 0 <= ns.skip_exit <= 255:
        raise SetupError(f"--skip-exit must be an exit status, 0 to 255, not {ns.skip_exit}")
    if ns.all_installed and (ns.tap or ns.skip_exit is not None):
        # It runs a child per binary, and lists one that can't start here as skipped.
        raise SetupError("--tap and --skip-exit are for one binary, not --all-installed")
    if not ns.tap:
        return _run(ns, passthrough, None)
    from conformance.tapstream import TapWriter, tap_stdout

    with tap_stdout() as stream:
        writer = TapWriter(stream)
        writer.version()
        try:
            return _run(ns, passthrough, writer)
        except SetupError as exc:
            if not writer.ended:
                writer.bail_out(str(exc))
            raise


def _run(ns: argparse.Namespace, passthrough: list[str], tap: TapWriter | None) -> int:
    import pytest

    from conformance.findings.baseline import choose
    from conformance.machine.probe import probe
    from conformance.sharding import parse_shard

    if ns.shard is not None:
        try:
            parse_shard(ns.shard)
        except ValueError as exc:
            raise SetupError(str(exc)) from None
    if ns.all_installed:
        from conformance.all_installed import cmd_run_all

        # SIGTERM as Ctrl-C: the child run (its own process group) is stopped in order.
        with interrupts() as stopped:
            rc = cmd_run_all(ns, passthrough)
        if stopped:
            raise KeyboardInterrupt
        return rc
    if ns.targets is not None:
        raise SetupError("--targets goes with --all-installed")
    try:
        preflight(ns.qemu)
    except CannotStart as exc:
        if ns.skip_exit is None:
            raise
        # QEMU itself refused to run here: what can't be tested on this host is skipped.
        print(f"qmp-conformance: skipped, cannot start on this host: {exc}", file=sys.stderr)
        if tap is not None:
            tap.skip_all(f"cannot start on this host: {exc}")
        return int(ns.skip_exit)
    if ns.baseline_update and ns.baseline is None:
        raise SetupError("--baseline-update needs --baseline FILE (or auto)")
    if ns.baseline is not None:
        # A corrupt or missing baseline is one line and exit 2, before any test runs.
        choose(ns.baseline, probe(ns.qemu), update=ns.baseline_update)
    if ns.docs is not None:
        from conformance.docs.load import load_docs

        # Unreadable docs are the user's to fix (exit 2); docs of another QEMU version
        # only make the documentation tests skip, saying which --docs to pass.
        load_docs(ns.docs)
    reports = Path(ns.reports)
    reports.mkdir(parents=True, exist_ok=True)
    pytest_args = [
        "-p",
        "conformance.plugin",
        "--pyargs",
        "conformance.suite",
        # One token: pytest takes a path among its arguments into its rootdir, and test
        # ids would then be relative to the binary's directory.
        f"--qemu={ns.qemu}",
        f"--alluredir={reports / 'allure-results'}",
        "--clean-alluredir",
        f"--junitxml={reports / 'junit.xml'}",
        f"--reports-dir={reports}",
        "-p",
        "no:cacheprovider",
        # The CLI imported the plugin before pytest could rewrite its asserts; it has none.
        "-W",
        "ignore::pytest.PytestAssertRewriteWarning",
        # Checks raise Failure, never a bare assert, so rewriting buys nothing; it would
        # re-parse every module of the plugin's and Hypothesis's distributions in every
        # xdist worker (seconds per process).
        "--assert=plain",
        # Its cleanup runs five full garbage collections over a heap of strategies,
        # schema and docs at the end of every process (seconds, in each xdist worker).
        "-p",
        "no:unraisableexception",
        f"--qmp-cache={reports / '.cache'}",
        f"--suite-profile={ns.profile}",
        "-rsx",  # skip reasons, and the known findings (reported like xfails)
    ]
    pytest_args += _log_arguments(ns.log_level) + _worker_arguments(passthrough)
    for m in ns.machine or ():
        pytest_args += ["--machine", m]
    if ns.keep_workdir:
        pytest_args.append("--keep-workdir")
    if ns.docs is not None:
        pytest_args.append(f"--docs={ns.docs}")
    pytest_args.append(f"--findings-dir={reports / 'findings'}")
    if ns.baseline is not None:
        pytest_args.append(f"--baseline={ns.baseline}")
    if ns.baseline_update:
        pytest_args.append("--baseline-update")
    if ns.shard is not None:
        pytest_args.append(f"--shard={ns.shard}")
    if not any(a.startswith("--hypothesis-profile") for a in passthrough):
        hypothesis_profile = ns.hypothesis_profile or hypothesis_profiles.default_for(ns.profile)
        pytest_args.append(f"--hypothesis-profile={hypothesis_profile}")
    with (
        _run_workdir(ns.keep_workdir, passthrough) as workdir_args,
        interrupts() as stopped,
        lifeline.children(),
    ):
        plugins: list[object] = []
        if tap is not None:
            from conformance.reporting.tap import TapReporter

            plugins.append(TapReporter(tap))
        rc = int(pytest.main([*pytest_args, *workdir_args, *passthrough], plugins=plugins))
    if stopped:
        # pytest ends an interrupted session in order and says 2, as for a usage error.
        raise KeyboardInterrupt
    if rc == 5:
        print("qmp-conformance: the selection collected no conformance tests", file=sys.stderr)
    return _PYTEST_EXIT.get(rc, EXIT_HARNESS)


@contextmanager
def _run_workdir(keep: bool, passthrough: Sequence[str]) -> Iterator[list[str]]:
    """One workdir for the whole run, the xdist workers' QEMUs included, removed here
    (unless kept) however the run ends: a worker killed with its controller can't remove
    a workdir of its own. A --qmp-workdir of the caller's is theirs to manage."""
    if any(a.startswith("--qmp-workdir") for a in passthrough):
        yield []
        return
    workdir = tempfile.mkdtemp(prefix="qmpc-run-")
    try:
        yield [f"--qmp-workdir={workdir}"]
    finally:
        if keep:
            print(f"qmp-conformance: QEMU workdirs kept in {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def load_model(qemu: str | None, schema_file: str | None) -> Schema:
    if schema_file is not None:
        return load_schema_file(schema_file)
    try:
        with QemuInstance(LaunchConfig(binary=qemu or default_qemu())) as inst:
            return schema_from_reply(inst.execute("query-qmp-schema").value)
    except QemuGone as exc:
        raise SetupError(f"query-qmp-schema: QEMU {exc.exit_info.describe()}") from exc


def cmd_spec(ns: argparse.Namespace, _passthrough: list[str]) -> int:
    schema = load_model(ns.qemu, ns.schema)
    if ns.json:
        json.dump(schema_json(schema), sys.stdout, indent=1, sort_keys=True)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(schema_summary(schema))
    return 0


def cmd_docs(ns: argparse.Namespace, _passthrough: list[str]) -> int:
    from conformance.docs.drift import drift, summary
    from conformance.docs.load import docs_for_binary, load_docs
    from conformance.machine.probe import probe

    binary = ns.qemu or default_qemu()
    info = probe(binary) if ns.schema is None else None
    if info is None:
        docset = load_docs(ns.docs)
    else:  # docs of another QEMU version: DocError, exit 2, no drift reported
        docset = docs_for_binary(ns.docs, binary, info.version, daemon=info.storage_daemon)
    schema = load_model(ns.qemu, ns.schema)
    # A saved schema doesn't say its target: then target-conditional definitions count.
    items = drift(docset, schema, info.target if info is not None else None)
    counts = summary(items)
    messages = [m for _, x in docset.examples() for m in x.messages]
    statuses = {
        s: sum(1 for m in messages if m.status == s) for s in ("parsed", "repaired", "unparsable")
    }
    if ns.json:
        report = {
            "docs": docset.source,
            "format": docset.format,
            "version": docset.version,
            "entries": len(docset.entries),
            "examples": len(docset.examples()),
            "messages": statuses,
            "summary": counts,
            "drift": [i.to_json() for i in items],
            "problems": docset.problems,
        }
        json.dump(report, sys.stdout, indent=1)
        sys.stdout.write("\n")
        return 0
    out = sys.stdout
    version = f", QEMU {docset.version}" if docset.version else ""
    out.write(f"docs {docset.source} ({docset.format}{version}): {len(docset.entries)} entries, ")
    out.write(f"{len(docset.examples())} examples, messages {statuses}\n")
    for item in items:
        out.write(
            f"{item.kind:<26} {item.name:<34} {item.path:<40} {item.detail}  [{item.source}]\n"
        )
    out.write("summary: " + ", ".join(f"{k} {v}" for k, v in counts.items()) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
