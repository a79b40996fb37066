"""Running another program (QEMU's `-version` probe, npm, allure, apt-get) with a deadline.

A program that is missing, can't be executed or doesn't finish in time ends the run
with a one-line `SetupError`, never a traceback.

It runs in a process group of its own, and the whole group is killed when it overruns
its deadline or when the run is interrupted: npm and allure start children of their
own, which killing the one process we started would leave running (and holding the
output pipes open, so that even reading them to the end would never finish).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Mapping
from pathlib import Path

from conformance.errors import SetupError

#: How long a killed group's output may take to reach its end.
KILL_GRACE = 5.0


def run_tool(
    argv: list[str],
    *,
    timeout: float,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    capture: bool = True,
    reap_group: bool = False,
) -> tuple[int, str]:
    """Run `argv` to completion; its exit status and what it printed (stdout, then
    stderr), or "" with `capture=False`, where its output goes to ours. With
    `reap_group`, whatever of its process group outlives it is killed (a debugger's
    inferior that it left running)."""
    out = subprocess.PIPE if capture else None
    try:
        proc = subprocess.Popen(
            argv,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=out,
            process_group=0,
        )
    except OSError as exc:
        raise SetupError(f"cannot run {argv[0]}: {exc.strerror or exc}") from exc
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        _kill(proc)
        raise SetupError(f"{' '.join(argv[:2])} did not finish within {timeout:g}s") from exc
    except BaseException:
        _kill(proc)
        raise
    if reap_group:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    said = (stdout or b"") + (stderr or b"")
    return proc.returncode, said.decode("utf-8", "replace")


def _kill(proc: subprocess.Popen[bytes]) -> None:
    """Kill the tool's whole process group and reap it, within KILL_GRACE."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    try:
        proc.communicate(timeout=KILL_GRACE)
    except subprocess.TimeoutExpired:
        # A child that left the group (setsid) still holds a pipe: stop reading it.
        for pipe in (proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=KILL_GRACE)
