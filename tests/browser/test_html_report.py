"""The HTML report, opened in headless Chromium as a reader would open it.

A tiny real run (block_resize: valid arguments, which pass, and its documented error
condition, which QEMU 7.2 answers with GenericError where the doc says DeviceNotFound)
is built into HTML with `qmp-conformance report`'s code, served over HTTP on loopback,
and driven with playwright-core (reports/node_modules) on Debian's chromium. The report
must show the per-command features, file the failure under its finding kind, and list
the failing result's transcript. Screenshots go to $QMPC_SCREENSHOTS (`tox -e report`:
reports/screenshots/), else under the test's tmp_path.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from conformance.findings.baseline import choose, save
from conformance.findings.signature import Signature
from conformance.machine.probe import probe
from conformance.reporting.html import cmd_report, is_installed
from tests.integration.clirun import run_suite

pytestmark = pytest.mark.qemu

HERE = Path(__file__).resolve().parent
# The checkout's, also when tox installed the package from a wheel.
NPM_DIR = HERE.parents[1] / "reports"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
KNOWN = "test_doc_error[block_resize-1]"
NEW = "test_doc_error[blockdev-snapshot-sync-1]"
SELECTION = (
    "test_doc_error and block_resize or test_valid_arguments and block_resize"
    " or test_doc_error and blockdev-snapshot-sync"
)
#: The triage fields the test's baseline gives the known finding.
TRIAGE = {
    "verdict": "doc bug",
    "note": "the error class is GenericError since device lookup moved to the block layer",
    "link": "https://gitlab.com/qemu-project/qemu/-/issues",
}
SERVE_DEADLINE = 10.0
BROWSER_DEADLINE = 120.0


def _needs_browser() -> None:
    if not Path(CHROMIUM).exists():
        pytest.skip(
            f"no Chromium at {CHROMIUM} "
            "(apt-get install --no-install-recommends chromium chromium-driver)"
        )
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("Node.js and npm are not installed (apt-get install nodejs npm)")
    if not is_installed(NPM_DIR):
        pytest.skip(
            f"allure and playwright-core are not installed in {NPM_DIR} for its "
            "lock file: run `qmp-conformance report` or `npm ci` there (tox -e report does)"
        )


def _baseline(qemu: str, path: Path) -> str:
    """A baseline that knows block_resize's documented-error finding (from the
    binary's packaged one), with triage fields, and nothing else: its signature."""
    packaged = choose("auto", probe(qemu)).baseline
    assert packaged is not None, f"no packaged baseline for {qemu}"
    (key,) = [k for k in packaged.findings if k.startswith("doc-mismatch | block_resize | ")]
    info = probe(qemu)
    save(
        path,
        [(key, "doc-mismatch", "block_resize")],
        version=info.version_text,
        package=info.package,
        target=info.target,
    )
    data = json.loads(path.read_text())
    data["targets"][info.target]["findings"][key].update(TRIAGE)
    path.write_text(json.dumps(data))
    return key


@pytest.fixture(scope="module")
def report(qemu_binary: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The reports directory of the tiny run, with its HTML built."""
    _needs_browser()
    base = tmp_path_factory.mktemp("report")
    reports = base / "reports"
    _baseline(qemu_binary, base / "baseline.json")
    run = run_suite(
        qemu_binary,
        reports,
        "q35",
        "-k",
        SELECTION,
        # Loaded by conformance.plugin too once it is hooked up; pytest loads it once.
        "-p",
        "conformance.reporting.plugin",
        f"--reports-dir={reports}",
        f"--qmp-workdir={base / 'work'}",
        f"--baseline={base / 'baseline.json'}",
        "--minimise-budget=0",
    )
    # The new finding fails the run; the known one doesn't count.
    assert run.returncode == 1, run.stdout[-3000:] + run.stderr[-2000:]
    assert cmd_report(argparse.Namespace(reports=str(reports), npm_dir=str(NPM_DIR)), []) == 0
    return reports


@pytest.fixture
def served(report: Path) -> Iterator[str]:
    """The tiny run's report URL."""
    with _serve(report / "html") as url:
        yield url


@contextmanager
def _serve(html: Path) -> Iterator[str]:
    """``html`` served by `python -m http.server` on a free loopback port: its URL."""
    server = subprocess.Popen(
        [sys.executable, "-u", "-m", "http.server", "0", "--bind", "127.0.0.1"],
        cwd=html,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert server.stdout is not None
        # Port 0: the kernel picks a free port, and the server's first line names it.
        line = _first_line(server)
        port = line.split(" port ")[1].split()[0]
        yield f"http://127.0.0.1:{port}/"
    finally:
        server.kill()
        server.wait(timeout=SERVE_DEADLINE)


def _first_line(server: subprocess.Popen[str]) -> str:
    import selectors

    assert server.stdout is not None
    with selectors.DefaultSelector() as sel:
        sel.register(server.stdout, selectors.EVENT_READ)
        if not sel.select(timeout=SERVE_DEADLINE):
            pytest.fail(f"http.server said nothing within {SERVE_DEADLINE:g}s")
    line = server.stdout.readline()
    assert line.startswith("Serving HTTP on"), line
    return line


@pytest.fixture
def chromium_tmp(tmp_path: Path) -> Iterator[Path]:
    """Chromium's TMPDIR: tmp_path, unless its singleton socket path
    (``TMPDIR/org.chromium.Chromium.XXXXXX/SingletonSocket``) would pass the 107 bytes
    of a unix socket path, which Chromium dies on; then a short directory in /tmp,
    removed afterwards."""
    if len(str(tmp_path)) + len("/org.chromium.Chromium.XXXXXX/SingletonSocket") < 100:
        yield tmp_path
        return
    short = Path(tempfile.mkdtemp(prefix="qmpc-chromium-", dir="/tmp"))
    try:
        yield short
    finally:
        shutil.rmtree(short, ignore_errors=True)


def _browse(
    url: str, tmp_path: Path, chromium_tmp: Path, results: str = f"{NEW},{KNOWN}", prefix: str = ""
) -> dict[str, Any]:
    """What report_check.mjs sees at ``url`` (the first screen, the tree, and the
    results named in ``results`` unless it is "-"); its screenshots are named
    ``prefix…``."""
    shots = _shots(tmp_path)
    home = tmp_path / "home"  # Chromium and node write nothing outside their temp dirs
    home.mkdir(exist_ok=True)
    done = subprocess.run(
        [
            "node",
            str(HERE / "report_check.mjs"),
            str(NPM_DIR),
            url,
            results,
            str(shots),
            str(tmp_path / "chromium-profile"),
            prefix,
        ],
        capture_output=True,
        text=True,
        timeout=BROWSER_DEADLINE,
        env={**os.environ, "HOME": str(home), "TMPDIR": str(chromium_tmp), "CHROMIUM": CHROMIUM},
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    seen: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    for shot in ("first-screen.png", "findings-tree.png", "report-tree.png"):
        assert (shots / f"{prefix}{shot}").stat().st_size > 10_000, shot
    for result in seen["results"]:
        result["attachments"] = [a.split("\n")[1] for a in result["attachments"]]
    return seen


def _shots(tmp_path: Path) -> Path:
    shots = Path(os.environ.get("QMPC_SCREENSHOTS") or tmp_path / "screenshots")
    shots.mkdir(parents=True, exist_ok=True)
    return shots


def test_the_first_screen_leads_with_the_findings(
    report: Path, served: str, tmp_path: Path, chromium_tmp: Path
) -> None:
    seen = _browse(served, tmp_path, chromium_tmp)
    # Allure's summary page: the findings report first, named with the run's verdict
    # in the suite's terms counted from the results, then the per-command report.
    findings, commands = seen["firstScreen"]
    verdict = "1 new finding: 1 doc mismatch; 1 known: 1 doc mismatch"
    assert f" — {verdict}" in findings["text"], findings["text"]
    assert json.loads((report / "matrix.json").read_text())["verdict"] == verdict
    assert findings["inView"]
    assert commands["inView"]
    assert findings["href"] == "by-finding/"
    assert commands["href"] == "by-command/"
    # Both findings fail (a known one is no skip): neither report reads "100%", and
    # the findings report holds the two findings alone.
    for card in (findings, commands):
        assert "100%" not in card["text"], card["text"]
    assert "Failed\n2" in findings["text"], findings["text"]
    assert "Total\n2" in findings["text"], findings["text"]
    # Its tree: new or known, then the finding kind, then the command.
    tree = seen["findingSections"]
    assert {"new", "known", "doc-mismatch", "block_resize", "blockdev-snapshot-sync"} <= set(
        tree
    ), tree
    assert "documentation" not in tree  # results that are no finding aren't there
    # The per-command tree: epic, then the command as feature, then the check.
    assert {"commands", "documentation", "block_resize", "error condition 1"} <= set(
        seen["sections"]
    ), seen["sections"]


def test_a_new_and_a_known_finding_in_chromium(
    served: str, tmp_path: Path, chromium_tmp: Path
) -> None:
    seen = _browse(served, tmp_path, chromium_tmp)
    new, known = seen["results"]
    for result in (new, known):
        # Filed under its finding kind, not allure's default "Product errors".
        assert result["category"] == "Category: doc mismatch"
        names = result["attachments"]
        assert {"transcript.jsonl", "transcript.txt", "reproducer.jsonl", "replay.txt"} <= set(
            names
        ), names
        # Its reproducer linked from the description, answering from the report.
        reproducers = [d for d in result["described"] if d["href"].endswith("/reproducer.jsonl")]
        assert reproducers, result["described"]
        local = [d for d in result["described"] if d["href"].startswith(served)]
        assert reproducers[0] in local
        assert all(d["status"] == 200 for d in local), result["described"]
        assert "qmp-conformance replay --qemu" in result["error"]
    for result in (new, known):
        # The replay command names the finding's directory, which holds its reproducer.
        replay = result["error"].split("\n")[1]
        assert replay.startswith("replay: qmp-conformance replay --qemu "), replay
        assert (Path(replay.split()[-1]) / "reproducer.jsonl").is_file(), replay
    assert new["error"].startswith("new finding: doc-mismatch | blockdev-snapshot-sync | ")
    assert new["resolutions"] == ""
    assert known["error"].startswith("known finding: doc-mismatch | block_resize | ")
    slug = Signature.from_key(known["error"].split("\n")[0].removeprefix("known finding: ")).slug
    # Resolved as a known issue: its id the finding's directory; the triage fields shown.
    assert known["resolutions"].split() == ["Resolutions", "1"]
    assert f"triage: {TRIAGE['verdict']}: {TRIAGE['note']}" in known["description"]
    assert {"text": f"triage: {TRIAGE['verdict']}", "href": TRIAGE["link"]} in known["links"]
    assert f"/findings/{slug}/reproducer.jsonl" in str(known["described"])


def test_the_conformance_runs_report_in_chromium(tmp_path: Path, chromium_tmp: Path) -> None:
    """The report `tox -e conformance` then `tox -e report` built in reports/html: every
    command with argument tests is a feature of the tree (a failing result's evidence
    is the tiny run's test above: here its group is collapsed among hundreds)."""
    html = NPM_DIR / "html"
    if not (html / "index.html").is_file():
        pytest.skip(f"no report in {html}: run tox -e conformance, then tox -e report")
    _needs_browser()
    with _serve(html) as url:
        seen = _browse(url, tmp_path, chromium_tmp, results="-", prefix="run-")
    matrix = json.loads((NPM_DIR / "matrix.json").read_text())
    tested = {
        r["command"]
        for r in matrix["commands"]
        if r["areas"]["valid arguments"]["status"] not in ("n/a", "skip")
    }
    sections = set(seen["sections"])
    assert {"commands", "documentation", "protocol"} <= sections, sorted(sections)
    assert tested <= sections, sorted(tested - sections)[:20]
    # The first screen states the run's verdict, and known findings are no skips.
    findings, commands = seen["firstScreen"]
    assert " — " + matrix["verdict"] in findings["text"], findings["text"]
    assert findings["inView"]
    if matrix["findings"]:
        assert "100%" not in findings["text"] + commands["text"]
        assert {"new", "known"} & set(seen["findingSections"]), seen["findingSections"]


def test_matrix_and_allure_files_of_a_real_run(report: Path) -> None:
    matrix = json.loads((report / "matrix.json").read_text())
    rows = {r["command"]: r for r in matrix["commands"]}
    assert len(rows) > 150  # every command of the binary, reached or not
    block_resize = rows["block_resize"]
    assert block_resize["areas"]["doc error conditions"]["status"] == "fail"
    assert block_resize["areas"]["valid arguments"]["status"] == "pass"
    # Its valid examples sent device or node-name, and size: coverage is measured.
    assert block_resize["coverage"]["member"]["exercised"] >= 2
    assert rows["query-status"]["status"] == "n/a"
    markdown = (report / "matrix.md").read_text()
    assert "| `block_resize` | pass 1 | n/a | n/a | fail 1/1 known |" in markdown
    # The findings table, new first, with the known one's triage fields.
    assert "| **new** | doc-mismatch | `` doc-mismatch \\| blockdev-snapshot-sync \\| " in markdown
    findings = {f["status"]: f for f in matrix["findings"]}
    assert {k: findings["known"][k] for k in TRIAGE} == TRIAGE
    assert findings["new"]["verdict"] == ""
    assert (report / "matrix.svg").read_text().startswith("<svg")
    results = report / "allure-results"
    names = {c["name"] for c in json.loads((results / "categories.json").read_text())}
    assert {"crash", "hang", "doc mismatch", "harness error"} <= names
    environment = (results / "environment.properties").read_text()
    assert "qemu.version=" in environment
    assert "accelerator=" in environment
