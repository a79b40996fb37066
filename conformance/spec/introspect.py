"""Getting a :class:`Schema` out of a ``query-qmp-schema`` reply or a file holding one.

Three shapes are accepted wherever a schema document is read: the bare list of
SchemaInfo (the reply's value), the whole QMP reply ``{"return": [...]}``, and the
corpus recording ``{"schema": [...], "binary": ..., "arguments": ..., "qemu-version": ...}``.
Fetching the reply from a live QMP session belongs to the QMP layer, which hands the
value to :func:`schema_from_reply`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from conformance.spec.errors import SchemaError, brief
from conformance.spec.model import Schema

__all__ = ["METADATA_KEYS", "load_schema_file", "read_schema_document", "schema_from_reply"]

#: The keys of a corpus recording that describe where the schema came from.
METADATA_KEYS: tuple[str, ...] = ("binary", "arguments", "qemu-version")


def schema_from_reply(reply_value: object) -> Schema:
    """Build a :class:`Schema` from what ``query-qmp-schema`` returned.

    ``reply_value`` is normally the list under ``return``; the whole reply object is
    accepted too. Raises :class:`SchemaError` for anything else.
    """
    return Schema.from_schema_info(_entries_of(reply_value))


def read_schema_document(path: str | os.PathLike[str]) -> tuple[list[object], dict[str, object]]:
    """The SchemaInfo list in a schema file, and its recording metadata.

    The metadata holds whichever of ``binary``, ``arguments`` and ``qemu-version`` the
    document has (none, for a bare list or a QMP reply). Raises :class:`SchemaError`,
    naming the file, when it can't be read, isn't JSON or has the wrong shape.
    """
    name = os.fspath(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise SchemaError(f"{name}: cannot read: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise SchemaError(f"{name}: not UTF-8 text: {exc.reason}") from exc
    if not text.strip():
        raise SchemaError(f"{name}: empty file, expected a JSON schema document")
    try:
        document = json.loads(text)
    except ValueError as exc:  # json.JSONDecodeError, and over-long integer literals
        raise SchemaError(f"{name}: not JSON: {exc}") from exc
    except RecursionError as exc:
        raise SchemaError(f"{name}: not JSON: nested too deeply") from exc
    try:
        entries = _entries_of(document)
    except SchemaError as exc:
        raise SchemaError(f"{name}: {exc}") from exc
    metadata: dict[str, object] = {}
    if isinstance(document, dict):
        metadata = {key: document[key] for key in METADATA_KEYS if key in document}
    return entries, metadata


def load_schema_file(path: str | os.PathLike[str]) -> Schema:
    """The :class:`Schema` in a file of any accepted shape.

    Raises :class:`SchemaError`, naming the file, for any problem with it.
    """
    entries, _ = read_schema_document(path)
    try:
        return Schema.from_schema_info(entries)
    except SchemaError as exc:
        raise SchemaError(f"{os.fspath(path)}: {exc}") from exc


def _entries_of(document: object) -> list[object]:
    if isinstance(document, list):
        return document
    if isinstance(document, dict):
        for key in ("return", "schema"):
            if isinstance(document.get(key), list):
                entries: list[object] = document[key]
                return entries
    raise SchemaError(
        "expected a list of SchemaInfo, a {'return': [...]} reply"
        f" or a {{'schema': [...]}} recording, got {brief(document)}"
    )
