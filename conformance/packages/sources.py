"""The private apt sources of a fetch: copies of the system's, plus the requested suite.

The suite goes on the same mirror and keyring as the system's Debian entry for the
release it extends (bookworm-backports beside bookworm), so a packager's own mirror and
trust settings are kept. Nothing under /etc/apt is written: the copies live in the cache.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from conformance.errors import SetupError
from conformance.packages.deb822 import stanzas

SYSTEM_APT = Path("/etc/apt")
#: The private entry for --suite, in the private source-parts directory.
SUITE_FILE = "qmp-conformance-suite.sources"


@dataclass(frozen=True, slots=True)
class SourceEntry:
    """One apt source, read from either format (deb822 `.sources` or one-line `.list`)."""

    types: tuple[str, ...]
    uris: tuple[str, ...]
    suites: tuple[str, ...]
    components: tuple[str, ...]
    signed_by: str | None


def parse_deb822(text: str) -> list[SourceEntry]:
    """The enabled entries of a `.sources` file (sources.list(5), "DEB822-STYLE FORMAT")."""
    entries = []
    for stanza in stanzas(text):
        if stanza.get("enabled", "yes").lower() == "no":
            continue
        entries.append(
            SourceEntry(
                types=tuple(stanza.get("types", "").split()),
                uris=tuple(stanza.get("uris", "").split()),
                suites=tuple(stanza.get("suites", "").split()),
                components=tuple(stanza.get("components", "").split()),
                signed_by=stanza.get("signed-by") or None,
            )
        )
    return entries


_ONE_LINE = re.compile(r"^(?P<type>deb(?:-src)?)\s+(?:\[(?P<options>[^\]]*)\]\s+)?(?P<rest>.+)$")


def parse_one_line(text: str) -> list[SourceEntry]:
    """The entries of a `.list` file (sources.list(5), "ONE-LINE-STYLE FORMAT")."""
    entries = []
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        m = _ONE_LINE.match(line)
        if m is None:
            continue
        uri, suite, *components = m["rest"].split()
        options = dict(opt.split("=", 1) for opt in (m["options"] or "").split() if "=" in opt)
        entries.append(
            SourceEntry(
                types=(m["type"],),
                uris=(uri,),
                suites=(suite,),
                components=tuple(components),
                signed_by=options.get("signed-by"),
            )
        )
    return entries


def system_source_files(apt_dir: Path = SYSTEM_APT) -> list[Path]:
    """The files apt reads its sources from: sources.list and sources.list.d/*.list|*.sources
    (files with other endings, e.g. `.disabled`, apt ignores, and so do we)."""
    files = [apt_dir / "sources.list"] if (apt_dir / "sources.list").is_file() else []
    parts = apt_dir / "sources.list.d"
    if parts.is_dir():
        files += sorted(
            p for p in parts.iterdir() if p.is_file() and p.suffix in (".list", ".sources")
        )
    return files


def read_entries(files: list[Path]) -> list[SourceEntry]:
    entries: list[SourceEntry] = []
    for path in files:
        text = path.read_text(encoding="utf-8", errors="replace")
        entries += parse_deb822(text) if path.suffix == ".sources" else parse_one_line(text)
    return entries


def release_of(suite: str) -> str:
    """The release a suite extends: bookworm for bookworm-backports or bookworm-security."""
    return suite.split("-", 1)[0]


def suite_entry(entries: list[SourceEntry], suite: str, mirror: str | None) -> SourceEntry:
    """The entry for `suite`: the system's Debian entry of its release, with the suite in
    place of its suites (and `mirror` in place of its URI when given)."""
    release = release_of(suite)
    base = next((e for e in entries if "deb" in e.types and release in e.suites and e.uris), None)
    if base is None and mirror is None:
        raise SetupError(
            f"no apt source for {release} among the system's to put {suite} beside; "
            "give --mirror URI"
        )
    return SourceEntry(
        types=("deb",),
        uris=(mirror,) if mirror is not None else (base.uris[0],) if base else (),
        suites=(suite,),
        components=base.components if base is not None and base.components else ("main",),
        signed_by=base.signed_by if base is not None else None,
    )


def render_deb822(entry: SourceEntry) -> str:
    lines = [
        "# Added by qmp-conformance fetch --suite; only this cache's apt uses it.",
        f"Types: {' '.join(entry.types)}",
        f"URIs: {' '.join(entry.uris)}",
        f"Suites: {' '.join(entry.suites)}",
        f"Components: {' '.join(entry.components)}",
    ]
    if entry.signed_by:
        lines.append(f"Signed-By: {entry.signed_by}")
    return "\n".join(lines) + "\n"


def write_private_sources(
    target: Path,
    suite: str | None,
    mirror: str | None,
    apt_dir: Path = SYSTEM_APT,
) -> tuple[Path, Path]:
    """Fill `target` with `sources.list` and `sources.list.d/`: the system's sources copied,
    the suite's entry added. Returns (SourceList, SourceParts) for apt's Dir::Etc options."""
    source_list = target / "sources.list"
    parts = target / "sources.list.d"
    if parts.exists():
        shutil.rmtree(parts)
    parts.mkdir(parents=True)
    files = system_source_files(apt_dir)
    main_list = apt_dir / "sources.list"
    source_list.write_bytes(main_list.read_bytes() if main_list in files else b"")
    for path in files:
        if path != main_list:
            shutil.copyfile(path, parts / path.name)
    if suite is not None:
        entries = read_entries(files)
        entry = suite_entry(entries, suite, mirror)
        # The same suite on the same mirror twice makes apt warn on every call.
        if not any(suite in e.suites and entry.uris[0] in e.uris for e in entries):
            (parts / SUITE_FILE).write_text(render_deb822(entry), encoding="utf-8")
    return source_list, parts
