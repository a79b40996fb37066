"""Running a finding's one-liner (`reproduce.sh`) as a user would: with nothing but sh,
its temporary directory under the test's own."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from pathlib import Path


def run_reproduce_sh(
    finding: Path, tmp: Path, *, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`sh FINDING/reproduce.sh` with TMPDIR `tmp` (created), in `env` (default: ours)."""
    tmp.mkdir(exist_ok=True)
    return subprocess.run(
        ["sh", str(finding / "reproduce.sh")],
        capture_output=True,
        text=True,
        timeout=60,
        env={**(os.environ if env is None else env), "TMPDIR": str(tmp)},
        check=False,
    )
