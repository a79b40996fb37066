"""Which documentation belongs to a binary: the version docs name, where its man page is
looked for, and the refusal of docs of another QEMU version. No QEMU runs here: the
binaries are placeholder files, only their place on disk matters."""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import pytest

from conformance.docs import manpage
from conformance.docs.load import docs_for_binary, load_docs, man_page_for
from conformance.docs.model import DocError

FIXTURE = Path(__file__).parent / "man" / "qmp-ref-8.7"  # .TH says 9.2.3


def page_of(version: str) -> bytes:
    text = FIXTURE.read_text().replace('"9.2.3" "QEMU"', f'"{version}" "QEMU"')
    return gzip.compress(text.encode(), mtime=0)


def page_at(path: Path, version: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = page_of(version)
    path.write_bytes(data if path.suffix == ".gz" else gzip.decompress(data))
    return path


def system_page_at(path: Path, version: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The page `man -w` would name."""
    monkeypatch.setattr(manpage, "find_man_page", lambda _name="": page_at(path, version))
    return path


def binary_at(path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n")
    path.chmod(0o755)
    return str(path)


@pytest.fixture(autouse=True)
def no_system_page(monkeypatch: pytest.MonkeyPatch) -> None:
    """The machine's own man pages stay out of these tests unless one puts a page in."""
    monkeypatch.setattr(manpage, "find_man_page", lambda _name="": None)


@pytest.mark.parametrize(
    ("binary", "page"),
    [
        ("cache/bin/qemu-system-x86_64", "cache/root/usr/share/man/man7/qemu-qmp-ref.7.gz"),
        ("prefix/bin/qemu-system-x86_64", "prefix/share/man/man7/qemu-qmp-ref.7.gz"),
        ("build/qemu-system-x86_64", "build/docs/qemu-qmp-ref.7"),
        ("build/storage-daemon/qemu-storage-daemon", "build/docs/qemu-storage-daemon-qmp-ref.7"),
    ],
)
def test_the_page_beside_the_binary(tmp_path: Path, binary: str, page: str) -> None:
    path = page_at(tmp_path / page, "9.2.3")
    daemon = "storage-daemon" in binary
    assert man_page_for(binary_at(tmp_path / binary), (9, 2, 0), daemon=daemon) == path


def test_beside_comes_before_the_system_page(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    system = system_page_at(tmp_path / "usr/share/man/man7/qemu-qmp-ref.7.gz", "9.2.1", monkeypatch)
    binary = binary_at(tmp_path / "cache/bin/qemu-system-x86_64")
    assert man_page_for(binary, (9, 2, 3)) == system  # nothing beside: the system's
    beside = page_at(tmp_path / "cache/root/usr/share/man/man7/qemu-qmp-ref.7.gz", "9.2.3")
    assert man_page_for(binary, (9, 2, 3)) == beside


def test_a_page_of_another_version_is_passed_over(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    system = system_page_at(tmp_path / "man7/qemu-qmp-ref.7.gz", "7.2.22", monkeypatch)
    binary = binary_at(tmp_path / "cache/bin/qemu-system-x86_64")
    with pytest.raises(DocError) as raised:
        man_page_for(binary, (10, 0, 2))
    message = str(raised.value)
    assert "\n" not in message
    assert f"{system} is QEMU 7.2.22" in message
    assert "no documentation of QEMU 10.0.2" in message
    assert "pass --docs" in message


def test_docs_of_another_version_are_refused_with_the_docs_to_pass(tmp_path: Path) -> None:
    binary = binary_at(tmp_path / "cache/bin/qemu-system-x86_64")
    own = page_at(tmp_path / "cache/root/usr/share/man/man7/qemu-qmp-ref.7.gz", "10.0.2")
    other = page_at(tmp_path / "old.7.gz", "7.2.22")
    with pytest.raises(DocError) as raised:
        docs_for_binary(other, binary, (10, 0, 2))
    assert str(raised.value) == (
        f"{other} documents QEMU 7.2.22, the binary is QEMU 10.0.2, so no drift is reported"
        f" and the documentation tests don't run; pass --docs {own}"
    )
    # The micro version doesn't matter; without --docs the binary's own page is read.
    assert docs_for_binary(other, binary, (7, 2, 0)).source == str(other)
    assert docs_for_binary(None, binary, (10, 0, 0)).source == str(own)


def test_source_tree_version(tmp_path: Path) -> None:
    qapi = tmp_path / "qemu" / "qapi"
    qapi.mkdir(parents=True)
    (qapi / "qapi-schema.json").write_text(
        "##\n# @ping:\n#\n# Since: 0.14\n##\n{ 'command': 'ping' }\n"
    )
    assert load_docs(qapi).version is None  # no VERSION file: no version known
    (tmp_path / "qemu" / "VERSION").write_text("9.2.50\n")
    assert load_docs(qapi).version == "9.2.50"
    assert load_docs(qapi / "qapi-schema.json").version == "9.2.50"
    with pytest.raises(
        DocError, match=re.escape("documents QEMU 9.2.50, the binary is QEMU 10.0.2")
    ):
        docs_for_binary(qapi, binary_at(tmp_path / "bin/qemu"), (10, 0, 2))
    assert docs_for_binary(qapi, binary_at(tmp_path / "bin/qemu"), (9, 2, 50)).entries


def test_docs_without_a_version_are_taken(tmp_path: Path, corpus: Path) -> None:
    hx = corpus / "hx" / "qmp-commands.hx"
    docs = docs_for_binary(hx, binary_at(tmp_path / "bin/qemu"), (10, 0, 2))
    assert (docs.format, docs.version) == ("hx", None)
