"""Running `qmp-conformance` as a user would: a subprocess, with a deadline."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path


def cli(
    *args: str,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = 300,
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "conformance.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        check=False,
    )


def run_suite(
    qemu: str,
    reports: Path,
    machine: str,
    *pytest_args: str,
    env: Mapping[str, str] | None = None,
    timeout: float = 300,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """`qmp-conformance run` on one machine profile, quietly, with extra pytest args."""
    return cli(
        "run",
        "--qemu",
        qemu,
        "--machine",
        machine,
        "--reports",
        str(reports),
        "--",
        "-q",
        *pytest_args,
        env=env,
        timeout=timeout,
        cwd=cwd,
    )
