"""Every installed binary that speaks QMP: ``qemu-system-*`` and ``qemu-storage-daemon``.

A packager's question is "does everything I ship conform", so the run over all of them
(``qmp-conformance run --all-installed``) starts here. Names are looked up on ``PATH``
the way a shell would (the first directory holding a name wins), then deduplicated by
the file they resolve to: Debian's ``qemu-system-ppc64le`` is a symlink to
``qemu-system-ppc64``, and running one binary twice would only double the report.

Each binary is probed (``-version``, `conformance.machine.probe`), so what isn't QEMU
(a wrapper script, a stale file) is reported with the reason, never fatal. Whether a
binary can *start* here (``qemu-system-x86_64-microvm`` needs KVM) is left to the run:
knowing it costs a QEMU start, and the run starts it anyway.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass

from conformance.errors import SetupError
from conformance.machine.probe import BinaryInfo, probe

__all__ = ["STORAGE_DAEMON", "SYSTEM_PREFIX", "Discovery", "Found", "Rejected", "discover"]

SYSTEM_PREFIX = "qemu-system-"
STORAGE_DAEMON = "qemu-storage-daemon"


@dataclass(frozen=True, slots=True)
class Found:
    """A QMP-speaking binary: the name it was found under, and what the probe said."""

    name: str
    path: str  # where PATH lookup found it (not resolved: the report shows what ran)
    info: BinaryInfo
    aliases: tuple[str, ...] = ()  # other names on PATH for the same file

    @property
    def target(self) -> str:
        return self.info.target


@dataclass(frozen=True, slots=True)
class Rejected:
    """A name on PATH that looked like a QEMU binary but isn't one (or is a duplicate)."""

    name: str
    path: str
    reason: str


@dataclass(frozen=True, slots=True)
class Discovery:
    """The outcome of one discovery: the binaries to run, and what was left out and why."""

    found: tuple[Found, ...]
    rejected: tuple[Rejected, ...]

    def targets(self) -> list[str]:
        """The targets found, in run order."""
        return [f.target for f in self.found]


def _wanted(name: str) -> bool:
    return (name.startswith(SYSTEM_PREFIX) and len(name) > len(SYSTEM_PREFIX)) or (
        name == STORAGE_DAEMON
    )


def candidates(path_env: str | None = None) -> list[tuple[str, str]]:
    """``(name, path)`` of every wanted name on ``PATH``, the first directory winning,
    sorted by name."""
    search = os.environ.get("PATH", os.defpath) if path_env is None else path_env
    chosen: dict[str, str] = {}
    for directory in search.split(os.pathsep):
        # An empty PATH entry means the current directory to a shell; a test suite
        # finding binaries in whatever directory it was started from would surprise.
        if not directory:
            continue
        try:
            names = sorted(os.listdir(directory))
        except OSError:
            continue
        for name in names:
            if name in chosen or not _wanted(name):
                continue
            full = os.path.join(directory, name)
            if os.path.isfile(full) and os.access(full, os.X_OK):
                chosen[name] = full
    return sorted(chosen.items())


def _primary(names: Iterable[tuple[str, str]], real: str) -> tuple[str, str]:
    """Of several names for one file, the one the file itself is called (the symlink's
    target); otherwise the first by name."""
    ordered = sorted(names)
    base = os.path.basename(real)
    return next(((n, p) for n, p in ordered if n == base), ordered[0])


def discover(path_env: str | None = None) -> Discovery:
    """Find and probe every QMP-speaking binary on ``PATH`` (or ``path_env``).

    The result is sorted by target, so two discoveries on one host run the same order.
    """
    by_file: dict[str, list[tuple[str, str]]] = {}
    for name, path in candidates(path_env):
        by_file.setdefault(os.path.realpath(path), []).append((name, path))
    found: list[Found] = []
    rejected: list[Rejected] = []
    for real, names in sorted(by_file.items()):
        name, path = _primary(names, real)
        aliases = tuple(sorted(n for n, _ in names if n != name))
        for alias, alias_path in sorted(names):
            if alias != name:
                rejected.append(Rejected(alias, alias_path, f"same binary as {name}"))
        try:
            info = probe(path)
        except SetupError as exc:
            rejected.append(Rejected(name, path, str(exc)))
            continue
        found.append(Found(name, path, info, aliases))
    seen: dict[str, Found] = {}
    for f in sorted(found, key=lambda f: (f.target, f.name)):
        # Two different files for one target (a qemu-storage-daemon-like name that isn't
        # one can't happen; a build's binary reached through two names that aren't
        # symlinks can): one run per target, since reports are filed by target.
        if f.target in seen:
            rejected.append(
                Rejected(
                    f.name, f.path, f"another binary for target {f.target}: {seen[f.target].path}"
                )
            )
            continue
        seen[f.target] = f
    return Discovery(tuple(seen.values()), tuple(sorted(rejected, key=lambda r: r.name)))


def select(discovery: Discovery, targets: Iterable[str]) -> list[Found]:
    """The found binaries of ``targets`` (names as in ``Found.target``), in discovery
    order; SetupError naming the ones not installed."""
    wanted = [t.strip() for t in targets if t.strip()]
    known = {f.target: f for f in discovery.found}
    missing = [t for t in wanted if t not in known]
    if missing:
        raise SetupError(
            f"--targets: not installed: {', '.join(missing)} "
            f"(installed: {', '.join(known) or 'none'})"
        )
    return [f for f in discovery.found if f.target in set(wanted)]
