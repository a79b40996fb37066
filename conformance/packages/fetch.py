"""`qmp-conformance fetch PACKAGE=VERSION`: one QEMU version's Debian packages
downloaded with a private apt, unpacked into the cache and given launchers, so the
version can be tested before it is installed. Prints the main launcher's path.
"""

from __future__ import annotations

import argparse
import fcntl
import os
import shutil
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from conformance.errors import SetupError
from conformance.interrupts import interrupts
from conformance.packages import select
from conformance.packages.apt import PrivateApt
from conformance.packages.cache import (
    cached_launcher,
    default_cache,
    launcher_in,
    package_dir,
    parse_spec,
)
from conformance.packages.launchers import write_launchers
from conformance.packages.sources import write_private_sources
from conformance.tool import run_tool

UNPACK_TIMEOUT = 300.0
#: The packages a fetched version was made from, one NAME=VERSION a line.
MANIFEST = "packages.txt"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "spec", metavar="PACKAGE=VERSION", help="e.g. qemu-system-x86=1:10.0.2+ds-2"
    )
    parser.add_argument(
        "--suite", help="also use this suite of the system's Debian mirror (bookworm-backports)"
    )
    parser.add_argument(
        "--cache",
        type=Path,
        help="cache directory (default ${XDG_CACHE_HOME:-~/.cache}/qmp-conformance)",
    )
    parser.add_argument(
        "--binary", help="print this binary's launcher (default: the package's own)"
    )
    parser.add_argument(
        "--mirror", help="with --suite: take the suite from this mirror URI instead of the system's"
    )


def cmd_fetch(ns: argparse.Namespace, _passthrough: list[str]) -> int:
    # SIGTERM unwinds like Ctrl-C: apt-get is killed, the unfinished version removed.
    with interrupts():
        launcher = fetch(
            ns.spec, suite=ns.suite, cache=ns.cache, binary=ns.binary, mirror=ns.mirror
        )
    print(launcher)
    return 0


def _say(message: str) -> None:
    print(f"qmp-conformance fetch: {message}", file=sys.stderr)


def fetch(
    spec: str,
    *,
    suite: str | None = None,
    cache: Path | None = None,
    binary: str | None = None,
    mirror: str | None = None,
    say: Callable[[str], None] = _say,
) -> Path:
    """The launcher of `spec`'s main binary (or `binary`), fetched unless cached."""
    name, version = parse_spec(spec)
    if mirror is not None and suite is None:
        raise SetupError("--mirror goes with --suite (it is the added suite's mirror)")
    cache = (cache or default_cache()).absolute()
    hit = cached_launcher(spec, cache, binary)
    if hit is not None:
        say(f"{spec} is in the cache: {hit.parent.parent}")
        return hit
    with _lock(cache / "fetch.lock", say):
        # Another fetch of the same version may have finished while we waited.
        hit = cached_launcher(spec, cache, binary)
        if hit is not None:
            return hit
        state = cache / "apt"
        source_list, parts = write_private_sources(state / "etc", suite, mirror)
        apt = PrivateApt(state, source_list, parts, suite)
        say("updating the private package lists" + (f" (with {suite})" if suite else ""))
        apt.update()
        packages = _packages(apt, name, version, suite, say)
        directory = package_dir(cache, name, version)
        build(apt, packages, directory, origin=f"{name} {version}", say=say)
    return launcher_in(directory, name, binary)


def _packages(
    apt: PrivateApt, name: str, version: str, suite: str | None, say: Callable[[str], None]
) -> list[select.Package]:
    """The version's packages and firmware, from apt's data."""
    recs = select.records(apt.show([name]))
    main = select.find(recs, name, version)
    if main is None:
        known = ", ".join(select.versions_of(recs, name)) or "none"
        where = "the system's apt sources" + (f" and {suite}" if suite else "")
        raise SetupError(f"{name} {version} is not in {where} (versions there: {known})")
    names = [name, *select.COMPANIONS, *apt.pkgnames(select.MODULE_PREFIX)]
    packages = select.same_upload(select.records(apt.show(names)), main)
    # Libraries are the host's business, and there are many: their records aren't needed.
    deps = [d for d in select.depends(main) if not d.startswith("lib")]
    firmware_names = select.firmware_names(main, select.records(apt.show(deps)))
    firmware, notes = select.choose_firmware(
        firmware_names, select.policies(apt.policy(firmware_names)), suite
    )
    for note in notes:
        say(note)
    return packages + firmware


def build(
    apt: PrivateApt,
    packages: list[select.Package],
    directory: Path,
    origin: str,
    say: Callable[[str], None],
) -> None:
    """Download and unpack into a sibling of `directory`, renamed into place only when
    complete: an interrupted fetch leaves no half cache."""
    directory.parent.mkdir(parents=True, exist_ok=True)
    for stale in directory.parent.glob(f".{directory.name}.partial-*"):
        shutil.rmtree(stale, ignore_errors=True)
    staging = directory.with_name(f".{directory.name}.partial-{os.getpid()}")
    try:
        debs_dir, root = staging / "debs", staging / "root"
        debs_dir.mkdir(parents=True)
        root.mkdir()
        say("downloading " + " ".join(p.spec for p in packages))
        debs = apt.download([p.spec for p in packages], debs_dir)
        if len(debs) != len(packages):
            raise SetupError(
                f"apt-get download wrote {len(debs)} files for {len(packages)} packages"
            )
        for deb in debs:
            rc, out = run_tool(["dpkg", "-x", str(deb), str(root)], timeout=UNPACK_TIMEOUT)
            if rc != 0:
                raise SetupError(f"dpkg -x {deb.name}: {out.strip() or f'exit status {rc}'}")
        shutil.rmtree(debs_dir)
        names = write_launchers(root, directory / "root", staging / "bin", origin)
        (staging / MANIFEST).write_text("".join(f"{p.spec}\n" for p in packages), encoding="utf-8")
        staging.rename(directory)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    say(f"unpacked into {directory}; launchers: {', '.join(names)}")


@contextmanager
def _lock(path: Path, say: Callable[[str], None]) -> Iterator[None]:
    """One fetch at a time per cache: apt's private lists are shared by all versions."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            say(f"waiting for another fetch into {path.parent}")
            fcntl.flock(handle, fcntl.LOCK_EX)
        yield
