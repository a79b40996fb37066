"""The conformance matrix, its chart, and the run results it is built from."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from conformance.drive.exchange import COVERAGE_PROPERTY, ArgumentRun
from conformance.errors import SetupError
from conformance.machine.instance import LaunchConfig
from conformance.machine.pool import InstancePool
from conformance.reporting import chart, matrix
from conformance.reporting.results import Result, coverage_items, read_allure
from conformance.spec import Schema
from conformance.spec.coverage import KINDS, Item
from strategies.pools import Pools
from strategies.safety import generation_policy

ENTRIES = [
    {"name": "str", "meta-type": "builtin", "json-type": "string"},
    {"name": "K", "meta-type": "enum", "values": ["a", "b"]},
    {
        "name": "Args",
        "meta-type": "object",
        "members": [{"name": "device", "type": "str"}, {"name": "mode", "type": "K"}],
    },
    {"name": "Empty", "meta-type": "object", "members": []},
    {"name": "block_resize", "meta-type": "command", "arg-type": "Args", "ret-type": "Empty"},
    {"name": "query-status", "meta-type": "command", "arg-type": "Empty", "ret-type": "Empty"},
    {
        "name": "x-old",
        "meta-type": "command",
        "arg-type": "Empty",
        "ret-type": "Empty",
        "features": ["deprecated"],
    },
]


@pytest.fixture(scope="module")
def schema() -> Schema:
    return Schema.from_schema_info(ENTRIES)


def result(
    epic: str, feature: str, story: str, status: str = "passed", message: str = "", **more: str
) -> Result:
    labels = {"epic": (epic,), "feature": (feature,), "story": (story,)}
    labels.update({k: (v,) for k, v in more.items()})
    return Result(f"{feature}-{story}", status, labels, message)


@pytest.mark.parametrize(
    ("epic", "story", "area"),
    [
        ("commands", "valid arguments", "valid arguments"),
        ("commands", "no arguments", "valid arguments"),
        ("commands", "sweep", "valid arguments"),
        ("commands", "malformed arguments", "malformed arguments"),
        ("documentation", "example 2", "doc examples"),
        ("documentation", "error condition 1", "doc error conditions"),
        ("documentation", "drift", "doc drift"),
        ("behaviour", "tray opens", "behaviour rules"),
        ("behaviour", "state machine", "sequences"),
        ("sequences", "bitmaps", "sequences"),
        ("protocol", "greeting", None),
        ("commands", "something new", None),
    ],
)
def test_area_from_epic_and_story(epic: str, story: str, area: str | None) -> None:
    assert matrix.area_of(result(epic, "x", story)) == area


@pytest.mark.parametrize(
    ("status", "message", "outcome"),
    [
        ("passed", "", "pass"),
        ("failed", "", "fail"),
        ("broken", "", "fail"),
        ("skipped", "Skipped: needs q35", "skip"),
        ("skipped", "XFAIL known finding: crash:x", "known"),  # an older run's
        ("failed", "known finding: crash:x", "fail"),  # not labelled known: counted new
        ("unknown", "", "skip"),
    ],
)
def test_outcome_of_a_result(status: str, message: str, outcome: str) -> None:
    assert result("commands", "x", "valid arguments", status, message).outcome == outcome


@pytest.mark.parametrize(
    ("counts", "status", "text"),
    [
        ({}, "n/a", "n/a"),
        ({"skip": 2}, "skip", "skip 2"),
        ({"pass": 3, "skip": 1}, "pass", "pass 3"),
        ({"pass": 2, "fail": 1}, "fail", "fail 1/3"),
        ({"known": 1, "pass": 1}, "fail", "fail 1/2 known"),
        ({"known": 1, "fail": 1}, "fail", "fail 2/2"),
    ],
)
def test_cell_status_and_text(counts: dict[str, int], status: str, text: str) -> None:
    cell = matrix.Cell()
    cell.counts.update(counts)
    assert (cell.status, cell.text) == (status, text)


@pytest.fixture
def built(schema: Schema) -> matrix.Matrix:
    results = [
        result("commands", "block_resize", "valid arguments"),
        result("commands", "block_resize", "malformed arguments"),
        result("documentation", "block_resize", "error condition 1", "failed"),
        result("documentation", "block_resize", "example 1", "skipped", "Skipped: a guest"),
        result("commands", "query-status", "no arguments"),
        result("commands", "query-status", "no arguments", "skipped", "XFAIL known finding: k"),
        result("behaviour", "resources", "state machine", command="block_resize"),
        result("protocol", "greeting", "shape", "failed"),  # not about one command
        result("commands", "not-in-this-binary", "valid arguments", "failed"),
    ]
    covered = {
        "block_resize": {
            Item("member", "Args", "device"),
            Item("enum", "K", "b"),
            Item("string", "Args", "device=empty"),
        }
    }
    excluded = {
        "block_resize": {
            Item("string", "Args", "device=long"): "the policy says so",
            Item("enum", "K", "b"): "exercised after all, so not excluded",
        }
    }
    return matrix.build(schema, results, covered, excluded=excluded)


def test_every_command_has_a_row_with_its_cells(built: matrix.Matrix) -> None:
    rows = {r.command: r for r in built.rows}
    assert list(rows) == ["block_resize", "query-status", "x-old"]
    cells = rows["block_resize"].cells
    assert cells["valid arguments"].status == "pass"
    assert cells["doc error conditions"].status == "fail"
    assert cells["doc examples"].status == "skip"
    assert cells["sequences"].status == "pass"  # named by a command label
    assert cells["behaviour rules"].status == "n/a"
    assert rows["block_resize"].status == "fail"
    assert rows["query-status"].status == "fail"
    assert rows["query-status"].known_only
    assert rows["x-old"].status == "n/a"
    assert rows["x-old"].tags == ("deprecated",)
    assert built.totals() == {"fail": 2, "pass": 0, "skip": 0, "n/a": 1}


def test_coverage_per_command(built: matrix.Matrix) -> None:
    rows = {r.command: r for r in built.rows}
    coverage = rows["block_resize"].coverage
    zero = dict.fromkeys(KINDS, 0)
    assert coverage.exercised == {**zero, "member": 1, "enum": 1, "string": 1}
    assert coverage.total == {**zero, "member": 2, "enum": 2, "string": 2}
    # Exercised out of eligible: the excluded point leaves the count.
    assert coverage.excluded == {**zero, "string": 1}
    assert rows["block_resize"].excluded == {
        Item("string", "Args", "device=long"): "the policy says so"
    }
    assert matrix.percent(coverage) == "60%"
    assert matrix.percent(rows["query-status"].coverage) == "-"  # nothing to cover
    assert built.coverage().total["member"] == 2


def test_markdown_lists_every_command(built: matrix.Matrix) -> None:
    text = matrix.markdown(built, "QEMU 7.2.22 x86_64", chart="matrix.svg")
    assert text.startswith("# Conformance matrix: QEMU 7.2.22 x86_64\n")
    assert "![coverage and outcome per command](matrix.svg)" in text
    assert (
        "| `block_resize` | pass 1 | pass 1 | skip 1 | fail 1/1 | n/a | n/a | pass 1 "
        "| 1/2 | - | 1/2 | - | - | - | 1/1 (-1) | 60% |"
    ) in text
    assert ("- `block_resize`: 1 points, the policy says so: `string:Args:device=long`") in text
    assert "| `query-status` | fail 1/2 known |" in text
    assert "| `x-old` _deprecated_ | n/a |" in text
    assert "3 commands: 2 fail, 0 pass, 0 skip, 1 n/a." in text


def test_json_round_trip(built: matrix.Matrix) -> None:
    data = json.loads(json.dumps(built.to_json()))
    assert data["areas"] == list(matrix.AREAS)
    row = data["commands"][0]
    assert row["command"] == "block_resize"
    assert row["areas"]["doc error conditions"] == {
        "status": "fail",
        "pass": 0,
        "fail": 1,
        "known": 0,
        "skip": 0,
    }
    assert row["coverage"]["enum"] == {"exercised": 1, "total": 2, "excluded": 0}
    assert row["excluded"] == {"string:Args:device=long": "the policy says so"}


def test_terminal_table_lists_reached_commands(built: matrix.Matrix) -> None:
    lines = matrix.table(built)
    assert lines[0].split()[:2] == ["command", "valid"]
    assert lines[1].split() == [
        "block_resize",
        "pass",
        "pass",
        "skip",
        "FAIL",
        "-",
        "-",
        "pass",
        "60%",
    ]
    assert lines[2].split()[:2] == ["query-status", "known"]
    assert not any(line.startswith("x-old") for line in lines)
    assert lines[-1].startswith("3 commands: 2 fail, 0 pass, 0 skip, 1 n/a")


def test_chart_is_svg_with_a_bar_per_command(built: matrix.Matrix) -> None:
    root = ET.fromstring(chart.svg(built, "QEMU <7.2> & co"))
    ns = "{http://www.w3.org/2000/svg}"
    titles = [t.text or "" for t in root.iter(f"{ns}title")]
    assert titles[0] == "QEMU <7.2> & co: schema coverage and outcome per command"
    bars = {t.split(":")[0]: t for t in titles[1:]}
    assert set(bars) == {"block_resize", "query-status", "x-old"}
    assert bars["block_resize"] == "block_resize: fail, coverage 60%"
    assert bars["query-status"] == "query-status: fail, coverage no arguments"
    fills = {r.get("fill") for r in root.iter(f"{ns}rect")}
    assert {chart.COLOURS["fail"], chart.COLOURS["known"], chart.COLOURS["n/a"]} <= fills


def test_write_matrix(built: matrix.Matrix, tmp_path: Path) -> None:
    paths = matrix.write_matrix(built, tmp_path / "r", "T", chart.svg(built, "T"))
    assert sorted(p.name for p in paths) == ["matrix.json", "matrix.md", "matrix.svg"]
    assert json.loads((tmp_path / "r" / "matrix.json").read_text())["title"] == "T"


# -- results read back -------------------------------------------------------------------


def test_read_allure(tmp_path: Path) -> None:
    (tmp_path / "a-result.json").write_text(
        json.dumps(
            {
                "name": "test_doc_error[block_resize-1]",
                "status": "failed",
                "statusDetails": {"message": "Failure: [c]\nfinding kind: doc-mismatch"},
                "labels": [
                    {"name": "feature", "value": "block_resize"},
                    {"name": "tag", "value": "a"},
                    {"name": "tag", "value": "b"},
                ],
            }
        )
    )
    (tmp_path / "b-container.json").write_text("{}")  # not a result
    (only,) = read_allure(tmp_path)
    assert only.label("feature") == "block_resize"
    assert only.labels["tag"] == ("a", "b")
    assert only.label("tag") == "b"
    assert only.outcome == "fail"
    assert only.label("epic") == ""


def test_unreadable_allure_results(tmp_path: Path) -> None:
    with pytest.raises(SetupError, match="no allure results"):
        read_allure(tmp_path / "missing")
    (tmp_path / "x-result.json").write_text("{broken")
    with pytest.raises(SetupError, match="unreadable allure result"):
        read_allure(tmp_path)


def test_coverage_items_merge_per_command() -> None:
    def prop(command: str, *keys: str) -> tuple[str, object]:
        return COVERAGE_PROPERTY, json.dumps({"command": command, "items": list(keys)})

    found = coverage_items(
        [
            prop("block_resize", "member:Args:device"),
            ("examples", 20),
            prop("block_resize", "enum:K:a"),  # the malformed test's, say
            prop("query-status"),
        ]
    )
    assert found == {
        "block_resize": {Item("member", "Args", "device"), Item("enum", "K", "a")},
        "query-status": set(),
    }
    with pytest.raises(SetupError, match="bad coverage property"):
        coverage_items([(COVERAGE_PROPERTY, '{"command": "x", "items": ["nokind"]}')])


def test_an_argument_runs_properties_carry_its_coverage(schema: Schema) -> None:
    # No QEMU starts: the pool starts one only when an example is sent.
    pool = InstancePool(lambda profile: LaunchConfig(profile=profile))
    run = ArgumentRun("block_resize", schema, Pools(), generation_policy(), pool, "none")
    assert COVERAGE_PROPERTY not in dict(run.properties())  # only malformed ones ran
    run.valid_examples = 2
    run.covered = {"member:Args:device", "enum:K:b"}
    props = run.properties()
    assert dict(props)["examples"] == 0
    assert coverage_items(props) == {
        "block_resize": {Item("member", "Args", "device"), Item("enum", "K", "b")}
    }
