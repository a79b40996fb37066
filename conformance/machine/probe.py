"""What a binary is, asked once per binary and cached.

`-version` tells whether the binary is QEMU at all; the same call with `-sandbox …`
in front tells whether seccomp is built in, because QEMU rejects an option group it
doesn't know (or an invalid sandbox value) before it acts on `-version`.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from conformance.errors import SetupError
from conformance.tool import run_tool

SANDBOX_ARG = "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny"
PROBE_TIMEOUT = 10.0
#: Where QEMU's own functional tests take their binary from; ours too, without --qemu.
QEMU_BINARY_ENV = "QEMU_TEST_QEMU_BINARY"
FALLBACK_QEMU = "qemu-system-x86_64"

_VERSION = re.compile(
    r"^(?P<prog>QEMU emulator|qemu-storage-daemon) version "
    r"(?P<major>\d+)\.(?P<minor>\d+)\.(?P<micro>\d+)\S*(?: \((?P<package>[^)]*)\))?",
    re.MULTILINE,
)


@dataclass(frozen=True, slots=True)
class BinaryInfo:
    path: str
    version: tuple[int, int, int]
    package: str
    storage_daemon: bool
    sandbox: bool

    @property
    def target(self) -> str:
        """`x86_64` for qemu-system-x86_64, `qemu-storage-daemon` for the daemon."""
        name = Path(self.path).name
        if self.storage_daemon:
            return "qemu-storage-daemon"
        return name.removeprefix("qemu-system-")

    @property
    def version_text(self) -> str:
        return ".".join(map(str, self.version))


def default_qemu() -> str:
    """The binary under test when no --qemu names one: $QEMU_TEST_QEMU_BINARY (set and
    not empty), else qemu-system-x86_64 on PATH."""
    return os.environ.get(QEMU_BINARY_ENV) or FALLBACK_QEMU


def resolve_binary(binary: str) -> str:
    """An absolute path for `binary` (a name on PATH or a path), or SetupError."""
    if os.sep in binary:
        path = Path(binary)
        if not path.exists():
            raise SetupError(f"QEMU binary not found: {binary}")
        if not os.access(path, os.X_OK) or path.is_dir():
            raise SetupError(f"not an executable file: {binary}")
        return str(path.resolve())
    found = shutil.which(binary)
    if found is None:
        raise SetupError(
            f"QEMU binary {binary!r} not found on PATH "
            "(Debian: apt-get install --no-install-recommends qemu-system-x86)"
        )
    return str(Path(found).resolve())


def probe(binary: str) -> BinaryInfo:
    """Identify `binary`; SetupError when it is missing or isn't QEMU."""
    path = resolve_binary(binary)
    st = os.stat(path)
    return _probe_cached(path, st.st_mtime_ns, st.st_size)


@functools.lru_cache(maxsize=64)
def _probe_cached(path: str, _mtime: int, _size: int) -> BinaryInfo:
    daemon = Path(path).name.startswith("qemu-storage-daemon")
    version_flag = "--version" if daemon else "-version"
    rc, out = _run([path, version_flag])
    m = _VERSION.search(out)
    if rc != 0 or m is None:
        said = f"printed: {out.strip().splitlines()[0][:160]}" if out.strip() else "printed nothing"
        raise SetupError(f"{path} is not a QEMU binary ({version_flag} {said}, exit status {rc})")
    sandbox_flag = "--sandbox" if daemon else "-sandbox"
    # The storage daemon has no -sandbox option; the probe then simply says "no".
    rc_sb, _ = _run([path, sandbox_flag, SANDBOX_ARG, version_flag])
    return BinaryInfo(
        path=path,
        version=(int(m["major"]), int(m["minor"]), int(m["micro"])),
        package=m["package"] or "",
        storage_daemon=m["prog"] == "qemu-storage-daemon",
        sandbox=rc_sb == 0,
    )


def _run(argv: list[str]) -> tuple[int, str]:
    return run_tool(argv, timeout=PROBE_TIMEOUT)
