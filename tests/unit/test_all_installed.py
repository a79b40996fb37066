"""`run --all-installed` without QEMU: the exit-status precedence and the baseline union."""

from __future__ import annotations

from pathlib import Path

import pytest

from conformance import all_installed
from conformance.all_installed import TargetRun, worst
from conformance.cli import main
from conformance.findings import baseline as baselines
from conformance.machine.discovery import Found
from conformance.machine.probe import BinaryInfo


@pytest.mark.parametrize(
    ("codes", "expected"),
    [
        ([], 0),
        ([0, 0], 0),
        ([0, 1, 0], 1),
        ([1, 2], 2),
        ([3, 2, 1], 3),
        ([1, 3], 3),
        ([0, 130], 3),  # interrupted or killed: not a result to trust
    ],
)
def test_worst_exit_status(codes: list[int], expected: int) -> None:
    assert worst(codes) == expected


def _run(tmp_path: Path, target: str, keys: list[str], status: int = 1) -> TargetRun:
    name = target if target == "qemu-storage-daemon" else f"qemu-system-{target}"
    info = BinaryInfo(f"/usr/bin/{name}", (7, 2, 22), "Debian 1:7.2", name == target, True)
    run = TargetRun(Found(name, info.path, info), tmp_path / "targets" / target, status=status)
    baselines.save(
        run.directory / "baseline.json",
        ((k, "crash", f"title of {k}") for k in keys),
        version="7.2.22",
        package="Debian 1:7.2",
        target=info.target,
    )
    return run


def test_baseline_update_writes_each_target_its_section(tmp_path: Path) -> None:
    target = tmp_path / "qemu-7.2.json"
    # A target this run doesn't cover keeps its section.
    baselines.save(
        target,
        [("crash | s | SIGILL", "crash", "t")],
        version="7.2.22",
        package="p",
        target="s390x",
    )
    runs = [
        _run(tmp_path, "x86_64", ["crash | a | SIGSEGV", "hang | b"]),
        _run(tmp_path, "aarch64", ["hang | b", "crash | c | SIGABRT"]),
        _run(tmp_path, "qemu-storage-daemon", [], status=0),
    ]
    lines = all_installed._update_baselines(str(target), runs)
    assert lines == [
        f"baseline updated: {target} [x86_64] (2 signatures)",
        f"baseline updated: {target} [aarch64] (2 signatures)",
        f"baseline updated: {target} [qemu-storage-daemon] (0 signatures)",
    ]
    written = baselines.load_file(target)
    assert sorted(written.targets) == ["aarch64", "qemu-storage-daemon", "s390x", "x86_64"]
    assert sorted(written.targets["x86_64"].findings) == ["crash | a | SIGSEGV", "hang | b"]
    assert sorted(written.targets["aarch64"].findings) == ["crash | c | SIGABRT", "hang | b"]
    assert list(written.targets["s390x"].findings) == ["crash | s | SIGILL"]
    x86 = baselines.load(target, "x86_64")
    assert (x86.version, x86.package, x86.target) == ("7.2.22", "Debian 1:7.2", "x86_64")


def test_baseline_is_not_updated_after_a_failed_target(tmp_path: Path) -> None:
    target = tmp_path / "qemu-7.2.json"
    baselines.save(target, [("old", "crash", "t")], version="7.2.22", package="p", target="x86_64")
    runs = [_run(tmp_path, "x86_64", ["new"]), _run(tmp_path, "arm", [], status=3)]
    assert all_installed._update_baselines(str(target), runs) == [
        "baseline not updated: the run of arm did not complete"
    ]
    assert list(baselines.load(target).findings) == ["old"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--shard", "0/2"], "--shard 0/2: K must be between 1 and N (2)"),
        (["--shard", "two"], "--shard 'two': expected K/N, e.g. 1/4"),
        (["--targets", "x86_64"], "--targets goes with --all-installed"),
        (["--all-installed", "--machine", "none"], "--machine can't go with --all-installed"),
    ],
)
def test_usage_errors_are_one_line_and_exit_2(
    args: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Refused before any binary is started or looked for."""
    assert main(["run", "--reports", str(tmp_path), *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert message in err[0]
