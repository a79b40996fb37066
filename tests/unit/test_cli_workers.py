"""`run` uses every usable core unless told otherwise (`conformance.cli._worker_arguments`)."""

from __future__ import annotations

import os

import pytest

from conformance.cli import _worker_arguments


@pytest.mark.parametrize(
    "passthrough",
    [
        ["-n", "1"],
        ["-n1"],
        ["-n=3"],
        ["--numprocesses=2"],
        ["--numprocesses", "auto"],
        ["-k", "query-status", "-p", "no:xdist"],
        ["--dist", "load"],
    ],
)
def test_the_callers_choice_wins(passthrough: list[str]) -> None:
    assert _worker_arguments(passthrough) == []


def test_a_worker_per_usable_core(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2})
    assert _worker_arguments(["-k", "query-status"]) == ["-n", "3", "--dist", "worksteal"]


def test_one_core_runs_in_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0})
    assert _worker_arguments([]) == []
