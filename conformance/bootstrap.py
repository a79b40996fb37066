"""Make sure the QEMU under test is installed before a run or the project's tests.

As root on Debian with apt-get, a missing QEMU is installed; anyone else is told the
exact command and gets exit code 2. A second QEMU version named by QMPC_FETCH (and
QMPC_FETCH_SUITE) is fetched into the cache when apt and the network allow; when they
don't, one line says so and the tests that need it skip.
"""

from __future__ import annotations

import os
import shutil
import sys

from conformance.errors import EXIT_USAGE, SetupError
from conformance.tool import run_tool

PACKAGES = ("qemu-system-x86", "qemu-utils")
INSTALL = "apt-get update && apt-get install -y --no-install-recommends " + " ".join(PACKAGES)
#: apt-get update and the install, on a slow mirror: a wedged apt is an error, not a hang.
INSTALL_TIMEOUT = 1800.0


def main() -> int:
    rc = install_system_qemu()
    fetch_second_version()
    return rc


def fetch_second_version() -> None:
    from conformance.packages.cache import cached_launcher
    from conformance.packages.fetch import fetch

    spec = os.environ.get("QMPC_FETCH")
    if not spec:
        return
    try:
        if cached_launcher(spec) is None:
            fetch(spec, suite=os.environ.get("QMPC_FETCH_SUITE") or None)
    except SetupError as exc:
        print(
            f"qmp-conformance: not fetching {spec}: {exc}; the tests that need it skip",
            file=sys.stderr,
        )


def install_system_qemu() -> int:
    binary = os.environ.get("QMPC_QEMU", "qemu-system-x86_64")
    if shutil.which(binary) and shutil.which("qemu-img"):
        return 0
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print(f"qmp-conformance: {binary} is missing; installing: {INSTALL}", file=sys.stderr)
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        try:
            rc, _ = run_tool(["sh", "-c", INSTALL], timeout=INSTALL_TIMEOUT, env=env, capture=False)
        except SetupError as exc:
            print(f"qmp-conformance: installing QEMU failed: {exc}", file=sys.stderr)
            return EXIT_USAGE
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
