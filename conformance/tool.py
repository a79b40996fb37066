"""Running another program (QEMU's `-version` probe, npm, allure) with a deadline.

A program that is missing, can't be executed or doesn't finish in time ends the run
with a one-line `SetupError`, never a traceback.
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping
from pathlib import Path

from conformance.errors import SetupError


def run_tool(
    argv: list[str],
    *,
    timeout: float,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> tuple[int, str]:
    """Run `argv` to completion; its exit status and what it printed (stdout, then
    stderr)."""
    try:
        done = subprocess.run(
            argv,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise SetupError(f"{' '.join(argv[:2])} did not finish within {timeout:g}s") from exc
    except OSError as exc:
        raise SetupError(f"cannot run {argv[0]}: {exc.strerror or exc}") from exc
    return done.returncode, (done.stdout + done.stderr).decode("utf-8", "replace")
