"""Spawning QEMU so that it can never outlive the runner.

QEMU runs in its own process group (so a terminal's Ctrl-C reaches the runner first and
the harness decides how QEMU ends) and with PR_SET_PDEATHSIG=SIGKILL (so it dies with the
runner however the runner dies: SIGKILL, a dead xdist worker, an unhandled exception).
Live processes are also killed from an atexit hook, for normal interpreter exits.

The death signal is set by util-linux's `setpriv --pdeathsig KILL` (Debian: util-linux,
an essential package), not by a `preexec_fn`: Python code between fork and exec can
deadlock when other threads exist (the stderr readers of other instances), which
CPython documents. `setpriv` then execs `sh`, which checks that its parent is still us
(a runner that died before the signal was set would never send it) and execs QEMU: the
process we wait on is QEMU itself. The two execs cost about a millisecond of a start
(bench/startup.py).

The death signal is tied to the thread that forked: the suite spawns from the thread
that owns the instance, which lives as long as the instance does.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import os
import shutil
import signal
import subprocess
import threading
from collections.abc import Mapping, Sequence

from conformance.errors import HarnessError, SetupError

#: How long a killed process group may take to be reaped: SIGKILL can't be caught, so
#: only a process stuck in the kernel (uninterruptible I/O) takes longer.
REAP_TIMEOUT = 10.0
# $1 is the runner's pid; what follows is QEMU's argv.
_GUARD = 'test "$PPID" = "$1" || exit 127; shift; exec "$@"'
_live: dict[int, subprocess.Popen[bytes]] = {}
_live_lock = threading.Lock()


class NoSetpriv(SetupError):
    """This host lacks setpriv: nothing can be tested here, whatever the binary."""


class Unreapable(HarnessError, RuntimeError):
    """A killed QEMU that did not end: a harness error, never a verdict on QEMU."""


@functools.cache
def _setpriv() -> str:
    # Also where Debian puts it: a caller's PATH may hold nothing but QEMU binaries.
    search = os.pathsep.join([os.environ.get("PATH", ""), "/usr/bin", "/bin"])
    path = shutil.which("setpriv", path=search)
    if path is None:
        raise SetupError("setpriv not found: it ties QEMU's life to the run's (install util-linux)")
    return path


def tied_argv(argv: Sequence[str], parent: int) -> list[str]:
    """`argv` run so that it gets SIGKILL when `parent` dies."""
    guard = ["/bin/sh", "-c", _GUARD, "sh", str(parent)]
    return [_setpriv(), "--pdeathsig", "KILL", "--", *guard, *argv]


def spawn(
    argv: Sequence[str],
    *,
    pass_fds: Sequence[int] = (),
    cwd: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
) -> subprocess.Popen[bytes]:
    """Start `argv` in a new process group, tied to this process's life."""
    proc = subprocess.Popen(
        tied_argv(argv, os.getpid()),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        pass_fds=tuple(pass_fds),
        cwd=cwd,
        env=dict(env) if env is not None else None,
        process_group=0,
    )
    with _live_lock:
        _live[proc.pid] = proc
    return proc


def kill_group(proc: subprocess.Popen[bytes], sig: int = signal.SIGKILL) -> None:
    """Signal the process group that `proc` leads; no-op once it is reaped."""
    if proc.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)


def reap(proc: subprocess.Popen[bytes], timeout: float = REAP_TIMEOUT) -> int:
    """Kill `proc`'s group and wait for it, within `timeout`; `Unreapable` past it."""
    kill_group(proc, signal.SIGKILL)
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        raise Unreapable(f"QEMU {proc.pid} did not end within {timeout:g}s of SIGKILL") from exc


def forget(proc: subprocess.Popen[bytes]) -> None:
    with _live_lock:
        _live.pop(proc.pid, None)


def live_pids() -> list[int]:
    with _live_lock:
        return [pid for pid, p in _live.items() if p.poll() is None]


@atexit.register
def _kill_all() -> None:
    with _live_lock:
        procs = list(_live.values())
        _live.clear()
    for proc in procs:
        kill_group(proc)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=2)
