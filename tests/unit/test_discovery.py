"""Discovery of the installed QMP binaries, on a PATH made of temporary directories.

The only QEMU here is the real one, reached through symlinks (its `-version` is all
discovery runs); everything else is a script that is plainly not QEMU.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from conformance.errors import SetupError
from conformance.machine.discovery import candidates, discover, select

REAL = shutil.which("qemu-system-x86_64")
needs_qemu = pytest.mark.skipif(REAL is None, reason="qemu-system-x86_64 is not installed")


def _script(path: Path, text: str = "echo 'this is not QEMU'") -> Path:
    path.write_text(f"#!/bin/sh\n{text}\n")
    path.chmod(0o755)
    return path


def test_candidates_take_the_first_directory_per_name(tmp_path: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    _script(first / "qemu-system-arm")
    _script(second / "qemu-system-arm")
    _script(second / "qemu-system-riscv64")
    _script(second / "qemu-storage-daemon")
    _script(second / "qemu-img")  # speaks no QMP
    _script(second / "qemu-system-")  # no target
    (second / "qemu-system-noexec").write_text("#!/bin/sh\n")  # not executable
    (second / "qemu-system-dir").mkdir()
    path = os.pathsep.join([str(first), "", str(tmp_path / "missing"), str(second)])
    assert candidates(path) == [
        ("qemu-storage-daemon", str(second / "qemu-storage-daemon")),
        ("qemu-system-arm", str(first / "qemu-system-arm")),
        ("qemu-system-riscv64", str(second / "qemu-system-riscv64")),
    ]


def test_a_file_that_is_not_qemu_is_reported_not_fatal(tmp_path: Path) -> None:
    _script(tmp_path / "qemu-system-fake")
    _script(tmp_path / "qemu-system-broken", "exit 3")
    found = discover(str(tmp_path))
    assert found.found == ()
    reasons = {r.name: r.reason for r in found.rejected}
    assert set(reasons) == {"qemu-system-fake", "qemu-system-broken"}
    assert "is not a QEMU binary" in reasons["qemu-system-fake"]
    assert "this is not QEMU" in reasons["qemu-system-fake"]
    assert "printed nothing, exit status 3" in reasons["qemu-system-broken"]


@needs_qemu
def test_finds_qemu_and_dedupes_symlinks(tmp_path: Path) -> None:
    assert REAL is not None
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    real = Path(REAL).resolve()
    (bin_dir / "qemu-system-x86_64").symlink_to(real)
    # Debian's qemu-system-ppc64le → qemu-system-ppc64: another name, the same file.
    (bin_dir / "qemu-system-x86_64le").symlink_to("qemu-system-x86_64")
    _script(bin_dir / "qemu-system-zz-wrapper")
    first = discover(str(bin_dir))
    assert [(f.name, f.target) for f in first.found] == [
        ("qemu-system-x86_64", real.name.removeprefix("qemu-system-"))
    ]
    assert first.found[0].aliases == ("qemu-system-x86_64le",)
    assert first.found[0].path == str(bin_dir / "qemu-system-x86_64")
    assert first.found[0].info.version >= (2, 0, 0)
    rejected = {r.name: r.reason for r in first.rejected}
    assert rejected["qemu-system-x86_64le"] == "same binary as qemu-system-x86_64"
    assert "is not a QEMU binary" in rejected["qemu-system-zz-wrapper"]
    # Deterministic: the same PATH gives the same answer.
    assert discover(str(bin_dir)) == first


@needs_qemu
def test_select_targets(tmp_path: Path) -> None:
    assert REAL is not None
    (tmp_path / "qemu-system-x86_64").symlink_to(Path(REAL).resolve())
    found = discover(str(tmp_path))
    target = found.found[0].target
    assert [f.target for f in select(found, [target])] == [target]
    with pytest.raises(SetupError, match=r"--targets: not installed: sparc64 \(installed: "):
        select(found, [target, "sparc64"])


def test_nothing_on_path(tmp_path: Path) -> None:
    found = discover(str(tmp_path))
    assert found.found == ()
    assert found.rejected == ()
    with pytest.raises(SetupError, match="installed: none"):
        select(found, ["x86_64"])
