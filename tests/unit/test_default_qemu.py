"""Which binary a command tests without --qemu: $QEMU_TEST_QEMU_BINARY, else
qemu-system-x86_64 (docs/ci-integration.md, "Which binary")."""

from __future__ import annotations

import pytest

from conformance.cli import _parser
from conformance.findings.replay import replay_candidates
from conformance.machine.probe import FALLBACK_QEMU, QEMU_BINARY_ENV, default_qemu


@pytest.mark.parametrize(("value", "expected"), [(None, FALLBACK_QEMU), ("", FALLBACK_QEMU)])
def test_without_the_variable_the_default_is_qemu_system_x86_64(
    monkeypatch: pytest.MonkeyPatch, value: str | None, expected: str
) -> None:
    if value is None:
        monkeypatch.delenv(QEMU_BINARY_ENV, raising=False)
    else:
        monkeypatch.setenv(QEMU_BINARY_ENV, value)
    assert default_qemu() == expected


@pytest.mark.parametrize("command", ["run", "fuzz"])
def test_the_variable_is_the_default_and_qemu_wins(
    monkeypatch: pytest.MonkeyPatch, command: str
) -> None:
    monkeypatch.setenv(QEMU_BINARY_ENV, "/build/qemu-system-aarch64")
    assert _parser().parse_args(command.split()).qemu == "/build/qemu-system-aarch64"
    given = _parser().parse_args([*command.split(), "--qemu", "/usr/bin/qemu-system-x86_64"])
    assert given.qemu == "/usr/bin/qemu-system-x86_64"


def test_replay_takes_the_variable_without_qemu_and_every_qemu_given(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # replay's --qemu repeats (one binary per affected version), so its default is
    # resolved when the binaries are listed, not by argparse.
    monkeypatch.setenv(QEMU_BINARY_ENV, "/build/qemu-system-aarch64")
    bare = _parser().parse_args(["replay", "r.jsonl"])
    assert [c.binary for c in replay_candidates(bare)] == ["/build/qemu-system-aarch64"]
    given = _parser().parse_args(["replay", "r.jsonl", "--qemu", "/a", "--qemu", "/b"])
    assert [c.binary for c in replay_candidates(given)] == ["/a", "/b"]
