"""Integration tests run a real QEMU; they skip with a reason when none is installed."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from conformance.machine import process
from conformance.machine.instance import LaunchConfig

QEMU = os.environ.get("QMPC_QEMU", "qemu-system-x86_64")
#: A second QEMU of another version: the launcher `qmp-conformance fetch` printed.
FETCHED = os.environ.get("QMPC_QEMU_FETCHED")


@pytest.fixture(scope="session")
def qemu_binary() -> str:
    path = shutil.which(QEMU)
    if path is None:
        pytest.skip(f"{QEMU} is not installed (apt-get install qemu-system-x86)")
    return path


@pytest.fixture(scope="session")
def fetched_qemu() -> str:
    """The fetched QEMU of another version, for tests that compare two versions."""
    if not FETCHED:
        pytest.skip("QMPC_QEMU_FETCHED is not set: no second QEMU version (qmp-conformance fetch)")
    path = shutil.which(FETCHED)
    if path is None:
        pytest.skip(f"QMPC_QEMU_FETCHED={FETCHED} is not an executable")
    return path


@pytest.fixture
def config(qemu_binary: str, tmp_path: Path) -> LaunchConfig:
    """A launch config whose workdirs live under this test's tmp_path."""
    return LaunchConfig(binary=qemu_binary, workdir_base=str(tmp_path / "work"), timeout=10.0)


@pytest.fixture
def dies_at_start(tmp_path: Path, qemu_binary: str) -> str:
    """The real QEMU, made to die as it starts (a device it doesn't have), as QEMU does
    on a host without what it was asked for: a wrapper that injects the fault, passing
    -version through so that the probe still sees QEMU."""
    wrapper = tmp_path / "qemu-system-broken"
    wrapper.write_text(
        "#!/bin/sh\n"
        f'case "$*" in *-version*) exec {qemu_binary} "$@";; esac\n'
        f'exec {qemu_binary} "$@" -device no-such-device-xyz\n'
    )
    wrapper.chmod(0o755)
    return str(wrapper)


@pytest.fixture(autouse=True)
def no_qemu_left_behind() -> Iterator[None]:
    """Every test must end every QEMU it started."""
    before = set(process.live_pids())
    yield
    left = set(process.live_pids()) - before
    assert not left, f"QEMU processes left running: {sorted(left)}"
