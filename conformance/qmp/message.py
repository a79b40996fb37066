"""One frame from the server, parsed strictly and classified by shape.

Classification looks only at which top-level members are present, as qmp-spec describes each
message: the greeting has ``QMP``, an event has ``event``, a reply has ``return`` or ``error``.
Whether their contents are right is for the oracle to judge; here anything unexpected is kept
as data (:attr:`Message.problems`), never raised, so that a fuzz loop survives any input.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from conformance.qmp.wirejson import StrictJSONError, loads_strict

__all__ = [
    "BARE_LF",
    "BOTH_RETURN_AND_ERROR",
    "EMPTY_LINE",
    "NOT_AN_OBJECT",
    "NO_KNOWN_MEMBER",
    "UNTERMINATED",
    "Kind",
    "Message",
    "parse_message",
]

# Problem descriptions, exported so that checks and tests match on names rather than copies.
UNTERMINATED = "not terminated by CRLF"
BARE_LF = "terminated by bare LF"
EMPTY_LINE = "empty line"
BOTH_RETURN_AND_ERROR = "carries both return and error"
NOT_AN_OBJECT = "not a JSON object"
NO_KNOWN_MEMBER = "object has none of QMP, event, return, error"


class Kind(enum.StrEnum):
    """What a frame is, judged by its top-level shape."""

    GREETING = "greeting"
    RETURN = "return"
    ERROR = "error"
    EVENT = "event"
    UNKNOWN = "unknown"
    """Valid JSON, but not shaped like any QMP message (non-objects included)."""
    INVALID = "invalid"
    """Not strict JSON, or an empty line."""


# Not frozen: a frozen dataclass sets each field through object.__setattr__, which
# triples the cost of creating one, on the path of every received frame. Never mutated.
@dataclass(slots=True)
class Message:
    """A received frame: its exact bytes, its kind, its parsed value and what is wrong with it.

    ``problems`` is empty exactly when the frame is CRLF-terminated strict JSON of a known kind.
    """

    raw: bytes
    kind: Kind
    value: object
    problems: tuple[str, ...] = ()

    @property
    def has_id(self) -> bool:
        """Whether the message has an ``id`` member (which may be ``null``)."""
        return isinstance(self.value, dict) and "id" in self.value

    @property
    def id(self) -> object:
        """The ``id`` member, or None when absent; :attr:`has_id` tells absent from null."""
        return self.value.get("id") if isinstance(self.value, dict) else None

    @property
    def event_name(self) -> str | None:
        """The event's name, for an event whose ``event`` member is a string."""
        if self.kind is not Kind.EVENT:
            return None
        return _str_member(self.value, "event")

    @property
    def error_class(self) -> str | None:
        """The error's ``class``, for an error reply that has one as a string."""
        return self._error_member("class")

    @property
    def error_desc(self) -> str | None:
        """The error's ``desc``, for an error reply that has one as a string."""
        return self._error_member("desc")

    @property
    def is_reply(self) -> bool:
        """Whether this answers a command: a return or an error."""
        return self.kind is Kind.RETURN or self.kind is Kind.ERROR

    def _error_member(self, name: str) -> str | None:
        if self.kind is not Kind.ERROR or not isinstance(self.value, dict):
            return None
        return _str_member(self.value.get("error"), name)


def _str_member(value: object, name: str) -> str | None:
    member = value.get(name) if isinstance(value, dict) else None
    return member if isinstance(member, str) else None


def _classify(value: object) -> tuple[Kind, str | None]:
    if not isinstance(value, dict):
        return Kind.UNKNOWN, NOT_AN_OBJECT
    if "QMP" in value:
        return Kind.GREETING, None
    if "event" in value:
        return Kind.EVENT, None
    if "return" in value:
        if "error" in value:
            return Kind.UNKNOWN, BOTH_RETURN_AND_ERROR
        return Kind.RETURN, None
    if "error" in value:
        return Kind.ERROR, None
    return Kind.UNKNOWN, NO_KNOWN_MEMBER


def parse_message(frame: bytes) -> Message:
    """Parse and classify one frame as returned by :class:`~conformance.qmp.framing.Framer`.

    ``frame`` normally ends in CRLF; a bare LF or no terminator at all (the bytes pending at EOF)
    is recorded as a problem. Never raises: bad input becomes an INVALID or UNKNOWN message.
    The parse or classification problem, if any, comes first in ``problems``, then the framing one.
    """
    if frame.endswith(b"\r\n"):
        body_length = len(frame) - 2
        framing: tuple[str, ...] = ()
    elif frame.endswith(b"\n"):
        body_length = len(frame) - 1
        framing = (BARE_LF,)
    else:
        body_length = len(frame)
        framing = (UNTERMINATED,)
    if body_length == 0:
        return Message(frame, Kind.INVALID, None, (EMPTY_LINE, *framing))
    try:
        # The terminator is JSON whitespace, so the frame parses as is, without a copy.
        value = loads_strict(frame)
    except StrictJSONError as exc:
        return Message(frame, Kind.INVALID, None, (str(exc), *framing))
    kind, problem = _classify(value)
    problems = framing if problem is None else (problem, *framing)
    return Message(frame, kind, value, problems)
