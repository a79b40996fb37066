"""Spawning QEMU so that it can never outlive the runner.

QEMU runs in its own process group (so a terminal's Ctrl-C reaches the runner first and
the harness decides how QEMU ends) and with PR_SET_PDEATHSIG=SIGKILL (so it dies with the
runner however the runner dies: SIGKILL, a dead xdist worker, an unhandled exception).
Live processes are also killed from an atexit hook, for normal interpreter exits.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import os
import signal
import subprocess
import threading
from collections.abc import Mapping, Sequence

_PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(None, use_errno=True)
_live: dict[int, subprocess.Popen[bytes]] = {}
_live_lock = threading.Lock()


def _child_setup(parent: int) -> None:
    # The death signal is tied to the thread that forked; the suite spawns from the
    # thread that owns the instance, which lives as long as the instance does.
    _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:
        # The parent died between fork and prctl: nobody would ever reap us.
        os._exit(127)


def spawn(
    argv: Sequence[str],
    *,
    pass_fds: Sequence[int] = (),
    cwd: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
) -> subprocess.Popen[bytes]:
    """Start `argv` in a new process group, tied to this process's life."""
    parent = os.getpid()
    proc = subprocess.Popen(
        list(argv),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        pass_fds=tuple(pass_fds),
        cwd=cwd,
        env=dict(env) if env is not None else None,
        process_group=0,
        preexec_fn=lambda: _child_setup(parent),  # noqa: PLW1509 - prctl must run in the child
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
