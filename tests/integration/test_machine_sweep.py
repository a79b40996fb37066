"""The QOM walk and the machine-type sweep on a real QEMU: what they count, that a crash
mid-walk is a finding and the walk goes on, that a type QEMU refuses is listed with its
line and is no failure."""

from __future__ import annotations

import signal
from dataclasses import replace
from pathlib import Path

import pytest

from conformance.drive.machines import MachineRun, start_every_type
from conformance.drive.qom_walk import QomWalk
from conformance.findings.record import findings_from
from conformance.machine.exits import ExitKind
from conformance.machine.instance import LaunchConfig, QemuGone, QemuInstance
from conformance.machine.pool import InstancePool
from conformance.machine.probe import probe
from conformance.machine.profiles import MACHINE_PREFIX
from conformance.qmp.transcript import Direction
from conformance.spec import Schema, schema_from_reply

pytestmark = pytest.mark.qemu


def _schema(config: LaunchConfig) -> Schema:
    with QemuInstance(config) as inst:
        return schema_from_reply(inst.execute("query-qmp-schema").value)


def _pool(config: LaunchConfig) -> InstancePool:
    return InstancePool(lambda profile: replace(config, profile=profile))


def test_walk_reads_every_property_from_the_root(config: LaunchConfig) -> None:
    pool = _pool(config)
    try:
        walk = QomWalk(lambda: pool.get("none"), _schema(config))
        sweep = walk.run()
    finally:
        pool.close()
    assert walk.failures == []
    assert sweep.total == sweep.exercised > 0
    assert sweep.excluded == {}
    assert walk.listed >= 3


def test_walk_reads_the_harness_chardev_and_root(config: LaunchConfig) -> None:
    pool = _pool(config)
    try:
        inst = pool.get("none")
        QomWalk(lambda: pool.get("none"), _schema(config)).run()
        sent = [r.value for r in inst.transcript.records if r.direction is Direction.SEND]
    finally:
        pool.close()
    paths = {a["arguments"]["path"] for a in sent if isinstance(a, dict) and "arguments" in a}
    assert {"/", "/machine", "/chardevs/qmp"} <= paths


def test_a_crash_mid_walk_is_a_finding_and_the_walk_goes_on(config: LaunchConfig) -> None:
    pool = _pool(config)
    calls = 0

    def instance() -> QemuInstance:
        nonlocal calls
        calls += 1
        inst = pool.get("none")
        if calls == 5:
            inst.send_signal(signal.SIGSEGV)  # as a qom-get getter that crashes would
        return inst

    try:
        walk = QomWalk(instance, _schema(config))
        sweep = walk.run()
    finally:
        pool.close()
    assert len(walk.failures) == 1
    gone = walk.failures[0]
    assert isinstance(gone, QemuGone)
    assert gone.exit_info.kind is ExitKind.CRASH
    assert pool.starts == 2  # restarted, and the walk went on to the end
    assert sweep.total == sweep.exercised
    (finding,) = findings_from(gone, "test_walk")
    assert finding.reproducer is not None
    assert finding.reproducer.messages


def test_machine_type_sweep_counts_and_quits(config: LaunchConfig) -> None:
    info = probe(config.binary)
    run = MachineRun(
        MACHINE_PREFIX + "none",
        _schema(config),
        info.version,
        lambda profile: replace(config, profile=profile),
    )
    run.run()
    assert run.failures == []
    assert run.refused is None
    assert run.queries.exercised == run.queries.total > 20
    assert run.walk is not None
    assert run.walk.sweep.exercised == run.walk.sweep.total > 0


def test_a_type_qemu_refuses_is_listed_with_its_line(config: LaunchConfig) -> None:
    started, failures = start_every_type(
        ["no-such-machine", "none"],
        _schema(config),
        probe(config.binary).version,
        lambda profile: replace(config, profile=profile),
    )
    assert failures == []
    assert (started.total, started.exercised) == (2, 1)
    assert list(started.excluded) == ["no-such-machine"]
    assert "unsupported machine type" in started.excluded["no-such-machine"]


def test_the_ci_sample_is_deterministic_and_said(config: LaunchConfig) -> None:
    pool = _pool(config)
    try:
        first = QomWalk(lambda: pool.get("none"), _schema(config), one_in=4).run()
        second = QomWalk(lambda: pool.get("none"), _schema(config), one_in=4).run()
    finally:
        pool.close()
    assert first == second
    assert 0 < first.exercised < first.total
    # What the sample left out is neither exercised nor excluded: the summary's "sample".
    assert first.excluded == {}


def test_start_and_quit_only(config: LaunchConfig) -> None:
    run = MachineRun(
        MACHINE_PREFIX + "none",
        _schema(config),
        probe(config.binary).version,
        lambda profile: replace(config, profile=profile),
    )
    run.run(sweep=False)
    assert run.failures == []
    assert run.refused is None
    assert run.queries.total == 0
    assert run.walk is None


def test_a_crash_at_start_is_a_finding_not_a_refusal(
    config: LaunchConfig, tmp_path: Path, qemu_binary: str
) -> None:
    # A wrapper that injects the fault into the harness: it answers -version as QEMU
    # and otherwise dies of SIGSEGV before any greeting, as a board that crashes while
    # it is built would.
    wrapper = tmp_path / "qemu-system-crashing"
    wrapper.write_text(
        f'#!/bin/sh\ncase "$*" in *-version*) exec {qemu_binary} "$@";; esac\nkill -SEGV $$\n'
    )
    wrapper.chmod(0o755)
    schema = _schema(config)
    crashing = replace(config, binary=str(wrapper))
    run = MachineRun(
        MACHINE_PREFIX + "none",
        schema,
        probe(qemu_binary).version,
        lambda profile: replace(crashing, profile=profile),
    )
    run.run()
    assert run.refused is None
    (gone,) = run.failures
    assert isinstance(gone, QemuGone)
    assert gone.exit_info.kind is ExitKind.CRASH
    (finding,) = findings_from(gone, "test_machine_type[none]")
    assert finding.kind.value == "crash"
