"""The fuzz corpus: inputs that reached a new (command, event) pair, kept between runs.

It lives in ``REPORTS/fuzz-corpus/corpus.jsonl`` (docs/fuzzing.md, "The corpus"): a
header line ``{"format": "qmp-conformance fuzz corpus", "version": 1}``, then one
entry a line: the command, the mode (``valid`` or ``malformed``, with the validator
rule and path a malformed case breaks), the arguments as drawn (before host-safety
confinement, which a replay applies afresh for its own workdir), the events it was the
first to reach for that command and the QEMU version that reached them. A file of
another format or version is ignored with a note, never misread; a line that isn't an
entry is skipped.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

FORMAT = "qmp-conformance fuzz corpus"
VERSION = 1
DIRECTORY = "fuzz-corpus"
FILE = "corpus.jsonl"
MODES = ("valid", "malformed")


@dataclass(frozen=True)
class Entry:
    command: str
    mode: str  # one of MODES
    arguments: object
    events: tuple[str, ...]  # the events it reached first for `command`
    rule: str | None = None  # a malformed case's validator rule and path
    path: str | None = None
    qemu: str = ""

    def to_json(self) -> dict[str, object]:
        value: dict[str, object] = {
            "command": self.command,
            "mode": self.mode,
            "arguments": self.arguments,
            "events": list(self.events),
            "qemu": self.qemu,
        }
        if self.mode == "malformed":
            value.update(rule=self.rule, path=self.path)
        return value

    @classmethod
    def from_json(cls, value: object) -> Entry | None:
        if not isinstance(value, dict):
            return None
        command, mode, events = value.get("command"), value.get("mode"), value.get("events")
        if not isinstance(command, str) or mode not in MODES or not isinstance(events, list):
            return None
        rule, path = value.get("rule"), value.get("path")
        if mode == "malformed" and not (isinstance(rule, str) and isinstance(path, str)):
            return None
        return cls(
            command,
            str(mode),
            value.get("arguments"),
            tuple(map(str, events)),
            rule if isinstance(rule, str) else None,
            path if isinstance(path, str) else None,
            str(value.get("qemu", "")),
        )

    def line(self) -> str | None:
        """The entry's line, or None when its arguments aren't JSON (nothing to keep)."""
        try:
            return json.dumps(self.to_json(), separators=(",", ":"), allow_nan=False)
        except (TypeError, ValueError):
            return None


def corpus_path(reports: str | os.PathLike[str]) -> Path:
    return Path(reports) / DIRECTORY / FILE


def load(path: Path) -> tuple[list[Entry], str]:
    """The entries of the corpus at `path`, and a note when any were left unread."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return [], ""
    except (OSError, UnicodeDecodeError) as exc:
        return [], f"corpus {path} not read: {exc}"
    try:
        header = json.loads(lines[0]) if lines else None
    except ValueError:
        header = None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        return [], f"corpus {path} not read: not a {FORMAT} file"
    if header.get("version") != VERSION:
        return [], f"corpus {path} not read: version {header.get('version')}, not {VERSION}"
    entries: list[Entry] = []
    skipped = 0
    for line in lines[1:]:
        try:
            entry = Entry.from_json(json.loads(line))
        except ValueError:
            entry = None
        if entry is None:
            skipped += 1
        else:
            entries.append(entry)
    return entries, f"corpus {path}: {skipped} lines skipped" if skipped else ""


def save(path: Path, entries: Iterable[Entry]) -> int:
    """Write `entries` (atomically); how many were written."""
    lines = [json.dumps({"format": FORMAT, "version": VERSION})]
    lines += [line for line in (e.line() for e in entries) if line is not None]
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".jsonl")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    os.replace(tmp, path)
    return len(lines) - 1


__all__ = ["DIRECTORY", "FILE", "FORMAT", "VERSION", "Entry", "corpus_path", "load", "save"]
