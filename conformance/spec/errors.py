"""The one exception the spec layer raises, and the value formatting its messages share."""

from __future__ import annotations

from conformance.errors import SetupError

__all__ = ["SchemaError", "brief"]


class SchemaError(SetupError):
    """A schema (or a schema file) is malformed, or a name it was asked about is unknown.

    The message is always a single line: callers put it into one-line reports and logs,
    so any line break that sneaks in through a file name or a value is flattened here.
    """

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(message.splitlines()))


def brief(value: object, limit: int = 60) -> str:
    """``repr(value)``, cut to ``limit`` characters so that messages stay short.

    ``repr`` rather than ``str`` because it quotes strings and escapes control
    characters, which keeps hostile input from breaking a one-line message.
    """
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
