"""The per-binary cache: keyed by the binary's bytes and the arguments; misses are quiet."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from conformance.machine.cache import BinaryCache


@pytest.fixture
def binary(tmp_path: Path) -> Path:
    path = tmp_path / "qemu-system-test"
    path.write_bytes(b"\x7fELF one build")
    return path


def test_round_trip_and_a_gitignore(tmp_path: Path, binary: Path) -> None:
    cache = BinaryCache(tmp_path / "cache")
    key = BinaryCache.key(str(binary), "schema")
    assert cache.load(key) is None
    cache.store(key, {"meta-type": ["command"]})
    assert cache.load(key) == {"meta-type": ["command"]}
    assert (tmp_path / "cache" / ".gitignore").read_text() == "*\n"
    assert not [p for p in (tmp_path / "cache").iterdir() if p.name.startswith(".tmp-")]


def test_key_follows_the_bytes_and_the_arguments(binary: Path) -> None:
    first = BinaryCache.key(str(binary), "harvest", ["-machine", "q35"])
    assert first == BinaryCache.key(str(binary), "harvest", ["-machine", "q35"])
    assert first != BinaryCache.key(str(binary), "harvest", ["-machine", "none"])
    assert first != BinaryCache.key(str(binary), "schema", ["-machine", "q35"])
    binary.write_bytes(b"\x7fELF another build")
    os.utime(binary, ns=(1, 1))  # a rebuild: new bytes (and a new mtime)
    assert first != BinaryCache.key(str(binary), "harvest", ["-machine", "q35"])


def test_a_corrupt_entry_is_a_miss(tmp_path: Path, binary: Path) -> None:
    cache = BinaryCache(tmp_path)
    key = BinaryCache.key(str(binary), "schema")
    (tmp_path / key).write_text('{"truncated": ')
    assert cache.load(key) is None


def test_an_unusable_directory_is_not_an_error(tmp_path: Path, binary: Path) -> None:
    blocked = tmp_path / "reports"
    blocked.write_text("a file where the cache directory should be")
    cache = BinaryCache(blocked / "cache")
    key = BinaryCache.key(str(binary), "schema")
    cache.store(key, [1])  # costs the next run a QEMU start, nothing more
    assert cache.load(key) is None
