"""docs/cli.md is what `python -m conformance.clidoc` renders from the argument parser and
the exit-code table, and the table speaks for every command."""

from __future__ import annotations

from pathlib import Path

import pytest

from conformance import clidoc
from conformance.cli import _parser, main
from conformance.errors import EXIT_CODES, EXIT_NO_VERDICT
from tests.conftest import PROJECT_ROOT

CLI_MD = PROJECT_ROOT / "docs" / "cli.md"


def test_committed_reference_is_the_rendered_one() -> None:
    committed = CLI_MD.read_text(encoding="utf-8")
    assert committed == clidoc.render(), (
        f"docs/cli.md is out of date with conformance/cli.py or conformance/errors.py; "
        f"regenerate it with `{clidoc.REGENERATE}`"
    )


def test_reference_carries_every_exit_code_row() -> None:
    committed = CLI_MD.read_text(encoding="utf-8")
    assert clidoc.exit_code_tables() in committed
    for family in EXIT_CODES:
        for code in family.codes:
            assert f"| {code.label or code.code} | {code.meaning} |" in committed


def test_rendering_ignores_the_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    expected = clidoc.render()
    monkeypatch.setenv("COLUMNS", "40")
    monkeypatch.setenv("FORCE_COLOR", "1")
    assert clidoc.render() == expected


def test_every_command_has_one_exit_code_family() -> None:
    commands = list(clidoc._subcommands(_parser()))
    assert commands, "the parser has no subcommands"
    for command in commands:
        families = [f for f in EXIT_CODES if command in f.commands]
        assert len(families) == 1, f"{command}: {len(families)} exit-code families"
    listed = {c for f in EXIT_CODES for c in f.commands}
    assert listed <= set(commands), f"families name no such command: {listed - set(commands)}"


def test_writes_the_file(tmp_path: Path) -> None:
    out = tmp_path / "cli.md"
    assert clidoc.main([str(out)]) == 0
    assert out.read_text(encoding="utf-8") == clidoc.render()


def test_replay_of_an_unreadable_reproducer_is_not_a_verdict(tmp_path: Path) -> None:
    bad = tmp_path / "reproducer.jsonl"
    bad.write_text("not json\n", encoding="utf-8")
    assert main(["replay", str(bad)]) == EXIT_NO_VERDICT
