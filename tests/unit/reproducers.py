"""Small reproducers the unit tests build: a stdio-less argv and the capabilities
message, shared by the reproducer and minimiser tests."""

from __future__ import annotations

from conformance.findings.reproducer import Outcome, Reproducer
from conformance.oracle.failure import FindingKind

CAPS = b'{"execute":"qmp_capabilities"}'
ARGV = (
    "$QEMU",
    "-nodefaults",
    "-display",
    "none",
    "-S",
    "-machine",
    "none",
    "-chardev",
    "socket,id=qmp,fd=4",
    "-mon",
    "chardev=qmp,mode=control",
)


def reproducer(*messages: bytes, expected: Outcome | None = None) -> Reproducer:
    return Reproducer(
        signature="crash | pmemsave | SIGSEGV",
        kind=FindingKind.CRASH,
        command="pmemsave",
        title="crash: pmemsave: SIGSEGV",
        citation="",
        profile="none",
        messages=messages or (CAPS,),
        expected=expected
        or Outcome("exit", len(messages) - 1, exit_kind="crash", detail="SIGSEGV"),
        extra_args=("-m", "64"),
        argv=ARGV,
        source={"test": "t::test_x[pmemsave]", "blob": "@reproduce_failure('6.0', b'AA==')"},
    )
