"""Finding signatures: what makes two failures the same finding.

A signature must survive a rerun, another workdir, another QEMU build of the same
source: release CI compares it with a baseline and a packager with last package's.
So it keeps what identifies the defect and drops what varies between runs:

- a crash (abort, signal, sandbox hit): the assertion or abort text, or the signal and
  the first stable line QEMU wrote to stderr, plus the command that was in flight;
- a hang: the command in flight;
- a violation (protocol, schema, behaviour, doc): the check id, the command and the
  JSON path.

Numbers, addresses, absolute paths and the program-name prefix are normalised away:
line numbers move between builds, addresses and PIDs between runs, workdirs between
machines. The source file name in an assertion is kept (``util/qemu-thread-posix.c``):
it tells two assertions with the same text apart.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass

from conformance.machine.exits import ExitInfo, ExitKind
from conformance.oracle.failure import FindingKind

log = logging.getLogger(__name__)
__all__ = ["Signature", "crash_detail", "exit_finding_kind", "normalise"]

_PROGRAM = re.compile(r"^\S*qemu[-\w.]*:\s+")  # "qemu-system-x86_64: " and the like
_ADDRESS = re.compile(r"\b0x[0-9a-fA-F]+\b")
_PATH = re.compile(r"(?<![\w.])/(?:[\w.+@-]+/)*[\w.+@-]+")  # absolute paths only
_NUMBER = re.compile(r"(?<![A-Za-z_])-?\d+(?:\.\d+)?")
_SPACE = re.compile(r"\s+")
_UPWARD = re.compile(r"(?<![\w.])(?:\.\./)+")  # "../../util/x.c": the build tree's depth
# stderr lines that say nothing about the defect (they come before it, or vary). A modular
# build (QEMU 10.0 as Debian ships it) reports an optional module whose library is missing
# ("failed to open module: libvirglrenderer.so.1: ...") whenever a command lists or loads
# types, e.g. qom-list-types, which may or may not precede the crash.
_NOISE_LINE = re.compile(
    r"^(?:\S*qemu[-\w.]*:\s+)?(?:warning:|info:|failed to open module:)", re.IGNORECASE
)


def normalise(text: str) -> str:
    """`text` with run-specific parts replaced: ``0x…`` → ADDR, absolute paths → PATH,
    numbers → N, the program-name prefix and leading ``../`` of source paths (which
    depend on the build directory) dropped, whitespace collapsed."""
    text = _PROGRAM.sub("", text.strip())
    text = _UPWARD.sub("", text)
    text = _ADDRESS.sub("ADDR", text)
    text = _PATH.sub("PATH", text)
    text = _NUMBER.sub("N", text)
    return _SPACE.sub(" ", text).strip()


def exit_finding_kind(info: ExitInfo) -> FindingKind:
    """The finding kind of an unexpected QEMU exit."""
    kind = {
        ExitKind.HANG: FindingKind.HANG,
        ExitKind.SANDBOX: FindingKind.SANDBOX,
        ExitKind.EXIT: FindingKind.DISCONNECT,
        ExitKind.CLEAN: FindingKind.DISCONNECT,
        ExitKind.KILLED: FindingKind.DISCONNECT,
    }.get(info.kind, FindingKind.CRASH)
    log.info("classified QEMU exit (%s) as %s", info.describe(), kind.value)
    return kind


def crash_detail(info: ExitInfo) -> str:
    """The stable part of an exit: the assertion, or the signal and first stable line."""
    if info.assertion:
        return normalise(info.assertion)
    if info.kind is ExitKind.HANG:
        # The harness's own SIGKILL and what QEMU printed before it stopped answering
        # say nothing about the hang; the command in flight (in the key) does.
        return "no reply before the deadline"
    how = info.kind.value
    if info.signal is not None:
        import signal as _signal

        try:
            how = _signal.Signals(info.signal).name
        except ValueError:
            how = f"signal {info.signal}"
    elif info.returncode is not None and info.kind is ExitKind.EXIT:
        how = f"exit {info.returncode}"
    stable = [
        normalise(line)
        for line in info.stderr.splitlines()
        if line.strip() and not _NOISE_LINE.match(line.strip())
    ]
    # Only warnings (a backup's block-size notice, say) are the state before the crash,
    # and which of them were printed depends on the examples before it: none is kept.
    first = stable[0] if stable else ""
    return f"{how}: {first}" if first else how


@dataclass(frozen=True, slots=True)
class Signature:
    """The identity of a finding; `key` is what baselines store."""

    kind: FindingKind
    command: str | None
    detail: str  # crash_detail(), or "check-id path" for a violation

    @classmethod
    def of_exit(cls, info: ExitInfo, command: str | None) -> Signature:
        return cls(exit_finding_kind(info), command, crash_detail(info))

    @classmethod
    def of_violation(
        cls, kind: FindingKind, check: str, command: str | None, path: str | None
    ) -> Signature:
        return cls(kind, command, f"{check} {normalise(path) if path else '$'}")

    @property
    def key(self) -> str:
        return f"{self.kind.value} | {self.command or '-'} | {self.detail}"

    @property
    def slug(self) -> str:
        """A directory name: readable, and unique through a short hash of the key."""
        digest = hashlib.sha1(self.key.encode()).hexdigest()[:10]
        words = re.sub(r"[^a-z0-9]+", "-", f"{self.kind.value} {self.command or ''}".lower())
        return f"{words.strip('-')[:60]}-{digest}"

    @classmethod
    def from_key(cls, key: str) -> Signature:
        kind, command, detail = (part.strip() for part in key.split(" | ", 2))
        return cls(FindingKind(kind), None if command == "-" else command, detail)
