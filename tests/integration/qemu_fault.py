"""A fault hook for the project's own tests: QEMU dies, stops or loses its channel
mid-exchange, at a chosen call of `QemuInstance`, on the real QEMU process.

Selected by the environment, so it reaches every Python process of a run (the CLI,
xdist and fuzz workers, `replay`): `QMPC_FAULT=<match>:<action>` and
``PYTHONPATH=tests/integration/faultsite`` (whose sitecustomize installs it). Before the
first call of the instance whose subject contains `match`, it acts on that instance's
QEMU. A subject is the method's name, a space and what it is about: a command's name
in quotes (``execute "query-status"``), the raw bytes written (``send_raw
{"execute":...``), an awaited event's name (``wait_event MIGRATION``). A quoted
command name matches both the suite's `execute` and `replay`'s raw write of it, so
the fault recurs on replay.
The actions:

- ``KILL``, ``SEGV``, ``ABRT``: the signal, as a crash or an assertion would end it;
- ``STOP``: SIGSTOP, a QEMU that no longer answers (SIGKILL still ends it);
- ``close``: the QMP channel is shut down under the harness, QEMU left running.

It fires once per QEMU (every instance that meets the subject), as a real defect would,
and only patches the instance's own methods: the system under test stays the real binary.
"""

from __future__ import annotations

import functools
import os
import signal
import socket
import weakref
from collections.abc import Callable
from typing import Any

from conformance.machine.instance import QemuInstance

ENV = "QMPC_FAULT"
SIGNALS = {
    "KILL": signal.SIGKILL,
    "SEGV": signal.SIGSEGV,
    "ABRT": signal.SIGABRT,
    "STOP": signal.SIGSTOP,
}
#: The instance methods that talk to QEMU, and how each names its subject.
SUBJECTS: dict[str, Callable[..., str]] = {
    "execute": lambda name, *a, **k: f'"{name}"',
    "send_command": lambda name, *a, **k: f'"{name}"',
    "send_raw": lambda data, *a, **k: bytes(data).decode(errors="replace"),
    "wait_event": lambda name, *a, **k: str(name),
    "negotiate": lambda *a, **k: "qmp_capabilities",
}
_fired: weakref.WeakSet[QemuInstance] = weakref.WeakSet()


def act(inst: QemuInstance, action: str) -> None:
    """Do `action` to `inst`'s QEMU now."""
    if action == "close":
        transport = inst._primary().transport
        transport._sock.shutdown(socket.SHUT_RDWR)
        return
    assert inst.pid is not None
    assert inst.proc is not None
    os.kill(inst.pid, SIGNALS[action])
    if action != "STOP":
        # A signal is delivered when the kernel gets to it: without this wait the call
        # may still reach the dying QEMU, and its death be noticed one message later, so
        # that the finding's trigger depends on scheduling. A real crash ends QEMU while
        # it handles the message, before any reply.
        inst.proc.wait(timeout=10)


def install(spec: str) -> None:
    """Patch `QemuInstance` to act on `spec` (``match:action``)."""
    match, _, action = spec.rpartition(":")
    if action not in (*SIGNALS, "close") or not match:
        raise ValueError(f"{ENV}={spec!r}: expected MATCH:KILL|SEGV|ABRT|STOP|close")
    for method, subject in SUBJECTS.items():
        original = getattr(QemuInstance, method)

        def patched(
            self: QemuInstance,
            *args: Any,
            _original: Callable[..., Any] = original,
            _method: str = method,
            _subject: Callable[..., str] = subject,
            **kwargs: Any,
        ) -> Any:
            seen = f"{_method} {_subject(*args, **kwargs)}"
            if self not in _fired and self.alive() and match in seen:
                _fired.add(self)
                act(self, action)
            return _original(self, *args, **kwargs)

        setattr(QemuInstance, method, functools.wraps(original)(patched))


def install_from_env() -> None:
    spec = os.environ.get(ENV)
    if spec:
        install(spec)
