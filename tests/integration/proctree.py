"""The processes of one run, found by a marker in their environment.

A run started with ``QMPC_TEST_MARK=<unique>`` passes it to everything it starts (QEMUs,
child runs, fuzz and xdist workers, helpers): /proc/PID/environ finds them all, even
once they are reparented away from the run's process tree, and never another run's
QEMU on the same machine.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

MARK_ENV = "QMPC_TEST_MARK"


@dataclass(frozen=True)
class Proc:
    pid: int
    ppid: int
    argv: tuple[str, ...]

    @property
    def is_qemu(self) -> bool:
        return bool(self.argv) and Path(self.argv[0]).name.startswith("qemu-")


def new_mark() -> str:
    return uuid.uuid4().hex


def marked(mark: str) -> list[Proc]:
    """Live processes (not zombies) whose environment carries `mark`."""
    want = f"{MARK_ENV}={mark}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if want not in (entry / "environ").read_bytes().split(b"\0"):
                continue
            stat = (entry / "stat").read_text()
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:  # gone meanwhile, or not ours to read
            continue
        # pid (comm) state ppid ...: comm may hold spaces and parentheses.
        state, ppid = stat.rsplit(")", 1)[1].split()[:2]
        if state == "Z":
            continue
        found.append(Proc(int(entry.name), int(ppid), tuple(a.decode() for a in argv if a)))
    return found


def wait_for(mark: str, top: int, ready: Callable[[list[Proc]], bool], timeout: float) -> None:
    """Until `ready` holds of the marked processes: /proc is looked at again whenever
    `top` (the run) ends or 50 ms pass, since no event says "a process appeared".
    AssertionError when the run ends first, or at `timeout`."""
    deadline = time.monotonic() + timeout
    pidfd = os.pidfd_open(top)
    try:
        poller = select.poll()
        poller.register(pidfd, select.POLLIN)
        while True:
            procs = marked(mark)
            if ready(procs):
                return
            if poller.poll(50):
                raise AssertionError(f"the run ended before it got going: {procs}")
            if time.monotonic() >= deadline:
                raise AssertionError(f"not reached within {timeout:g}s: {procs}")
    finally:
        os.close(pidfd)


def wait_gone(mark: str, timeout: float) -> list[Proc]:
    """Wait until no marked process is left, on their pidfds; those left at `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        procs = marked(mark)
        if not procs or time.monotonic() >= deadline:
            return procs
        poller = select.poll()
        fds = []
        for proc in procs:
            try:
                fds.append(os.pidfd_open(proc.pid))
            except ProcessLookupError:
                continue
            poller.register(fds[-1], select.POLLIN)
        try:
            # Until every one of them has ended (then look again: one may have started
            # another meanwhile), or the deadline.
            waiting = set(fds)
            while waiting and time.monotonic() < deadline:
                left = max(0.0, deadline - time.monotonic())
                for fd, _ in poller.poll(left * 1000):
                    poller.unregister(fd)
                    waiting.discard(fd)
        finally:
            for fd in fds:
                os.close(fd)


def kill_all(mark: str) -> None:
    """Clean-up after a failed test: nothing of it stays on the machine."""
    for proc in marked(mark):
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGKILL)
