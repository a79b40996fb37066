"""How a QEMU process ended, classified from its wait status and its stderr.

The classification is a pure function so that it can be tested without a QEMU and
applied again to a recorded exit when a reproducer is replayed.
"""

from __future__ import annotations

import enum
import re
import signal
from dataclasses import dataclass


class ExitKind(enum.StrEnum):
    CLEAN = "clean"  # exit status 0 after the suite asked it to quit
    EXIT = "exit"  # exited on its own (status 0 unasked, or non-zero)
    CRASH = "crash"  # killed by a signal it did not ask for
    ABORT = "abort"  # SIGABRT, usually an assertion; the text is kept
    SANDBOX = "sandbox"  # SIGSYS: the seccomp sandbox refused a system call
    HANG = "hang"  # stopped answering before a deadline; the harness killed it
    KILLED = "killed"  # the harness killed it for its own reasons (teardown)


@dataclass(frozen=True, slots=True)
class ExitInfo:
    kind: ExitKind
    returncode: int | None
    signal: int | None
    assertion: str | None
    stderr: str

    @property
    def is_finding(self) -> bool:
        """Whether this exit says something is wrong with QEMU."""
        return self.kind in (ExitKind.CRASH, ExitKind.ABORT, ExitKind.SANDBOX, ExitKind.HANG)

    def describe(self) -> str:
        """One line for humans."""
        what = {
            ExitKind.CLEAN: "exited cleanly after quit",
            ExitKind.EXIT: f"exited with status {self.returncode}",
            ExitKind.CRASH: f"crashed: killed by {_signame(self.signal)}",
            ExitKind.ABORT: "aborted",
            ExitKind.SANDBOX: "was killed by the seccomp sandbox (SIGSYS)",
            ExitKind.HANG: "hung: no reply before the deadline, killed",
            ExitKind.KILLED: "was killed by the harness",
        }[self.kind]
        if self.assertion:
            return f"{what}: {self.assertion}"
        last = last_line(self.stderr)
        return f"{what}: {last}" if last and self.kind is not ExitKind.CLEAN else what


# glibc assert(), GLib g_assert*/g_error, and QEMU's own abort paths.
_ASSERTION = re.compile(
    r"^(?:.*Assertion .* failed\.?"
    r"|.*ERROR:.*"
    r"|\*\*\s*ERROR.*"
    r"|.*Unexpected error in .*"
    r"|.*[Aa]ssertion failed.*"
    r"|.*Bail out!.*)$",
    re.MULTILINE,
)


def find_assertion(stderr: str) -> str | None:
    """The last assertion or fatal-error line in `stderr`, if any."""
    found = _ASSERTION.findall(stderr)
    return found[-1].strip() if found else None


# What QEMU writes before it says why it won't start: warnings ("warning: missing
# SecureDigital device") and notices of optional modules a build lacks (Debian's "qemu:
# module audio-audio-pa not found, do you want to install qemu-system-gui package?").
_PREAMBLE = re.compile(r": warning: |\bmodule \S+ not found\b")


def first_line(text: str) -> str:
    """The first line of `text` that says something (no warning, no module notice:
    "Kernel or Flash image must be specified", not what preceded it), else its first
    line."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    said = [line for line in lines if not _PREAMBLE.search(line)]
    return (said or lines or [""])[0]


def last_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1].strip() if lines else ""


def classify_exit(
    returncode: int | None,
    stderr: str,
    *,
    quit_sent: bool = False,
    hung: bool = False,
    killed_by_harness: bool = False,
) -> ExitInfo:
    """Classify an ended QEMU from `Popen.returncode` and what it wrote to stderr."""
    sig = -returncode if returncode is not None and returncode < 0 else None
    assertion = find_assertion(stderr)
    if hung:
        kind = ExitKind.HANG
    elif sig == signal.SIGSYS:
        kind = ExitKind.SANDBOX
    elif sig == signal.SIGABRT:
        kind = ExitKind.ABORT
    elif sig is not None:
        # A harness kill is only innocent when nothing else went wrong first.
        kind = ExitKind.KILLED if killed_by_harness else ExitKind.CRASH
    elif returncode == 0 and quit_sent:
        kind = ExitKind.CLEAN
    else:
        kind = ExitKind.EXIT
    return ExitInfo(kind, returncode, sig, assertion if kind is ExitKind.ABORT else None, stderr)


def _signame(sig: int | None) -> str:
    if sig is None:
        return "?"
    try:
        return f"{signal.Signals(sig).name} ({sig})"
    except ValueError:
        return f"signal {sig}"


#: What QEMU writes when it exits on purpose because a type's module can't be loaded on
#: this host (a shared library the package needs is missing): qom/object.c loads a
#: type's module with `module_load_qom(typename, &error_fatal)` and says
#: "missing object type" when it fails. That host can't test the type.
_MODULE_LOAD = ("failed to open module", "missing object type")


def module_not_loadable(info: ExitInfo) -> str:
    """Why an exit is the host's and not QEMU's: a type's module failed to load and QEMU
    exited on purpose (status 1, no signal), or "" when it is anything else."""
    if info.signal is not None or info.returncode != 1:
        return ""
    for line in info.stderr.splitlines():
        if any(marker in line for marker in _MODULE_LOAD):
            return f"its module does not load on this host: {line.strip()}"
    return ""
