"""Errors that end a run with a one-line message and a documented exit code.

Exit codes (README, "Exit codes"): 0 nothing new found, 1 findings, 2 usage or
configuration error (missing or unusable binary, unreadable spec file), 3 harness error.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2
EXIT_HARNESS = 3


class SetupError(Exception):
    """The run can't start: a bad binary, a QEMU that dies at start, a corrupt input.

    The message is one line meant for the user; no traceback is shown.
    """

    exit_code = EXIT_USAGE

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(message.split()) if "\n" in message else message)
