"""`report --upstream FINDING`: a finding directory as a report in the shape of QEMU's
bug template, saying what was and wasn't checked."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conformance.errors import SetupError
from conformance.findings import affected, baseline, upstream
from conformance.findings.reproducer import QEMU_TOKEN, Outcome, Reproducer, one_liner
from conformance.oracle.failure import FindingKind

SIG = "crash | transaction | SIGSEGV args=actions[block-dirty-bitmap-enable]"
CITATION = (
    'qmp-spec § Commands Responses: "There are two possible responses which the Server '
    'will issue as the result of a command execution: success or error."'
)
QEMU = {
    "version": "7.2.22",
    "package": "Debian 1:7.2+dfsg-7",
    "binary": "/usr/bin/qemu-system-x86_64",
}
TRIGGER = (
    b'{"execute":"transaction","arguments":{"actions":[{"type":"block-dirty-bitmap-enable",'
    b'"data":{"node":"null0","name":""}}]},"id":2}'
)


def _rep(messages: tuple[bytes, ...] = (b'{"execute":"qmp_capabilities"}', TRIGGER)) -> Reproducer:
    return Reproducer(
        signature=SIG,
        kind=FindingKind.CRASH,
        command="transaction",
        title="crash: transaction: crashed: killed by SIGSEGV (11)",
        citation=CITATION,
        profile="q35",
        messages=messages,
        expected=Outcome("exit", len(messages) - 1, exit_kind="crash", detail="SIGSEGV"),
        argv=(QEMU_TOKEN, "-nodefaults", "-S", "-machine", "q35", "-chardev", "socket,id=qmp,fd=3",
              "-mon", "chardev=qmp,mode=control"),
    )  # fmt: skip


def _finding(tmp_path: Path, rep: Reproducer, *, qemu: dict[str, str] | None = QEMU) -> Path:
    directory = tmp_path / "findings" / "crash-transaction-1"
    rep.save(directory, "/usr/bin/qemu-system-x86_64")
    finding: dict[str, object] = {
        "signature": SIG,
        "kind": "crash",
        "command": "transaction",
        "title": rep.title,
        "message": "crashed: killed by SIGSEGV (11)",
        "citation": CITATION,
        "tests": ["conformance/suite/test_arguments.py::test_valid_arguments[transaction]"],
        "status": "known",
    }
    if qemu is not None:
        finding["qemu"] = qemu
    (directory / "finding.json").write_text(json.dumps(finding))
    (directory / "qemu-stderr.txt").write_text("qemu: warning: a line\nfinal words\n")
    return directory


@pytest.fixture
def packaged(tmp_path: Path) -> Path:
    """A packaged-baselines directory whose 7.2 file triages the finding."""
    directory = tmp_path / "baselines"
    baseline.save(
        directory / "qemu-7.2.json",
        [(SIG, "crash", "t")],
        version="7.2.22",
        package="p",
        target="x86_64",
    )
    data = json.loads((directory / "qemu-7.2.json").read_text())
    data["targets"]["x86_64"]["findings"][SIG].update(
        verdict="code bug", note="segfaults instead of an error", link="https://example.org/1"
    )
    (directory / "qemu-7.2.json").write_text(json.dumps(data))
    return directory


def _report(directory: Path, packaged: Path) -> str:
    return upstream.render(upstream.FindingDir.load(directory), packaged=packaged)


def test_the_report_follows_qemus_bug_template(tmp_path: Path, packaged: Path) -> None:
    rep = _rep()
    text = _report(_finding(tmp_path, rep), packaged)
    lines = text.splitlines()
    assert lines[0] == (
        "Title: QMP transaction crashes QEMU: killed by SIGSEGV (11) "
        "(actions[block-dirty-bitmap-enable])"
    )
    headings = [line for line in lines if line.startswith("## ")]
    assert headings == [
        "## Host environment",
        "## Emulated/Virtualized environment",
        "## Description of problem",
        "## Steps to reproduce",
        "## Additional information",
    ]
    assert " - QEMU flavor: qemu-system-x86_64" in lines
    assert " - QEMU version: 7.2.22 (Debian 1:7.2+dfsg-7)" in lines
    assert any(line.startswith(" - OS/kernel version: ") for line in lines)
    # The command line and the one-liner are the developer's: monitor on stdio.
    assert "   qemu-system-x86_64 -nodefaults -S -machine q35 -chardev stdio,id=qmp -mon " in text
    assert f"   {one_liner(rep, 'qemu-system-x86_64')}" in lines
    assert f"   {TRIGGER.decode()}" in lines
    assert f"Expected, per {CITATION}" in lines
    assert "Actual: on message 2 (transaction) QEMU crashes: SIGSEGV." in lines
    assert "   final words" in lines
    assert lines[-1] == '/label ~"kind::Bug"'


def test_the_report_says_what_was_not_checked(tmp_path: Path, packaged: Path) -> None:
    text = _report(_finding(tmp_path, _rep()), packaged)
    assert " - Known upstream: not checked." in text
    assert "https://gitlab.com/qemu-project/qemu/-/issues" in text
    assert " - Affected versions: not checked. To check, replay the finding" in text
    assert "--qemu A --qemu B" in text


def test_the_report_quotes_the_baseline_triage(tmp_path: Path, packaged: Path) -> None:
    lines = _report(_finding(tmp_path, _rep()), packaged).splitlines()
    start = lines.index(" - Triage (qemu-7.2.json [x86_64]): verdict: code bug")
    assert lines[start + 1 : start + 3] == [
        "   note: segfaults instead of an error",
        "   link: https://example.org/1",
    ]
    other = tmp_path / "other"
    other.mkdir()
    text = _report(_finding(tmp_path, _rep()), other)
    assert " - Triage: none (no packaged baseline qemu-7.2.json)." in text


def test_the_report_quotes_affected_versions(tmp_path: Path, packaged: Path) -> None:
    directory = _finding(tmp_path, _rep())
    rows = [
        affected.VersionResult(
            "10.0.2", "Debian 1:10.0.2", "/q10", "", "reproduced", 3, 3, "crash: SIGSEGV", "T2"
        ),
        affected.VersionResult(
            "7.2.18", "Debian 1:7.2+dfsg-7+deb12u15", "/q7", "", "not reproduced", 0, 3, "", "T1"
        ),
    ]
    affected.merge(None, SIG, rows).save(directory)
    lines = _report(directory, packaged).splitlines()
    start = lines.index(
        " - Affected versions (qmp-conformance replay, 3 run(s) each, ordered by QEMU version):"
    )
    assert lines[start + 2 : start + 4] == [
        "   7.2.18 (Debian 1:7.2+dfsg-7+deb12u15): not reproduced 0/3 (checked T1)",
        "   10.0.2 (Debian 1:10.0.2): reproduced 3/3 (checked T2)",
    ]
    assert (
        "   Earliest reproducing: 10.0.2 (Debian 1:10.0.2); latest: 10.0.2 (Debian 1:10.0.2)."
        in lines
    )


def test_a_finding_of_before_takes_its_qemu_from_the_index(tmp_path: Path, packaged: Path) -> None:
    directory = _finding(tmp_path, _rep(), qemu=None)
    text = _report(directory, packaged)
    assert " - QEMU version: not recorded" in text
    (directory.parent / "index.json").write_text(json.dumps({"qmp-findings": 1, "qemu": QEMU}))
    assert " - QEMU version: 7.2.22 (Debian 1:7.2+dfsg-7)" in _report(directory, packaged)


def test_an_unminimised_reproducer_is_pointed_to_not_pasted(tmp_path: Path, packaged: Path) -> None:
    padding = tuple(
        b'{"execute":"query-status","id":%d,"pad":"%s"}' % (n, b"x" * 100) for n in range(100)
    )
    rep = _rep((b'{"execute":"qmp_capabilities"}', *padding, TRIGGER))
    lines = _report(_finding(tmp_path, rep), packaged).splitlines()
    assert any("characters long: reproduce.sh in the finding directory" in line for line in lines)
    assert "2. The QMP messages it sends (102), one a line:" in lines
    assert "   … 42 more (see reproducer.jsonl) …" in lines
    assert f"   {TRIGGER.decode()}" in lines  # the trigger, last, is shown


def test_a_directory_that_is_not_a_finding_is_a_one_line_error(tmp_path: Path) -> None:
    with pytest.raises(SetupError, match="not a finding directory"):
        upstream.FindingDir.load(tmp_path)
    (tmp_path / "finding.json").write_text("[]")
    with pytest.raises(SetupError, match="not a finding"):
        upstream.FindingDir.load(tmp_path)


def test_the_report_subcommand_prints_it_before_anything_about_html(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from conformance.cli import main

    directory = _finding(tmp_path, _rep())
    # No allure results and no npm: --upstream needs neither.
    assert main(["report", "--reports", str(tmp_path / "none"), "--upstream", str(directory)]) == 0
    assert capsys.readouterr().out.startswith("Title: QMP transaction crashes QEMU")
    assert main(["report", "--upstream", str(tmp_path)]) == 2
    assert "not a finding directory" in capsys.readouterr().err
