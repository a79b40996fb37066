"""Pick the parser for a documentation source, and the documentation that belongs to a binary.

A QAPI directory, a .hx file or a man page each say which QEMU they document in their
own way (`DocSet.version`): a man page in its `.TH` line, a QEMU source tree in its
`VERSION` file. Docs of another QEMU than the binary's make every difference between
them look like drift, so the doc tests and `qmp-conformance docs` refuse that pairing
(`docs_for_binary`), saying which docs to pass instead.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from pathlib import Path

from conformance.docs.model import DocError, DocSet, qemu_version

#: The QMP reference man page of each kind of binary: qemu-storage-daemon has a QMP of
#: its own (block, jobs, exports; no machine), documented in its own page.
MAN_PAGES = {False: "qemu-qmp-ref", True: "qemu-storage-daemon-qmp-ref"}


def load_docs(source: str | os.PathLike[str] | None = None, *, daemon: bool = False) -> DocSet:
    """Parse `source`; with None, the installed `qemu-qmp-ref.7` man page (with `daemon`,
    `qemu-storage-daemon-qmp-ref.7`).

    A directory or a `.json` file is QAPI; a `.hx` file is the 2.x command reference;
    anything else (`.7`, `.7.gz`, …) is read as a man page.
    """
    from conformance.docs.hx import parse_hx
    from conformance.docs.manpage import find_man_page, parse_man
    from conformance.docs.qapi import parse_qapi

    if source is None:
        page = MAN_PAGES[daemon]
        found = find_man_page(page)
        if found is None:
            raise DocError(
                f"{page}.7 is not installed (apt-get install qemu-system-common); pass --docs PATH"
            )
        return parse_man(found)
    path = Path(source)
    if not path.exists():
        raise DocError(f"documentation source not found: {path}")
    if path.is_dir() or path.suffix == ".json":
        docs = parse_qapi(path)
        # qapi/ (or qapi/foo.json) sits at the top of the source tree, beside VERSION.
        docs.version = _tree_version(path if path.is_dir() else path.parent)
        return docs
    if path.suffix == ".hx":
        docs = parse_hx(path)
        docs.version = _tree_version(path)  # qmp-commands.hx was at the tree's top
        return docs
    return parse_man(path)


def _tree_version(inside: Path) -> str | None:
    """The version in the `VERSION` file of the QEMU source tree `inside` is at the top of."""
    try:
        text = (inside.resolve().parent / "VERSION").read_text(errors="replace")
    except OSError:
        return None
    return qemu_version(text.strip().split("\n")[0])


def _beside(binary: Path, page: str) -> list[Path]:
    """Where the man page of `binary` lies when it was fetched, installed or built."""
    above = binary.parent.parent
    places = [
        above / "root/usr/share/man/man7",  # a fetched package: <dir>/bin/<launcher>
        above / "share/man/man7",  # an install prefix: <prefix>/bin/<binary>
        binary.parent / "docs",  # a meson build dir: <build>/qemu-system-*, <build>/docs
    ]
    if binary.parent.name == "storage-daemon":  # <build>/storage-daemon/qemu-storage-daemon
        places.append(above / "docs")
    return [place / name for place in places for name in (f"{page}.7", f"{page}.7.gz")]


def _major_minor(version: str | Sequence[int]) -> tuple[int, int] | None:
    if not isinstance(version, str):
        return (version[0], version[1]) if len(version) > 1 else None
    found = qemu_version(version)
    if found is None:
        return None
    major, minor = found.split(".")[:2]
    return int(major), int(minor)


def man_page_for(binary: str, version: Sequence[int], *, daemon: bool = False) -> Path:
    """The QMP reference man page of the QEMU `binary` (of `version`) belongs to.

    Pages shipped beside the binary come first (see `_beside`), then the system's
    (`man -w`, the standard directories); the first whose `.TH` version has the binary's
    major.minor wins. DocError, saying what was found, when none does.
    """
    from conformance.docs.manpage import find_man_page, man_page_version

    page = MAN_PAGES[daemon]
    given = Path(shutil.which(binary) or binary)
    binaries = dict.fromkeys([given, given.resolve()])
    candidates = [path for b in binaries for path in _beside(b, page) if path.is_file()]
    system = find_man_page(page)
    if system is not None:
        candidates.append(system)
    wanted = _major_minor(version)
    seen: list[str] = []
    for path in dict.fromkeys(candidates):
        try:
            found = man_page_version(path)
        except DocError:
            continue
        if found is not None and _major_minor(found) == wanted:
            return path
        seen.append(f"{path} is QEMU {found or 'of no stated version'}")
    text = ".".join(map(str, version))
    where = "; ".join(seen) if seen else f"no {page}.7 beside {given} or installed"
    raise DocError(
        f"no documentation of QEMU {text} found ({where}), so no drift is reported and the"
        f" documentation tests don't run; pass --docs with QEMU {text}'s {page}.7"
        " or its qapi/ directory"
    )


def docs_for_binary(
    source: str | os.PathLike[str] | None,
    binary: str,
    version: Sequence[int],
    *,
    daemon: bool = False,
) -> DocSet:
    """The documentation to judge `binary` (of `version`) by: `source`, or without one the
    man page that belongs to it (`man_page_for`). DocError when the docs name another
    QEMU major.minor than the binary's; docs that name none (a .hx, a QAPI directory
    outside a source tree) are taken as they are."""
    docs = load_docs(source if source is not None else man_page_for(binary, version, daemon=daemon))
    if docs.version is None or _major_minor(docs.version) == _major_minor(version):
        return docs
    text = ".".join(map(str, version))
    try:
        hint = f"--docs {man_page_for(binary, version, daemon=daemon)}"
    except DocError:
        hint = f"--docs with QEMU {text}'s {MAN_PAGES[daemon]}.7 or its qapi/ directory"
    raise DocError(
        f"{docs.source} documents QEMU {docs.version}, the binary is QEMU {text}, so no drift"
        f" is reported and the documentation tests don't run; pass {hint}"
    )
