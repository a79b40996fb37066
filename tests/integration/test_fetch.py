"""`qmp-conformance fetch` for real: the version tox.ini names (QMPC_FETCH and
QMPC_FETCH_SUITE) downloaded from the Debian mirror into a cache of this test session,
shared by the xdist workers so it is downloaded once; then its launchers run."""

from __future__ import annotations

import os
import shutil
import signal
import socket
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from conformance.machine.exits import ExitKind
from conformance.machine.instance import LaunchConfig, QemuGone, QemuInstance
from conformance.machine.probe import probe
from conformance.packages.apt import PrivateApt
from conformance.packages.cache import package_dir, parse_spec
from conformance.packages.fetch import MANIFEST
from conformance.packages.launchers import module_dir
from conformance.packages.select import MODULE_PREFIX
from conformance.packages.sources import read_entries, release_of, system_source_files
from conformance.tool import run_tool
from tests.integration.clirun import cli

pytestmark = pytest.mark.qemu

SPEC = os.environ.get("QMPC_FETCH")
SUITE = os.environ.get("QMPC_FETCH_SUITE") or None
CLOSED = "http://127.0.0.1:9/debian"
#: What a fetch must never change.
SYSTEM_APT_STATE = (Path("/etc/apt"), Path("/var/lib/apt/lists"), Path("/var/cache/apt"))


def _snapshot() -> dict[str, tuple[int, int]]:
    """Every file and directory of the system's apt configuration and state, with its
    modification time and size."""
    seen = {}
    for top in SYSTEM_APT_STATE:
        for path in [top, *top.rglob("*")] if top.exists() else []:
            st = path.lstat()
            seen[str(path)] = (st.st_mtime_ns, st.st_size)
    return seen


def _mirror_reachable() -> str | None:
    """Why the mirror of the system's Debian entry can't be reached, or None."""
    release = release_of(SUITE or "bookworm")
    entries = read_entries(system_source_files())
    uri = next((e.uris[0] for e in entries if release in e.suites and e.uris), None)
    if uri is None:
        return f"the system's apt sources have no entry for {release}"
    parts = urlsplit(uri)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        socket.create_connection((parts.hostname or "", port), timeout=10).close()
    except OSError as exc:
        return f"no network: {parts.hostname}:{port}: {exc.strerror or exc}"
    return None


@dataclass(frozen=True)
class Fetched:
    cache: Path
    directory: Path
    launcher: Path
    stdout: str
    apt_before: dict[str, tuple[int, int]]
    apt_after: dict[str, tuple[int, int]]


def _needs_apt() -> str:
    if not SPEC:
        pytest.skip("QMPC_FETCH is not set (tox -e tests sets it): no version to fetch")
    if shutil.which("apt-get") is None or shutil.which("dpkg") is None:
        pytest.skip("apt-get and dpkg are needed: this is not a Debian system")
    reason = _mirror_reachable()
    if reason is not None:
        pytest.skip(reason)
    return SPEC


def _suite_args() -> list[str]:
    return ["--suite", SUITE] if SUITE else []


@pytest.fixture(scope="session")
def fetched(tmp_path_factory: pytest.TempPathFactory) -> Fetched:
    spec = _needs_apt()
    base = tmp_path_factory.getbasetemp()
    # xdist workers share their parent directory: one download for the session.
    cache = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "fetch-cache"
    before = _snapshot()
    done = cli("fetch", spec, *_suite_args(), "--cache", str(cache), timeout=900)
    after = _snapshot()
    assert done.returncode == 0, done.stderr
    launcher = Path(done.stdout.strip())
    name, version = parse_spec(spec)
    return Fetched(cache, package_dir(cache, name, version), launcher, done.stdout, before, after)


def test_fetch_prints_the_launcher_alone(fetched: Fetched) -> None:
    assert fetched.stdout.splitlines() == [str(fetched.launcher)]
    assert fetched.launcher.parent == fetched.directory / "bin"
    assert os.access(fetched.launcher, os.X_OK)
    assert fetched.launcher.read_text().startswith("#!/bin/sh\n")


def test_the_systems_apt_is_untouched(fetched: Fetched) -> None:
    assert fetched.apt_after == fetched.apt_before


def test_every_module_package_of_the_version_is_unpacked(fetched: Fetched) -> None:
    assert SPEC is not None
    _, version = parse_spec(SPEC)
    manifest = (fetched.directory / MANIFEST).read_text().split()
    state = fetched.cache / "apt"
    apt = PrivateApt(state, state / "etc" / "sources.list", state / "etc" / "sources.list.d", SUITE)
    of_version = [
        name
        for name in apt.pkgnames(MODULE_PREFIX)
        if f"\nVersion: {version}\n" in apt.show([name])
    ]
    assert sorted(f"{n}={version}" for n in of_version) == sorted(
        m for m in manifest if m.startswith(MODULE_PREFIX)
    )
    root = fetched.directory / "root"
    assert module_dir(root) is not None
    # The man pages stay where the suite looks for them, beside the launcher's tree.
    assert (root / "usr/share/man/man7/qemu-qmp-ref.7.gz").is_file()


def test_the_launcher_is_the_fetched_version_and_target(fetched: Fetched) -> None:
    assert SPEC is not None
    _, version = parse_spec(SPEC)
    info = probe(str(fetched.launcher))
    assert info.package == f"Debian {version}"
    assert info.target == fetched.launcher.name.removeprefix("qemu-system-")
    daemon = probe(str(fetched.launcher.with_name("qemu-storage-daemon")))
    assert daemon.storage_daemon
    assert daemon.package == f"Debian {version}"


def _mapped_modules(pid: int) -> set[Path]:
    maps = Path(f"/proc/{pid}/maps").read_text()
    files = {Path(line.split()[-1]) for line in maps.splitlines() if line.endswith(".so")}
    return {f for f in files if f.parent.name == "qemu"}


def test_modules_are_loaded_from_the_fetched_tree(fetched: Fetched, tmp_path: Path) -> None:
    modules = module_dir(fetched.directory / "root")
    assert modules is not None
    private = fetched.directory / "root" / modules
    if not (private / "hw-display-qxl.so").is_file():
        pytest.skip("this version has no qxl module to load")
    config = LaunchConfig(
        binary=str(fetched.launcher),
        profile="pc",
        extra_args=["-device", "qxl"],
        workdir_base=str(tmp_path / "work"),
    )
    with QemuInstance(config) as inst:
        inst.execute("query-status")
        assert inst.pid is not None
        mapped = _mapped_modules(inst.pid)
    assert private / "hw-display-qxl.so" in mapped
    assert {m.parent for m in mapped} == {private}


def test_a_crash_through_the_launcher_is_a_crash(fetched: Fetched, tmp_path: Path) -> None:
    config = LaunchConfig(binary=str(fetched.launcher), workdir_base=str(tmp_path / "work"))
    with QemuInstance(config) as inst:
        inst.execute("query-status")
        inst.send_signal(signal.SIGSEGV)
        with pytest.raises(QemuGone) as gone:
            inst.execute("query-status")
    assert gone.value.exit_info.kind is ExitKind.CRASH
    assert gone.value.exit_info.signal == signal.SIGSEGV


def test_qemu_img_through_its_launcher(fetched: Fetched, tmp_path: Path) -> None:
    assert SPEC is not None
    _, version = parse_spec(SPEC)
    rc, out = run_tool([str(fetched.launcher.with_name("qemu-img")), "--version"], timeout=30)
    assert rc == 0, out
    assert f"(Debian {version})" in out


def test_a_cached_version_needs_no_network(fetched: Fetched) -> None:
    assert SPEC is not None
    done = cli(
        "fetch",
        SPEC,
        "--suite",
        SUITE or "unstable",
        "--mirror",
        CLOSED,
        "--cache",
        str(fetched.cache),
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [str(fetched.launcher)]
    assert "in the cache" in done.stderr


def test_a_closed_mirror_is_a_one_line_error(tmp_path: Path) -> None:
    spec = _needs_apt()
    before = _snapshot()
    done = cli(
        "fetch",
        spec,
        "--suite",
        SUITE or "unstable",
        "--mirror",
        CLOSED,
        "--cache",
        str(tmp_path / "cache"),
    )
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    last = done.stderr.splitlines()[-1]
    assert last.startswith("qmp-conformance: apt-get update: ")
    assert "127.0.0.1:9" in last
    assert "Traceback" not in done.stderr
    assert _snapshot() == before
    assert not (tmp_path / "cache" / "packages").exists()


def test_an_unknown_version_is_a_one_line_error(tmp_path: Path) -> None:
    spec = _needs_apt()
    name, _ = parse_spec(spec)
    before = _snapshot()
    done = cli("fetch", f"{name}=0:0.0.1-0", *_suite_args(), "--cache", str(tmp_path / "cache"))
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    assert done.stderr.splitlines()[-1].startswith(f"qmp-conformance: {name} 0:0.0.1-0 is not in")
    assert "Traceback" not in done.stderr
    assert _snapshot() == before
    assert not (tmp_path / "cache" / "packages").exists()
