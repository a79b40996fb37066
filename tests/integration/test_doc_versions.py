"""Docs matched to the binary's QEMU version, on two real QEMUs: the installed one and the
fetched one (QMPC_QEMU_FETCHED), each with the man page it ships."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conformance.docs.manpage import find_man_page
from conformance.machine.probe import probe
from tests.integration.clirun import cli, run_suite

pytestmark = pytest.mark.qemu

PAGE = "qemu-qmp-ref"


def installed_page() -> Path:
    path = find_man_page(PAGE)
    if path is None:
        pytest.skip(f"{PAGE}.7 not installed (apt-get install qemu-system-common)")
    return path


def fetched_page(launcher: str) -> Path:
    """A fetched QEMU keeps its package tree beside its launcher: <dir>/bin, <dir>/root."""
    path = Path(launcher).parent.parent / "root/usr/share/man/man7" / f"{PAGE}.7.gz"
    if not path.is_file():
        pytest.skip(f"the fetched QEMU {launcher} ships no {path}")
    return path


@pytest.fixture(scope="module")
def pairs(system_qemu: str, fetched_qemu: str) -> dict[str, tuple[str, Path, str]]:
    """binary, its own page, its version, for "installed" and "fetched"."""
    found = {
        "installed": (system_qemu, installed_page()),
        "fetched": (fetched_qemu, fetched_page(fetched_qemu)),
    }
    versions = {k: probe(binary).version for k, (binary, _) in found.items()}
    if versions["installed"][:2] == versions["fetched"][:2]:
        pytest.skip(f"both QEMUs are {versions['installed'][:2]}: no version mismatch to test")
    return {k: (b, p, ".".join(map(str, versions[k]))) for k, (b, p) in found.items()}


@pytest.mark.parametrize(
    ("binary_of", "docs_of"), [("fetched", "installed"), ("installed", "fetched")]
)
def test_docs_of_another_version_exit_2_with_one_line(
    pairs: dict[str, tuple[str, Path, str]], binary_of: str, docs_of: str
) -> None:
    binary, own_page, version = pairs[binary_of]
    other_page = pairs[docs_of][1]
    done = cli("docs", "--qemu", binary, "--docs", str(other_page), timeout=120)
    assert done.returncode == 2, done.stdout[-2000:] + done.stderr
    assert done.stdout == ""  # no drift items
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith(f"qmp-conformance: {other_page} documents QEMU ")
    assert f"the binary is QEMU {version}" in line
    assert "no drift is reported" in line
    assert line.endswith(f"pass --docs {own_page}")


@pytest.mark.parametrize("which", ["installed", "fetched"])
def test_docs_default_to_the_binarys_own_page(
    pairs: dict[str, tuple[str, Path, str]], which: str
) -> None:
    binary, own_page, version = pairs[which]
    done = cli("docs", "--qemu", binary, "--json", timeout=120)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["docs"] == str(own_page)
    assert report["version"].split(".")[:2] == version.split(".")[:2]
    assert report["entries"] > 0


def test_run_skips_the_doc_tests_saying_why(
    pairs: dict[str, tuple[str, Path, str]], tmp_path: Path
) -> None:
    binary, own_page, version = pairs["fetched"]
    other_page = pairs["installed"][1]
    done = run_suite(
        binary,
        tmp_path / "reports",
        "none",
        "--docs",
        str(other_page),
        "-rs",
        "-k",
        "test_doc_drift or test_doc_example or test_doc_error",
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr
    skipped = [line for line in done.stdout.splitlines() if line.startswith("SKIPPED")]
    assert len(skipped) == 3, done.stdout[-3000:]
    for line in skipped:
        assert f"{other_page} documents QEMU" in line
        assert f"the binary is QEMU {version}" in line
        assert line.endswith(f"pass --docs {own_page}")


def test_run_refuses_unreadable_docs_in_one_line(qemu_binary: str, tmp_path: Path) -> None:
    """Docs the user names that aren't a QMP reference are a configuration error (exit 2),
    not a skip: nothing about the binary was tested."""
    page = tmp_path / "qemu-qmp-ref.7"
    page.write_text('.TH "QEMU-QMP-REF" "7" "" "10.0.2" "QEMU"\n.SH NAME\nnothing here\n')
    done = cli("run", "--qemu", qemu_binary, "--docs", str(page), "--reports", str(tmp_path / "r"))
    assert done.returncode == 2, done.stdout[-2000:] + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("qmp-conformance: ")
    assert str(page) in lines[0]
    assert not (tmp_path / "r" / "junit.xml").exists()
