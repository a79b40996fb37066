"""Errors that end a run with a one-line message, and every exit code the commands use.

The exit codes are listed once, here, as data (`EXIT_CODES`, `REPLAY_EXIT_CODES`), so
that the documentation can be rendered from them (`exit_code_table`). In short: 0
nothing new found, 1 findings, 2 usage or configuration error (missing or unusable
binary, unreadable spec file), 3 harness error, 130 interrupted. `run --skip-exit CODE`
turns one kind of 2, a QEMU that dies as it starts on this host (`CannotStart`), into
CODE: 77 (`EXIT_SKIPPED`) is "skipped" to automake, meson's exitcode protocol and
autopkgtest's `skippable` restriction.

`replay` speaks `git bisect run`'s language instead: 0 not reproduced (good), 1
reproduced (bad), 125 this commit can't be tested (skip), and 128 for everything that
is no verdict (an unreadable reproducer, a bad argument, our own bug): bisect run takes
any other code below 128 as "bad", and aborts on 128 and above.
"""

from __future__ import annotations

from dataclasses import dataclass

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2
EXIT_HARNESS = 3
EXIT_SKIPPED = 77
#: The shell's 128 + SIGINT; SIGTERM stops a run the same way.
EXIT_INTERRUPTED = 130
#: `replay`: `git bisect run`'s "this commit can't be tested": skip it.
EXIT_CANNOT_TEST = 125
#: `replay`: no verdict (unreadable reproducer, bad arguments, a harness error).
#: `git bisect run` takes 1-127 (but 125) as "bad" and aborts on anything above 127.
EXIT_NO_VERDICT = 128


@dataclass(frozen=True, slots=True)
class ExitCode:
    code: int
    meaning: str


#: Every command but `replay`; `run --all-installed` combines 3 > 2 > 1 > 0 in this order.
EXIT_CODES = (
    ExitCode(EXIT_OK, "nothing new found"),
    ExitCode(EXIT_FINDINGS, "new findings (known ones, in the --baseline, don't count)"),
    ExitCode(
        EXIT_USAGE,
        "usage or configuration error: bad arguments, a missing or unusable binary, an "
        "unreadable spec, docs or baseline file",
    ),
    ExitCode(EXIT_HARNESS, "harness error: the suite's own failure"),
    ExitCode(EXIT_INTERRUPTED, "interrupted (SIGINT or SIGTERM)"),
    ExitCode(
        EXIT_SKIPPED,
        "only with `run --skip-exit 77` (any CODE there): the QEMU can't start on this host",
    ),
)

#: `replay`, for `git bisect run`.
REPLAY_EXIT_CODES = (
    ExitCode(EXIT_OK, "not reproduced (bisect: good)"),
    ExitCode(EXIT_FINDINGS, "reproduced, in any of --runs replays (bisect: bad)"),
    ExitCode(
        EXIT_CANNOT_TEST,
        "the binary can't be tested: missing, not QEMU, dies at start, no QMP (bisect: skip)",
    ),
    ExitCode(
        EXIT_NO_VERDICT,
        "no verdict: unreadable reproducer, bad arguments, a harness error (bisect: abort)",
    ),
    ExitCode(EXIT_INTERRUPTED, "interrupted (bisect: abort)"),
)

#: A command whose usage errors (argparse's included) exit with another code than 2.
USAGE_EXIT = {"replay": EXIT_NO_VERDICT}


def exit_code_table(codes: tuple[ExitCode, ...]) -> str:
    """`codes` as a Markdown table, for the documentation."""
    rows = ["| exit | meaning |", "|---|---|"]
    rows += [f"| {c.code} | {c.meaning} |" for c in codes]
    return "\n".join(rows) + "\n"


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


if __name__ == "__main__":
    # `python -m conformance.errors`: the tables docs/exit-codes.md carries.
    print("Every command but `replay`:\n")
    print(exit_code_table(EXIT_CODES))
    print("`replay` (for `git bisect run`):\n")
    print(exit_code_table(REPLAY_EXIT_CODES), end="")
