"""The browser tests need a real QEMU too: the integration tests' fixtures."""

from tests.integration.conftest import no_qemu_left_behind, qemu_binary

__all__ = ["no_qemu_left_behind", "qemu_binary"]
