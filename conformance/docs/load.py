"""Pick the parser for a documentation source: a QAPI directory, a .hx file or a man page."""

from __future__ import annotations

import os
from pathlib import Path

from conformance.docs.model import DocError, DocSet

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
        return parse_qapi(path)
    if path.suffix == ".hx":
        return parse_hx(path)
    return parse_man(path)
