"""docs/cli.md, the command-line reference, rendered from the argument parser and the
exit-code table, so that the reference can't drift from the code.

    python -m conformance.clidoc              # print it
    python -m conformance.clidoc docs/cli.md  # write it

argparse wraps help to the terminal's width (COLUMNS) unless told otherwise; the width
here is fixed and colour is off, so the text is the same on every terminal.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from conformance.cli import _parser
from conformance.errors import EXIT_CODES, EXIT_USAGE, ExitFamily

#: Columns of the rendered help: fits a Markdown code block on a laptop screen.
WIDTH = 88

REGENERATE = "python -m conformance.clidoc docs/cli.md"


class _FixedWidth(argparse.HelpFormatter):
    def __init__(self, prog: str) -> None:
        super().__init__(prog, width=WIDTH)


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _help(parser: argparse.ArgumentParser) -> str:
    parser.formatter_class = _FixedWidth
    if hasattr(parser, "color"):  # Python 3.14 colours help on a terminal
        parser.color = False
    return parser.format_help().rstrip("\n")


def exit_code_tables(families: Sequence[ExitFamily] = EXIT_CODES) -> str:
    """The exit codes as Markdown: one table per command family."""
    out: list[str] = []
    for family in families:
        out += ["", f"### {', '.join(f'`{c}`' for c in family.commands)}", ""]
        out += ["| code | meaning |", "|---|---|"]
        out += [f"| {c.label or c.code} | {c.meaning} |" for c in family.codes]
        if family.note:
            out += ["", family.note]
    return "\n".join(out)


def render() -> str:
    parser = _parser()
    commands = _subcommands(parser)
    out = [
        "# Command-line reference",
        "",
        f"<!-- Generated from conformance/cli.py and conformance/errors.py by `{REGENERATE}`;",
        "     edit those, not this file. tests/unit/test_clidoc.py checks it is current. -->",
        "",
        "Everything after `--` on a `run` command line goes to pytest unchanged, e.g.",
        "`qmp-conformance run -- -n 2 -k query-status`.",
        "",
        "- [qmp-conformance](#qmp-conformance)",
        *(f"- [{name}](#qmp-conformance-{name})" for name in commands),
        "- [Exit codes](#exit-codes)",
        "",
        "## qmp-conformance",
        "",
        "```text",
        _help(parser),
        "```",
    ]
    for name, sub in commands.items():
        out += ["", f"## qmp-conformance {name}", "", "```text", _help(sub), "```"]
    out += ["", "## Exit codes", "", "Every command's exit status, by command family."]
    out.append(exit_code_tables())
    return "\n".join(out) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    text = render()
    if not args:
        sys.stdout.write(text)
        return 0
    if len(args) != 1 or args[0].startswith("-"):
        print(f"usage: {REGENERATE.replace('docs/cli.md', '[FILE]')}", file=sys.stderr)
        return EXIT_USAGE
    with open(args[0], "w", encoding="utf-8") as f:
        f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
