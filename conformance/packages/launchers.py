"""Launchers: a POSIX sh script per QEMU binary of a fetched tree, named as the binary
(QEMU and this suite tell the target from the file name). Each sets QEMU_MODULE_DIR to
the tree's module directory and, for qemu-system-*, puts the tree's firmware directories
first with -L; `exec` leaves QEMU the launcher's process, so signals and exit statuses
are QEMU's own."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from conformance.errors import SetupError

#: Beside the emulators: the storage daemon (a QMP server of its own) and qemu-img.
TOOLS = ("qemu-storage-daemon", "qemu-img")
#: Firmware directories of the tree, in the order -L gives them to QEMU.
DATA_DIRS = ("usr/share/qemu", "usr/share/seabios", "usr/lib/ipxe/qemu")
_PLAIN = re.compile(r"^[A-Za-z0-9._/+-]+$")


def binaries(root: Path) -> list[str]:
    """The launchable binaries of a tree: every qemu-system-* that is a file of its own
    (qemu-system-amd64 and kvm are symlinks to qemu-system-x86_64), and the tools."""
    bindir = root / "usr" / "bin"
    if not bindir.is_dir():
        return []
    return sorted(
        p.name
        for p in bindir.iterdir()
        if (p.name.startswith("qemu-system-") or p.name in TOOLS)
        and p.is_file()
        and not p.is_symlink()
    )


def module_dir(root: Path) -> str | None:
    """The tree's module directory (usr/lib/<multiarch>/qemu), relative to the root."""
    for d in sorted((root / "usr" / "lib").glob("*/qemu")):
        if any(d.glob("*.so")):
            return str(d.relative_to(root))
    return None


def launcher_text(
    name: str, final_root: Path, modules: str | None, data_dirs: list[str], origin: str
) -> str:
    """The launcher of binary `name` of the tree that will be at `final_root`."""
    for rel in [*(data_dirs), *([modules] if modules else [])]:
        if not _PLAIN.match(rel):
            raise SetupError(f"unexpected path in the unpacked tree: {rel!r}")
    lines = [
        "#!/bin/sh",
        f"# {name} of {origin}, unpacked by qmp-conformance fetch:",
        "# its modules and firmware come from the tree beside this launcher, not the system's.",
        f"R={shlex.quote(str(final_root))}",
    ]
    if modules:
        lines += [f'QEMU_MODULE_DIR="$R/{modules}"', "export QEMU_MODULE_DIR"]
    firmware = (
        "".join(f' -L "$R/{d}"' for d in data_dirs) if name.startswith("qemu-system-") else ""
    )
    lines.append(f'exec "$R/usr/bin/{name}"{firmware} "$@"')
    return "\n".join(lines) + "\n"


def write_launchers(root: Path, final_root: Path, bin_dir: Path, origin: str) -> list[str]:
    """A launcher in `bin_dir` for each binary of the unpacked tree `root` (whose path
    will be `final_root` once the fetch is complete); their names."""
    names = binaries(root)
    if not any(n.startswith("qemu-system-") for n in names):
        raise SetupError(f"no qemu-system-* binary in the unpacked packages of {origin}")
    modules = module_dir(root)
    data_dirs = [d for d in DATA_DIRS if (root / d).is_dir()]
    bin_dir.mkdir(parents=True, exist_ok=True)
    for name in names:
        path = bin_dir / name
        path.write_text(
            launcher_text(name, final_root, modules, data_dirs, origin), encoding="utf-8"
        )
        path.chmod(0o755)
    return names


def main_binary(package: str, names: list[str]) -> str:
    """The binary a package is named for: qemu-system-<arch> itself, else the shortest
    name that starts with it (qemu-system-x86 → qemu-system-x86_64)."""
    exact = [n for n in names if n == package]
    prefixed = sorted((n for n in names if n.startswith(package)), key=lambda n: (len(n), n))
    if exact or prefixed:
        return (exact or prefixed)[0]
    raise SetupError(
        f"no binary named after {package} among {', '.join(names)}; choose one with --binary"
    )
