"""Processes a test must find gone after a run: by their working directory (QEMU's is
its workdir) or by their TMPDIR (the run's)."""

from __future__ import annotations

import os
from pathlib import Path


def processes_in(path: Path) -> list[int]:
    """Processes whose current directory is under `path` (QEMU's is its workdir)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cwd = os.readlink(entry / "cwd")
            except OSError:
                continue
            if cwd.startswith(str(path)):
                found.append(int(entry.name))
    return found


def qemus_under(path: Path) -> list[int]:
    """Live QEMU processes whose workdir (their TMPDIR) is below `path`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv0 = (entry / "cmdline").read_bytes().split(b"\0")[0]
            environ = (entry / "environ").read_bytes().split(b"\0")
        except OSError:  # gone meanwhile, or not ours to read
            continue
        if b"qemu-system" not in argv0:
            continue
        tmpdir = next((e[len(b"TMPDIR=") :] for e in environ if e.startswith(b"TMPDIR=")), b"")
        if tmpdir.decode(errors="replace").startswith(str(path)):
            found.append(int(entry.name))
    return found
