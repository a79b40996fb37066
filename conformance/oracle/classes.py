"""Small fixed vocabularies that tell findings of one check apart in their signatures.

A protocol check that fails on an id or on a server message says *what kind* of id or
message it was, so that the signature of a U+FFFF id echoed wrong differs from that of
a 2^70 id echoed wrong, and a reply with ``inf`` in it differs from one with invalid
UTF-8. The classes are a closed set: a signature must not grow with the value itself
(a baseline would never match twice), and a new class is a new defect worth seeing.
"""

from __future__ import annotations

import re

from conformance.qmp.message import (
    BARE_LF,
    BOTH_RETURN_AND_ERROR,
    EMPTY_LINE,
    NO_KNOWN_MEMBER,
    NOT_AN_OBJECT,
    UNTERMINATED,
)

__all__ = ["ID_CLASSES", "OUTPUT_CLASSES", "id_class", "output_class"]

ID_CLASSES = (
    "absent",
    "null",
    "bool",
    "int",
    "int-huge",
    "float",
    "string",
    "string-empty",
    "string-non-ascii",
    "string-non-bmp",
    "string-noncharacter",
    "string-control",
    "array",
    "object",
)
OUTPUT_CLASSES = (
    "non-json-number",
    "number-out-of-range",
    "number-too-long",
    "invalid-utf8",
    "lone-surrogate",
    "control-character",
    "duplicate-key",
    "too-deep",
    "byte-order-mark",
    "trailing-data",
    "empty",
    "syntax",
    "not-an-object",
    "unknown-kind",
    "bare-lf",
    "unterminated",
)

_INT64 = range(-(2**63), 2**64)  # QEMU's int64 and uint64 visitors both
_NON_JSON_NUMBER = re.compile(rb"-?(?:inf|nan|infinity)\b", re.IGNORECASE)
_AT_BYTE = re.compile(r" at byte (\d+)")
# (a fragment of the problem text as conformance.qmp writes it, its class); first match wins
_PROBLEMS = (
    ("invalid UTF-8", "invalid-utf8"),
    ("out of range for a double", "number-out-of-range"),
    ("beyond this parser's limit", "number-too-long"),
    ("is not JSON (RFC 8259 has no NaN", "non-json-number"),
    ("unpaired surrogate", "lone-surrogate"),
    ("control character", "control-character"),
    ("duplicate key", "duplicate-key"),
    ("nested too deeply", "too-deep"),
    ("byte order mark", "byte-order-mark"),
    ("Extra data", "trailing-data"),
    ("empty input", "empty"),
    (EMPTY_LINE, "empty"),
    (NOT_AN_OBJECT, "not-an-object"),
    (NO_KNOWN_MEMBER, "unknown-kind"),
    (BOTH_RETURN_AND_ERROR, "unknown-kind"),
    (BARE_LF, "bare-lf"),
    (UNTERMINATED, "unterminated"),
)


def _noncharacter(c: str) -> bool:
    point = ord(c)
    return 0xFDD0 <= point <= 0xFDEF or point & 0xFFFE == 0xFFFE


def id_class(value: object, *, present: bool = True) -> str:
    """The class of a request or reply id (`present` False: the message had none)."""
    if not present:
        return "absent"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int" if value in _INT64 else "int-huge"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return _string_class(value)
    return "array" if isinstance(value, list) else "object"


def _string_class(text: str) -> str:
    # The rarest property wins: it is what a server most likely mishandles.
    if not text:
        return "string-empty"
    if any(_noncharacter(c) for c in text):
        return "string-noncharacter"
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in text):
        return "string-control"
    if any(ord(c) > 0xFFFF for c in text):
        return "string-non-bmp"
    return "string" if text.isascii() else "string-non-ascii"


def output_class(problems: tuple[str, ...], raw: bytes) -> str:
    """The class of the first problem of a server message (`Message.problems`), or
    ``syntax`` for a parse error no other class names. A parse error at a token that
    reads as a number JSON has no spelling for (``inf``, ``nan``) is ``non-json-number``."""
    if not problems:
        return "syntax"
    first = problems[0]
    at = _AT_BYTE.search(first)
    if at is not None and _NON_JSON_NUMBER.match(raw, int(at.group(1))):
        return "non-json-number"
    lowered = first.lower()
    return next((cls for fragment, cls in _PROBLEMS if fragment.lower() in lowered), "syntax")
