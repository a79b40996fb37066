"""The reproducer file format, its one-liner, and how a replay's outcome is judged."""

from __future__ import annotations

import dataclasses
import json
import signal
import subprocess
from pathlib import Path

import pytest

from conformance.findings.replay import Trace, expected_reply, judge
from conformance.findings.reproducer import Outcome, Reproducer, ReproducerError, one_liner
from conformance.machine.exits import classify_exit
from conformance.qmp.message import Message, parse_message
from conformance.spec import Schema, load_schema_file
from tests.unit.reproducers import CAPS, reproducer

PMEMSAVE = (
    b'{"execute":"pmemsave","arguments":{"val":0,"size":-1,"filename":"$WORKDIR/mem"},"id":1}'
)


# -- the file format ---------------------------------------------------------------------


def test_round_trip_keeps_every_field_and_every_byte() -> None:
    binary = bytes(range(256))  # not UTF-8: goes as base64
    rep = reproducer(CAPS, b"\xff\xfe{garbage", binary, PMEMSAVE)
    again = Reproducer.from_jsonl(rep.to_jsonl())
    assert again == rep
    assert again.messages[2] == binary
    lines = rep.to_jsonl().splitlines()
    assert json.loads(lines[0])["qmp-reproducer"] == 1
    assert "send_b64" in json.loads(lines[3])


def test_the_workdir_length_is_optional_and_kept() -> None:
    old = reproducer(CAPS, PMEMSAVE)
    assert "workdir_length" not in old.to_jsonl()  # reproducers of before load as they were
    assert Reproducer.from_jsonl(old.to_jsonl()).workdir_length is None
    padded = dataclasses.replace(old, workdir_length=43)
    assert Reproducer.from_jsonl(padded.to_jsonl()) == padded
    # The one-liner pads its workdir only when the length is known.
    assert "R=" not in one_liner(old)
    assert "while [ $((43 - ${#W})) -gt 102 ]" in one_liner(padded)


def test_save_writes_the_finding_directory_and_load_reads_it_back(tmp_path: Path) -> None:
    rep = reproducer(CAPS, PMEMSAVE)
    d = rep.save(tmp_path / "f", "qemu-system-x86_64")
    assert sorted(p.name for p in d.iterdir()) == [
        "command-line.txt",
        "hypothesis.txt",
        "reproduce.sh",
        "reproducer.jsonl",
    ]
    assert Reproducer.load(d) == rep
    assert Reproducer.load(d / "reproducer.jsonl") == rep
    assert "@reproduce_failure" in (d / "hypothesis.txt").read_text()
    assert "$WORKDIR" not in (d / "reproduce.sh").read_text()  # the one-liner's is "$W"
    command_line = (d / "command-line.txt").read_text().split()
    # The harness's socket-fd monitor means nothing outside its run: stdio instead, with
    # the chardev id the harness gives its monitor (what replay's QEMU has).
    assert command_line[-4:] == ["-chardev", "stdio,id=qmp", "-mon", "chardev=qmp,mode=control"]
    assert not any("fd=" in arg for arg in command_line)


def test_messages_for_puts_the_workdir_in() -> None:
    rep = reproducer(CAPS, PMEMSAVE)
    assert rep.messages_for("/w/x")[1].count(b'"/w/x/mem"') == 1


def test_with_messages_repoints_the_trigger() -> None:
    rep = reproducer(CAPS, b'{"execute":"query-status"}', PMEMSAVE)
    smaller = rep.with_messages([CAPS, PMEMSAVE], 1)
    assert smaller.expected.trigger == 1
    assert smaller.expected.detail == rep.expected.detail
    assert smaller.messages == (CAPS, PMEMSAVE)


HEADER = json.loads(reproducer(CAPS, PMEMSAVE).to_jsonl().splitlines()[0])


def _header(**changes: object) -> str:
    return json.dumps({**HEADER, **changes})


SEND = '{"send":"{}"}\n{"send":"{}"}'


BAD_FILES = [
    ("", "empty reproducer"),
    ("not json\n", "line 1: not JSON"),
    ("[1]\n", "line 1: not a JSON object"),
    ('{"qmp-reproducer":2}\n', "not a qmp-reproducer version 1 header"),
    (_header(expected=None) + "\n" + SEND, "expected must be an object"),
    (_header(expected={"end": "boom", "trigger": 0}) + "\n" + SEND, "end in"),
    (_header(expected={"end": "exit", "trigger": -1}) + "\n" + SEND, "message index"),
    (_header(expected={"end": "exit", "trigger": True}) + "\n" + SEND, "message index"),
    (_header(expected={"end": "exit", "trigger": 3}) + "\n" + SEND, "past the 2 messages"),
    (_header(expected={"end": "exit", "trigger": 0, "detail": 5}) + "\n" + SEND, "string"),
    (_header(kind="meltdown") + "\n" + SEND, "unknown finding kind"),
    (_header(profile="pc-i440fx") + "\n" + SEND, "unknown machine profile"),
    (_header(argv="qemu") + "\n" + SEND, "argv must be a list of strings"),
    (_header(workdir_length=0) + "\n" + SEND, "workdir_length must be a positive integer"),
    (_header(workdir_length="40") + "\n" + SEND, "workdir_length must be a positive integer"),
    (_header() + "\n" + '{"send_b64":"%%%"}', "line 2: send_b64 is not base64"),
    (_header() + "\n" + '{"recv":"x"}', "line 2: needs a send or send_b64"),
    (_header() + "\n" + '{"send":"\\ud800"}', "line 2: send is not valid Unicode"),
    (_header() + "\n" + "[" * 100_000, "line 2: JSON nested too deeply"),
]


@pytest.mark.parametrize(("text", "reason"), BAD_FILES, ids=[reason for _, reason in BAD_FILES])
def test_bad_files_give_one_line_reproducer_errors(text: str, reason: str) -> None:
    with pytest.raises(ReproducerError) as caught:
        Reproducer.from_jsonl(text)
    message = str(caught.value)
    assert reason in message
    assert "\n" not in message


def test_unreadable_files_name_the_file(tmp_path: Path) -> None:
    (tmp_path / "binary.jsonl").write_bytes(b"\xff\xfe\x00junk")
    for path in (tmp_path / "missing.jsonl", tmp_path / "binary.jsonl", tmp_path):
        with pytest.raises(ReproducerError, match="cannot read") as caught:
            Reproducer.load(path)
        assert "\n" not in str(caught.value)


# -- the one-liner ------------------------------------------------------------------------


def _printf_part(line: str) -> str:
    """The `printf '…'` command of a one-liner (between `cd "$W" && ` and ` | timeout`)."""
    start = line.index('cd "$W" && ') + len('cd "$W" && ')
    return line[start : line.rindex(" | timeout")]


NASTY = [
    b"-starts like an option",
    b"%d %s %% \\n \\ \\\\ '' ' \"quoted\"",
    bytes(range(256)),
    b"\x00\x01\x7f\x80\xff trailing",
    "non-ASCII \u00e9\u4e2d\U0001f600".encode(),
]


@pytest.mark.parametrize(
    "payload", NASTY, ids=["leading-dash", "format", "all-bytes", "controls", "utf8"]
)
def test_printf_prints_exactly_the_messages(payload: bytes) -> None:
    rep = reproducer(payload, CAPS, PMEMSAVE)
    line = one_liner(rep, "qemu-system-x86_64")
    # A workdir path a printf format would misread, to show it goes in as an argument.
    workdir = "/w/%d \\n '"
    done = subprocess.run(
        ["sh", "-c", _printf_part(line)], capture_output=True, check=False, env={"W": workdir}
    )
    assert done.returncode == 0, done.stderr
    # Each message is one line; the "\n" inside the all-bytes payload ends one too.
    want = b"".join(m.rstrip(b"\r\n") + b"\n" for m in rep.messages_for(workdir))
    assert done.stdout == want


def test_one_liner_survives_a_survivor_with_quit_and_has_the_harness_monitor_on_stdio() -> None:
    rep = reproducer(
        CAPS, b'{"execute":"query-status"}', expected=Outcome("reply", 1, reply="return")
    )
    line = one_liner(rep, "qemu-system-x86_64")
    printed = subprocess.run(["sh", "-c", _printf_part(line)], capture_output=True, check=True)
    assert printed.stdout.endswith(b'{"execute":"quit"}\n')
    assert "-qmp" not in line
    assert "-chardev stdio,id=qmp -mon chardev=qmp,mode=control;" in line
    assert "fd=" not in line
    assert "-machine none" in line


def test_one_liner_leaves_out_the_trace_recording() -> None:
    """Its events file was in the recorded workdir: a one-liner naming it would fail
    to start (`-trace events=FILE`: No such file or directory)."""
    rep = dataclasses.replace(
        reproducer(CAPS),
        argv=(*reproducer(CAPS).argv, "-trace", "events=qmpc-trace-events", "-D", "qmpc-trace.log"),
    )
    line = one_liner(rep, "qemu-system-x86_64")
    assert "-trace" not in line
    assert "qmpc-trace" not in line
    assert "-machine none" in line


def test_a_reproducer_without_a_command_line_still_saves(tmp_path: Path) -> None:
    """An argv of () (none recorded) gives the bare binary with its stdio monitor."""
    rep = dataclasses.replace(reproducer(CAPS), argv=())
    rep.save(tmp_path, "qemu-system-x86_64")
    assert (tmp_path / "command-line.txt").read_text() == (
        "qemu-system-x86_64 -chardev stdio,id=qmp -mon chardev=qmp,mode=control\n"
    )


# -- judging an outcome ---------------------------------------------------------------------


def _msg(value: object) -> Message:
    return parse_message(json.dumps(value).encode() + b"\r\n")


def _no_schema() -> Schema:
    raise AssertionError("the schema is only asked about a violation")


def test_expected_reply_follows_the_envelope() -> None:
    assert expected_reply(b'{"execute":"x","id":[1]}') == (True, [1])
    assert expected_reply(b'{"exec-oob":"x"}') == (False, None)
    assert expected_reply(b'{"execute":5,"id":1}') is None  # QEMU's error reply: unpaired
    assert expected_reply(b'{"execute":"a"}{"execute":"b"}') is None
    assert expected_reply(b"\xff") is None


def test_an_exit_must_match_kind_and_detail_and_come_no_earlier_than_the_trigger() -> None:
    rep = reproducer(CAPS, PMEMSAVE)
    segv = classify_exit(-signal.SIGSEGV, "")
    assert judge(rep, Trace(ended=segv, ended_at=1), _no_schema).reproduced
    assert judge(rep, Trace(ended=segv, ended_at=2), _no_schema).reproduced  # after it
    assert not judge(rep, Trace(ended=segv, ended_at=0), _no_schema).reproduced
    abort = classify_exit(-signal.SIGABRT, "x.c:1: f: Assertion `0' failed.\n")
    seen = judge(rep, Trace(ended=abort, ended_at=1), _no_schema)
    assert not seen.reproduced
    assert seen.seen.startswith("abort: x.c:N: f: Assertion")
    alive = Trace(replies={1: _msg({"return": {}, "id": 1})})
    assert judge(rep, alive, _no_schema).seen == "QEMU still running; the trigger got return"


def test_an_exit_noticed_at_a_batch_probe_may_come_from_any_example_of_the_batch() -> None:
    # The compiled fuzz engine pipelines a batch before its probe; QEMU 7.2 aborted on a
    # batch's chardev-add stdio, noticed at the probe, and a one-at-a-time replay met
    # the abort at the chardev-add itself.
    probe = b'{"execute":"query-version","id":"qmpc-probe"}'
    rep = reproducer(CAPS, PMEMSAVE, probe, PMEMSAVE, PMEMSAVE, probe)
    segv = classify_exit(-signal.SIGSEGV, "")
    assert judge(rep, Trace(ended=segv, ended_at=3), _no_schema).reproduced
    assert judge(rep, Trace(ended=segv, ended_at=5), _no_schema).reproduced
    assert not judge(rep, Trace(ended=segv, ended_at=2), _no_schema).reproduced  # earlier batch
    assert not judge(rep, Trace(ended=segv, ended_at=1), _no_schema).reproduced
    alone = reproducer(CAPS, PMEMSAVE, PMEMSAVE)  # no probe: the trigger alone
    assert not judge(alone, Trace(ended=segv, ended_at=1), _no_schema).reproduced


def test_a_hang_needs_no_reply_to_the_trigger() -> None:
    rep = reproducer(CAPS, PMEMSAVE, expected=Outcome("hang", 1))
    hung = classify_exit(-signal.SIGKILL, "", hung=True)
    assert judge(rep, Trace(ended=hung, ended_at=1), _no_schema).reproduced
    answered = Trace(ended=hung, ended_at=2, replies={1: _msg({"return": {}})})
    assert not judge(rep, answered, _no_schema).reproduced


def test_a_reply_is_compared_by_token_and_an_unpaired_reply_answers_a_raw_trigger() -> None:
    rep = reproducer(CAPS, b"{garbage", expected=Outcome("reply", 1, reply="error:GenericError"))
    error = _msg({"error": {"class": "GenericError", "desc": "JSON parse error"}})
    assert judge(rep, Trace(unpaired=[error]), _no_schema).reproduced
    assert not judge(rep, Trace(), _no_schema).reproduced
    quiet = reproducer(CAPS, b"{garbage", expected=Outcome("reply", 1, reply="none"))
    assert judge(quiet, Trace(), _no_schema).reproduced
    crashed = Trace(ended=classify_exit(-signal.SIGSEGV, ""), ended_at=2)
    assert not judge(quiet, crashed, _no_schema).reproduced


def test_a_schema_violation_must_still_be_at_its_path(schema_72_x86: Path) -> None:
    schema = load_schema_file(str(schema_72_x86))
    status = b'{"execute":"query-status","id":1}'
    bad = _msg({"return": {"running": "yes", "singlestep": False, "status": "paused"}, "id": 1})
    trace = Trace(replies={1: bad})
    for path, reproduced in (("$.return.running", True), ("$.return.status", False)):
        rep = reproducer(CAPS, status, expected=Outcome("reply", 1, reply="return", violation=path))
        assert judge(rep, trace, lambda: schema).reproduced is reproduced
    event = _msg(
        {"event": "STOP", "data": {"surprise": 1}, "timestamp": {"seconds": 1, "microseconds": 2}}
    )
    rep = reproducer(
        CAPS, status, expected=Outcome("reply", 1, reply="return", violation="$.data.surprise")
    )
    good = _msg({"return": {"running": False, "singlestep": False, "status": "paused"}, "id": 1})
    with_event = Trace(replies={1: good}, after_trigger=[event])
    assert judge(rep, with_event, lambda: schema).reproduced
