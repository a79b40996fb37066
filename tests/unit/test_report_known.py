"""Known findings in the allure results: rewritten from pytest's xfail into the failures
they are, marked known, with the run's known-issues file and Allure 3's resolutions
generated from it; new findings apart; the run's verdict counted from the results."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from conformance.findings.baseline import Baseline
from conformance.findings.signature import Signature
from conformance.reporting import html
from conformance.reporting.categories import KNOWN_MESSAGE
from conformance.reporting.known import (
    FILE,
    ISSUE_URL,
    KnownFinding,
    merge_known,
    read_known,
    resolutions,
    rewrite,
    write_known,
)
from conformance.reporting.results import read_allure
from conformance.reporting.verdict import Verdict, plural, verdict

CRASH = "crash | transaction | SIGSEGV"
DOC = "doc-mismatch | block_resize | doc.error-condition.missing $.arguments.device"
NEW = "doc-mismatch | blockdev-snapshot-sync | doc.error-condition.missing $.arguments.device"
BINARY = "/usr/bin/qemu-system-x86_64"
# Where the awesome report's npm packages are (the checkout's reports/).
NPM_DIR = Path(__file__).resolve().parents[2] / "reports"


def result(
    name: str,
    status: str,
    message: str,
    kind: str,
    keys: list[str],
    finding_status: str,
    *,
    reproducer: bool = True,
    target: str = "x86_64",
) -> dict[str, object]:
    """An allure result as allure-pytest and conformance.reporting.plugin write it."""
    return {
        "name": name,
        "status": status,
        "statusDetails": {"message": message, "trace": "..."},
        "description": "Cites: qapi § block_resize",
        "attachments": [{"name": "transcript.txt", "source": "t.txt"}]
        + ([{"name": "reproducer.jsonl", "source": "r.json"}] if reproducer else []),
        "parameters": [{"name": "QEMU binary", "value": repr(BINARY), "excluded": True}],
        "labels": [
            {"name": "parentSuite", "value": target},
            {"name": "finding-kind", "value": kind},
            *({"name": "finding", "value": k} for k in keys),
            {"name": "finding-status", "value": finding_status},
            {"name": "tag", "value": f"{finding_status} finding"},
        ],
    }


def known_message(keys: list[str], kind: str) -> str:
    return f"{KNOWN_MESSAGE}{'; '.join(keys)}\n\nFailure: [c] text\nfinding kind: {kind}"


@pytest.fixture
def results(tmp_path: Path) -> Path:
    """A run's results: a known crash (xfail), a known doc mismatch hit by two tests,
    a new doc mismatch, a pass and a plain skip."""
    directory = tmp_path / "allure-results"
    directory.mkdir()
    found = {
        "a": result("crash", "skipped", known_message([CRASH], "crash"), "crash", [CRASH], "known"),
        "b": result(
            "doc1", "skipped", known_message([DOC], "doc-mismatch"), "doc-mismatch", [DOC], "known"
        ),
        "c": result(
            "doc2",
            "skipped",
            known_message([DOC], "doc-mismatch"),
            "doc-mismatch",
            [DOC],
            "known",
            reproducer=False,
        ),
        "d": result(
            "new",
            "failed",
            "Failure: [c] new\nfinding kind: doc-mismatch",
            "doc-mismatch",
            [NEW],
            "new",
        ),
        "e": {"name": "ok", "status": "passed", "labels": []},
        "f": {"name": "skip", "status": "skipped", "statusDetails": {"message": "cannot"}},
    }
    for uuid, data in found.items():
        (directory / f"{uuid}-result.json").write_text(json.dumps(data))
    return directory


def load(directory: Path, uuid: str) -> dict[str, object]:
    data: dict[str, object] = json.loads((directory / f"{uuid}-result.json").read_text())
    return data


BASELINE = Baseline(
    {
        CRASH: {"kind": "crash", "title": "crash: transaction: SIGSEGV", "verdict": "code bug"},
        DOC: {
            "kind": "doc-mismatch",
            "title": "doc-mismatch: block_resize",
            "verdict": "doc bug",
            "note": "GenericError since 2.x",
            "link": "https://gitlab.com/qemu-project/qemu/-/issues/1",
        },
    },
    target="x86_64",
)


def test_a_known_finding_becomes_the_failure_it_is(results: Path) -> None:
    done = rewrite(results, BASELINE.entry, "/r/findings")
    crash, doc = load(results, "a"), load(results, "b")
    # A QEMU exit is broken (allure-pytest's status for a RuntimeError), a check failed.
    assert (crash["status"], doc["status"]) == ("broken", "failed")
    message = doc["statusDetails"]["message"]  # type: ignore[index]
    first, replay, *rest = message.split("\n")
    assert first == "known finding: " + DOC
    slug = Signature.from_key(DOC).slug
    assert replay == f"replay: qmp-conformance replay --qemu {BINARY} /r/findings/{slug}"
    # The kind line the categories match stays.
    assert rest[-1] == "finding kind: doc-mismatch"
    # The triage link is a link of the result; the rest is in the description, first.
    links = doc["links"]
    assert {"type": "issue", "name": "triage: doc bug", "url": BASELINE.findings[DOC]["link"]} in (
        links  # type: ignore[operator]
    )
    description = str(doc["description"])
    assert description.startswith(f"**known finding** `{DOC}`")
    assert "- triage: doc bug: GenericError since 2.x" in description
    assert (
        f"[../findings/{slug}/reproducer.jsonl](../findings/{slug}/reproducer.jsonl)" in description
    )
    assert description.endswith("Cites: qapi § block_resize")
    # Without a reproducer, no reproducer link nor replay command.
    other = load(results, "c")
    assert "reproducer.jsonl" not in str(other["description"])
    assert str(other["statusDetails"]["message"]).split("\n")[1] == ""  # type: ignore[index]
    assert set(done.known) == {("x86_64", CRASH), ("x86_64", DOC)}
    assert done.known[("x86_64", CRASH)].verdict == "code bug"
    assert done.known[("x86_64", DOC)].title == "doc-mismatch: block_resize"
    assert done.results == 4


def test_a_new_finding_is_annotated_and_stays_new(results: Path) -> None:
    rewrite(results, BASELINE.entry)
    new = load(results, "d")
    assert new["status"] == "failed"
    message = str(new["statusDetails"]["message"])  # type: ignore[index]
    assert message.startswith(f"new finding: {NEW}\nreplay: qmp-conformance replay")
    assert message.endswith("Failure: [c] new\nfinding kind: doc-mismatch")
    assert str(new["description"]).startswith(f"**new finding** `{NEW}`")
    assert "triage" not in str(new["description"])
    # A pass and a skip that is no finding are left alone.
    assert load(results, "e") == {"name": "ok", "status": "passed", "labels": []}
    assert load(results, "f")["status"] == "skipped"


def test_the_rewrite_is_idempotent(results: Path) -> None:
    rewrite(results, BASELINE.entry)
    before = {p.name: p.read_text() for p in results.iterdir()}
    again = rewrite(results)  # as `report` does, without the baseline
    assert again.results == 0
    assert {p.name: p.read_text() for p in results.iterdir()} == before
    # The known findings are still found (their triage comes from the run's file).
    assert set(again.known) == {("x86_64", CRASH), ("x86_64", DOC)}


def test_results_of_an_older_run_are_rewritten_too(tmp_path: Path) -> None:
    # Before the run labelled its findings: only the xfail message names them.
    data = result("crash", "skipped", known_message([CRASH], "crash"), "crash", [], "")
    data["labels"] = [lb for lb in data["labels"] if lb["name"] != "finding-status"]  # type: ignore[attr-defined,index]
    (tmp_path / "a-result.json").write_text(json.dumps(data))
    rewrite(tmp_path)
    (read,) = read_allure(tmp_path)
    assert (read.status, read.outcome, read.findings) == ("broken", "known", (CRASH,))


def test_the_known_issues_file_reads_back_and_merges(results: Path, tmp_path: Path) -> None:
    done = rewrite(results, BASELINE.entry)
    write_known(results, done.known.values())
    assert json.loads((results / FILE).read_text())["qmp-known-findings"] == 1
    back = read_known(results)
    assert sorted(back, key=lambda k: k.key) == sorted(done.known.values(), key=lambda k: k.key)
    assert read_known(tmp_path) == []
    other = [KnownFinding(CRASH, "aarch64"), KnownFinding(CRASH, "x86_64", verdict="other")]
    merged = merge_known([back, other])
    assert len(merged) == 3  # a signature once per target, the first run's entry
    assert next(k for k in merged if k.target == "x86_64" and k.key == CRASH).verdict == "code bug"


def test_resolutions_make_each_known_signature_an_issue(results: Path, tmp_path: Path) -> None:
    done = rewrite(results, BASELINE.entry)
    found = [*done.known.values(), KnownFinding(CRASH, "aarch64")]
    config = resolutions(found, tmp_path / "known-issues.json")
    rules = config["rules"]
    assert isinstance(rules, list)
    # One issue per signature (the same one on two targets: once), id its directory.
    assert [r["issue"]["id"] for r in rules] == [  # type: ignore[index]
        Signature.from_key(CRASH).slug,
        Signature.from_key(DOC).slug,
    ]
    assert [r["issue"]["type"] for r in rules] == ["code bug", "doc bug"]  # type: ignore[index]
    assert config["links"] == {t: {"urlTemplate": ISSUE_URL} for t in ("code bug", "doc bug")}
    assert config["knownIssuesPath"] == str(tmp_path / "known-issues.json")
    doc_rule = rules[1]
    assert "GenericError since 2.x" in doc_rule["comment"]
    # The rule matches the rewritten known result's message, not the new one's.
    messages = {u: str(load(results, u)["statusDetails"]["message"]) for u in "abd"}  # type: ignore[index]
    matched = {
        u: [r["issue"]["id"] for r in rules if re.search(r["messageRegexp"], m)]  # type: ignore[index]
        for u, m in messages.items()
    }
    assert matched == {
        "a": [Signature.from_key(CRASH).slug],
        "b": [Signature.from_key(DOC).slug],
        "d": [],
    }


@pytest.mark.skipif(
    shutil.which("node") is None
    or not (NPM_DIR / "node_modules" / "@allurereport" / "core").is_dir(),
    reason="node or the report's npm packages (npm ci in reports/) are not installed",
)
def test_allure_accepts_the_resolutions_and_resolves_the_known_results(
    results: Path, tmp_path: Path
) -> None:
    # Allure 3's own validation and matching (@allurereport/core's resolutions.js).
    done = rewrite(results, BASELINE.entry)
    config = resolutions(done.known.values(), tmp_path / "known-issues.json")
    trs = [
        {
            "status": load(results, u)["status"],
            "error": {"message": load(results, u)["statusDetails"]["message"]},  # type: ignore[index]
        }
        for u in "abd"
    ]
    module = NPM_DIR / "node_modules" / "@allurereport" / "core" / "dist" / "resolutions.js"
    script = (
        f"const m = await import({json.dumps(module.as_uri())});"
        "const [config, trs] = JSON.parse(process.argv[1]);"
        "m.validateResolutionsConfig(config);"
        "console.log(JSON.stringify(trs.map(t => m.getResolutionByRules(t, config)?.issue?.id ?? null)));"
    )
    done_js = subprocess.run(
        ["node", "--input-type=module", "-e", script, json.dumps([config, trs])],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done_js.returncode == 0, done_js.stderr
    assert json.loads(done_js.stdout) == [
        Signature.from_key(CRASH).slug,
        Signature.from_key(DOC).slug,
        None,
    ]


def test_the_verdict_counts_unique_findings_by_kind(results: Path) -> None:
    done = rewrite(results, BASELINE.entry)
    counted = verdict(read_allure(results), done.known.values())
    assert counted.line() == "1 new finding: 1 doc mismatch; 2 known: 1 crash, 1 doc mismatch"
    rows = {r.key: r for r in counted.rows}
    assert counted.rows[0].key == NEW  # new first
    assert (rows[DOC].status, rows[DOC].results, rows[DOC].verdict) == ("known", 2, "doc bug")
    assert rows[NEW].verdict == ""
    # matrix.json sits in REPORTS, beside findings/.
    assert rows[DOC].to_json()["finding"] == f"findings/{Signature.from_key(DOC).slug}/"
    assert Verdict([]).line() == "0 new findings, 0 known"


def test_the_verdict_of_unrewritten_results(results: Path) -> None:
    # An older run's xfails count as known (report rewrites them before it counts).
    assert verdict(read_allure(results)).line() == (
        "1 new finding: 1 doc mismatch; 2 known: 1 crash, 1 doc mismatch"
    )


@pytest.mark.parametrize(
    ("kind", "n", "words"),
    [
        ("crash", 5, "5 crashes"),
        ("crash", 1, "1 crash"),
        ("hang", 2, "2 hangs"),
        ("doc-mismatch", 26, "26 doc mismatches"),
        ("protocol-violation", 3, "3 protocol violations"),
        ("sandbox-hit", 2, "2 sandbox hits"),
    ],
)
def test_plural(kind: str, n: int, words: str) -> None:
    assert plural(kind, n) == words


def test_the_report_config_carries_the_known_issues(results: Path, tmp_path: Path) -> None:
    done = rewrite(results, BASELINE.entry)
    cfg = html.config("name", tmp_path / "html", known=list(done.known.values()))
    known = cfg["resolutions"]
    assert isinstance(known, dict)
    assert known["knownIssuesPath"] == str(tmp_path / html.KNOWN_ISSUES)
    assert len(known["rules"]) == 2


def test_baseline_triage_defaults_to_empty() -> None:
    assert BASELINE.triage(CRASH) == {"verdict": "code bug", "note": "", "link": ""}
    assert BASELINE.triage("hang | x | y") == {"verdict": "", "note": "", "link": ""}
    # A signal-only crash's signed key is known by the entry whose shape covers it.
    shrunk = "crash | transaction | SIGSEGV args=actions[block-dirty-bitmap-enable]"
    drawn = "crash | transaction | SIGSEGV args=actions[abort,block-dirty-bitmap-enable]"
    signed = Baseline({shrunk: {"title": "t", "verdict": "code bug"}})
    found = signed.entry(drawn)
    assert found == (shrunk, {"title": "t", "verdict": "code bug"})
    assert signed.triage(drawn)["verdict"] == "code bug"
