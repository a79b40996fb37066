"""Backtraces of signal-only crashes on the real QEMU (conformance.findings.backtrace).

The crash is the one both versions' baselines know: ``transaction`` with
``block-dirty-bitmap-enable`` on a node that doesn't exist segfaults.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from conformance.drive.report import evidence
from conformance.findings import backtrace
from conformance.findings.backtrace import Backtracer
from conformance.findings.record import Finding, findings_from
from conformance.findings.signature import covers
from conformance.machine.instance import LaunchConfig, QemuGone, QemuInstance

KNOWN = "crash | transaction | SIGSEGV args=actions[block-dirty-bitmap-enable]"
ENABLE_MISSING = {
    "actions": [{"type": "block-dirty-bitmap-enable", "data": {"node": "nonexist", "name": "b"}}]
}


def _crash(config: LaunchConfig) -> Finding:
    with QemuInstance(config) as inst, pytest.raises(QemuGone) as raised, evidence(inst):
        inst.execute("transaction", ENABLE_MISSING)
    (finding,) = findings_from(raised.value, "test_backtrace")
    assert finding.reproducer is not None
    return finding


def test_without_symbols_the_crash_is_signed_by_its_arguments_shape_and_gdb_is_not_run(
    config: LaunchConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tracer = Backtracer(config.binary, str(tmp_path / "run"))
    if tracer.symbols.available:
        pytest.skip(f"cannot be tested here: {config.binary} has debug symbols")

    def no_gdb(*args: object, **kwargs: object) -> tuple[int, str]:
        raise AssertionError("gdb was run for a binary without symbols")

    monkeypatch.setattr(backtrace, "run_tool", no_gdb)
    finding = _crash(config)
    assert finding.key == KNOWN
    assert tracer.sign(finding) is finding
    assert tracer.note == (
        f"backtraces: no debug symbols for {config.binary}; "
        "crash signatures use the arguments' shape"
    )
    assert not (tmp_path / "run" / "backtraces").exists()


def test_the_reproducer_under_gdb_stops_at_the_crash(config: LaunchConfig, tmp_path: Path) -> None:
    # Without symbols gdb still names QEMU's exported functions (.dynsym), so the run
    # itself (argv, stdin, workdir, deadline, the group killed) is tested on any build.
    if shutil.which("gdb") is None:
        pytest.skip("cannot be tested here: gdb is not installed")
    finding = _crash(config)
    assert finding.reproducer is not None
    tracer = Backtracer(config.binary, str(tmp_path / "run"))
    frames = tracer.frames(finding.reproducer, "SIGSEGV")
    assert "qmp_transaction" in frames, frames
    assert len(frames) == backtrace.TOP
    assert not any(f.startswith(("0x", "??")) or ":" in f for f in frames)
    # Its workdir is gone; nothing else was made.
    assert [p.name for p in (tmp_path / "run").iterdir()] == []


def test_with_symbols_the_crash_is_signed_by_its_frames(
    config: LaunchConfig, tmp_path: Path
) -> None:
    tracer = Backtracer(config.binary, str(tmp_path / "run"))
    if not tracer.symbols.available:
        pytest.skip(f"cannot be tested here: no debug symbols for {config.binary}")
    if not tracer.usable:
        pytest.skip("cannot be tested here: gdb is not installed")
    finding = _crash(config)
    signed = tracer.sign(finding)
    assert signed.key.startswith("crash | transaction | SIGSEGV at "), signed.key
    assert signed.key.endswith(" args=actions[block-dirty-bitmap-enable]")
    assert "qmp_transaction" in signed.key
    assert signed.reproducer is not None
    assert signed.reproducer.signature == signed.key
    # A baseline written without symbols still knows it.
    assert covers(KNOWN, signed.key)
    # Once per signature: the second finding is signed from the cache.
    assert tracer.sign(finding).key == signed.key
