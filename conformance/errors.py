"""Errors that end a run with a one-line message and a documented exit code.

Exit codes (README, "Exit codes"; docs/ci-integration.md): 0 nothing new found, 1
findings, 2 usage or configuration error (missing or unusable binary, unreadable spec
file), 3 harness error. `run --skip-exit CODE` turns one kind of 2, a QEMU that dies as it
starts on this host (`CannotStart`), into CODE: 77 (`EXIT_SKIPPED`) is "skipped" to
automake, meson's exitcode protocol and autopkgtest's `skippable` restriction.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2
EXIT_HARNESS = 3
EXIT_SKIPPED = 77


class SetupError(Exception):
    """The run can't start: a bad binary, a QEMU that dies at start, a corrupt input.

    The message is one line meant for the user; no traceback is shown.
    """

    exit_code = EXIT_USAGE

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(message.split()) if "\n" in message else message)


class CannotStart(SetupError):
    """The binary is QEMU but dies as it starts on this host (no accelerator, firmware or
    module directory it needs): still a configuration error, unless the caller asked
    for it to be a skip (`run --skip-exit`)."""
