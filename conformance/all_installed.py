"""``qmp-conformance run --all-installed``: the suite once per installed QMP binary.

Each binary found on PATH (conformance.machine.discovery) gets the ordinary
single-binary run, as a child ``qmp-conformance run`` process: its own pytest session
(with the passthrough, e.g. ``-- -n 2``), its own plugin state and its own QEMUs, into
``REPORTS/targets/<target>/`` (allure-results, junit.xml, matrix.*, findings/, and the
run's output in run.log). A child process rather than another ``pytest.main`` in this
one: pytest, Hypothesis and the plugin keep module-level state that one session per
process is the only thing tested with.

Then the targets are merged (conformance.reporting.merge): one ``REPORTS/allure-results``
for one HTML report over every target, and ``REPORTS/matrix.md`` (and .json), an index
of the per-target matrices. The exit status is the worst of the targets' by the
documented precedence (3 harness > 2 usage > 1 findings > 0); a binary that cannot
start on this host (no KVM for a KVM-only build) is listed, not failed.

``--baseline FILE --baseline-update`` must keep every target's signatures: each target
updates its own section of a copy of FILE in its own directory, and each section goes
back to FILE (one baseline file per package version, a section per target it ships).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from select import POLLIN, poll

from conformance import lifeline
from conformance.errors import EXIT_FINDINGS, EXIT_HARNESS, EXIT_OK, EXIT_USAGE, SetupError
from conformance.findings import baseline as baselines
from conformance.machine.discovery import Discovery, Found, discover, select
from conformance.machine.preflight import preflight
from conformance.reporting import merge

__all__ = ["TARGET_TIMEOUT", "TargetRun", "cmd_run_all", "worst"]

#: How long one target's run may take before it is stopped as a harness error. A full
#: run of the largest target takes minutes on two cores; this only bounds a wedged one.
TARGET_TIMEOUT = 4 * 3600.0
#: After SIGINT/SIGTERM, how long a child gets to stop its QEMUs and write its reports.
STOP_GRACE = 30.0
_PRECEDENCE = (EXIT_HARNESS, EXIT_USAGE, EXIT_FINDINGS, EXIT_OK)


def worst(codes: Sequence[int]) -> int:
    """The exit status of several runs: 3 harness > 2 usage > 1 findings > 0 (docs/cli.md,
    "Exit codes"); any other status is a run that ended abnormally, so a harness error."""
    normalised = [c if c in _PRECEDENCE else EXIT_HARNESS for c in codes]
    return next((c for c in _PRECEDENCE if c in normalised), EXIT_OK)


@dataclass
class TargetRun:
    """One target of the run: what it was, how it ended, what it found."""

    found: Found
    directory: Path
    skipped: str = ""  # why it didn't run (can't start here)
    status: int | None = None
    seconds: float = 0.0
    tests: dict[str, int] = field(default_factory=dict)
    findings: tuple[int, int] | None = None  # (new, known)
    note: str = ""

    @property
    def target(self) -> str:
        return self.found.target


def cmd_run_all(ns: argparse.Namespace, passthrough: list[str]) -> int:
    """Run the suite on every installed binary (or ``--targets``), then merge."""
    if ns.machine:
        raise SetupError(
            "--machine can't go with --all-installed: machine profiles are per target, "
            "and each target runs its own default profiles"
        )
    if ns.baseline_update and ns.baseline is None:
        raise SetupError("--baseline-update needs --baseline FILE (or auto)")
    discovery = discover()
    chosen = select(discovery, ns.targets.split(",")) if ns.targets else list(discovery.found)
    if not chosen:
        raise SetupError("no QEMU binaries on PATH (qemu-system-* or qemu-storage-daemon)")
    reports = Path(ns.reports)
    runs = [TargetRun(f, reports / merge.TARGETS_DIR / f.target) for f in chosen]
    _print_discovery(discovery, chosen, bool(ns.targets))
    for run in runs:
        try:
            preflight(run.found.path)
        except SetupError as exc:
            run.skipped = f"cannot start on this host: {exc}"
            print(f"skipped {run.target}: {run.skipped}", flush=True)
    if ns.baseline is not None:
        # A missing or corrupt baseline is one line and exit 2, before any target runs.
        for run in runs:
            if not run.skipped:
                baselines.choose(ns.baseline, run.found.info, update=ns.baseline_update)
    started = [r for r in runs if not r.skipped]
    for number, run in enumerate(started, 1):
        print(
            f"==== qmp-conformance: target {run.target} ({number}/{len(started)}): "
            f"{run.found.path} ====",
            flush=True,
        )
        _run_target(run, ns, passthrough)
    status = worst([r.status for r in started if r.status is not None])
    lines: list[str] = []
    try:
        lines += _merge(runs, discovery, reports, bool(ns.targets))
        if ns.baseline_update:
            lines += _update_baselines(ns.baseline, started)
    except SetupError as exc:
        lines.append(f"qmp-conformance: {exc}")
        status = worst([status, exc.exit_code])
    _print_summary(runs, lines, status)
    return status


def _print_discovery(discovery: Discovery, chosen: Sequence[Found], filtered: bool) -> None:
    names = ", ".join(f.target for f in chosen)
    print(f"qmp-conformance: {len(chosen)} targets: {names}", flush=True)
    if not filtered:
        for r in discovery.rejected:
            print(f"  not run {r.name} ({r.path}): {r.reason}", flush=True)


# -- one target ----------------------------------------------------------------------------


def _child_argv(run: TargetRun, ns: argparse.Namespace, passthrough: Sequence[str]) -> list[str]:
    argv = [
        sys.executable,
        "-m",
        "conformance.cli",
        "run",
        "--qemu",
        run.found.path,
        "--reports",
        str(run.directory),
        "--profile",
        ns.profile,
    ]
    if ns.hypothesis_profile:
        argv += ["--hypothesis-profile", ns.hypothesis_profile]
    if ns.keep_workdir:
        argv.append("--keep-workdir")
    if ns.shard:
        argv += ["--shard", ns.shard]
    if ns.baseline is not None and ns.baseline_update:
        argv += ["--baseline", str(_target_baseline(run)), "--baseline-update"]
    elif ns.baseline is not None:
        argv += ["--baseline", ns.baseline]
    return [*argv, "--", *passthrough]


def _target_baseline(run: TargetRun) -> Path:
    return run.directory / "baseline.json"


def _destination(spec: str, run: TargetRun) -> Path:
    """The baseline file ``--baseline SPEC --baseline-update`` writes for this target."""
    if spec == baselines.AUTO:
        return baselines.packaged_path(run.found.info)
    return Path(spec)


# What a run writes that the summary, the index and the merge read: removed first, so
# that a run that fails early isn't reported with the previous run's results.
_STALE = ("junit.xml", "matrix.json", "matrix.md", "matrix.svg", "findings/index.json")


def _run_target(run: TargetRun, ns: argparse.Namespace, passthrough: Sequence[str]) -> None:
    run.directory.mkdir(parents=True, exist_ok=True)
    for name in _STALE:
        (run.directory / name).unlink(missing_ok=True)
    shutil.rmtree(run.directory / merge.RESULTS_DIR, ignore_errors=True)
    if ns.baseline is not None and ns.baseline_update:
        # The target starts from FILE's signatures (they decide known and new), and
        # writes its own section; each section goes back to FILE at the end.
        copy = _target_baseline(run)
        copy.unlink(missing_ok=True)
        source = _destination(ns.baseline, run)
        if source.is_file():
            shutil.copyfile(source, copy)
    began = time.monotonic()
    run.status = _tee(_child_argv(run, ns, passthrough), run.directory / "run.log", run)
    run.seconds = time.monotonic() - began
    run.tests = _junit_counts(run.directory / "junit.xml")
    run.findings = _finding_counts(run.directory / "findings" / "index.json")


def _tee(argv: Sequence[str], log: Path, run: TargetRun) -> int:
    """Run ``argv``, its output to the terminal and to ``log``, within TARGET_TIMEOUT."""
    deadline = time.monotonic() + TARGET_TIMEOUT
    with log.open("wb") as out:
        # Its own process group: a deadline or Ctrl-C stops the child and its xdist
        # workers together (their QEMUs die with them, by PR_SET_PDEATHSIG); and it
        # dies with this process however this one dies (conformance.lifeline).
        proc = subprocess.Popen(
            argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            process_group=0,
            env=lifeline.child_env(),
        )
        assert proc.stdout is not None
        try:
            poller = poll()
            poller.register(proc.stdout.fileno(), POLLIN)
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    run.note = f"stopped after {TARGET_TIMEOUT:.0f}s"
                    _stop(proc, signal.SIGTERM)
                    return EXIT_HARNESS
                if not poller.poll(min(left, 1.0) * 1000):
                    continue
                chunk = os.read(proc.stdout.fileno(), 65536)
                if not chunk:
                    break
                out.write(chunk)
                sys.stdout.buffer.write(chunk)
                sys.stdout.buffer.flush()
            return proc.wait(timeout=max(deadline - time.monotonic(), 1.0))
        except subprocess.TimeoutExpired:
            run.note = f"stopped after {TARGET_TIMEOUT:.0f}s"
            _stop(proc, signal.SIGTERM)
            return EXIT_HARNESS
        except BaseException:
            _stop(proc, signal.SIGINT)
            raise
        finally:
            proc.stdout.close()


def _stop(proc: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    """Signal the child's process group, then kill it if it hasn't ended in time (or
    if this wait is itself interrupted: a second Ctrl-C must not leave it running)."""
    try:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        proc.wait(timeout=STOP_GRACE)
    except subprocess.TimeoutExpired:
        pass
    finally:
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            # SIGKILL can't be ignored: this wait is bounded by the kernel, and by this.
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=STOP_GRACE)


def _junit_counts(path: Path) -> dict[str, int]:
    """tests, failed (failures and errors) and skipped (known findings among them)."""
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError):
        return {}
    suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
    total = {"tests": 0, "failed": 0, "skipped": 0}
    for s in suites:
        total["tests"] += int(s.get("tests", 0))
        total["failed"] += int(s.get("failures", 0)) + int(s.get("errors", 0))
        total["skipped"] += int(s.get("skipped", 0))
    total["passed"] = total["tests"] - total["failed"] - total["skipped"]
    return total


def _finding_counts(path: Path) -> tuple[int, int] | None:
    try:
        data = merge.load_json(path)
    except SetupError:
        return None
    rows = data.get("findings")
    rows = rows if isinstance(rows, list) else []
    statuses = [r.get("status") for r in rows if isinstance(r, dict)]
    return statuses.count("new"), statuses.count("known")


# -- after every target --------------------------------------------------------------------


def _merge(
    runs: Sequence[TargetRun], discovery: Discovery, reports: Path, filtered: bool
) -> list[str]:
    """One allure-results over the targets, and the index of their matrices."""
    ran = [r for r in runs if not r.skipped]
    results = [
        r.directory / merge.RESULTS_DIR
        for r in ran
        if any((r.directory / merge.RESULTS_DIR).glob("*-result.json"))
    ]
    lines = []
    if results:
        merged = merge.merge_results(results, reports / merge.RESULTS_DIR)
        lines.append(
            f"allure results of {len(results)} targets merged into "
            f"{reports / merge.RESULTS_DIR} ({merged.results} results); "
            f"`qmp-conformance report --reports {reports}` builds the HTML"
        )
    entries = []
    not_run: list[tuple[str, str]] = []
    for r in runs:
        matrix_json = r.directory / merge.MATRIX_JSON
        if r.skipped:
            not_run.append((r.found.name, r.skipped))
        elif matrix_json.is_file():
            (f,) = merge.read_matrices(matrix_json)
            entries.append(
                merge.IndexEntry.of(
                    r.target,
                    f.title,
                    merge.matrix_from_file(f),
                    f"{merge.TARGETS_DIR}/{r.target}/matrix.md",
                    f"exit {r.status}",
                )
            )
        else:
            not_run.append(
                (r.found.name, f"exit {r.status} before any result; see {r.directory}/run.log")
            )
    if not filtered:
        not_run += [(x.name, x.reason) for x in discovery.rejected]
    merge.write_index(
        reports, entries, not_run, heading="Conformance matrices of the installed QEMU"
    )
    lines.append(f"matrix index: {reports / 'matrix.md'}")
    return lines


def _update_baselines(spec: str, ran: Sequence[TargetRun]) -> list[str]:
    """Write each target's section of its destination baseline from the target's copy."""
    failed = [r.target for r in ran if r.status not in (EXIT_OK, EXIT_FINDINGS)]
    if failed:
        return [f"baseline not updated: the run of {', '.join(failed)} did not complete"]
    lines = []
    for r in ran:
        destination = _destination(spec, r)
        written = baselines.load(_target_baseline(r), r.target)
        baselines.save(
            destination,
            (
                (k, v.get("kind", ""), v.get("title", ""))
                for k, v in sorted(written.findings.items())
            ),
            version=written.version,
            package=written.package,
            target=r.target,
        )
        lines.append(
            f"baseline updated: {destination} [{r.target}] ({len(written.findings)} signatures)"
        )
    return lines


def _print_summary(runs: Sequence[TargetRun], lines: Sequence[str], status: int) -> None:
    print("==== qmp-conformance: all installed targets ====")
    width = max([len(r.target) for r in runs] + [6])
    print(
        f"{'target':<{width}}  exit  {'tests':>5}  {'pass':>5}  {'fail':>4}  {'skip':>5}  "
        f"{'findings new/known':>18}  {'time':>7}"
    )
    for r in runs:
        if r.skipped:
            print(f"{r.target:<{width}}  skipped: {r.skipped}")
            continue
        t = r.tests
        found = f"{r.findings[0]}/{r.findings[1]}" if r.findings is not None else "-"
        cells = [str(t[k]) if k in t else "-" for k in ("tests", "passed", "failed", "skipped")]
        print(
            f"{r.target:<{width}}  {r.status!s:>4}  {cells[0]:>5}  {cells[1]:>5}  {cells[2]:>4}  "
            f"{cells[3]:>5}  {found:>18}  {r.seconds:>6.1f}s" + (f"  {r.note}" if r.note else "")
        )
    for line in lines:
        print(line)
    print(
        f"exit status {status}: the worst of the targets' (3 harness error > 2 usage or "
        f"configuration error > 1 new findings > 0)",
        flush=True,
    )
