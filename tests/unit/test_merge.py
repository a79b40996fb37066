"""`report --merge`: allure results and matrices of several runs (shards, targets) in one."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from conformance.cli import main
from conformance.errors import SetupError
from conformance.reporting import chart, matrix
from conformance.reporting.environment import properties_text
from conformance.reporting.known import KnownFinding, read_known, write_known
from conformance.reporting.merge import (
    INDEX_KEY,
    merge_environment,
    merge_matrices,
    merge_reports,
    merge_results,
    read_matrices,
    read_properties,
)
from conformance.reporting.verdict import FindingRow
from conformance.spec.coverage import KINDS, Coverage, Item


def _coverage(members: tuple[int, int]) -> Coverage:
    exercised = dict.fromkeys(KINDS, 0) | {"member": members[0]}
    total = dict.fromkeys(KINDS, 0) | {"member": members[1]}
    return Coverage(exercised, total)


def _row(command: str, coverage: tuple[int, int], **counts: dict[str, int]) -> matrix.Row:
    cells = {a: matrix.Cell() for a in matrix.AREAS}
    for area, values in counts.items():
        cells[area.replace("_", " ")].counts.update(values)
    return matrix.Row(command, cells, _coverage(coverage))


def _run_dir(
    root: Path,
    title: str,
    rows: list[matrix.Row],
    results: int,
    environment: dict[str, str],
) -> Path:
    """A report directory as `run` leaves it: allure-results/ (results, containers,
    attachments, categories.json, environment.properties) and matrix.*."""
    allure = root / "allure-results"
    allure.mkdir(parents=True)
    for n in range(results):
        attachment = f"{uuid.uuid4()}-attachment.txt"
        (allure / attachment).write_text(f"transcript {n} of {root.name}\n")
        (allure / f"{uuid.uuid4()}-result.json").write_text(
            json.dumps(
                {
                    "name": f"test_{n}",
                    "status": "passed",
                    "labels": [{"name": "feature", "value": "query-status"}],
                    "attachments": [{"source": attachment}],
                }
            )
        )
        (allure / f"{uuid.uuid4()}-container.json").write_text("{}")
    (allure / "categories.json").write_text("[]")
    (allure / "environment.properties").write_text(properties_text(environment))
    built = matrix.Matrix(rows)
    matrix.write_matrix(built, root, title, chart.svg(built, title))
    return root


ENV_X86 = {"qemu.version": "7.2.22", "qemu.target": "x86_64", "qemu.binary": "/usr/bin/a=b:c"}
ENV_ARM = {"qemu.version": "7.2.22", "qemu.target": "aarch64", "qemu.binary": "/usr/bin/arm"}


def _files(directory: Path) -> set[str]:
    return {p.name for p in directory.iterdir()}


def test_properties_round_trip(tmp_path: Path) -> None:
    values = {"a key": "x=y:z\\w", "qemu.package": "Debian 1:7.2+dfsg", "empty": ""}
    path = tmp_path / "environment.properties"
    path.write_text(properties_text(values) + "# a comment\n\n")
    assert read_properties(path) == values
    assert read_properties(tmp_path / "missing") == {}


def test_environment_keeps_distinct_values_in_order() -> None:
    merged = merge_environment([ENV_X86, ENV_ARM, ENV_X86, {"extra": "1"}])
    assert merged == {
        "qemu.version": "7.2.22",
        "qemu.target": "x86_64, aarch64",
        "qemu.binary": "/usr/bin/a=b:c, /usr/bin/arm",
        "extra": "1",
    }


def test_no_result_file_is_lost(tmp_path: Path) -> None:
    a = _run_dir(tmp_path / "a", "QEMU 7.2.22 x86_64", [], 3, ENV_X86)
    b = _run_dir(tmp_path / "b", "QEMU 7.2.22 aarch64", [], 2, ENV_ARM)
    out = tmp_path / "out" / "allure-results"
    out.mkdir(parents=True)
    (out / "stale-result.json").write_text("{}")  # a previous merge's: not kept
    merged = merge_results([a / "allure-results", b / "allure-results"], out)
    sources = (_files(a / "allure-results") | _files(b / "allure-results")) - {
        "categories.json",
        "environment.properties",
    }
    assert _files(out) == sources | {"categories.json", "environment.properties"}
    assert merged.copied == len(sources) == 3 * 5
    assert merged.results == 5
    for name in sources:
        src = a / "allure-results" / name
        src = src if src.exists() else b / "allure-results" / name
        assert (out / name).read_bytes() == src.read_bytes()
    assert read_properties(out / "environment.properties")["qemu.target"] == "x86_64, aarch64"


def test_the_same_directory_twice_is_copied_once(tmp_path: Path) -> None:
    a = _run_dir(tmp_path / "a", "QEMU 7.2.22 x86_64", [], 2, ENV_X86)
    merged = merge_results([a / "allure-results", a / "allure-results"], tmp_path / "out")
    assert merged.copied == 6
    assert merged.duplicates == 6
    assert merged.results == 2


def test_a_name_clash_with_other_contents_is_refused(tmp_path: Path) -> None:
    a = _run_dir(tmp_path / "a", "QEMU 7.2.22 x86_64", [], 1, ENV_X86)
    b = _run_dir(tmp_path / "b", "QEMU 7.2.22 x86_64", [], 1, ENV_X86)
    name = next((a / "allure-results").glob("*-result.json")).name
    (b / "allure-results" / name).write_text('{"other": true}')
    with pytest.raises(SetupError, match="in two runs with different contents"):
        merge_results([a / "allure-results", b / "allure-results"], tmp_path / "out")


def test_merging_into_a_source_is_refused(tmp_path: Path) -> None:
    a = _run_dir(tmp_path / "a", "QEMU 7.2.22 x86_64", [], 1, ENV_X86)
    with pytest.raises(SetupError, match="the merge's own output directory"):
        merge_results([a / "allure-results"], a / "allure-results")
    assert any((a / "allure-results").glob("*-result.json")), "the source was not touched"


def _shard_rows() -> tuple[list[matrix.Row], list[matrix.Row]]:
    one = [
        _row("query-status", (2, 3), valid_arguments={"pass": 3}, doc_examples={"skip": 1}),
        _row("block_resize", (0, 4)),  # not in this shard: n/a, nothing measured
    ]
    two = [
        _row("query-status", (0, 3), doc_examples={"pass": 1}),
        _row("block_resize", (3, 4), valid_arguments={"pass": 2, "fail": 1, "known": 1}),
    ]
    return one, two


def test_sharded_matrices_add_cell_by_cell(tmp_path: Path) -> None:
    one, two = _shard_rows()
    a = _run_dir(tmp_path / "a", "QEMU 7.2.22 x86_64", one, 1, ENV_X86)
    b = _run_dir(tmp_path / "b", "QEMU 7.2.22 x86_64", two, 1, ENV_X86)
    merged = merge_matrices(read_matrices(a / "matrix.json") + read_matrices(b / "matrix.json"))
    rows = {r.command: r for r in merged.rows}
    assert list(rows) == ["block_resize", "query-status"]
    status = rows["query-status"].cells
    assert status["valid arguments"].counts == {"pass": 3, "fail": 0, "known": 0, "skip": 0}
    assert status["doc examples"].counts == {"pass": 1, "fail": 0, "known": 0, "skip": 1}
    assert rows["block_resize"].cells["valid arguments"].text == "fail 2/4"
    # Coverage isn't additive: the shard that ran the command measured it.
    assert rows["query-status"].coverage.exercised["member"] == 2
    assert rows["block_resize"].coverage.exercised["member"] == 3
    assert rows["block_resize"].coverage.total["member"] == 4


def test_excluded_points_survive_the_merge(tmp_path: Path) -> None:
    left_out = {Item("member", "Args", "size"): "the policy says so"}
    row = _row("block_resize", (3, 4))
    row = matrix.Row(
        row.command,
        row.cells,
        Coverage(
            row.coverage.exercised, row.coverage.total, {**row.coverage.excluded, "member": 1}
        ),
        excluded=left_out,
    )
    a = _run_dir(tmp_path / "a", "QEMU 7.2.22 x86_64", [row], 1, ENV_X86)
    b = _run_dir(tmp_path / "b", "QEMU 7.2.22 x86_64", [_row("query-status", (1, 1))], 1, ENV_X86)
    merged = merge_matrices(read_matrices(a / "matrix.json") + read_matrices(b / "matrix.json"))
    rows = {r.command: r for r in merged.rows}
    assert rows["block_resize"].excluded == left_out
    assert rows["block_resize"].coverage.excluded["member"] == 1
    assert matrix.percent(rows["block_resize"].coverage) == "100%"  # 3 of 4 - 1


def test_merge_reports_one_target(tmp_path: Path) -> None:
    one, two = _shard_rows()
    a = _run_dir(tmp_path / "job1", "QEMU 7.2.22 x86_64", one, 2, ENV_X86)
    b = _run_dir(tmp_path / "job2", "QEMU 7.2.22 x86_64", two, 3, ENV_X86)
    out = tmp_path / "merged"
    # One job named by its report directory, the other by its allure-results (the
    # matrix then comes from the parent).
    lines = merge_reports([a, b / "allure-results"], out)
    assert lines[0].startswith("merged 5 results")
    data = json.loads((out / "matrix.json").read_text())
    assert data["title"] == "QEMU 7.2.22 x86_64"
    counts = {r["command"]: r["areas"]["valid arguments"] for r in data["commands"]}
    assert counts["query-status"]["pass"] == 3
    assert counts["block_resize"]["fail"] == 1
    assert (out / "matrix.md").is_file()
    assert (out / "matrix.svg").is_file()
    assert len(list((out / "allure-results").glob("*-result.json"))) == 5


def test_merge_reports_several_targets_writes_an_index(tmp_path: Path) -> None:
    one, two = _shard_rows()
    a = _run_dir(tmp_path / "x86", "QEMU 7.2.22 x86_64", one, 1, ENV_X86)
    b = _run_dir(tmp_path / "arm", "QEMU 7.2.22 aarch64", two, 1, ENV_ARM)
    out = tmp_path / "merged"
    merge_reports([a, b], out)
    index = json.loads((out / "matrix.json").read_text())
    assert index[INDEX_KEY] == 1
    assert [t["target"] for t in index["targets"]] == ["aarch64", "x86_64"]
    for target in ("aarch64", "x86_64"):
        assert (out / "targets" / target / "matrix.md").is_file()
    md = (out / "matrix.md").read_text()
    assert "[targets/x86_64/matrix.md](targets/x86_64/matrix.md)" in md
    # The index stands for its matrices when merged again (a CI job of --all-installed).
    again = tmp_path / "again"
    merge_reports([out], again)
    assert json.loads((again / "matrix.json").read_text())[INDEX_KEY] == 1
    again_x86 = json.loads((again / "targets" / "x86_64" / "matrix.json").read_text())
    original = json.loads((a / "matrix.json").read_text())["commands"]
    assert again_x86["commands"] == sorted(original, key=lambda r: r["command"])


def test_a_directory_without_results_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(SetupError, match="no allure results"):
        merge_reports([tmp_path / "empty"], tmp_path / "out")
    with pytest.raises(SetupError, match="no such directory"):
        merge_reports([tmp_path / "missing"], tmp_path / "out")


def test_cli_report_merge_without_html(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    one, two = _shard_rows()
    a = _run_dir(tmp_path / "job1", "QEMU 7.2.22 x86_64", one, 1, ENV_X86)
    b = _run_dir(tmp_path / "job2", "QEMU 7.2.22 x86_64", two, 1, ENV_X86)
    out = tmp_path / "out"
    assert main(["report", "--reports", str(out), "--merge", str(a), str(b), "--no-html"]) == 0
    assert "merged 2 results" in capsys.readouterr().out
    assert main(["report", "--reports", str(out), "--merge", str(tmp_path / "nope")]) == 2
    assert "no such directory" in capsys.readouterr().err


CRASH = "crash | transaction | SIGSEGV"
DOC = "doc-mismatch | block_resize | doc.error-condition.missing $.arguments.device"


def test_findings_and_known_findings_survive_the_merge(tmp_path: Path) -> None:
    one, two = _shard_rows()
    a = _run_dir(tmp_path / "a", "QEMU 7.2.22 x86_64", one, 1, ENV_X86)
    b = _run_dir(tmp_path / "b", "QEMU 7.2.22 x86_64", two, 1, ENV_X86)
    triaged = KnownFinding(DOC, "x86_64", "t", "doc bug", "a note", "https://example.org/1")
    rows_a = [FindingRow(DOC, "known", "x86_64", 1, "doc bug", "a note", "https://example.org/1")]
    rows_b = [FindingRow(DOC, "known", "x86_64", 2), FindingRow(CRASH, "new", "x86_64")]
    for run, rows, known in ((a, rows_a, [triaged]), (b, rows_b, [KnownFinding(DOC, "x86_64")])):
        built = matrix.Matrix(one, findings=rows)
        matrix.write_matrix(built, run, "QEMU 7.2.22 x86_64", chart.svg(built, "t"))
        write_known(run / "allure-results", known)
    for run, slug in ((a, "doc-x"), (b, "doc-x"), (b, "crash-y")):
        (run / "findings" / slug).mkdir(parents=True, exist_ok=True)
        (run / "findings" / slug / "reproducer.jsonl").write_text(run.name)
    out = tmp_path / "merged"
    lines = merge_reports([a, b / "allure-results"], out)
    assert f"copied 2 finding directories into {out / 'findings'}" in lines
    # Each finding directory once, the first run's.
    assert (out / "findings" / "doc-x" / "reproducer.jsonl").read_text() == "a"
    assert (out / "findings" / "crash-y" / "reproducer.jsonl").read_text() == "b"
    data = json.loads((out / "matrix.json").read_text())
    # New first; a signature once, its results added, the first run's triage kept.
    assert [(f["signature"], f["status"], f["results"]) for f in data["findings"]] == [
        (CRASH, "new", 1),
        (DOC, "known", 3),
    ]
    assert data["findings"][1]["verdict"] == "doc bug"
    assert data["verdict"] == "1 new finding: 1 crash; 1 known: 1 doc mismatch"
    assert (
        "| known | doc-mismatch | `` doc-mismatch \\| block_resize \\| "
        in (out / "matrix.md").read_text()
    )
    # The known-issues files of both runs: one, each signature once, the first entry.
    assert read_known(out / "allure-results") == [triaged]
