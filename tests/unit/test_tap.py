"""The TAP writer and reporter of `run --tap`: plan, escaping, directives, YAML blocks."""

from __future__ import annotations

import io
from typing import cast

import pytest

from conformance.cli import main
from conformance.errors import EXIT_USAGE
from conformance.reporting.tap import TapReporter
from conformance.runcontext import SUITE_MARK
from conformance.tapstream import TapWriter, description, yaml_lines
from tests.tapparse import parse_tap


def _writer() -> tuple[TapWriter, io.StringIO]:
    out = io.StringIO()
    writer = TapWriter(out)
    writer.version()
    return writer, out


def test_plan_counts_the_results_written_and_comes_last() -> None:
    writer, out = _writer()
    writer.result(True, "a")
    writer.result(False, "b")
    writer.result(True, "c", "SKIP", "no board")
    writer.plan()
    lines = out.getvalue().splitlines()
    assert lines == [
        "TAP version 13",
        "ok 1 - a",
        "not ok 2 - b",
        "ok 3 - c # SKIP no board",
        "1..3",
    ]
    run = parse_tap(out.getvalue())
    assert [t.ok for t in run.tests] == [True, False, True]


def test_skip_all_is_an_empty_plan_with_a_one_line_reason() -> None:
    writer, out = _writer()
    writer.skip_all("cannot start on this host: qemu died\nsecond line")
    assert out.getvalue().splitlines()[1] == (
        "1..0 # SKIP cannot start on this host: qemu died second line"
    )
    run = parse_tap(out.getvalue())
    assert run.tests == []
    assert run.skip_reason == "cannot start on this host: qemu died second line"


def test_todo_and_skip_directives() -> None:
    writer, out = _writer()
    writer.result(False, "known", "TODO", "known finding")
    writer.result(True, "skipped", "SKIP", "target s390x: no machine profile\nwith a tray")
    writer.plan()
    run = parse_tap(out.getvalue())
    known, skipped = run.tests
    assert (known.ok, known.directive, known.reason) == (False, "TODO", "known finding")
    assert (skipped.directive, skipped.reason) == (
        "SKIP",
        "target s390x: no machine profile with a tray",
    )


@pytest.mark.parametrize(
    "test_id",
    [
        "suite::test_doc_example[#1 # SKIP]",
        "back\\slash # TODO not a directive",
        "two\nlines",
    ],
)
def test_a_description_never_reads_as_a_directive(test_id: str) -> None:
    writer, out = _writer()
    writer.result(True, test_id)
    writer.plan()
    (test,) = parse_tap(out.getvalue()).tests
    assert test.directive is None
    assert test.description == " ".join(test_id.splitlines())
    assert "#" not in description(test_id).replace("\\#", "")


def test_yaml_block_survives_any_text() -> None:
    awkward = 'q"uote\\ colon: x # hash\n  ...\n---\ttab \u2026 \u2028 \x85 \x00 \U0001f600 \ud800'
    details = {
        "outcome": "finding",
        "count": 2,
        "known": False,
        "findings": [
            {"signature": awkward, "title": "- dash: first", "tags": ["a", awkward]},
            {"signature": "s2", "empty": []},
        ],
        "nested": {"deeper": {"key": awkward}},
    }
    writer, out = _writer()
    writer.result(False, "t", details=details)
    writer.plan()
    text = out.getvalue()
    block = text.splitlines()[2 : text.splitlines().index("  ...")]
    assert block[0] == "  ---"
    assert all(line.startswith("  ") for line in block)
    (test,) = parse_tap(text).tests
    assert test.details == details


def test_yaml_lines_indent_list_items_under_their_key() -> None:
    assert yaml_lines({"findings": [{"kind": "crash", "known": True}]}, 2) == [
        "  findings:",
        '    - kind: "crash"',
        "      known: true",
    ]


def _session(status: pytest.ExitCode) -> pytest.Session:
    """What the reporter reads of a session at its end: the exit status."""
    return cast(pytest.Session, type("Session", (), {"exitstatus": status})())


def _report(nodeid: str, when: str, outcome: str, **extra: object) -> pytest.TestReport:
    props = [SUITE_MARK, *cast(list[tuple[str, object]], extra.pop("props", []))]
    longrepr = extra.pop("longrepr", None)
    report = pytest.TestReport(
        nodeid, ("m.py", 1, nodeid), {}, outcome, longrepr, when, user_properties=props
    )
    for name, value in extra.items():
        setattr(report, name, value)
    return report


def test_reporter_writes_one_line_per_test_when_its_last_report_arrives() -> None:
    writer, out = _writer()
    reporter = TapReporter(writer)
    phases = [
        _report("t::passes", "setup", "passed"),
        _report("t::skips", "setup", "skipped", longrepr=("m.py", 1, "Skipped: no tray")),
        _report("t::passes", "call", "passed"),
        _report("t::skips", "teardown", "passed"),
        _report(
            "t::harness",
            "call",
            "failed",
            longrepr="Traceback …\nKeyError: 'x'",
            props=[("harness-error", "true")],
        ),
        _report("t::passes", "teardown", "passed"),
        _report("t::harness", "teardown", "passed"),
        # xdist's report of the test a crashed worker was running.
        _report("t::crashed", "???", "failed", longrepr="worker 'gw0' crashed"),
        _report("not-a-suite-test", "teardown", "passed"),
    ]
    phases[-1].user_properties.clear()
    for report in phases:
        reporter.pytest_runtest_logreport(report)
    reporter.pytest_sessionfinish(_session(pytest.ExitCode.OK))
    run = parse_tap(out.getvalue())
    assert [(t.description, t.ok, t.directive) for t in run.tests] == [
        ("t::skips", True, "SKIP"),
        ("t::passes", True, None),
        ("t::harness", False, None),
        ("t::crashed", False, None),
    ]
    assert run.tests[0].reason == "no tray"
    assert run.tests[2].details == {"outcome": "harness-error", "message": "KeyError: 'x'"}
    assert run.tests[3].details == {"outcome": "failed", "message": "worker 'gw0' crashed"}


def test_an_interrupted_run_bails_out_instead_of_a_plan() -> None:
    writer, out = _writer()
    reporter = TapReporter(writer)
    reporter.pytest_runtest_logreport(_report("t::a", "teardown", "passed"))
    try:
        raise KeyboardInterrupt
    except KeyboardInterrupt:
        reporter.pytest_keyboard_interrupt(pytest.ExceptionInfo.from_current())
    reporter.pytest_sessionfinish(_session(pytest.ExitCode.OK))
    assert out.getvalue().splitlines()[-1] == "Bail out! interrupted"


def test_a_run_that_selected_nothing_bails_out_instead_of_an_empty_plan() -> None:
    writer, out = _writer()
    TapReporter(writer).pytest_sessionfinish(_session(pytest.ExitCode.NO_TESTS_COLLECTED))
    assert out.getvalue().splitlines()[-1] == (
        "Bail out! the selection collected no conformance tests"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "--skip-exit", "300"], "--skip-exit must be an exit status, 0 to 255, not 300"),
        (["run", "--all-installed", "--tap"], "are for one binary, not --all-installed"),
        (["run", "--all-installed", "--skip-exit", "77"], "are for one binary"),
    ],
)
def test_tap_and_skip_exit_usage_errors_are_one_line(
    capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    assert main(args) == EXIT_USAGE
    out, err = capsys.readouterr()
    assert out == ""
    (line,) = err.splitlines()
    assert message in line
