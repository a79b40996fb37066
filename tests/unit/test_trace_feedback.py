"""Trace-event feedback without QEMU: the log lines 7.2 and 10.0.2 write (captured in
tests/unit/traces/), the incremental reading, crediting, the corpus format and the
fuzz worker's choice of chunks."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

from conformance.feedback import corpus
from conformance.feedback.credit import (
    ASYNC,
    HARVEST,
    QUIT,
    START,
    Coverage,
    headline,
    merge_reached,
    prefix_lines,
    reached_json,
    reached_text,
    to_json,
)
from conformance.feedback.steer import (
    ARGUMENTS,
    DRY,
    LONGEST,
    RESOURCE,
    SEEDS,
    WIRE,
    Arm,
    WorkerFeedback,
    mine,
    round_robin,
    slot,
)
from conformance.machine.trace import Collected, TraceLog, TraceSetup, collect, event_names
from conformance.machine.trace_events import TraceEvents, prefix
from conformance.reporting.environment import trace_environment
from conformance.reporting.matrix import Matrix, markdown, table
from conformance.reporting.merge import MatrixFile, merge_matrices
from conformance.reporting.results import trace_reached
from conformance.runcontext import TRACE_PROPERTY
from strategies import Malformed

TRACES = Path(__file__).parent / "traces"
CAPTURED = [
    "qmp_enter_query_version",
    "qmp_exit_query_version",
    "qmp_enter_qmp_capabilities",
    "qmp_exit_qmp_capabilities",
    "qmp_enter_query_name",
    "qmp_exit_query_name",
    "qmp_enter_qom_list",
    "qmp_exit_qom_list",
    "qmp_enter_object_add",
    "qmp_exit_object_add",
    "qmp_enter_quit",
    "qmp_exit_quit",
]


@pytest.mark.parametrize("version", ["qemu-7.2", "qemu-10.0"])
@pytest.mark.parametrize("timestamp", ["off", "on"])
def test_event_names_of_captured_logs(version: str, timestamp: str) -> None:
    data = (TRACES / f"{version}-timestamp-{timestamp}.log").read_bytes()
    assert event_names(data) == CAPTURED


def test_a_name_without_arguments_and_garbage_lines() -> None:
    data = b"bare_event\n  continued argument\n123@4.5:with_time x=1\n"
    # The continued line is no name: "continued" is dropped by the universe later.
    assert event_names(data) == ["bare_event", "with_time"]


def test_setup_writes_the_events_file(tmp_path: Path) -> None:
    setup = TraceSetup.all_but({"b_event", "a_event"})
    argv = setup.args(tmp_path)
    assert argv == ["-trace", "events=qmpc-trace-events", "-D", "qmpc-trace.log"]
    lines = (tmp_path / "qmpc-trace-events").read_text().splitlines()
    assert lines == ["*", "-a_event", "-b_event"]


def test_log_is_read_by_whole_lines_from_its_offset(tmp_path: Path) -> None:
    path = tmp_path / "trace.log"
    path.write_bytes(b"start_one x\nstart_two")
    log = TraceLog(path)
    log.mark_started()  # start-up ends inside a line: the line is start-up's
    with path.open("ab") as f:
        f.write(b" y\nfirst_event\nhalf")
    found = collect()
    assert found.start == {"start_one": 1}
    assert found.events == {"start_two": 1, "first_event": 1}
    with path.open("ab") as f:
        f.write(b"_written 1\n")
    assert collect().events == {"half_written": 1}
    assert not collect().events


def _started_log(tmp_path: Path) -> Path:
    """An empty log registered for `collect`, its start-up over."""
    path = tmp_path / "trace.log"
    log = TraceLog(path)  # registered for collect() as it is made
    path.write_bytes(b"")
    log.mark_started()
    return path


def _logged(path: Path, data: bytes) -> Collected:
    """What `collect` finds once `data` is appended to the log at `path`."""
    with path.open("ab") as f:
        f.write(data)
    return collect()


def test_an_out_of_band_answer_inside_a_dispatch_keeps_it_open(tmp_path: Path) -> None:
    path = _started_log(tmp_path)
    # An OOB command answered while an in-band one runs, then a parse error answered
    # with nothing in dispatch (its answer closes nothing).
    found = _logged(
        path,
        b"monitor_qmp_cmd_in_band 1\nmonitor_qmp_cmd_out_of_band 2\nmonitor_qmp_respond\n"
        b"bdrv_x\nmonitor_qmp_respond\nmonitor_qmp_err_in_band e\nmonitor_qmp_respond\n"
        b"poll_add\nmonitor_qmp_cmd_in_band 3\nbdrv_y\n",
    )
    assert found.events == {"bdrv_x": 1, "monitor_qmp_err_in_band": 1, "poll_add": 1}
    assert found.unbracketed == {"monitor_qmp_err_in_band": 1, "poll_add": 1}
    # bdrv_y waits for its dispatch's end: no handler ran in it, so it was the command's.
    found = _logged(path, b"monitor_qmp_respond\n")
    assert found.events == {"bdrv_y": 1}
    assert not found.unbracketed


def test_only_the_handlers_bracket_is_the_commands_where_there_is_one(tmp_path: Path) -> None:
    # The monitor yields to the main loop before and after the handler: a job's
    # coroutine and a thread pool's completion run then.
    found = _logged(
        _started_log(tmp_path),
        b"monitor_qmp_cmd_in_band 1\njob_state_transition\nqmp_enter_c\nbdrv_a\n"
        b"qmp_exit_c\nthread_pool_complete\nmonitor_qmp_respond\n",
    )
    assert found.events == {
        "job_state_transition": 1,
        "qmp_enter_c": 1,
        "bdrv_a": 1,
        "qmp_exit_c": 1,
        "thread_pool_complete": 1,
    }
    assert found.unbracketed == {"job_state_transition": 1, "thread_pool_complete": 1}
    # A QEMU gone in the middle of a command without a handler (device_add): its
    # events were the command's.
    log = TraceLog(tmp_path / "other.log")
    log.path.write_bytes(b"")
    log.mark_started()
    with log.path.open("ab") as f:
        f.write(b"monitor_qmp_cmd_in_band 2\ne1000e_realize\n")
    log.close()
    found = collect()
    assert found.events == {"e1000e_realize": 1}
    assert not found.unbracketed


def test_events_outside_a_dispatch_are_counted_apart_across_reads(tmp_path: Path) -> None:
    path = _started_log(tmp_path)
    with path.open("ab") as f:
        # A command's dispatch read in two pieces, then a deferred free after it.
        f.write(b"poll_add a\nmonitor_qmp_cmd_in_band 1\nqmp_enter_c\n")
    first = collect()
    with path.open("ab") as f:
        f.write(b"bdrv_x\nmonitor_qmp_respond r\nflatview_destroy f\npoll_add b\n")
    second = collect()
    assert first.events == {"poll_add": 1, "qmp_enter_c": 1}  # the markers aren't counted
    assert first.unbracketed == {"poll_add": 1}
    assert second.events == {"bdrv_x": 1, "flatview_destroy": 1, "poll_add": 1}
    assert second.unbracketed == {"flatview_destroy": 1, "poll_add": 1}
    coverage = Coverage(frozenset({"poll_add", "qmp_enter_c", "bdrv_x", "flatview_destroy"}))
    with path.open("ab") as f:
        f.write(b"monitor_qmp_cmd_in_band 2\nbdrv_x\nmonitor_qmp_respond\nflatview_destroy\n")
    novelty = coverage.credit_logged("c")
    assert novelty.pairs == {("c", "bdrv_x"), (ASYNC, "flatview_destroy")}
    assert coverage.command_pairs == 1  # ASYNC's pairs are no command's
    with path.open("ab") as f:
        f.write(b"flatview_destroy\n")
    assert coverage.credit_logged(HARVEST).pairs == {(HARVEST, "flatview_destroy")}


def test_a_closed_log_is_collected_once_after_its_file_is_gone(tmp_path: Path) -> None:
    path = tmp_path / "trace.log"
    path.write_bytes(b"boot_event\n")
    log = TraceLog(path)
    log.mark_started()
    with path.open("ab") as f:
        f.write(b"last_event\n")
    log.close()
    path.unlink()  # the workdir goes with the instance
    found = collect()
    assert found.start == {"boot_event": 1}
    assert found.events == {"last_event": 1}
    assert log not in _open_logs()


def test_a_log_that_never_got_past_start_up_is_start_ups(tmp_path: Path) -> None:
    path = tmp_path / "trace.log"
    path.write_bytes(b"boot_event\ndying_event\n")
    log = TraceLog(path)
    log.close()
    found = collect()
    assert found.start == {"boot_event": 1, "dying_event": 1}
    assert not found.events


def _open_logs() -> list[TraceLog]:
    from conformance.machine import trace

    return list(trace._OPEN)


def test_crediting_counts_new_events_and_pairs_once() -> None:
    coverage = Coverage(frozenset({"qmp_enter_a", "blk_x", "blk_y"}))
    first = coverage.credit("a", ["qmp_enter_a", "blk_x", "not_an_event"])
    assert first.events == {"qmp_enter_a", "blk_x"}
    assert first.pairs == {("a", "qmp_enter_a"), ("a", "blk_x")}
    again = coverage.credit("b", ["blk_x"])
    assert not again.events
    assert again.pairs == {("b", "blk_x")}
    assert not coverage.credit("b", ["blk_x"]).pairs
    coverage.credit(START, ["blk_y"])
    coverage.credit(QUIT, ["blk_y"])
    assert coverage.command_pairs == 3  # start-up's and the harness's quit aren't commands'
    assert coverage.by_prefix() == {"blk": (2, 2), "qmp": (1, 1)}
    assert prefix_lines(coverage) == ["blk 2/2", "qmp 1/1"]
    assert headline(coverage) == "trace events 3/3, pairs 3"
    value = to_json(coverage)
    assert value["command_pairs"] == 3
    assert value["by_prefix"] == {"blk": [2, 2], "qmp": [1, 1]}


def test_merging_another_process_pairs() -> None:
    ours = Coverage(frozenset({"e1", "e2"}))
    ours.credit("a", ["e1"])
    novelty = ours.merge([("a", "e1"), ("b", "e1"), ("b", "e2")])
    assert novelty.pairs == {("b", "e1"), ("b", "e2")}
    assert novelty.events == {"e2"}


def test_corpus_round_trip(tmp_path: Path) -> None:
    path = corpus.corpus_path(tmp_path)
    entries = [
        corpus.Entry("object-add", "valid", {"qom-type": "iothread", "id": "x"}, ("iothread_x",)),
        corpus.Entry("qom-get", "malformed", {"path": 1}, ("qom_e",), "type", "/path", "7.2.22"),
    ]
    unjson = corpus.Entry("qom-set", "valid", {"value": object()}, ("e",))
    assert corpus.save(path, [*entries, unjson]) == 2
    assert path == tmp_path / "fuzz-corpus" / "corpus.jsonl"
    header = json.loads(path.read_text().splitlines()[0])
    assert header == {"format": corpus.FORMAT, "version": corpus.VERSION}
    assert corpus.load(path) == (entries, "")


def test_corpus_of_another_version_or_with_bad_lines(tmp_path: Path) -> None:
    path = tmp_path / "corpus.jsonl"
    assert corpus.load(path) == ([], "")  # none yet
    path.write_text(json.dumps({"format": corpus.FORMAT, "version": 99}) + "\n{}\n")
    entries, note = corpus.load(path)
    assert entries == []
    assert "version 99" in note
    good = corpus.Entry("query-name", "valid", {}, ("e",))
    path.write_text(
        json.dumps({"format": corpus.FORMAT, "version": 1})
        + "\nnot json\n"
        + json.dumps({"command": "x", "mode": "malformed", "events": []})  # no rule
        + "\n"
        + (good.line() or "")
        + "\n"
    )
    entries, note = corpus.load(path)
    assert entries == [good]
    assert "2 lines skipped" in note


def test_trace_events_cache_value_round_trip() -> None:
    found = TraceEvents(frozenset({"a_x", "b_y", "b_z"}), frozenset({"a_x"}))
    assert TraceEvents.from_json(json.loads(json.dumps(found.to_json()))) == found
    assert found.recorded == {"b_y", "b_z"}
    assert found.setup == TraceSetup(("*", "-a_x"))
    assert "2 of 3 trace events recorded" in found.describe()
    blind = TraceEvents(frozenset(), frozenset(), "no log backend")
    assert blind.setup is None
    assert blind.describe() == "trace coverage: blind (no log backend)"
    assert TraceEvents.from_json({"format": 0}) is None
    assert prefix("qmp_enter_x") == "qmp"


def _feedback(guided: bool) -> WorkerFeedback:
    trace = TraceEvents(frozenset({"e1", "e2"}), frozenset())
    return WorkerFeedback(trace, guided, ("a", "b", "c"), seed=1)


def _arguments(arms: list[Arm]) -> list[int]:
    return [number for what, number in arms if what == ARGUMENTS]


def test_the_round_robin_interleaves_machines_and_shares_positions() -> None:
    arms = list(itertools.islice(round_robin(1, 2), 20))
    assert arms[9] == (WIRE, 9)
    assert arms[19] == (RESOURCE, 19)
    assert _arguments(arms) == [1 + 2 * n for n in range(18)]
    assert slot(4, 3) == (1, 1)  # command 4 % 3, the malformed pass


def test_blind_feedback_keeps_the_round_robin() -> None:
    feedback = _feedback(guided=False)
    feedback.scores[(0, 0)] = 50.0
    arms = [feedback.next_arm() for _ in range(30)]
    assert arms == list(itertools.islice(round_robin(0, 1), 30))
    assert feedback.keep_going(99, 90, 100)
    assert not feedback.keep_going(100, 0, 100)
    assert feedback.seeds_of("a") == []


def test_guided_feedback_takes_a_first_pass_then_picks_by_score() -> None:
    feedback = _feedback(guided=True)
    feedback.scores[(1, 1)] = 50.0  # command "b" in malformed mode reached much
    feedback.scores[WIRE] = 0.0  # no pick of what reached nothing
    first = [feedback.next_arm() for _ in range(6)]
    # The first pass over the 3 commands' 2 modes is the blind one.
    assert first == list(itertools.islice(round_robin(0, 1), 6))
    later = [feedback.next_arm() for _ in range(300)]
    picks = [n for n in _arguments(later) if n >= 1_000_000]
    breadth = [arm for arm in later if arm[1] < 1_000_000]
    assert picks
    assert len(set(picks)) == len(picks)  # each pick its own seed
    assert all(slot(p, 3) == (1, 1) for p in picks)
    # The round robin goes on in order for the rest (the floor every command keeps).
    rest = list(itertools.islice(round_robin(0, 1), 6 + len(breadth)))[6:]
    assert breadth == rest
    assert 0.1 < len(breadth) / len(later) < 0.35


def test_steered_chunks_end_when_dry_and_run_on_while_reaching() -> None:
    feedback = _feedback(guided=True)
    assert feedback.keep_going(7, 7, 100)
    assert not feedback.keep_going(21, DRY, 100)
    assert feedback.keep_going(300, 0, 100)
    assert not feedback.keep_going(LONGEST, 0, 100)


def test_chunk_scores_count_new_pairs_beyond_the_commands_own_dispatch() -> None:
    feedback = _feedback(guided=True)
    feedback.coverage = Coverage(frozenset({"e1", "qmp_enter_b", "qmp_exit_b"}))
    feedback.pairs.append(("b", "e1"))
    feedback._chunk_deep = 0
    pairs, entries = feedback.chunk_done((ARGUMENTS, 4))  # command 4 % 3 = 1, mode 1
    assert feedback.scores == {(1, 1): 0.0}
    assert pairs == (("b", "e1"),)
    assert entries == ()
    assert not feedback.pairs
    feedback._chunk_deep = 3
    feedback.chunk_done((WIRE, 9))
    assert feedback.scores[WIRE] > 0


def test_valid_inputs_that_reached_a_new_pair_become_seeds(tmp_path: Path) -> None:
    from conformance.machine import trace

    feedback = _feedback(guided=True)
    feedback.coverage = Coverage(frozenset({"qmp_enter_b", "e1"}))
    log = TraceLog(tmp_path / "log")
    log.mark_started()
    (tmp_path / "log").write_bytes(
        b"monitor_qmp_cmd_in_band 1\nqmp_enter_b\ne1 x=1\nmonitor_qmp_respond\n"
    )
    drawn = [({"x": 1}, None), ({"x": "y"}, Malformed("type", "$.x", {"x": "y"}))]
    assert feedback.credit("b", "valid", drawn) == 2
    assert feedback._chunk_deep == 1  # e1, not b's own qmp_enter_b
    assert feedback.seeds_of("b") == [{"x": 1}]  # the malformed one is no seed
    assert [e.mode for e in feedback.corpus] == ["valid", "valid"]
    trace._OPEN.remove(log)
    for n in range(SEEDS + 5):
        feedback.add_seed("c", {"n": n})
    assert len(feedback.seeds["c"]) == SEEDS
    assert _feedback(guided=False).seeds_of("b") == []


def test_corpus_shares_cover_the_corpus_once() -> None:
    entries = tuple(corpus.Entry(f"c{n}", "valid", {}, ()) for n in range(7))
    shares = [mine(entries, index, 3) for index in range(3)]
    assert sorted((e for share in shares for e in share), key=lambda e: e.command) == list(entries)


# -- the suite's reports ------------------------------------------------------------------


def _reached(events: set[str]) -> dict[str, object]:
    trace = TraceEvents(frozenset({"qmp_a", "qmp_b", "blk_c", "x_noop"}), frozenset({"x_noop"}))
    coverage = Coverage(trace.recorded)
    coverage.credit(START, events)
    return reached_json(trace, coverage)


def test_reached_events_in_text_environment_and_merged() -> None:
    one = _reached({"qmp_a"})
    other = _reached({"qmp_b", "blk_c"})
    assert reached_text(one) == (
        "trace events 1/3 reached (1 that fire on every command left out); "
        "per subsystem prefix: qmp 1/2"
    )
    merged = merge_reached([one, other])
    assert merged is not None
    assert merged["events"] == ["blk_c", "qmp_a", "qmp_b"]
    assert merged["by_prefix"] == {"blk": [1, 1], "qmp": [2, 2]}
    assert trace_environment(merged) == {
        "trace.events": "3/3 reached (1 that fire on every command left out)",
        "trace.prefixes": "qmp 2/2, blk 1/1",
    }
    blind = reached_json(TraceEvents(frozenset(), frozenset(), "no log"), Coverage(frozenset()))
    assert trace_environment(blind) == {"trace.events": "blind (no log)"}
    assert merge_reached([blind]) == blind
    assert reached_text(_reached(set()), limit=0).endswith("per subsystem prefix: none")


def test_the_suite_properties_become_the_reached_events() -> None:
    trace = TraceEvents(frozenset({"qmp_a", "blk_c"}), frozenset())
    properties = [(TRACE_PROPERTY, json.dumps(["qmp_a", "nonsense"])), ("other", "x")]
    assert trace_reached(trace, properties)["events"] == ["qmp_a"]


def test_matrix_shows_and_keeps_the_trace_events() -> None:
    built = Matrix([], trace=_reached({"qmp_a", "blk_c"}))
    text = markdown(built, "QEMU test")
    assert "## Trace events" in text
    assert "trace events 2/3 reached" in text
    assert built.to_json()["trace"] == built.trace
    assert table(built)[-1].startswith("trace events 2/3 reached")
    assert "trace" not in Matrix([]).to_json()
    again = merge_matrices(
        [MatrixFile(Path("m.json"), "QEMU test", {"commands": [], **built.to_json()})]
    )
    assert again.trace is not None
    assert again.trace["events"] == ["blk_c", "qmp_a"]
