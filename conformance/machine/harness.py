"""The harness's own resources in every QEMU it starts, named in one place.

An instance (`conformance.machine.instance`) gives QEMU its QMP monitors on chardevs
``qmp``, ``qmp1``, ``qmp2``, ... (QOM paths ``/chardevs/qmp``, ...), each on a socket
fd, or, where the binary can't take one, on a unix socket ``qmp.sock``, ``qmp1.sock``,
... in the workdir. Those are the channel the suite reads its verdicts from: a
generated ``yank`` of chardev ``qmp`` or a ``chardev-remove`` of it cuts the harness's
own line, and the suite would call the silence a hang of QEMU (issue 18). So these
names come from here for the launcher, the reproducer's one-liner (the same ids, so
that a one-liner and a replay meet the same names) and the host-safety policy, which
refuses every generated value that names one of them (`names_harness_resource`).

This module imports nothing of the project: `strategies.safety` reads it too.
"""

from __future__ import annotations

import re

__all__ = [
    "MONITOR_CHARDEV",
    "PROBE_ID",
    "harness_names",
    "monitor_args",
    "monitor_chardev",
    "monitor_socket",
    "names_harness_resource",
    "stdio_monitor_args",
]

#: The primary monitor's chardev id; monitor N > 0 has ``qmpN``.
MONITOR_CHARDEV = "qmp"
#: The id of the liveness probe (``query-version``) the drivers send after an example
#: or a pipelined batch of them. A literal, so its echo is judged against what was sent
#: (the reply's own id would always equal itself); replay reads a reproducer's batches by it.
PROBE_ID = "qmpc-probe"
_SOCKET_SUFFIX = ".sock"
_CHARDEV = re.compile(r"qmp(?:[1-9][0-9]*)?")
_QOM_CHARDEVS = "/chardevs/"


def monitor_chardev(number: int) -> str:
    """The chardev id of QMP monitor `number` (0 is the primary one)."""
    return MONITOR_CHARDEV if number == 0 else f"{MONITOR_CHARDEV}{number}"


def monitor_socket(number: int) -> str:
    """The workdir socket of monitor `number`, where the binary can't take an fd."""
    return monitor_chardev(number) + _SOCKET_SUFFIX


def monitor_args(
    number: int, backend: str, options: str = "", *, daemon: bool = False
) -> list[str]:
    """The options of QMP monitor `number` on a chardev of type `backend` (``socket``,
    ``stdio``) with `options` (``fd=3``), in qemu-system's syntax or (`daemon`)
    qemu-storage-daemon's."""
    chardev = monitor_chardev(number)
    spec = f"{backend},id={chardev}" + (f",{options}" if options else "")
    if daemon:
        # The daemon's monitors are QMP only, and its options are long ones.
        return ["--chardev", spec, "--monitor", f"chardev={chardev}"]
    return ["-chardev", spec, "-mon", f"chardev={chardev},mode=control"]


def stdio_monitor_args(*, daemon: bool = False) -> list[str]:
    """The primary monitor on stdio, with the chardev id the harness gives it."""
    return monitor_args(0, "stdio", daemon=daemon)


def names_harness_resource(text: str) -> bool:
    """Whether `text` names one of the harness's monitors: its chardev id, its QOM path
    (or anything under it) or its socket file (by name, wherever the path points, since
    QEMU's cwd is the workdir where the socket is)."""
    if _CHARDEV.fullmatch(text):
        return True
    if text.startswith(_QOM_CHARDEVS):
        first = text[len(_QOM_CHARDEVS) :].split("/", 1)[0]
        if _CHARDEV.fullmatch(first):
            return True
    last = re.split(r"[/:]", text)[-1]
    return last.endswith(_SOCKET_SUFFIX) and bool(_CHARDEV.fullmatch(last[: -len(_SOCKET_SUFFIX)]))


def harness_names(value: object) -> set[str]:
    """The strings in a JSON `value` (member values and keys, at any depth) that name
    the harness's own resources: every one, whatever member holds it, since the schema
    doesn't say which strings are ids."""
    found: set[str] = set()
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if names_harness_resource(item):
                found.add(item)
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found
