"""Make sure the QEMU under test is installed before a run or the project's tests.

As root on Debian with apt-get, a missing QEMU is installed; anyone else is told the
exact command and gets exit code 2.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

from conformance.errors import EXIT_USAGE

PACKAGES = ("qemu-system-x86", "qemu-utils")
INSTALL = "apt-get update && apt-get install -y --no-install-recommends " + " ".join(PACKAGES)


def main() -> int:
    binary = os.environ.get("QMPC_QEMU", "qemu-system-x86_64")
    if shutil.which(binary) and shutil.which("qemu-img"):
        return 0
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print(f"qmp-conformance: {binary} is missing; installing: {INSTALL}", file=sys.stderr)
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        rc = subprocess.call(["sh", "-c", INSTALL], env=env)
        if rc == 0 and shutil.which(binary):
            return 0
        print(f"qmp-conformance: installing QEMU failed (exit {rc})", file=sys.stderr)
        return EXIT_USAGE
    print(
        f"qmp-conformance: {binary} is not installed; as root, run: {INSTALL}",
        file=sys.stderr,
    )
    return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
