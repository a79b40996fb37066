"""JSON files a user hands the suite (a baseline, a matrix), read with one-line errors."""

from __future__ import annotations

import json
import os
from pathlib import Path

from conformance.errors import SetupError


def read_json(path: str | os.PathLike[str], what: str = "") -> object:
    """The JSON value in ``path``; SetupError naming ``what`` and the path, in one line,
    when the file can't be read or isn't JSON (a missing, truncated or binary file)."""
    p = Path(path)
    label = f"{what} {p}" if what else str(p)
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SetupError(f"{label}: cannot read: {exc.strerror or exc}") from None
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise SetupError(f"{label}: not JSON: {exc}") from None
