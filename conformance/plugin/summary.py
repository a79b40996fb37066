"""The terminal summary of a run, read from the structured results the tests record."""

from __future__ import annotations

import pytest
from hypothesis import Phase, settings

from conformance import hypothesis_profiles
from conformance.drive.preconfig import PHASE_PROPERTY
from conformance.drive.preconfig import Phase as PreconfigPhase
from conformance.drive.sweep_record import SWEEP_PROPERTY, SweepTally
from conformance.findings.store import deviation_summary
from conformance.plugin.outcome import (
    OUTCOME,
    FindingsOutcome,
    harness_errors,
    is_known,
    suite_reports,
)
from conformance.plugin.parametrise import DOCS
from conformance.plugin.records import POLICY_SKIP, PolicySkip
from conformance.runcontext import (
    binary_info,
    run_context,
)


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
            sum(1 for r in run if r.failed or is_known(r)),
            sum(1 for r in run if r.skipped and not is_known(r)),
        )
        parts = ", ".join(f"{w} {n}" for w, n in zip(what, counts, strict=True))
        tr.write_line(f"{kind}: {len(run)}: {parts}")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    tr = terminalreporter
    reports = suite_reports(tr.stats)
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
            if "::test_covering_" in rep.nodeid:
                mode = f"covering {mode}"  # the deterministic phase: cases, not examples
            examples.setdefault(mode, []).append(int(str(props["examples"])))
            rejected += int(str(props.get("rejected", 0)))
        if rep.skipped and POLICY_SKIP in props:
            skip = PolicySkip.from_property(props[POLICY_SKIP])
            policy_skips[skip.command] = skip.why
    for mode, counts in sorted(examples.items()):
        noun = "cases" if mode.startswith("covering") else "examples"
        tr.write_line(
            f"{mode} arguments: {len(counts)} commands, {noun} per command "
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
        _ci_profile_lines(tr, teardowns, covering=any(m.startswith("covering") for m in examples))
    for machine in ("wire", "resource"):
        counted = [p for p in teardowns if f"{machine}-steps" in p]
        if counted:
            tr.write_line(
                f"{machine} state machine: "
                f"{sum(int(str(p[f'{machine}-steps'])) for p in counted)} steps in "
                f"{sum(int(str(p[f'{machine}-runs'])) for p in counted)} runs"
            )
    _preconfig_line(tr, reports, teardowns)
    _sweep_lines(tr, reports, sample=ctx.reuse)
    no_docs = tr.config.stash.get(DOCS, (None, ""))[1]
    if no_docs:  # one skipped placeholder per doc test is no example or condition
        tr.write_line(f"documentation tests skipped: {no_docs}")
    for kind, nodeid, what in (
        ("documented examples", "test_doc_example[", ("match", "mismatch", "not replayable")),
        ("documented error conditions", "test_doc_error[", ("match", "mismatch", "not inducible")),
    ):
        if not no_docs:
            _outcome_line(tr, reports, kind, nodeid, what)
    errors = harness_errors(reports)
    tr.write_line(f"harness errors: {len(errors)}")
    for line in errors[:20]:
        tr.write_line(f"  {line}")
    outcome = tr.config.stash.get(OUTCOME, None)
    if outcome is not None:
        _findings_summary(tr, outcome)


def _sweep_lines(
    tr: pytest.TerminalReporter, reports: list[pytest.TestReport], *, sample: bool
) -> None:
    """One line per sweep: how many of the listed values it exercised, out of how many."""
    tallies: dict[str, SweepTally] = {}
    for rep in reports:
        for name, value in rep.user_properties:
            if name == SWEEP_PROPERTY:
                tally = SweepTally.from_property(value)
                tallies[f"{rep.nodeid} {tally.command} {tally.name}"] = tally
    for _, tally in sorted(tallies.items()):
        # The ci profile samples this suite's sweeps; a sweep that sent everything
        # (h-machines' included) is no sample.
        partial = sample and tally.exercised + len(tally.excluded) < tally.total
        tr.write_line(f"sweep {tally.command}: {tally.line(sample=partial)}")


def _preconfig_line(
    tr: pytest.TerminalReporter,
    reports: list[pytest.TestReport],
    teardowns: list[dict[str, object]],
) -> None:
    """How the commands sent in the preconfig phase fared: allowed or refused for the
    phase, not sent (the host-safety policy), or failed (a crash, a finding)."""
    met = [str(p[PHASE_PROPERTY]) for p in teardowns if PHASE_PROPERTY in p]
    if not met:
        return
    run = [r for r in reports if "test_preconfig_phase[" in r.nodeid]
    skipped = sum(1 for r in run if r.skipped and not is_known(r))
    failed = sum(1 for r in run if r.when == "call" and (r.failed or is_known(r)))
    tr.write_line(
        f"preconfig phase: {len(met) + skipped + failed} commands: "
        + ", ".join(f"{phase} {met.count(phase)}" for phase in PreconfigPhase)
        + f", not sent {skipped}, failed {failed}"
    )


def _ci_profile_lines(
    tr: pytest.TerminalReporter, teardowns: list[dict[str, object]], *, covering: bool
) -> None:
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
    if covering:
        # Issue 19: a sample may stand in for the covering phase only if this line says so.
        tr.write_line("ci profile: the covering phase runs whole (every case, as in a full run)")
    ctx = run_context(tr.config)
    tr.write_line(
        f"ci profile: every machine type runs its no-argument queries and a QOM walk "
        f"reading a deterministic 1 property in {ctx.qom_sample} (test_machine_type)"
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
    for line in deviation_summary(store.deviations):
        tr.write_line(line)
    if outcome.baseline_note:
        unseen = f"; {outcome.unseen} known signatures not seen" if outcome.unseen else ""
        tr.write_line(outcome.baseline_note + unseen)
    if outcome.updated:
        tr.write_line(f"baseline updated: {outcome.updated} ({len(store.entries)} signatures)")
    if outcome.minimiser_note:
        tr.write_line(outcome.minimiser_note)
    if outcome.backtrace_note:
        tr.write_line(outcome.backtrace_note)
    for entry in store.entries:
        if entry.minimise_note:
            tr.write_line(f"  {entry.slug}: {entry.minimise_note}")
