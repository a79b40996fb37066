"""A real finding through the CLI: reproducer directory, baseline update, known vs new.

The subject is a doc mismatch of QEMU 7.2: the man page says block_resize on a device
that doesn't exist fails with DeviceNotFound, and QEMU replies GenericError. It is one
QMP exchange, so the test is quick and its outcome the same on every run.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from conformance.errors import EXIT_FINDINGS, EXIT_OK, EXIT_USAGE
from conformance.findings import baseline
from conformance.findings.reproducer import Reproducer
from conformance.machine.probe import probe
from tests.integration.clirun import cli

pytestmark = pytest.mark.qemu

SELECTION = "test_doc_error and block_resize-1"
KEY = "doc-mismatch | block_resize | doc.error-condition.missing $.arguments.device"
REPRODUCER_FILES = ("reproducer.jsonl", "command-line.txt", "reproduce.sh", "hypothesis.txt")


def _run(qemu: str, tmp_path: Path, reports: str, *options: str) -> tuple[int, str]:
    done = cli(
        "run",
        "--qemu",
        qemu,
        "--machine",
        "q35",
        "--reports",
        str(tmp_path / reports),
        *options,
        "--",
        "-q",
        "-k",
        SELECTION,
        f"--qmp-workdir={tmp_path / 'work'}",
        "--minimise-budget=0",
        # The CLI's own start-up check of the binary makes its workdir under TMPDIR.
        env={"TMPDIR": str(tmp_path)},
        timeout=120,
    )
    return done.returncode, done.stdout + done.stderr


def test_finding_directory_baseline_update_and_known_findings(
    qemu_binary: str, tmp_path: Path
) -> None:
    file = tmp_path / "baseline.json"

    rc, out = _run(qemu_binary, tmp_path, "new", "--baseline", str(file), "--baseline-update")
    assert rc == EXIT_OK, out  # the update accepted the finding
    assert "findings: 1 unique (0 known, 1 new)" in out
    written = baseline.load(file, probe(qemu_binary).target)
    assert list(written.findings) == [KEY]
    assert written.version == ".".join(map(str, probe(qemu_binary).version))
    index = json.loads((tmp_path / "new" / "findings" / "index.json").read_text())
    (row,) = index["findings"]
    assert row["signature"] == KEY
    directory = tmp_path / "new" / "findings" / row["slug"]
    for name in REPRODUCER_FILES:
        assert (directory / name).is_file(), name
    rep = Reproducer.load(directory)
    assert rep.expected.reply == "error:GenericError"
    assert json.loads(rep.messages[rep.expected.trigger])["execute"] == "block_resize"
    # The harness's monitor, on stdio: the one-liner sends what replay sends.
    assert (
        "-chardev stdio,id=qmp -mon chardev=qmp,mode=control"
        in (directory / "reproduce.sh").read_text()
    )
    _check_allure_result(tmp_path / "new" / "allure-results", directory, qemu_binary)

    rc, out = _run(qemu_binary, tmp_path, "known", "--baseline", str(file))
    assert rc == EXIT_OK, out
    assert "findings: 1 unique (1 known, 0 new)" in out
    assert f"known finding: {KEY}" in out
    junit = (tmp_path / "known" / "junit.xml").read_text()
    assert 'type="pytest.xfail"' in junit

    other = tmp_path / "other.json"
    target = probe(qemu_binary).target
    baseline.save(
        other,
        [("crash | calc-dirty-rate | SIGSEGV args={}", "crash", "t")],
        version="7.2",
        package="",
        target=target,
    )
    # Another target's section doesn't make the finding known on this one.
    baseline.save(other, [(KEY, "doc-mismatch", "t")], version="7.2", package="", target="s390x")
    rc, out = _run(qemu_binary, tmp_path, "stale", "--baseline", str(other))
    assert rc == EXIT_FINDINGS, out
    assert "findings: 1 unique (0 known, 1 new)" in out
    assert f"new {row['slug']}: doc-mismatch: block_resize" in out
    assert "1 known signatures not seen" in out


def _check_allure_result(results: Path, finding_dir: Path, qemu: str) -> None:
    """The failed result carries the reproducer, how to replay it, and links to its
    citations; it is filed under its target."""
    (result,) = [
        r
        for r in (json.loads(p.read_text()) for p in results.glob("*-result.json"))
        if "block_resize" in r["name"] and r["status"] != "passed"
    ]
    files = {a["name"]: results / a["source"] for a in result["attachments"]}
    assert {"reproducer.jsonl", "replay.txt", "transcript.jsonl"} <= set(files)
    replay = files["replay.txt"].read_text()
    assert "qmp-conformance replay --qemu " in replay
    assert str(finding_dir) in replay
    assert "-chardev stdio,id=qmp -mon chardev=qmp,mode=control" in replay  # the one-liner
    sent = Reproducer.from_jsonl(files["reproducer.jsonl"].read_text())
    assert any(b"block_resize" in message for message in sent.messages)
    assert any("qemu-qmp-ref" in link["url"] for link in result["links"])
    assert {"name": "parentSuite", "value": probe(qemu).target} in result["labels"]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (("--baseline", "CORRUPT"), r"baseline .*corrupt\.json: not JSON"),
        (("--baseline", "MISSING"), r"baseline .*missing\.json: cannot read"),
        (("--baseline-update",), r"--baseline-update needs --baseline"),
    ],
)
def test_bad_baseline_gives_one_line_and_exit_2(
    qemu_binary: str, tmp_path: Path, options: tuple[str, ...], message: str
) -> None:
    corrupt = tmp_path / "corrupt.json"
    corrupt.write_text('{"qmp-baseline": 1, "findings": ')
    paths = {"CORRUPT": str(corrupt), "MISSING": str(tmp_path / "missing.json")}
    done = cli(
        "run",
        "--qemu",
        qemu_binary,
        "--reports",
        str(tmp_path / "reports"),
        *(paths.get(o, o) for o in options),
        env={"TMPDIR": str(tmp_path)},
        timeout=60,
    )
    assert done.returncode == EXIT_USAGE, done.stdout + done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert re.search(message, line), line
    assert not (tmp_path / "reports").exists()  # refused before the run began
