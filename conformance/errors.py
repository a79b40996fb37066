"""Errors that end a run with a one-line message, and the exit codes of every command.

`EXIT_CODES` is the one statement of what each code means, per command family: the
commands return these constants, and docs/cli.md renders the table
(`python -m conformance.clidoc`). `run --skip-exit CODE` turns one kind of 2, a QEMU
that dies as it starts on this host (`CannotStart`), into CODE: 77 (`EXIT_SKIPPED`) is
"skipped" to automake, meson's exitcode protocol and autopkgtest's `skippable`
restriction.
"""

from __future__ import annotations

from dataclasses import dataclass

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2
EXIT_HARNESS = 3
EXIT_SKIPPED = 77
#: Ctrl-C, or SIGTERM where a command turns it into one (`run`): 128 + SIGINT, as a shell.
EXIT_INTERRUPTED = 130
#: `git bisect run`'s "this commit can't be tested": skip it.
EXIT_CANNOT_TEST = 125
#: `replay` without a verdict. `git bisect run` takes 1-127 (but 125) as "bad" and aborts
#: on anything above 127: what isn't a verdict must stop a bisection, not steer it.
EXIT_NO_VERDICT = 128
#: A command whose usage errors (argparse's included) exit with another code than 2.
USAGE_EXIT = {"replay": EXIT_NO_VERDICT}


@dataclass(frozen=True)
class ExitCode:
    """One exit code of a command family and what it means to the caller."""

    code: int
    meaning: str
    #: Shown instead of the number, for a code the caller chooses (`--skip-exit CODE`).
    label: str = ""


@dataclass(frozen=True)
class ExitFamily:
    """Commands that share one set of exit codes."""

    commands: tuple[str, ...]
    codes: tuple[ExitCode, ...]
    note: str = ""


_INTERRUPTED = ExitCode(EXIT_INTERRUPTED, "interrupted: Ctrl-C")

EXIT_CODES: tuple[ExitFamily, ...] = (
    ExitFamily(
        ("run", "fuzz", "diff"),
        (
            ExitCode(
                EXIT_OK,
                "nothing new: no finding, or only findings the `--baseline` knows "
                "(`diff`: no difference)",
            ),
            ExitCode(
                EXIT_FINDINGS,
                "new findings: at least one finding whose signature the baseline lacks "
                "(every finding, without a baseline; `diff`: differences, or a schema "
                "change that is a finding)",
            ),
            ExitCode(
                EXIT_USAGE,
                "usage or configuration error, one line on stderr: a missing binary, a "
                "binary that isn't QEMU, a QEMU that dies at start (its stderr is shown), "
                "no QMP greeting, an unreadable or corrupt schema, baseline or docs file, "
                "docs of another QEMU version than the binary's",
            ),
            ExitCode(
                EXIT_HARNESS,
                "harness error: the suite itself failed, so the results can't be trusted "
                "(this wins over 1)",
            ),
            ExitCode(
                EXIT_SKIPPED,
                "`run --skip-exit CODE` (77 for automake, meson and autopkgtest; 0 for "
                "meson's TAP protocol): a QEMU that dies as it starts on this host, a skip",
                label="CODE",
            ),
            ExitCode(
                EXIT_INTERRUPTED,
                "`run`, `diff`: interrupted by Ctrl-C (`run`: or SIGTERM, a cancelled CI "
                "job); the QEMUs are closed and the workdir removed. `fuzz` takes Ctrl-C "
                "and SIGTERM as its time being up and exits 0, 1 or 3",
            ),
        ),
        note="`run --all-installed` exits with the worst of its targets' codes, in the "
        "order 3 > 2 > 1 > 0; a binary skipped because it cannot start on this host "
        "doesn't count. An invalid `--shard K/N`, `--targets` naming a target that isn't "
        "installed, and `--machine` with `--all-installed` are usage errors (2).",
    ),
    ExitFamily(
        ("replay",),
        (
            ExitCode(
                EXIT_OK,
                "not reproduced: good, for `git bisect run`; also when the check fails "
                "again only as a deviation QEMU documents as deliberate (a `deviation "
                "NAME: ...; not a finding` line says which): no defect to bisect",
            ),
            ExitCode(EXIT_FINDINGS, "reproduced in at least one of `--runs`: bad"),
            ExitCode(
                EXIT_CANNOT_TEST,
                "cannot test this commit: the binary is missing, isn't QEMU, can't start "
                "or has no QMP; `git bisect run` skips it",
            ),
            ExitCode(
                EXIT_NO_VERDICT,
                "not a verdict: an unreadable reproducer, a usage error or a harness "
                "error, one line on stderr; above 127, so `git bisect run` stops",
            ),
            _INTERRUPTED,
        ),
        note="On several binaries (`--qemu` and `--package` given twice or more in all): 1 "
        "when the "
        "finding reproduced on at least one version; else 128 when a version's replay "
        "was a harness error (or `affected.json` can't be read or written); else 0 when "
        "at least one version could be tested (not reproduced, or only as a deviation); "
        "else 125: no version could be tested (each missing, not QEMU, unable to start, "
        "or its package not fetched). The table says which version got which verdict.",
    ),
    ExitFamily(
        ("spec", "docs", "report", "fetch"),
        (
            ExitCode(
                EXIT_OK,
                "done (`fetch`: the launcher's path is on stdout); documentation drift "
                "doesn't change it",
            ),
            ExitCode(
                EXIT_USAGE,
                "usage or configuration error, one line on stderr: a binary or file that "
                "can't be used, docs of another QEMU version, a failed download or "
                "report build",
            ),
            _INTERRUPTED,
        ),
    ),
)


class QmpcError(Exception):
    """The root of the project's exceptions. Three branches say whose the problem is:
    `SetupError` (the user's to fix: exit 2), `HarnessError` (our own bug: exit 3) and
    `QemuMisbehaviour` (the binary under test broke a promise: a finding, exit 1). The
    few that are none of these (`NotReplayable`, `Unconfinable`, `Dropped`: "can't be
    tested here", turned into a skip or an excluded sweep value where they are caught)
    sit under the root."""


class HarnessError(QmpcError):
    """The harness failed at its own job (a child it can't reap): never a verdict on
    QEMU, and nothing the user can fix."""

    exit_code = EXIT_HARNESS


class QemuMisbehaviour(QmpcError):
    """QEMU did what its spec says it won't (died, hung up, sent no greeting, missed a
    deadline, broke a documented promise): the product working, reported as a finding."""

    exit_code = EXIT_FINDINGS


class SetupError(QmpcError):
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
