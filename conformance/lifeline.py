"""Python processes of ours that die with the process of ours that started them.

A child run of `run --all-installed`, a fuzz worker and an xdist worker of a run are
Python processes: they set their own death signal as they start, rather than through a
`preexec_fn` (which runs between fork and exec, where CPython can deadlock when other
threads exist). The parent names itself in the child's environment (`PARENT_ENV`, by
`child_env` or for the duration of `children()`); the child calls `adopt()` first thing,
which takes the name out of its environment (a grandchild has a parent of its own),
sets PR_SET_PDEATHSIG=SIGKILL, and checks that its parent is still the one named: one
that died before the signal was set would never deliver it.

The death signal fires when the *thread* that started the child ends: every caller
starts its children from the main thread. QEMU, which is no Python, gets the same signal
from `setpriv` (`conformance.machine.process`).
"""

from __future__ import annotations

import ctypes
import os
import signal
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

PARENT_ENV = "QMPC_DIE_WITH"
_PR_SET_PDEATHSIG = 1


def die_with(parent: int) -> None:
    """Get SIGKILL when `parent` dies; be killed now if it already has."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG)")
    if os.getppid() != parent:
        os.kill(os.getpid(), signal.SIGKILL)


def adopt(environ: dict[str, str] | None = None) -> None:
    """Die with the parent `environ` names (os.environ by default), if it names one."""
    env = os.environ if environ is None else environ
    value = env.pop(PARENT_ENV, None)
    if value is not None and value.isdigit():
        die_with(int(value))


def child_env(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """An environment for a Python child of ours that must die with this process."""
    return {**(os.environ if base is None else base), PARENT_ENV: str(os.getpid())}


@contextmanager
def children() -> Iterator[None]:
    """While open, Python children that this process starts (and that `adopt()`) die
    with it: for children started by code that takes no environment (pytest-xdist)."""
    previous = os.environ.get(PARENT_ENV)
    os.environ[PARENT_ENV] = str(os.getpid())
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(PARENT_ENV, None)
        else:
            os.environ[PARENT_ENV] = previous
