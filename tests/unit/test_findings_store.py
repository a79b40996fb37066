"""Findings from failed tests: reproducers built from transcripts, dedup, the directory."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest

from conformance.findings.record import EVIDENCE_ATTR, Evidence, Finding, findings_from
from conformance.findings.reproducer import Reproducer
from conformance.findings.store import FindingStore
from conformance.machine.exits import classify_exit
from conformance.machine.harness import PROBE_ID
from conformance.machine.instance import QemuGone
from conformance.oracle.failure import Failure, FindingKind, qapi, spec
from conformance.qmp.message import parse_message
from conformance.qmp.transcript import Transcript

TRANSCRIPTS = Path(__file__).parent / "transcripts"
WORKDIR = "/tmp/qmpc-run-x1/qemu-x86_64-abc"
ARGV = ("/usr/bin/qemu-system-x86_64", "-nodefaults", "-machine", "q35", "-chardev", "x")
BLOB = "@reproduce_failure('6.155.2', b'AXicY2BgAAAABAAB')"


def _conversation(*exchanges: tuple[object, object]) -> Transcript:
    """A transcript of (sent, reply) pairs; a reply of None means none came."""
    t = Transcript(meta={"argv": list(ARGV), "profile": "q35", "binary": ARGV[0]})
    for sent, reply in exchanges:
        t.record_send(json.dumps(sent).encode(), sent)
        if reply is not None:
            t.record_recv(parse_message(json.dumps(reply).encode() + b"\r\n"))
    return t


def _evidence(t: Transcript, stderr: str = "") -> Evidence:
    return Evidence(t, WORKDIR, ARGV, "q35", ("-m", "64"), stderr, ARGV[0])


def _with(exc: BaseException, t: Transcript) -> BaseException:
    setattr(exc, EVIDENCE_ATTR, _evidence(t))
    return exc


NEGOTIATE = ({"execute": "qmp_capabilities", "id": 1}, {"return": {}, "id": 1})
PROBE = ({"execute": "query-version", "id": 9}, {"return": {"qemu": {}}, "id": 9})


def _doc_failure(command: str = "block_resize") -> Failure:
    return Failure(
        "doc.error-condition",
        qapi("Commands"),
        "documented DeviceNotFound; QEMU replied GenericError",
        kind=FindingKind.DOC,
        command=command,
    )


def test_failure_reproducer_ends_at_the_command_not_the_probe_after_it() -> None:
    t = _conversation(
        NEGOTIATE,
        (
            {"execute": "block_resize", "arguments": {"device": "x", "size": 0}, "id": 2},
            {"error": {"class": "GenericError", "desc": "no"}, "id": 2},
        ),
        PROBE,
    )
    (finding,) = findings_from(_with(_doc_failure(), t), "t.py::test[block_resize-1]")
    rep = finding.reproducer
    assert rep is not None
    assert len(rep.messages) == 2  # the probe after the trigger is dropped
    assert json.loads(rep.messages[rep.expected.trigger])["execute"] == "block_resize"
    assert rep.expected.end == "reply"
    assert rep.expected.reply == "error:GenericError"
    assert rep.argv[0] == "$QEMU"
    assert rep.argv[1:] == ARGV[1:]
    assert rep.extra_args == ("-m", "64")
    assert rep.profile == "q35"
    assert finding.key == "doc-mismatch | block_resize | doc.error-condition $"
    assert finding.title.startswith("doc-mismatch: block_resize: documented DeviceNotFound")


def test_workdir_in_messages_is_abstracted() -> None:
    t = _conversation(
        NEGOTIATE,
        (
            {"execute": "pmemsave", "arguments": {"filename": f"{WORKDIR}/mem", "val": 0}},
            {"return": {}},
        ),
    )
    failure = Failure("x", spec("s"), "m", kind=FindingKind.BEHAVIOUR, command="pmemsave")
    (finding,) = findings_from(_with(failure, t), "t")
    assert finding.reproducer is not None
    assert b"$WORKDIR/mem" in finding.reproducer.messages[1]
    assert WORKDIR.encode() not in finding.reproducer.messages[1]


def test_schema_violation_expects_the_violation_at_its_path() -> None:
    t = _conversation(
        NEGOTIATE, ({"execute": "query-block", "id": "q"}, {"return": [{"x": 1}], "id": "q"})
    )
    failure = Failure(
        "schema.reply",
        qapi("s"),
        "m",
        kind=FindingKind.SCHEMA,
        path="$.return[0]",
        command="query-block",
    )
    (finding,) = findings_from(_with(failure, t), "t")
    assert finding.reproducer is not None
    assert finding.reproducer.expected.reply == "return"
    assert finding.reproducer.expected.violation == "$.return[0]"


@pytest.mark.parametrize(("check", "rejudged"), [("ids.echo", True), ("pipelining.order", False)])
def test_a_protocol_violation_expects_its_check_to_fail_again(check: str, rejudged: bool) -> None:
    # A conversation finding: the probe's reply kind says nothing about it, so replay
    # judges the check again where it can (conformance.findings.rejudge).
    t = _conversation(NEGOTIATE, PROBE)
    failure = Failure(check, spec("s"), "m", kind=FindingKind.PROTOCOL, path="$.id")
    (finding,) = findings_from(_with(failure, t), "t")
    assert finding.reproducer is not None
    expected = finding.reproducer.expected
    assert expected.trigger == 1
    assert expected.check == (check if rejudged else None)
    assert (expected.reply is None) == rejudged


def test_reply_is_paired_by_id_not_by_position() -> None:
    # Replies come in issue order; an event and another id's reply come first here.
    t = _conversation(NEGOTIATE)
    t.record_send(b'{"execute":"query-status","id":"a"}', {"execute": "query-status", "id": "a"})
    t.record_send(b'{"execute":"stop","id":"b"}', {"execute": "stop", "id": "b"})
    for reply in (
        b'{"event":"STOP","timestamp":{"seconds":1,"microseconds":2}}',
        b'{"return":{"status":"running"},"id":"a"}',
        b'{"error":{"class":"GenericError","desc":"d"},"id":"b"}',
    ):
        t.record_recv(parse_message(reply + b"\r\n"))
    failure = Failure("x", spec("s"), "m", kind=FindingKind.BEHAVIOUR, command="stop")
    (finding,) = findings_from(_with(failure, t), "t")
    assert finding.reproducer is not None
    assert finding.reproducer.expected.reply == "error:GenericError"


def test_recorded_transcript_trigger_is_the_last_message_of_the_command() -> None:
    t = Transcript.load(TRANSCRIPTS / "qemu72-session.jsonl")
    failure = Failure("x", spec("s"), "m", kind=FindingKind.BEHAVIOUR, command="blockdev-open-tray")
    (finding,) = findings_from(_with(failure, t), "t")
    rep = finding.reproducer
    assert rep is not None
    trigger = json.loads(rep.messages[rep.expected.trigger])
    assert trigger == {"execute": "blockdev-open-tray", "arguments": {"id": "cd0"}, "id": "open"}
    assert rep.expected.trigger == len(rep.messages) - 1
    assert rep.expected.reply == "return"


def test_a_glib_assertion_is_titled_by_its_message_not_its_stars() -> None:
    t = _conversation(NEGOTIATE, ({"execute": "qom-list-properties", "arguments": {}}, None))
    stderr = "**\nERROR:../../target/s390x/cpu_models.c:754:s390_set_qemu_cpu_model: failed\n"
    (finding,) = findings_from(QemuGone(classify_exit(-signal.SIGABRT, stderr), t), "t")
    assert finding.title.startswith("crash: qom-list-properties: ERROR:../../target/s390x/")


def test_crash_expects_the_exit_and_names_the_command_in_flight() -> None:
    t = _conversation(NEGOTIATE, ({"execute": "calc-dirty-rate", "arguments": {}}, None))
    info = classify_exit(-signal.SIGSEGV, "")
    gone = QemuGone(info, t)
    (finding,) = findings_from(gone, "t", f"Falsifying example\n{BLOB} as a decorator", "ci")
    # Nothing but the signal: the arguments' shape tells it from another segfault.
    assert finding.key == "crash | calc-dirty-rate | SIGSEGV args={}"
    rep = finding.reproducer
    assert rep is not None
    assert rep.expected.end == "exit"
    assert rep.expected.exit_kind == "crash"
    assert rep.expected.detail == "SIGSEGV"
    assert rep.expected.trigger == 1
    assert rep.source == {"test": "t", "hypothesis_profile": "ci", "blob": BLOB}
    # Without evidence the transcript's meta still gives the command line.
    assert rep.argv == ("$QEMU", *ARGV[1:])


def test_hang_expects_a_hang() -> None:
    t = _conversation(NEGOTIATE, ({"execute": "migrate", "arguments": {"uri": "x"}}, None))
    gone = _with(QemuGone(classify_exit(-signal.SIGKILL, "", hung=True), t), t)
    (finding,) = findings_from(gone, "t")
    assert finding.kind is FindingKind.HANG
    assert finding.reproducer is not None
    assert finding.reproducer.expected.end == "hang"


def test_failure_without_evidence_has_no_reproducer() -> None:
    (finding,) = findings_from(_doc_failure(), "t")
    assert finding.reproducer is None
    assert finding.kind is FindingKind.DOC


def test_exception_groups_give_one_finding_per_signature() -> None:
    t = _conversation(NEGOTIATE, ({"execute": "block_resize"}, {"return": {}}))
    group = BaseExceptionGroup(
        "flaky",
        [
            _with(_doc_failure(), t),
            _with(_doc_failure(), t),
            _with(_doc_failure("eject"), t),
            ValueError("not a finding"),
        ],
    )
    found = findings_from(group, "t")
    assert [f.signature.command for f in found] == ["block_resize", "eject"]


def test_other_exceptions_are_not_findings() -> None:
    assert findings_from(RuntimeError("harness bug"), "t") == []


def test_finding_json_round_trip() -> None:
    t = _conversation(NEGOTIATE, ({"execute": "block_resize"}, {"return": {}}))
    (finding,) = findings_from(_with(_doc_failure(), t), "t", BLOB, "ci")
    again = Finding.from_json(json.loads(json.dumps(finding.to_json())))
    assert again == finding
    assert Transcript.from_jsonl(again.transcript).records == t.records


# -- the store ---------------------------------------------------------------------------


def _finding(command: str, test: str) -> Finding:
    t = _conversation(NEGOTIATE, ({"execute": command}, {"return": {}}))
    (finding,) = findings_from(_with(_doc_failure(command), t), test)
    return finding


def test_store_dedupes_by_signature_and_counts_occurrences() -> None:
    known_key = _finding("eject", "t").key
    store = FindingStore(None, known={known_key})
    store.add(_finding("block_resize", "t1"))
    store.add(_finding("block_resize", "t2"))
    store.add(_finding("eject", "t3"))
    assert len(store.entries) == 2
    first = store.entries[0]
    assert first.occurrences == 2
    assert first.tests == ["t1", "t2"]
    assert [e.finding.signature.command for e in store.new] == ["block_resize"]
    assert [e.finding.signature.command for e in store.known_entries] == ["eject"]


def test_store_writes_finding_directories_and_an_index(tmp_path: Path) -> None:
    out = tmp_path / "findings"
    stale = out / "doc-mismatch-fixed-since-0000000000"
    stale.mkdir(parents=True)
    (stale / "finding.json").write_text("{}")
    mine = out / "notes"  # not a finding directory: left alone
    mine.mkdir()
    store = FindingStore(out, qemu={"version": "7.2.22"})
    entry = store.add(_finding("block_resize", "t1"))
    store.add(_finding("block_resize", "t2"))
    store.write()
    d = out / entry.slug
    for name in (
        "reproducer.jsonl",
        "command-line.txt",
        "reproduce.sh",
        "hypothesis.txt",
        "finding.json",
        "transcript.jsonl",
        "qemu-stderr.txt",
    ):
        assert (d / name).is_file(), name
    assert not (d / "reproducer.full.jsonl").exists()
    meta = json.loads((d / "finding.json").read_text())
    assert meta["occurrences"] == 2
    assert meta["status"] == "new"
    assert meta["signature"] == entry.finding.key
    assert meta["qemu"] == {"version": "7.2.22"}  # travels with a directory copied out
    assert Reproducer.load(d) == entry.finding.reproducer
    index = json.loads((out / "index.json").read_text())
    assert [f["slug"] for f in index["findings"]] == [entry.slug]
    assert entry.slug in (out / "index.md").read_text()
    assert not stale.exists()
    assert mine.is_dir()


def test_minimised_reproducer_is_written_and_the_full_one_kept(tmp_path: Path) -> None:
    store = FindingStore(tmp_path)
    entry = store.add(_finding("block_resize", "t"))
    calls: list[float] = []

    def shrink(rep: Reproducer, binary: str, *, workdir_base: str, budget_s: float) -> Reproducer:
        calls.append(budget_s)
        return rep.with_messages(rep.messages[-1:], 0)

    known = _finding("eject", "t")
    store.known = {known.key}
    store.add(known)
    store.minimise(shrink, workdir_base=str(tmp_path / "w"), budget_s=30)
    store.write()
    assert len(calls) == 1  # the new finding only
    assert 0 < calls[0] <= 30
    assert len(Reproducer.load(tmp_path / entry.slug).messages) == 1
    full = Reproducer.from_jsonl((tmp_path / entry.slug / "reproducer.full.jsonl").read_text())
    assert full == entry.finding.reproducer


@pytest.mark.parametrize(
    ("budget", "note"), [(0.0, "budget ran out"), (10.0, "minimisation failed: OSError: boom")]
)
def test_minimiser_trouble_keeps_the_full_reproducer(budget: float, note: str) -> None:
    store = FindingStore(None)
    entry = store.add(_finding("block_resize", "t"))

    def broken(rep: Reproducer, binary: str, *, workdir_base: str, budget_s: float) -> Reproducer:
        raise OSError("boom")

    store.minimise(broken, workdir_base="unused", budget_s=budget)
    assert entry.minimised is None
    assert note in entry.minimise_note


def _hang_after(*commands: str) -> BaseException:
    records: list[tuple[object, object]] = [
        ({"execute": "qmp_capabilities", "id": 1}, {"return": {}, "id": 1})
    ]
    records += [
        ({"execute": c, "id": i}, {"return": {}, "id": i}) for i, c in enumerate(commands, 2)
    ]
    t = _conversation(*records)
    info = classify_exit(-signal.SIGKILL, "", hung=True)
    return _with(QemuGone(info, t), t)


def test_a_hang_noticed_by_a_probe_is_signed_with_the_command_before_it() -> None:
    (finding,) = findings_from(_hang_after("announce-self", "query-version"), "t::x")
    assert finding.key == "hang | announce-self | no reply before the deadline"
    assert finding.reproducer is not None
    # The reproducer still ends at the probe: that is where the hang shows.
    assert json.loads(finding.reproducer.messages[-1])["execute"] == "query-version"


def _abort_after(*sends: tuple[str, object]) -> BaseException:
    records: list[tuple[object, object]] = [
        ({"execute": "qmp_capabilities", "id": 1}, {"return": {}, "id": 1})
    ]
    records += [({"execute": c, "id": i}, {"return": {}, "id": i}) for c, i in sends]
    t = _conversation(*records)
    info = classify_exit(-signal.SIGABRT, "qemu: x.c:1: f: Assertion `p' failed.\n")
    return _with(QemuGone(info, t), t)


def test_a_query_that_crashes_qemu_is_the_culprit_after_a_change() -> None:
    # A set-up's object-add, then qom-list-properties of a type that aborts.
    exc = _abort_after(("object-add", 2), ("qom-list-properties", 0))
    (finding,) = findings_from(exc, "t::x")
    assert finding.key.startswith("crash | qom-list-properties | "), finding.key
    # Noticed at the liveness probe, the crash is the command's before it.
    exc = _abort_after(("object-add", 2), ("query-version", PROBE_ID))
    (finding,) = findings_from(exc, "t::x")
    assert finding.key.startswith("crash | object-add | "), finding.key


def test_a_query_that_hangs_on_its_own_keeps_its_name() -> None:
    (finding,) = findings_from(_hang_after("query-status", "query-version"), "t::x")
    assert finding.key == "hang | query-version | no reply before the deadline"


def test_a_protocol_finding_carries_the_case_the_command_and_the_facets() -> None:
    # What the hidden-command check raises on the reply to a command nested past the
    # parser's limit: the case comes from the test's parameter, the command from the
    # request it was judged at, the id class from the check.
    t = _conversation(NEGOTIATE, PROBE)
    failure = Failure(
        "malformed.executed",
        spec("s"),
        "m",
        kind=FindingKind.PROTOCOL,
        path="$.id",
        facets={"id": "string"},
    )
    node = "conformance/suite/test_protocol.py::test_malformed_input_at_limits"
    (one,) = findings_from(_with(failure, t), f"{node}[nested-one-past-limit]")
    assert one.key == (
        "protocol-violation | query-version | malformed.executed $.id "
        "case=nested-one-past-limit id=string"
    )
    (two,) = findings_from(_with(failure, t), f"{node}[overlong-nul-in-string]")
    assert two.key != one.key
    # A test parametrised by the command adds no case: the command is in the key.
    oob = Failure("oob.allowed", spec("s"), "m", kind=FindingKind.PROTOCOL, command="query-version")
    (three,) = findings_from(_with(oob, t), "x::test_exec_oob[query-version]")
    assert three.key == "protocol-violation | query-version | oob.allowed $"
    # Other kinds are signed by their command and paths alone.
    doc = _doc_failure()
    (four,) = findings_from(_with(doc, t), "x::test_doc_error[block_resize-0]")
    assert "case=" not in four.key


def test_a_signal_only_crash_is_signed_with_its_arguments_shape() -> None:
    actions = [{"type": "block-dirty-bitmap-add", "data": {"node": "n", "name": "b"}}]
    t = _conversation(
        NEGOTIATE, ({"execute": "transaction", "arguments": {"actions": actions}}, None)
    )
    (finding,) = findings_from(QemuGone(classify_exit(-signal.SIGSEGV, ""), t), "t")
    assert finding.key == "crash | transaction | SIGSEGV args=actions[block-dirty-bitmap-add]"
    # The reproducer's expected exit stays the signal: replay compares the exit itself.
    assert finding.reproducer is not None
    assert finding.reproducer.expected.detail == "SIGSEGV"


def test_a_protocol_finding_about_an_event_names_the_command_in_flight_not_the_probe() -> None:
    added = (
        {"execute": "blockdev-add", "arguments": {"driver": "null-co"}, "id": 2},
        {"return": {}, "id": 2},
    )
    t = _conversation(NEGOTIATE, added, PROBE)
    failure = Failure("events.shape", spec("s"), "m", kind=FindingKind.PROTOCOL, path="$.timestamp")
    (finding,) = findings_from(_with(failure, t), "x::test_valid_arguments[blockdev-add]")
    # The test's parameter is the command: no case.
    assert finding.key == "protocol-violation | blockdev-add | events.shape $.timestamp"
