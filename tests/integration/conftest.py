"""Integration tests run a real QEMU; they skip with a reason when none is installed.

`qemu_binary` is each QEMU in turn: the system's and a fetched version of another
(QMPC_QEMU_FETCHED, or QMPC_FETCH looked up in the fetch cache without the network).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from conformance.errors import SetupError
from conformance.machine import process
from conformance.machine.instance import LaunchConfig
from conformance.machine.probe import probe
from conformance.packages.cache import cached_launcher

QEMU = os.environ.get("QMPC_QEMU", "qemu-system-x86_64")
#: A second QEMU of another version: the launcher `qmp-conformance fetch` printed.
FETCHED = os.environ.get("QMPC_QEMU_FETCHED")
#: Or the version to find in the fetch cache (tox.ini sets it; bootstrap fetches it).
FETCH_SPEC = os.environ.get("QMPC_FETCH")


@dataclass(frozen=True)
class Binary:
    """A QEMU the integration tests run on, or why there is none."""

    path: str | None
    reason: str
    role: str

    @property
    def id(self) -> str:
        """The test id: the binary's QEMU version (7.2, 10.0), from the binary itself."""
        if self.path is None:
            return self.role
        try:
            major, minor, _ = probe(self.path).version
        except SetupError:
            return self.role
        return f"{major}.{minor}"


def _system() -> Binary:
    path = shutil.which(QEMU)
    reason = f"{QEMU} is not installed (apt-get install qemu-system-x86)"
    return Binary(path, "" if path else reason, "system")


def _fetched() -> Binary:
    if FETCHED:
        path = shutil.which(FETCHED)
        return Binary(
            path, "" if path else f"QMPC_QEMU_FETCHED={FETCHED} is not an executable", "fetched"
        )
    if not FETCH_SPEC:
        return Binary(
            None,
            "no second QEMU version: neither QMPC_QEMU_FETCHED nor QMPC_FETCH is set",
            "fetched",
        )
    try:
        launcher = cached_launcher(FETCH_SPEC)
    except SetupError as exc:
        return Binary(None, f"QMPC_FETCH={FETCH_SPEC}: {exc}", "fetched")
    if launcher is None:
        return Binary(
            None,
            f"{FETCH_SPEC} is not in the fetch cache (python -m conformance.bootstrap fetches it as root)",
            "fetched",
        )
    return Binary(str(launcher), "", "fetched")


SYSTEM, FETCHED_BINARY = _system(), _fetched()


def _usable(binary: Binary) -> str:
    if binary.path is None:
        pytest.skip(binary.reason)
    return binary.path


@pytest.fixture(scope="session")
def system_qemu() -> str:
    """The system's QEMU (QMPC_QEMU, default qemu-system-x86_64) alone."""
    return _usable(SYSTEM)


@pytest.fixture(
    scope="session", params=[SYSTEM, FETCHED_BINARY], ids=[SYSTEM.id, FETCHED_BINARY.id]
)
def qemu_binary(request: pytest.FixtureRequest) -> str:
    """Each QEMU under test in turn: the system's, then the fetched version."""
    binary: Binary = request.param
    return _usable(binary)


@pytest.fixture(scope="session")
def fetched_qemu() -> str:
    """The fetched QEMU of another version, for tests that compare two versions."""
    return _usable(FETCHED_BINARY)


@pytest.fixture(scope="module")
def qemu_72(qemu_binary: str) -> str:
    """The binary, when it is the QEMU 7.2 whose defects these tests replay."""
    if probe(qemu_binary).version[:2] != (7, 2):
        # 10.0 answers the same pmemsave (size -1) by writing guest memory without end,
        # rather than segfaulting: the defect replayed here is 7.2's alone.
        pytest.skip("the replayed defects are those of QEMU 7.2 (pmemsave size -1 segfaults)")
    return qemu_binary


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
