"""A replay's workdir padded to the recorded run's length (conformance.machine.instance)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from conformance.machine.instance import padded_workdir


@pytest.mark.parametrize("extra", [0, 1, 2, 3, 50, 101, 102, 103, 104, 400])
def test_the_padded_path_has_the_length_asked_where_it_can(tmp_path: Path, extra: int) -> None:
    root = tmp_path / "root"
    root.mkdir()
    length = len(os.fsencode(root)) + extra
    padded = padded_workdir(root, length)
    assert padded.is_dir()
    assert padded == root or root in padded.parents
    # One byte more than the root fits no directory name: the root, one byte short.
    assert len(os.fsencode(padded)) == (length - 1 if extra == 1 else length)
    assert all(len(part) <= 101 for part in padded.relative_to(root).parts)


def test_a_length_shorter_than_the_root_leaves_the_root(tmp_path: Path) -> None:
    assert padded_workdir(tmp_path, 5) == tmp_path
