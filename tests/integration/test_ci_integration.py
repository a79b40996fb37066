"""QEMU's CI conventions on a real QEMU: `run --tap`, QEMU_TEST_QEMU_BINARY, the meson
test() stanza and the autopkgtest stanza of docs/ci-integration.md, run as written there.

A QEMU that "can't start here" is the `dies_at_start` fixture: the real binary made to
die as it starts.
"""

from __future__ import annotations

import email.parser
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

import pytest

from conformance.errors import EXIT_FINDINGS, EXIT_OK, EXIT_SKIPPED, EXIT_USAGE
from conformance.findings.replay import EXIT_CANNOT_TEST
from tests.conftest import PROJECT_ROOT
from tests.integration.clirun import cli
from tests.tapparse import TapRun, parse_tap

pytestmark = pytest.mark.qemu

DOC = PROJECT_ROOT / "docs" / "ci-integration.md"
DEBIAN = PROJECT_ROOT / "docs" / "debian"
#: A few tests of two commands: seconds, on any QEMU.
SMALL = "query-status or query-version"
#: QEMU 7.2's doc mismatch (tests/integration/test_findings_run.py): one QMP exchange.
FINDING_TEST = "test_doc_errors.py::test_doc_error[block_resize-1]"
FINDING_KEY = "doc-mismatch | block_resize | doc.error-condition.missing $.arguments.device"
#: The bin directory of this Python: qmp-conformance, meson and ninja, as tox installs them.
BIN = str(Path(sys.executable).parent)


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "TMPDIR": str(tmp_path),
        **extra,
    }


def _junit(path: Path) -> Counter[str]:
    """Outcome per test of pytest's junit.xml: passed, failed, skipped, known (xfail)."""
    outcomes: Counter[str] = Counter()
    for case in ET.parse(path).getroot().iter("testcase"):
        skipped = case.find("skipped")
        if case.find("failure") is not None or case.find("error") is not None:
            outcomes["failed"] += 1
        elif skipped is not None:
            known = skipped.get("type") == "pytest.xfail"
            outcomes["known" if known else "skipped"] += 1
        else:
            outcomes["passed"] += 1
    return outcomes


def _tap_outcomes(run: TapRun) -> Counter[str]:
    outcomes: Counter[str] = Counter()
    for t in run.tests:
        if t.directive == "TODO":
            outcomes["known"] += 1
        elif t.directive == "SKIP":
            outcomes["skipped"] += 1
        else:
            outcomes["passed" if t.ok else "failed"] += 1
    return outcomes


def _doc_block(marker: str) -> str:
    """The fenced block that follows `marker` in docs/ci-integration.md."""
    text = DOC.read_text()
    found = re.search(re.escape(marker) + r".*?\n```[a-z]*\n(.*?)\n```", text, re.DOTALL)
    assert found, f"no block after {marker} in {DOC}"
    return found[1] + "\n"


# -- run --tap ---------------------------------------------------------------------------


def test_run_tap_reports_findings_as_not_ok_and_known_ones_as_todo(
    qemu_binary: str, dies_at_start: str, tmp_path: Path
) -> None:
    baseline = tmp_path / "baseline.json"
    selection = f"(test_doc_error and block_resize-1) or {SMALL}"

    def run(reports: str, *options: str) -> tuple[subprocess.CompletedProcess[str], TapRun]:
        done = cli(
            "run",
            "--tap",
            "--qemu",
            qemu_binary,
            "--machine",
            "q35",
            "--reports",
            str(tmp_path / reports),
            *options,
            "--",
            "-n",
            "2",
            "-k",
            selection,
            "--minimise-budget=0",
            env={"TMPDIR": str(tmp_path)},
            timeout=300,
        )
        tap = parse_tap(done.stdout)  # strict: stdout holds nothing but TAP
        assert _tap_outcomes(tap) == _junit(tmp_path / reports / "junit.xml"), done.stdout
        return done, tap

    first, tap = run("new", "--baseline", str(baseline), "--baseline-update")
    assert first.returncode == EXIT_OK, first.stderr  # the update accepted the finding
    assert "findings: 1 unique" in first.stderr  # the summary went to stderr
    test = tap.by_id()[FINDING_TEST]
    assert (test.ok, test.directive) == (False, None)
    assert test.details is not None
    assert test.details["outcome"] == "finding"
    assert test.details["finding-kind"] == "doc-mismatch"
    (finding,) = test.details["findings"]  # type: ignore[misc]
    assert finding["signature"] == FINDING_KEY
    assert finding["kind"] == "doc-mismatch"
    assert finding["known"] is False
    assert finding["title"].startswith("doc-mismatch: block_resize: ")
    assert Path(finding["reproducer"]).is_file()
    assert Path(finding["reproducer"]).parent.parent == tmp_path / "new" / "findings"
    replay = shlex.split(finding["replay"])
    assert replay[:2] == ["qmp-conformance", "replay"]
    # The replay command as written, with TAP: the finding came back, so its test fails.
    replayed = cli(*replay[1:], "--runs", "1", "--tap", env={"TMPDIR": str(tmp_path)})
    assert replayed.returncode == EXIT_FINDINGS, replayed.stdout + replayed.stderr
    (again,) = parse_tap(replayed.stdout).tests
    assert (again.ok, again.description) == (False, f"replay 1/1: {FINDING_KEY}")
    assert again.details is not None
    assert again.details["outcome"] == "reproduced"
    # The same command on another binary: its --qemu replaced (a second --qemu would
    # replay on both versions, which TAP doesn't take).
    other = [
        dies_at_start if prev == "--qemu" else a
        for prev, a in zip(["", *replay[:-1]], replay, strict=True)
    ]
    assert other != replay
    cannot = cli(*other[1:], "--tap", env={"TMPDIR": str(tmp_path)})
    assert cannot.returncode == EXIT_CANNOT_TEST, cannot.stdout + cannot.stderr
    assert str(parse_tap(cannot.stdout).skip_reason).startswith("cannot test: ")
    assert all(t.ok for t in tap.tests if t is not test)  # nothing else found

    second, tap = run("known", "--baseline", str(baseline))
    assert second.returncode == EXIT_OK, second.stderr
    test = tap.by_id()[FINDING_TEST]
    assert (test.ok, test.directive, test.reason) == (False, "TODO", "known finding")
    assert test.details is not None
    (finding,) = test.details["findings"]  # type: ignore[misc]
    assert (finding["signature"], finding["known"]) == (FINDING_KEY, True)


def test_a_qemu_that_cannot_start_is_a_skip_only_when_asked(
    dies_at_start: str, tmp_path: Path
) -> None:
    dies = dies_at_start
    env = {"TMPDIR": str(tmp_path), "QEMU_TEST_QEMU_BINARY": dies}
    reports = str(tmp_path / "reports")

    for options, code in ((("--skip-exit", "0"), EXIT_OK), (("--skip-exit", "77"), EXIT_SKIPPED)):
        done = cli("run", "--tap", *options, "--reports", reports, env=env, timeout=60)
        assert done.returncode == code, done.stdout + done.stderr
        tap = parse_tap(done.stdout)
        assert tap.planned == 0
        assert tap.skip_reason is not None
        assert tap.skip_reason.startswith(f"cannot start on this host: {dies} died during start-up")
        assert "no-such-device-xyz" in tap.skip_reason  # QEMU's own words

    done = cli("run", "--tap", "--reports", reports, env=env, timeout=60)
    assert done.returncode == EXIT_USAGE, done.stdout + done.stderr
    assert done.stdout.splitlines()[0] == "TAP version 13"
    assert done.stdout.splitlines()[1].startswith(f"Bail out! {dies} died during start-up")
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("qmp-conformance: ")

    # Not QEMU at all, or no binary: a configuration error even when skips are wanted.
    not_qemu = tmp_path / "not-qemu"
    not_qemu.write_text("#!/bin/sh\necho hello\n")
    not_qemu.chmod(0o755)
    for binary in (str(not_qemu), str(tmp_path / "missing")):
        done = cli("run", "--skip-exit", "77", "--qemu", binary, "--reports", reports, env=env)
        assert done.returncode == EXIT_USAGE, done.stdout + done.stderr
    assert not Path(reports).exists()  # refused before the run began


def test_qemu_test_qemu_binary_is_the_default_and_qemu_wins_over_it(
    qemu_binary: str, dies_at_start: str, tmp_path: Path
) -> None:
    dies = dies_at_start
    env = {"TMPDIR": str(tmp_path), "QEMU_TEST_QEMU_BINARY": dies}
    done = cli("spec", env=env, timeout=60)
    assert done.returncode == EXIT_USAGE
    assert dies in done.stderr  # the variable's binary was the one started
    done = cli("spec", "--qemu", qemu_binary, env=env, timeout=60)
    assert done.returncode == EXIT_OK, done.stderr
    assert re.search(r"^command\s+[1-9]\d*$", done.stdout, re.MULTILINE), done.stdout


# -- meson -------------------------------------------------------------------------------


def _meson_project(tmp_path: Path, binary: str) -> Path:
    """A meson project holding the documented stanza as written, with `emulators` as in
    QEMU's top-level meson.build (name to program)."""
    env = _env(tmp_path)
    if shutil.which("meson", path=BIN) is None or shutil.which("ninja", path=env["PATH"]) is None:
        pytest.skip("meson and ninja are test dependencies (tox -e tests installs them)")
    source = tmp_path / "project"
    source.mkdir()
    (source / "meson.build").write_text(
        "project('qmp-conformance-ci')\n"
        f"emulators = {{'qemu-system-x86_64': find_program({binary!r})}}\n"
        + _doc_block("<!-- meson-stanza")
    )
    setup = subprocess.run(
        [shutil.which("meson", path=BIN) or "meson", "setup", "build"],
        cwd=source,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert setup.returncode == 0, setup.stdout + setup.stderr
    return source / "build"


def _meson_test(build: Path, tmp_path: Path) -> tuple[int, dict[str, object], ET.Element]:
    """`meson test --suite qmp` with a small selection; its testlog.json entry and its
    junit testsuite of the qmp-conformance subtests."""
    done = subprocess.run(
        [shutil.which("meson", path=BIN) or "meson", "test", "-C", str(build), "--suite", "qmp"],
        env=_env(tmp_path, PYTEST_ADDOPTS=f'-k "{SMALL}"'),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    logs = build / "meson-logs"
    (entry,) = [json.loads(line) for line in (logs / "testlog.json").read_text().splitlines()]
    assert str(entry["name"]).endswith(":qmp-conformance"), done.stdout
    suites = ET.parse(logs / "testlog.junit.xml").getroot().iter("testsuite")
    suite = next((s for s in suites if s.get("name", "").endswith(":qmp-conformance")), None)
    return done.returncode, entry, suite if suite is not None else ET.Element("none")


def test_meson_stanza_runs_and_meson_parses_the_tap(qemu_binary: str, tmp_path: Path) -> None:
    build = _meson_project(tmp_path, qemu_binary)
    rc, entry, suite = _meson_test(build, tmp_path)
    pytest_junit = build / "qmp-conformance" / "junit.xml"
    assert pytest_junit.is_file(), entry
    expected = _junit(pytest_junit)
    assert sum(expected.values()) > 0
    # meson's verdict follows the run's: a new finding on this QEMU fails it.
    verdict = "FAIL" if expected["failed"] else "OK"
    assert entry["result"] == verdict, entry
    assert rc == (1 if expected["failed"] else 0), entry
    # Every conformance test is a subtest meson parsed from the TAP, with its outcome.
    cases = list(suite.iter("testcase"))
    assert int(suite.get("tests", -1)) == len(cases) == sum(expected.values())
    assert int(suite.get("skipped", -1)) == expected["skipped"]
    assert int(suite.get("failures", -1)) == expected["failed"]
    pytest_names = Counter(c.get("name") for c in ET.parse(pytest_junit).getroot().iter("testcase"))
    meson_names = Counter(str(c.get("name")).rsplit("::", 1)[-1] for c in cases)
    assert meson_names == pytest_names
    parse_tap(str(entry["stdout"]))  # what meson read was strict TAP


def test_meson_reports_skip_for_a_qemu_that_cannot_start(
    dies_at_start: str, tmp_path: Path
) -> None:
    build = _meson_project(tmp_path, dies_at_start)
    rc, entry, _suite = _meson_test(build, tmp_path)
    assert entry["result"] == "SKIP", entry
    assert rc == 0, entry
    assert "cannot start on this host" in str(entry["stdout"])


# -- autopkgtest -------------------------------------------------------------------------


def _autopkgtest(tmp_path: Path, **env: str) -> tuple[int, Path, Path]:
    """The shipped debian/tests/control stanza's Test-Command, run as autopkgtest runs
    it: in a source tree, with AUTOPKGTEST_TMP and AUTOPKGTEST_ARTIFACTS."""
    control = (DEBIAN / "tests" / "control").read_text()
    assert _doc_block("<!-- autopkgtest-stanza") == control  # the docs show what ships
    (stanza,) = [s for s in control.split("\n\n") if s.strip()]
    fields = email.parser.HeaderParser().parsestr(stanza)
    restrictions = {r.strip() for r in str(fields["Restrictions"]).split(",")}
    assert {"skippable", "allow-stderr"} <= restrictions
    assert "qemu-system-x86" in str(fields["Depends"])
    source = tmp_path / "source"
    shutil.copytree(DEBIAN, source / "debian")
    scratch, artifacts = tmp_path / "autopkgtest-tmp", tmp_path / "artifacts"
    scratch.mkdir()
    artifacts.mkdir()
    done = subprocess.run(
        ["sh", "-c", str(fields["Test-Command"])],
        cwd=source,
        env=_env(
            tmp_path,
            AUTOPKGTEST_TMP=str(scratch),
            AUTOPKGTEST_ARTIFACTS=str(artifacts),
            **env,
        ),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    return done.returncode, scratch, artifacts


def test_autopkgtest_stanza_runs_the_ci_profile_into_the_artifacts(
    qemu_binary: str, tmp_path: Path
) -> None:
    rc, scratch, artifacts = _autopkgtest(
        tmp_path, QEMU_TEST_QEMU_BINARY=qemu_binary, PYTEST_ADDOPTS=f'-k "{SMALL}"'
    )
    junit = artifacts / "qmp-conformance" / "junit.xml"
    assert junit.is_file(), rc
    outcomes = _junit(junit)
    assert sum(outcomes.values()) > 0
    assert rc == (EXIT_FINDINGS if outcomes["failed"] else EXIT_OK)
    assert (artifacts / "qmp-conformance" / "matrix.json").is_file()
    # The run's workdirs (its QEMUs', its xdist workers') went with it.
    assert [p.name for p in scratch.iterdir() if p.name.startswith(("qmpc-", "qemu-"))] == []


def test_autopkgtest_stanza_skips_with_77_where_qemu_cannot_start(
    dies_at_start: str, tmp_path: Path
) -> None:
    rc, _scratch, artifacts = _autopkgtest(tmp_path, QEMU_TEST_QEMU_BINARY=dies_at_start)
    assert rc == EXIT_SKIPPED
    assert not (artifacts / "qmp-conformance" / "junit.xml").exists()
