"""The browser tests need a real QEMU too: the integration tests' fixtures, with the
system's QEMU only (one report is enough to check the browser's view of it)."""

import pytest

from tests.integration.conftest import no_qemu_left_behind, system_qemu

__all__ = ["no_qemu_left_behind", "system_qemu"]


@pytest.fixture(scope="session")
def qemu_binary(system_qemu: str) -> str:
    return system_qemu
