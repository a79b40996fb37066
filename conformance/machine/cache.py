"""What a binary says about itself, kept between the processes and runs that ask it.

Every xdist worker would otherwise start its own QEMU to read `query-qmp-schema` and
to harvest names, and every run would do it again, although the answers depend only
on the binary and the command line it ran with. Entries are JSON files named by a key:
the SHA-256 of the binary's bytes (a rebuild at the same path is another binary), the
cache format, and the arguments that shaped the answer. A missing, unreadable or
corrupt entry is a miss, never an error: the caller asks QEMU instead.

The cache lives wherever the run keeps its reports (`qmp-conformance run` uses
REPORTS/.cache); it writes nothing else, and a `.gitignore` in it keeps it out of git.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

FORMAT = 1
_CHUNK = 1 << 20


@functools.lru_cache(maxsize=16)
def _digest(path: str, _mtime_ns: int, _size: int) -> str:
    sha = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            sha.update(chunk)
    return sha.hexdigest()


def binary_digest(path: str) -> str:
    """The SHA-256 of the file at `path`, computed once per version of the file."""
    st = os.stat(path)
    return _digest(path, st.st_mtime_ns, st.st_size)


class BinaryCache:
    """JSON entries keyed by binary and arguments, in one directory."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)

    @staticmethod
    def key(binary: str, what: str, arguments: Iterable[str] = ()) -> str:
        """The entry name of `what` (e.g. "schema") for `binary` run with `arguments`."""
        sha = hashlib.sha256(f"{FORMAT}\0{binary_digest(binary)}\0{what}".encode())
        for argument in arguments:
            sha.update(b"\0" + argument.encode())
        return f"{what}-{sha.hexdigest()[:32]}.json"

    def load(self, key: str) -> object | None:
        """The entry's value, or None when there is none (or it can't be read)."""
        try:
            with open(self.directory / key, encoding="utf-8") as f:
                value: object = json.load(f)
        except (OSError, ValueError):
            return None
        return value

    def store(self, key: str, value: object) -> None:
        """Write the entry atomically: a reader sees the old file or the new one."""
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            ignore = self.directory / ".gitignore"
            if not ignore.exists():
                ignore.write_text("*\n", encoding="utf-8")
            fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".tmp-", suffix=".json")
        except OSError:
            return  # a read-only reports directory only costs the next run the QEMU start
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(value, f, separators=(",", ":"))
            os.replace(tmp, self.directory / key)
        except OSError:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
