"""Fixtures shared by the project's own tests.

The real spec documents live in ../shared/corpus beside the project root. They are read
in place (never copied in); tests that need them skip with a clear reason when absent.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parent.parent
CORPUS = PROJECT_ROOT.parent / "shared" / "corpus"


@pytest.fixture(scope="session", autouse=True)
def private_tmpdir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """TMPDIR for everything a test process starts: a directory of this session's own.

    test_host_safety watches the real /tmp while QEMU runs. pip, venv, the CLI's run
    directories and every other scratch file of a test running beside it on another
    worker must not land there, or that test would see another test's files.
    """
    private = tmp_path_factory.mktemp("tmpdir")
    saved = os.environ.get("TMPDIR")
    os.environ["TMPDIR"] = str(private)
    tempfile.tempdir = None
    try:
        yield private
    finally:
        if saved is None:
            os.environ.pop("TMPDIR", None)
        else:
            os.environ["TMPDIR"] = saved
        tempfile.tempdir = None


@pytest.fixture(scope="session")
def corpus() -> Path:
    """The shared spec corpus, or a skip when this checkout has no ../shared beside it."""
    if not CORPUS.is_dir():
        pytest.skip(
            f"spec corpus not found at {CORPUS} (expected ../shared/corpus beside the project)"
        )
    return CORPUS


@pytest.fixture(scope="session")
def schema_72_x86(corpus: Path) -> Path:
    """The recorded query-qmp-schema reply of Debian 12's qemu-system-x86_64 7.2."""
    path = corpus / "qemu-7.2" / "query-qmp-schema.x86_64.json"
    if not path.is_file():
        pytest.skip(f"{path} is missing from the corpus")
    return path
