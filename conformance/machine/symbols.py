"""Whether a binary's debug symbols are available to gdb, and where.

A symbolised backtrace names QEMU's static functions too, and names them the same way
in every build of the same source; without symbols gdb knows only the exported ones
(``.dynsym``) and prints ``??`` for the rest. Symbols are available when the program
is not stripped (it has a ``.symtab``), or when its separate debug file is where gdb
looks for one (gdb's manual, "Debugging Information in Separate Files"):

- by build id: ``DIR/.build-id/xx/yyyy….debug`` for the ``NT_GNU_BUILD_ID`` note's
  bytes ``xxyyyy…`` in hex;
- by debug link: the ``.gnu_debuglink`` section's file name ``NAME`` as
  ``EXEDIR/NAME``, ``EXEDIR/.debug/NAME`` or ``DIR/EXEDIR/NAME``;

for each global debug directory ``DIR``: gdb's default ``/usr/lib/debug``, and the
``usr/lib/debug`` of a tree the binary was unpacked into (``qmp-conformance fetch``
unpacks a version's packages, a ``-dbgsym`` package's files included, under a root
whose ``usr/bin`` holds the binary). A debug link's CRC is not checked: gdb checks it
and says so, and the frames of a mismatched file would show as ``??``, never wrong.

`qmp-conformance fetch`'s launchers are shell scripts that ``exec`` the unpacked ELF
file (`conformance.packages.launchers`): the program whose symbols count is that file.
"""

from __future__ import annotations

import shlex
import struct
from dataclasses import dataclass
from pathlib import Path

__all__ = ["DEFAULT_DEBUG_DIR", "DebugSymbols", "debug_symbols", "executable", "read_elf"]

DEFAULT_DEBUG_DIR = Path("/usr/lib/debug")
_ELF_MAGIC = b"\x7fELF"
_SHT_SYMTAB = 2
_SHT_NOTE = 7
_NT_GNU_BUILD_ID = 3


@dataclass(frozen=True, slots=True)
class ElfFacts:
    """What of an ELF file tells where its symbols are."""

    build_id: str | None  # hex
    debuglink: str | None  # a file name
    symtab: bool  # not stripped


@dataclass(frozen=True, slots=True)
class DebugSymbols:
    """The symbols of `program`: `where` they are (None: not available) and the global
    debug directories gdb is to search."""

    program: Path  # the ELF file that runs
    where: str | None  # "symtab", or the separate debug file's path
    debug_dirs: tuple[Path, ...]

    @property
    def available(self) -> bool:
        return self.where is not None


def read_elf(path: Path) -> ElfFacts | None:
    """The build id, debug link and whether a ``.symtab`` is there; None for a file that
    isn't ELF or whose section table can't be read."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    if len(data) < 64 or not data.startswith(_ELF_MAGIC) or data[4] not in (1, 2):
        return None
    wide = data[4] == 2
    order = "<" if data[5] == 1 else ">"
    try:
        if wide:
            (shoff,) = struct.unpack_from(order + "Q", data, 0x28)
            shentsize, shnum, shstrndx = struct.unpack_from(order + "HHH", data, 0x3A)
        else:
            (shoff,) = struct.unpack_from(order + "I", data, 0x20)
            shentsize, shnum, shstrndx = struct.unpack_from(order + "HHH", data, 0x2E)
        sections = [_section(data, order, wide, shoff + i * shentsize) for i in range(shnum)]
        names = sections[shstrndx] if shnum else None
    except (struct.error, IndexError):
        return None
    build_id = debuglink = None
    symtab = False
    for name_at, kind, offset, size in sections:
        name = _cstring(data, names[2] + name_at) if names is not None else ""
        body = data[offset : offset + size]
        if kind == _SHT_SYMTAB:
            symtab = True
        elif kind == _SHT_NOTE and build_id is None:
            build_id = _build_id(body, order)
        elif name == ".gnu_debuglink":
            debuglink = _cstring(body, 0) or None
    return ElfFacts(build_id, debuglink, symtab)


def _section(data: bytes, order: str, wide: bool, at: int) -> tuple[int, int, int, int]:
    """A section header's name offset, type, file offset and size."""
    if wide:
        name, kind, _flags, _addr, offset, size = struct.unpack_from(order + "IIQQQQ", data, at)
    else:
        name, kind, _flags, _addr, offset, size = struct.unpack_from(order + "IIIIII", data, at)
    return name, kind, offset, size


def _cstring(data: bytes, at: int) -> str:
    end = data.find(b"\0", at)
    return data[at : end if end >= 0 else len(data)].decode("utf-8", "replace")


def _build_id(notes: bytes, order: str) -> str | None:
    at = 0
    while at + 12 <= len(notes):
        namesz, descsz, kind = struct.unpack_from(order + "III", notes, at)
        name_end = at + 12 + namesz
        desc = name_end + (-namesz % 4)  # the name is padded to 4 bytes
        if kind == _NT_GNU_BUILD_ID and notes[at + 12 : name_end].rstrip(b"\0") == b"GNU":
            return notes[desc : desc + descsz].hex() or None
        at = desc + descsz + (-descsz % 4)
    return None


def executable(binary: str | Path) -> Path:
    """The ELF file that `binary` runs: itself, or the file a launcher script ``exec``s
    (``exec "$R/usr/bin/NAME" …`` after ``R=ROOT``, as `qmp-conformance fetch` writes
    them); `binary` itself when it is neither."""
    path = Path(binary).resolve()
    try:
        with path.open("rb") as stream:
            head = stream.read(2)
        text = path.read_text(encoding="utf-8") if head == b"#!" else ""
    except (OSError, UnicodeDecodeError):
        return path
    variables: dict[str, str] = {}
    for line in text.splitlines():
        try:
            words = shlex.split(line, comments=True)
        except ValueError:
            continue
        if len(words) == 1 and "=" in words[0]:
            name, _, value = words[0].partition("=")
            variables[name] = value
        elif len(words) >= 2 and words[0] == "exec":
            target = words[1]
            for name, value in variables.items():
                target = target.replace(f"${name}", value)
            return Path(target)
    return path


def debug_symbols(binary: str | Path, debug_dir: Path = DEFAULT_DEBUG_DIR) -> DebugSymbols:
    """Where gdb finds `binary`'s symbols (see the module docstring)."""
    program = executable(binary)
    dirs = [debug_dir]
    if program.parent.name == "bin" and program.parent.parent.name == "usr":
        tree = program.parent.parent.parent / "usr" / "lib" / "debug"
        if tree != debug_dir:
            dirs.append(tree)
    facts = read_elf(program)
    if facts is None:
        return DebugSymbols(program, None, tuple(dirs))
    if facts.symtab:
        return DebugSymbols(program, "symtab", tuple(dirs))
    candidates: list[Path] = []
    if facts.build_id is not None and len(facts.build_id) > 2:
        name = f"{facts.build_id[:2]}/{facts.build_id[2:]}.debug"
        candidates += [d / ".build-id" / name for d in dirs]
    if facts.debuglink is not None:
        here = program.parent
        candidates += [here / facts.debuglink, here / ".debug" / facts.debuglink]
        candidates += [d / here.relative_to(here.anchor) / facts.debuglink for d in dirs]
    found = next((c for c in candidates if c.is_file()), None)
    return DebugSymbols(program, str(found) if found else None, tuple(dirs))
