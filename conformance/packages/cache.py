"""Where a fetched version lives: `<cache>/packages/<package>_<version>/`, with the
unpacked tree in `root/` and launchers in `bin/`; finding a fetched version again
without the network."""

from __future__ import annotations

import os
import re
from pathlib import Path

from conformance.errors import SetupError
from conformance.packages.launchers import main_binary

#: A Debian version (deb-version(7)): optional epoch, upstream version, optional revision.
_VERSION = re.compile(r"^(?:\d+:)?[0-9][A-Za-z0-9.+~:-]*$")
_PACKAGE = re.compile(r"^qemu-system-[a-z0-9][a-z0-9.+-]*$")


def parse_spec(spec: str) -> tuple[str, str]:
    """`qemu-system-x86=1:10.0.2+ds-2` as (package, version); SetupError otherwise."""
    name, sep, version = spec.partition("=")
    if not sep or not _PACKAGE.match(name) or not _VERSION.match(version):
        raise SetupError(
            f"{spec!r} is not PACKAGE=VERSION of a qemu-system-* package "
            "(e.g. qemu-system-x86=1:10.0.2+ds-2+deb13u1~bpo12+1)"
        )
    return name, version


def default_cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "qmp-conformance"


def safe_version(version: str) -> str:
    """The version as a file name: what isn't safe in one (the epoch's colon) is
    %-escaped, as apt names its .deb files (1%3a10.0.2+ds-2)."""
    return re.sub(r"[^A-Za-z0-9.+~_-]", lambda m: f"%{ord(m[0]):02x}", version)


def package_dir(cache: Path, name: str, version: str) -> Path:
    return cache / "packages" / f"{name}_{safe_version(version)}"


def launcher_in(directory: Path, package: str, binary: str | None) -> Path:
    """The launcher of `binary` (default: the package's main binary) in a fetched
    version's directory."""
    names = sorted(p.name for p in (directory / "bin").iterdir())
    chosen = binary or main_binary(package, names)
    if chosen not in names:
        raise SetupError(f"{package} has no launcher {chosen} (it has: {', '.join(names)})")
    return directory / "bin" / chosen


def cached_launcher(spec: str, cache: Path | None = None, binary: str | None = None) -> Path | None:
    """The launcher of a version fetched before, or None: never touches the network."""
    name, version = parse_spec(spec)
    directory = package_dir(cache or default_cache(), name, version)
    if not (directory / "bin").is_dir():
        return None
    return launcher_in(directory, name, binary)
