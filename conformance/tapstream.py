"""TAP version 13 on a stream: numbered test lines with SKIP/TODO directives and YAML
blocks, the plan, Bail out!; and the process's stdout kept for TAP alone.

It imports nothing of ours, so any command can speak TAP (`run --tap` through the
pytest plugin `conformance.reporting.tap`, `replay --tap` directly).

In a description, ``\\`` and ``#`` are escaped with a backslash (TAP 14's rule, harmless
to TAP 13 parsers) and line breaks become spaces, so no test id reads as a directive.
YAML scalars are written as JSON strings, which are YAML double-quoted scalars, with
what YAML would read differently escaped too.

While `tap_stdout` is open, whatever else the process writes to its stdout goes to
stderr, so stdout is TAP alone.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TextIO

TAP_VERSION = 13
_UNSAFE = re.compile("[\x7f-\x9f\u2028\u2029\ud800-\udfff\ufeff\ufffe\uffff]")
#: YAML values: strings, numbers, booleans, and lists and mappings of them.
Yaml = str | int | bool | Sequence["Yaml"] | Mapping[str, "Yaml"]


def description(text: str) -> str:
    """A test id as a TAP description: no line breaks, ``\\`` and ``#`` escaped."""
    flat = " ".join(text.splitlines())
    return flat.replace("\\", "\\\\").replace("#", "\\#")


def directive_reason(text: str) -> str:
    """A SKIP or TODO reason, or a plan's: one line (a line break would end the directive)."""
    return " ".join(text.split())


def _scalar(value: str | int | bool) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    # JSON escapes the C0 controls; YAML also reads C1 controls, U+2028/9 (line breaks to
    # it) and BOM/non-characters as anything but themselves, and lone surrogates can't
    # be encoded at all. Astral characters stay literal: escaped, they'd be surrogates.
    return _UNSAFE.sub(lambda m: f"\\u{ord(m[0]):04x}", json.dumps(value, ensure_ascii=False))


def yaml_lines(value: Mapping[str, Yaml], indent: int = 2) -> list[str]:
    """A mapping as block YAML lines, each indented by `indent` spaces."""
    pad = " " * indent
    out: list[str] = []
    for key, item in value.items():
        if not isinstance(item, str | int | bool) and not item:
            out.append(f"{pad}{key}: {'{}' if isinstance(item, Mapping) else '[]'}")
        elif isinstance(item, str | int | bool):
            out.append(f"{pad}{key}: {_scalar(item)}")
        elif isinstance(item, Mapping):
            out.append(f"{pad}{key}:")
            out += yaml_lines(item, indent + 2)
        else:
            out.append(f"{pad}{key}:")
            out += _yaml_list(item, indent + 2)
    return out


def _yaml_list(items: Sequence[Yaml], indent: int) -> list[str]:
    pad = " " * indent
    out: list[str] = []
    for item in items:
        if isinstance(item, str | int | bool):
            out.append(f"{pad}- {_scalar(item)}")
            continue
        if isinstance(item, Mapping):
            inner, empty = yaml_lines(item, indent + 2), "{}"
        else:
            inner, empty = _yaml_list(item, indent + 2), "[]"
        if not inner:
            out.append(f"{pad}- {empty}")
            continue
        # An item's first line carries the dash in place of two of its spaces.
        out.append(f"{pad}- {inner[0][indent + 2 :]}")
        out += inner[1:]
    return out


class TapWriter:
    """TAP lines on a text stream, numbered as they are written; the plan comes last."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.count = 0
        self.ended = False

    def _line(self, text: str) -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def version(self) -> None:
        self._line(f"TAP version {TAP_VERSION}")

    def result(
        self,
        ok: bool,
        test_id: str,
        directive: str = "",
        reason: str = "",
        details: Mapping[str, Yaml] | None = None,
    ) -> None:
        """One test: ``directive`` is SKIP or TODO (or empty), ``details`` its YAML block."""
        self.count += 1
        line = f"{'ok' if ok else 'not ok'} {self.count} - {description(test_id)}"
        if directive:
            line += f" # {directive}"
            if reason:
                line += f" {directive_reason(reason)}"
        self._line(line)
        if details:
            self._line("  ---")
            for text in yaml_lines(details, 2):
                self._line(text)
            self._line("  ...")

    def plan(self) -> None:
        self.ended = True
        self._line(f"1..{self.count}")

    def skip_all(self, reason: str) -> None:
        """The plan of a run that ran nothing, and why: ``1..0 # SKIP reason``."""
        self.ended = True
        self._line(f"1..0 # SKIP {directive_reason(reason)}")

    def bail_out(self, reason: str) -> None:
        self.ended = True
        self._line(f"Bail out! {directive_reason(reason)}")


@contextmanager
def tap_stdout() -> Iterator[TextIO]:
    """The process's stdout for TAP alone: the stream yielded writes to it, and anything
    else written to file descriptor 1 meanwhile (pytest's terminal, print, children that
    inherit it) goes to stderr."""
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    stream = os.fdopen(saved, "w", encoding="utf-8", errors="backslashreplace", buffering=1)
    try:
        yield stream
    finally:
        stream.flush()
        sys.stdout.flush()
        os.dup2(saved, 1)
        stream.close()
