"""Strict RFC 8259 JSON for the wire: parsing what QEMU sends, encoding what the suite sends.

The stdlib :mod:`json` module is fast (its scanner is C) but lenient. :func:`loads_strict` keeps
the C scanner and closes each leniency with a hook, so the cost lands only on the rare inputs that
need it. What the stdlib accepts, and how each case is handled here:

* ``NaN``, ``Infinity`` and ``-Infinity``: rejected through ``parse_constant``.
* Duplicate object keys (the last one wins): rejected at any depth through ``object_pairs_hook``;
  the error names the key.
* Unpaired surrogate escapes such as ``"\\ud800"``, which yield a ``str`` that cannot be encoded
  as UTF-8. RFC 8259's grammar allows them, but its section 8.2 calls their behaviour
  unpredictable, RFC 7493 (I-JSON) forbids them, and QEMU's own parser rejects them ("is not a
  valid Unicode character"). Rejected, so every parsed string can be re-encoded.
* Numbers that overflow a double (``1e400``), which become ``inf``. RFC 8259 section 6 lets a parser
  limit numbers to IEEE 754 binary64, and QEMU prints an infinite double as a bare ``inf`` (seen on
  7.2 when echoing the id ``1e400``), so such a literal never comes from it. Rejected through
  ``parse_float``, so every parsed value can be re-encoded by :func:`dumps`.
* Integers longer than ``sys.get_int_max_str_digits()`` (4300 digits by default) make ``int()``
  raise a plain ``ValueError``. That limit stays (section 9 allows limits) and is reported as a
  :class:`StrictJSONError`; ordinary big integers such as ``2**64`` are accepted.
* Deep nesting raises ``RecursionError``: reported as a :class:`StrictJSONError` (section 9 again).
* ``json.loads`` on ``bytes`` guesses UTF-16 or UTF-32. QMP is UTF-8, so bytes are decoded here as
  strict UTF-8, which also rejects overlong forms, encoded surrogates and code points past U+10FFFF.
* A byte order mark is rejected by the stdlib already (section 8.1: senders must not add one); it
  stays rejected, with a clearer message.

Checked and already strict with CPython's C scanner: whitespace is exactly space, tab, CR and LF;
raw control characters in strings are errors (``strict=True``); numbers follow the RFC grammar (no
leading zeros, ``+``, hex, ``.5``, ``1.``, underscores or non-ASCII digits); escapes are exactly
the RFC's; ``true``, ``false`` and ``null`` are case-sensitive; trailing data is an error.
"""

from __future__ import annotations

import json
import math
from json.encoder import c_make_encoder, encode_basestring  # type: ignore[attr-defined]
from typing import NoReturn

from conformance.errors import QemuMisbehaviour

__all__ = [
    "QEMU_MAX_NESTING",
    "StrictJSONError",
    "dumps",
    "json_equal",
    "loads_strict",
    "nesting_depth",
]

QEMU_MAX_NESTING = 1024
"""``MAX_NESTING`` in QEMU's json-streamer.c (``1 << 10``): open brackets plus braces allowed."""


class StrictJSONError(QemuMisbehaviour, ValueError):
    """Input that is not strict RFC 8259 JSON, or a value that cannot be encoded as such.

    The message is one line, so it can be used as a problem description in reports.
    """


def _excerpt(text: str, limit: int = 40) -> str:
    """``text`` as a JSON string literal, cut short so that an error message stays readable."""
    return json.dumps(text if len(text) <= limit else text[: limit - 3] + "...")


def _reject_constant(name: str) -> NoReturn:
    raise StrictJSONError(f"{name} is not JSON (RFC 8259 has no NaN or Infinity)")


def _parse_float(literal: str) -> float:
    value = float(literal)
    if math.isinf(value):
        raise StrictJSONError(f"number {_excerpt(literal)[1:-1]} is out of range for a double")
    return value


def _unique_pairs(pairs: list[tuple[str, object]]) -> dict[str, object]:
    # Building the dict first keeps the common case at C speed; only a collision pays for a scan.
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise StrictJSONError(f"duplicate key {_excerpt(key)} in object")
            seen.add(key)
    return result


_DECODER = json.JSONDecoder(
    object_pairs_hook=_unique_pairs,
    parse_constant=_reject_constant,
    parse_float=_parse_float,
    strict=True,
)
_WHITESPACE = " \t\r\n"


def _byte_offset(text: str, char_pos: int) -> int:
    return len(text[:char_pos].encode("utf-8"))


def _find_lone_surrogate(value: object) -> str | None:
    """Return the first string (key or value) in ``value`` that holds an unpaired surrogate."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return value
        return None
    if isinstance(value, dict):
        for key, item in value.items():
            found = _find_lone_surrogate(key) or _find_lone_surrogate(item)
            if found is not None:
                return found
    elif isinstance(value, list):
        for item in value:
            found = _find_lone_surrogate(item)
            if found is not None:
                return found
    return None


def loads_strict(data: bytes) -> object:
    """Parse one JSON text from ``data`` strictly, per RFC 8259 and the module notes above.

    Leading and trailing JSON whitespace is allowed; anything else after the value is an error.
    Raises :class:`StrictJSONError` (and nothing else) with a one-line reason that gives the byte
    offset where one is known.
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        bad = data[exc.start]
        raise StrictJSONError(
            f"invalid UTF-8 at byte {exc.start} (0x{bad:02x}): {exc.reason}"
        ) from None
    try:
        if text[:1] not in _WHITESPACE:
            # decode() runs two regex matches around raw_decode() to skip whitespace;
            # a frame from QEMU starts with its value and ends in CRLF.
            value, end = _DECODER.raw_decode(text)
            if text[end:].strip(_WHITESPACE):
                value = _DECODER.decode(text)  # raises "Extra data" with its offset
        else:
            value = _DECODER.decode(text)
    except StrictJSONError:
        raise
    except json.JSONDecodeError as exc:
        if not text.strip(_WHITESPACE):
            raise StrictJSONError("empty input: no JSON value") from None
        if exc.pos == 0 and text.startswith("\ufeff"):
            raise StrictJSONError("byte order mark before the JSON text (RFC 8259 8.1)") from None
        reason = exc.msg.removesuffix(" at")  # "Invalid control character at" reads badly
        raise StrictJSONError(f"{reason} at byte {_byte_offset(text, exc.pos)}") from None
    except RecursionError:
        raise StrictJSONError("arrays or objects nested too deeply to parse") from None
    except ValueError as exc:
        # The only other ValueError the C scanner lets through is int()'s digit limit.
        reason = str(exc).split(";", 1)[0]
        raise StrictJSONError(f"number beyond this parser's limit: {reason}") from None
    # Unpaired surrogates can only come from \u escapes (strict UTF-8 decoding rejects encoded
    # ones), so the walk runs only for the rare texts that hold such an escape.
    if ("\\ud" in text or "\\uD" in text) and (bad_str := _find_lone_surrogate(value)) is not None:
        raise StrictJSONError(
            f"unpaired surrogate escape in string {_excerpt(bad_str)} (RFC 8259 8.2)"
        )
    return value


_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)
# JSONEncoder.encode builds a C encoder on every call; this one is built once. Without
# a markers dict it can't name a circular reference, which ends in RecursionError
# ("nested too deeply") instead.
_C_ENCODE = (
    c_make_encoder(None, _ENCODER.default, encode_basestring, None, ":", ",", False, False, False)
    if c_make_encoder is not None
    else None
)


def dumps(value: object) -> bytes:
    """Encode ``value`` as compact UTF-8 JSON, the canonical form the suite sends.

    Raises :class:`StrictJSONError` for values JSON cannot represent (NaN, infinities, unpaired
    surrogates, circular references, excessive nesting) and ``TypeError`` for non-JSON types.
    Like :func:`json.dumps`, it turns int, float, bool and None keys into strings (``{1: 0}``
    becomes ``{"1":0}``); checking keys would walk every value in Python and double the cost of
    each send, so callers pass str keys, as JSON values built from the QAPI schema have.
    """
    try:
        if _C_ENCODE is None or isinstance(value, str):
            return _ENCODER.encode(value).encode("utf-8")
        return "".join(_C_ENCODE(value, 0)).encode("utf-8")
    except ValueError as exc:
        raise StrictJSONError(f"cannot encode as JSON: {str(exc).splitlines()[0]}") from None
    except RecursionError:
        raise StrictJSONError("cannot encode as JSON: nested too deeply") from None


def _numbers_equal(a: int | float, b: int | float, tolerance: float) -> bool:
    if isinstance(a, int) and isinstance(b, int):
        return a == b
    try:
        return math.isclose(a, b, rel_tol=tolerance, abs_tol=0.0)
    except OverflowError:
        # An int too large for a double cannot be close to any finite float.
        return False


def json_equal(a: object, b: object, *, float_tolerance: float = 1e-9) -> bool:
    """Compare two JSON values as JSON defines them, e.g. a sent id with the id echoed back.

    Numbers compare by value (``1 == 1.0``), with a relative tolerance as soon as a float is
    involved, because a server may re-serialise numbers (QEMU turns integers it cannot hold in 64
    bits into doubles). Booleans never equal numbers, object key order is irrelevant, arrays (lists
    or tuples) compare in order. Values outside the JSON data model compare with ``==``.
    """
    if a.__class__ is b.__class__ and (a.__class__ is int or a.__class__ is str):
        return a == b  # the common case of ids, first: no bool, no float, no container
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return _numbers_equal(a, b, float_tolerance)
    if isinstance(a, dict):
        return (
            isinstance(b, dict)
            and a.keys() == b.keys()
            and all(json_equal(a[k], b[k], float_tolerance=float_tolerance) for k in a)
        )
    if isinstance(a, list | tuple):
        return (
            isinstance(b, list | tuple)
            and len(a) == len(b)
            and all(
                json_equal(x, y, float_tolerance=float_tolerance) for x, y in zip(a, b, strict=True)
            )
        )
    return a == b


def nesting_depth(data: bytes) -> int:
    """The deepest nesting of brackets and braces in `data`, outside strings, counted as
    QEMU's streamer counts it (every open bracket or brace, never more closes than opens).
    Strings are "double" or 'single' quoted (QEMU's extension), with backslash escapes."""
    depth = deepest = 0
    quote: int | None = None
    escaped = False
    for byte in data:
        if quote is not None:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == quote:
                quote = None
        elif byte in b"\"'":
            quote = byte
        elif byte in b"[{":
            depth += 1
            deepest = max(deepest, depth)
        elif byte in b"]}":
            depth = max(depth - 1, 0)
    return deepest
