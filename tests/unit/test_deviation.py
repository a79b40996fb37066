"""Deviations (deliberate departures QEMU's source or tests state) and the parser
differential of input nested past QEMU's limit: how checks turn into each, and that a
deviation reaches the findings index but never the findings or a baseline."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from conformance.findings import baseline as baselines
from conformance.findings.store import FindingStore
from conformance.oracle import deviation
from conformance.oracle.conversation import NESTING, check_nothing_hidden_ran
from conformance.oracle.deviation import (
    MODIFIED_UTF8_NUL,
    NONCHARACTERS,
    Deliberate,
    Deviation,
    deliberate,
    holds_noncharacter,
    modified_utf8_json,
)
from conformance.oracle.failure import Failure, FindingKind, Source, qemu, spec
from conformance.qmp.message import parse_message
from conformance.qmp.transcript import Transcript
from conformance.qmp.wirejson import QEMU_MAX_NESTING, dumps, nesting_depth

HIDDEN = "MUST-NOT-RUN-"


@pytest.fixture(autouse=True)
def _nothing_seen() -> Iterator[None]:
    deviation.take()
    yield
    deviation.take()


def _echo_failure(check: str = "ids.echo") -> Failure:
    return Failure(
        check, spec("Commands Responses"), "no reply", kind=FindingKind.PROTOCOL, path="$.id"
    )


# -- deliberate() ------------------------------------------------------------------------


def test_a_failure_the_deviation_explains_is_recorded_not_raised() -> None:
    with deliberate(NONCHARACTERS, when=True):
        raise _echo_failure()
    (seen,) = deviation.take()
    assert (seen.name, seen.check) == ("noncharacter-refused", "ids.echo")
    assert "util/unicode.c" in " ".join(seen.because)
    assert "check-qjson.c" in " ".join(seen.because)
    assert seen.departs_from.startswith("rfc8259")
    assert deviation.take() == []


def test_without_its_condition_the_failure_is_a_finding() -> None:
    with pytest.raises(Failure), deliberate(NONCHARACTERS, when=False):
        raise _echo_failure()
    assert deviation.take() == []


def test_a_check_the_deviation_doesnt_explain_stays_a_finding() -> None:
    # An id echoed as non-JSON (inf, from 1e400) is output.strict-json: never excused.
    with pytest.raises(Failure), deliberate(NONCHARACTERS, when=True):
        raise _echo_failure("output.strict-json")
    assert deviation.take() == []


def test_a_deviation_seen_by_many_examples_is_taken_once() -> None:
    for _ in range(3):
        with deliberate(MODIFIED_UTF8_NUL, when=True):
            raise _echo_failure("malformed.executed")
    assert len(deviation.take()) == 1


def test_a_deviation_is_made_deliberate_by_qemu_only() -> None:
    with pytest.raises(ValueError, match="QEMU's own words"):
        Deliberate("x", "x", spec("A"), (spec("B"),), frozenset())
    for known in (NONCHARACTERS, MODIFIED_UTF8_NUL):
        assert known.because
        assert all(c.source is Source.QEMU and c.quote for c in known.because)
        assert known.departs_from.source in (Source.QMP_SPEC, Source.RFC_8259)


def test_deviation_json_round_trips() -> None:
    seen = Deviation("n", "s", "c", "m", "d", ("b1", "b2"))
    assert Deviation.from_json(json.loads(json.dumps(seen.to_json()))) == seen


# -- when they apply -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "holds"),
    [
        ("\uffff", True),
        ("a\ufdd0", True),
        ("\U0010fffe", True),
        ({"k\ufffe": 1}, True),
        ([1, ["\U0001ffff"]], True),
        ("\ufffd", False),
        ("\ufdcf\ufdf0", False),
        (10**400, False),
        ({"a": ["b"]}, False),
    ],
)
def test_holds_noncharacter(value: object, holds: bool) -> None:
    assert holds_noncharacter(value) is holds


@pytest.mark.parametrize(
    ("data", "reads"),
    [
        (b'{"execute":"query-version","id":"MUST-NOT-RUN-1\xc0\x80"}\n', True),
        (b'{"execute":"query-versi\xc0\x80on","id":"MUST-NOT-RUN-2"}\n', True),
        (b'{"execute":"query-version","id":"x"}\n', False),  # nothing to excuse
        (b'{\xc0\x80"execute":"query-version"}\n', False),  # between tokens: broken
        (b'{"execute":"q\xc0\x80\xc0\xaf"}\n', False),  # another defect besides
        (b'{"execute":"q\xc0\x80"\n', False),  # truncated besides
        # Across lines, CR LF between its tokens: one request (a full run's C0 80 case).
        (b'{\r\n"id"\r\n:\r\n"MUST-NOT-RUN-0"\r\n,\r\n"\xc0\x80execute"\r\n:"q"}\n', True),
        (b'{"execute":"q\xc0\x80"}\n\x1b\n', False),  # ESC between values: not JSON
    ],
)
def test_modified_utf8_json(data: bytes, reads: bool) -> None:
    assert modified_utf8_json(data) is reads


# -- the findings store ----------------------------------------------------------------


def test_a_deviation_is_indexed_but_is_no_finding_and_no_baseline_entry(tmp_path: Path) -> None:
    store = FindingStore(tmp_path / "findings", qemu={"version": "7.2.22"})
    with deliberate(NONCHARACTERS, when=True):
        raise _echo_failure()
    (seen,) = deviation.take()
    store.add_deviation(seen, "t::a")
    store.add_deviation(seen, "t::b")
    store.write()
    index = json.loads((tmp_path / "findings" / "index.json").read_text(encoding="utf-8"))
    assert index["findings"] == []
    (listed,) = index["deviations"]
    assert listed["name"] == "noncharacter-refused"
    assert listed["tests"] == ["t::a", "t::b"]
    markdown = (tmp_path / "findings" / "index.md").read_text(encoding="utf-8")
    assert "## Deviations" in markdown
    assert "noncharacter-refused" in markdown
    assert store.new == []
    assert store.entries == []
    saved = tmp_path / "baseline.json"
    baselines.save(
        saved,
        ((e.finding.key, e.finding.kind.value, e.finding.title) for e in store.entries),
        version="7.2.22",
        package="p",
        target="x86_64",
    )
    sections = json.loads(saved.read_text(encoding="utf-8"))["targets"]
    assert sections["x86_64"]["findings"] == {}


# -- nesting past the limit: a parser differential ----------------------------------------


def _hidden_ran(depth: int) -> Transcript:
    command = dumps({"execute": "query-version", "id": f"{HIDDEN}{depth}"})
    transcript = Transcript()
    transcript.record_send(b"[" * (depth - 1) + command + b"]" * (depth - 1) + b"\n")
    reply = dumps({"return": {}, "id": f"{HIDDEN}{depth}"}) + b"\r\n"
    transcript.record_recv(parse_message(reply))
    return transcript


def test_nesting_depth_counts_brackets_outside_strings() -> None:
    assert nesting_depth(b'[{"a":"[[{{","b":\'[\'}]') == 2
    assert nesting_depth(b'["\\"[", [1]]') == 2
    assert nesting_depth(b"]]][") == 1


def test_a_command_run_from_nesting_past_the_limit_is_a_parser_differential() -> None:
    with pytest.raises(Failure) as err:
        check_nothing_hidden_ran(_hidden_ran(QEMU_MAX_NESTING + 2), HIDDEN)
    failure = err.value
    assert failure.kind is FindingKind.PARSER_DIFFERENTIAL
    assert failure.check == "malformed.nesting-resumed"
    assert failure.citation is NESTING
    assert "lexical error" in failure.message
    assert "ran" in failure.message


def test_a_command_run_from_nesting_within_the_limit_is_a_protocol_violation() -> None:
    with pytest.raises(Failure) as err:
        check_nothing_hidden_ran(_hidden_ran(QEMU_MAX_NESTING - 1), HIDDEN)
    assert err.value.kind is FindingKind.PROTOCOL
    assert err.value.check == "malformed.executed"


def test_a_replayed_record_is_judged_with_the_sends_around_it() -> None:
    transcript = _hidden_ran(QEMU_MAX_NESTING + 1)
    reply = transcript.records[-1]
    with pytest.raises(Failure) as err:
        check_nothing_hidden_ran([reply], HIDDEN, transcript.records)
    assert err.value.check == "malformed.nesting-resumed"


def test_qemu_citation_helper_is_a_qemu_source() -> None:
    assert qemu("util/unicode.c", "x").source is Source.QEMU


def _conversation(*sends: bytes, answers: tuple[object, ...]) -> Transcript:
    transcript = Transcript()
    for raw in sends:
        transcript.record_send(raw)
    for ident in answers:
        transcript.record_recv(parse_message(dumps({"return": {}, "id": ident}) + b"\r\n"))
    return transcript


def test_modified_utf8_ids_reads_the_sends_as_one_stream() -> None:
    # Written in two pieces, the id's U+0000 echoed for its C0 80.
    split = _conversation(
        b'{"execute":"query-version","id":"MUST-',
        b'NOT-RUN-1\xc0\x80"}\n\x1b\n',
        answers=(f"{HIDDEN}1\0",),
    )
    assert deviation.modified_utf8_ids(split, HIDDEN) == [f"{HIDDEN}1\0"]


def test_modified_utf8_ids_excuses_nothing_when_one_hidden_command_was_broken() -> None:
    both = _conversation(
        b'{"execute":"query-versi\xc0\x80on","id":"MUST-NOT-RUN-2"}\n',
        b'[{"execute":"query-version","id":"MUST-NOT-RUN-3"}\n',
        answers=(f"{HIDDEN}2", f"{HIDDEN}3"),
    )
    assert deviation.modified_utf8_ids(both, HIDDEN) == []
    assert deviation.modified_utf8_ids(_conversation(answers=()), HIDDEN) == []


def test_modified_utf8_ids_start_again_where_the_lexer_recovers() -> None:
    # 10.0.2's full run: a string broken by LF is a lexical error, which drops the open
    # object and resynchronises at the next '{', so the C0 80 request on the next line is
    # a request of its own (json-lexer.c IN_RECOVERY), rightly read and answered.
    resumed = _conversation(
        b'{"execute":"qmp_capabilities","id":1}\n',
        b'{"execute":"query-version","id":"MUST-NOT-RUN\n',
        b'{"\xc0\x80execute":"query-version","id":"MUST-NOT-RUN-0"}\n',
        answers=(f"{HIDDEN}0",),
    )
    assert deviation.modified_utf8_ids(resumed, HIDDEN) == [f"{HIDDEN}0"]
    # Recovery skips what isn't structural: a value begun there is no request.
    skipped = _conversation(
        b'{"id":"x\x01 "execute":"query-version","id":"MUST-NOT-RUN-0\xc0\x80"}\n',
        answers=(f"{HIDDEN}0\0",),
    )
    assert deviation.modified_utf8_ids(skipped, HIDDEN) == []
