"""qmp-conformance: a conformance and fuzz-testing suite for QEMU's QMP."""

__version__ = "0.1.0"
