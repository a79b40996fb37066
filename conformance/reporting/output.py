"""Writing a report file: one line and exit code 2 when it can't be written."""

from __future__ import annotations

from pathlib import Path

from conformance.errors import SetupError


def write_report(path: Path, text: str) -> Path:
    """Write ``text`` to ``path``, creating its directory; SetupError when that fails."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise SetupError(f"cannot write {path}: {exc.strerror or exc}") from exc
    return path
