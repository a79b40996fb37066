"""The job state machine checks, on event streams shaped like QEMU's, and one real stream."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from conformance.oracle.failure import Failure, FindingKind
from conformance.oracle.jobs import (
    check_job_ended,
    check_job_events,
    check_verb_refused,
    transitions,
    verbs,
)
from conformance.qmp.message import Kind, Message, parse_message

V5_2 = (5, 2, 0)
V7_2 = (7, 2, 0)
V8_2 = (8, 2, 0)
V9_2 = (9, 2, 0)

# Recorded from Debian 12's qemu-system-x86_64 7.2 (1:7.2+dfsg-7+deb12u18+b3): two null-co
# nodes, then blockdev-backup {"job-id": "j1", "sync": "full"} with auto-dismiss.
REAL_BACKUP_72 = [
    b'{"timestamp": {"seconds": 1795252764, "microseconds": 993716}, "event": "JOB_STATUS_CHANGE", "data": {"status": "created", "id": "j1"}}\r\n',
    b'{"timestamp": {"seconds": 1795252764, "microseconds": 993820}, "event": "JOB_STATUS_CHANGE", "data": {"status": "running", "id": "j1"}}\r\n',
    b'{"timestamp": {"seconds": 1795252764, "microseconds": 993848}, "event": "JOB_STATUS_CHANGE", "data": {"status": "paused", "id": "j1"}}\r\n',
    b'{"timestamp": {"seconds": 1795252764, "microseconds": 993886}, "event": "JOB_STATUS_CHANGE", "data": {"status": "running", "id": "j1"}}\r\n',
    b'{"timestamp": {"seconds": 1795252764, "microseconds": 993982}, "event": "JOB_STATUS_CHANGE", "data": {"status": "waiting", "id": "j1"}}\r\n',
    b'{"timestamp": {"seconds": 1795252764, "microseconds": 994005}, "event": "JOB_STATUS_CHANGE", "data": {"status": "pending", "id": "j1"}}\r\n',
    b'{"timestamp": {"seconds": 1795252764, "microseconds": 994087}, "event": "BLOCK_JOB_COMPLETED", "data": {"device": "j1", "len": 1048576, "offset": 1048576, "speed": 0, "type": "backup"}}\r\n',
    b'{"timestamp": {"seconds": 1795252764, "microseconds": 994116}, "event": "JOB_STATUS_CHANGE", "data": {"status": "concluded", "id": "j1"}}\r\n',
    b'{"timestamp": {"seconds": 1795252764, "microseconds": 994138}, "event": "JOB_STATUS_CHANGE", "data": {"status": "null", "id": "j1"}}\r\n',
]


def _clock() -> Iterator[int]:
    usec = 993716
    while True:
        yield usec
        usec += 97


def stream(*changes: tuple[str, str]) -> list[Message]:
    """JOB_STATUS_CHANGE events as QEMU writes them, for (job id, status) pairs in order."""
    clock = _clock()
    out = []
    for job, status in changes:
        ts = {"seconds": 1795252764, "microseconds": next(clock)}
        value = {
            "timestamp": ts,
            "event": "JOB_STATUS_CHANGE",
            "data": {"status": status, "id": job},
        }
        out.append(parse_message(json.dumps(value).encode() + b"\r\n"))
    return out


def job(name: str, *statuses: str) -> list[Message]:
    return stream(*((name, s) for s in statuses))


MIRROR = ("created", "running", "ready", "waiting", "pending", "concluded", "null")
OK = parse_message(b'{"return": {}, "id": 7}\r\n')
REFUSED = parse_message(
    b'{"id": 7, "error": {"class": "GenericError", "desc": '
    b"\"Job 'j1' in state 'running' cannot accept command verb 'complete'\"}}\r\n"
)


def failure(excinfo: pytest.ExceptionInfo[Failure], check: str) -> Failure:
    err = excinfo.value
    assert err.check == check
    assert err.kind is FindingKind.BEHAVIOUR
    assert err.citation.source == "qapi"
    assert err.citation.quote
    return err


# -- the tables ------------------------------------------------------------------------


def test_transition_table_is_jobstt() -> None:
    table = transitions(V7_2)
    assert table["undefined"] == {"created"}
    assert table["created"] == {"running", "aborting", "null"}
    assert table["running"] == {"paused", "ready", "waiting", "aborting"}
    assert table["ready"] == {"standby", "waiting", "aborting"}
    assert table["standby"] == {"ready"}
    assert table["null"] == frozenset()
    assert transitions(V9_2) == table


def test_verb_table_by_version() -> None:
    assert verbs(V7_2)["standby"] == {"cancel", "pause", "resume", "set-speed", "complete"}
    assert "complete" not in verbs(V5_2)["standby"]
    assert verbs(V8_2)["created"] == {"cancel", "pause", "resume", "set-speed", "change"}
    assert verbs(V7_2)["pending"] == {"cancel", "finalize"}
    assert verbs(V7_2)["concluded"] == {"dismiss"}
    assert verbs(V7_2)["aborting"] == frozenset()


def test_versions_before_job_status_change_are_refused() -> None:
    with pytest.raises(ValueError, match=r"3\.0"):
        transitions((2, 12, 0))
    with pytest.raises(ValueError, match=r"3\.0"):
        verbs((2, 12, 0))


# -- transitions -------------------------------------------------------------------------


def test_mirror_lifecycle_passes_on_72() -> None:
    events = job("mirror0", *MIRROR)
    check_job_events(events, V7_2)
    check_job_ended(events, V7_2)


def test_mirror_pause_while_ready_passes() -> None:
    check_job_events(job("m", "created", "running", "ready", "standby", "ready", "aborting"), V7_2)


def test_real_backup_stream_passes() -> None:
    events = [parse_message(frame) for frame in REAL_BACKUP_72]
    check_job_events(events, V7_2)
    check_job_ended(events, V7_2)


@pytest.mark.parametrize("version", [V7_2, V8_2, V9_2])
def test_ready_back_to_running_fails(version: tuple[int, int, int]) -> None:
    # Only an unmerged out-of-tree patch ever allowed it; no release's JobSTT does.
    events = job("m", "created", "running", "ready", "running")
    with pytest.raises(Failure) as excinfo:
        check_job_events(events, version)
    err = failure(excinfo, "jobs.transition")
    assert "'ready' -> 'running'" in err.message
    assert "aborting, standby, waiting" in err.message


def test_stream_must_start_at_created() -> None:
    events = job("j1", "running", "waiting", "pending", "concluded", "null")
    with pytest.raises(Failure) as excinfo:
        check_job_events(events, V7_2)
    failure(excinfo, "jobs.start")
    check_job_events(events, V7_2, partial=True)


def test_partial_stream_still_judges_its_pairs() -> None:
    with pytest.raises(Failure) as excinfo:
        check_job_events(job("j1", "running", "concluded"), V7_2, partial=True)
    failure(excinfo, "jobs.transition")
    with pytest.raises(Failure) as excinfo:
        check_job_events(job("j1", "undefined", "created"), V7_2, partial=True)
    failure(excinfo, "jobs.transition")


def test_job_id_reused_after_null_starts_again() -> None:
    check_job_events(job("j1", "created", "null", "created", "running"), V7_2)
    with pytest.raises(Failure) as excinfo:
        check_job_events(job("j1", "created", "null", "running"), V7_2, partial=True)
    failure(excinfo, "jobs.start")


def test_status_repeated_fails() -> None:
    # aborting -> aborting is in JobSTT, but QEMU emits events only for a different status.
    with pytest.raises(Failure) as excinfo:
        check_job_events(job("j1", "created", "aborting", "aborting"), V7_2)
    failure(excinfo, "jobs.transition")


def test_unknown_status_fails() -> None:
    with pytest.raises(Failure) as excinfo:
        check_job_events(job("j1", "created", "sleeping"), V7_2)
    failure(excinfo, "jobs.transition")


def test_interleaved_jobs_are_judged_separately() -> None:
    # created -> created would be illegal for one job; here it's two jobs starting.
    check_job_events(
        stream(
            ("a", "created"),
            ("b", "created"),
            ("a", "running"),
            ("b", "running"),
            ("b", "waiting"),
            ("a", "ready"),
            ("b", "pending"),
            ("b", "concluded"),
            ("a", "aborting"),
            ("b", "null"),
            ("a", "concluded"),
            ("a", "null"),
        ),
        V7_2,
    )
    # running -> paused is legal, but "a" goes created -> paused.
    with pytest.raises(Failure) as excinfo:
        check_job_events(
            stream(("a", "created"), ("b", "created"), ("b", "running"), ("a", "paused")), V7_2
        )
    assert "'a'" in failure(excinfo, "jobs.transition").message


def test_other_messages_are_ignored() -> None:
    other = parse_message(
        b'{"timestamp": {"seconds": 1, "microseconds": 2}, "event": "BLOCK_JOB_READY", '
        b'"data": {"device": "m", "len": 0, "offset": 0, "speed": 0, "type": "mirror"}}\r\n'
    )
    events = job("m", "created", "running")
    check_job_events([other, events[0], OK, events[1]], V7_2)


def test_malformed_job_event_fails() -> None:
    bad = parse_message(
        b'{"timestamp": {"seconds": 1, "microseconds": 2}, "event": "JOB_STATUS_CHANGE", '
        b'"data": {"id": "j1"}}\r\n'
    )
    with pytest.raises(Failure) as excinfo:
        check_job_events([bad], V7_2)
    assert excinfo.value.check == "jobs.event"
    assert excinfo.value.kind is FindingKind.SCHEMA


# -- ends --------------------------------------------------------------------------------


def test_ending_at_running_fails() -> None:
    with pytest.raises(Failure) as excinfo:
        check_job_ended(job("j1", "created", "running"), V7_2)
    failure(excinfo, "jobs.end")
    with pytest.raises(Failure) as excinfo:
        check_job_ended(job("j1", "created", "null", "created", "running"), V7_2)
    failure(excinfo, "jobs.end")


def test_ending_at_concluded_passes() -> None:
    # auto-dismiss false: the job stays concluded until job-dismiss.
    check_job_ended(job("j1", "created", "running", "waiting", "pending", "concluded"), V7_2)


def test_each_job_must_end() -> None:
    events = stream(("a", "created"), ("b", "created"), ("a", "null"), ("b", "running"))
    with pytest.raises(Failure) as excinfo:
        check_job_ended(events, V7_2)
    assert "'b'" in failure(excinfo, "jobs.end").message


# -- verbs -------------------------------------------------------------------------------


def test_refused_verb_must_get_an_error() -> None:
    check_verb_refused("complete", "running", REFUSED, V7_2)
    with pytest.raises(Failure) as excinfo:
        check_verb_refused("complete", "running", OK, V7_2, command="job-complete")
    err = failure(excinfo, "jobs.verb")
    assert err.command == "job-complete"
    assert "ready, standby" in err.message


def test_allowed_verb_is_not_judged_here() -> None:
    check_verb_refused("complete", "ready", OK, V7_2)
    check_verb_refused("pause", "running", REFUSED, V7_2)  # e.g. "Job is already paused"


def test_complete_on_standby_depends_on_version() -> None:
    check_verb_refused("complete", "standby", OK, V7_2)
    with pytest.raises(Failure) as excinfo:
        check_verb_refused("complete", "standby", OK, V5_2)
    failure(excinfo, "jobs.verb")


def test_change_verb_from_82() -> None:
    with pytest.raises(Failure) as excinfo:
        check_verb_refused("change", "concluded", OK, V8_2)
    failure(excinfo, "jobs.verb")
    check_verb_refused("change", "running", OK, V8_2)
    with pytest.raises(ValueError, match="change"):
        check_verb_refused("change", "running", OK, V7_2)
    with pytest.raises(ValueError, match="state"):
        check_verb_refused("cancel", "sleeping", OK, V7_2)


# -- one real job on the installed QEMU --------------------------------------------------


@pytest.mark.qemu
def test_real_backup_job_on_qemu(tmp_path: Path) -> None:
    if shutil.which("qemu-system-x86_64") is None:
        pytest.skip("qemu-system-x86_64 is not installed (apt-get install qemu-system-x86)")
    from conformance.machine import process
    from conformance.machine.instance import QemuInstance
    from conformance.oracle.conversation import messages

    before = set(process.live_pids())
    # The workdir under tmp_path: the host-safety test, maybe running in another worker,
    # watches /tmp for anything a test creates there.
    with QemuInstance(profile="q35", workdir_base=str(tmp_path)) as inst:
        for node in ("src", "dst"):
            added = inst.execute(
                "blockdev-add", {"driver": "null-co", "node-name": node, "size": 1 << 20}
            )
            assert added.ok, added.message.raw
        backup = {"job-id": "j1", "device": "src", "target": "dst", "sync": "full"}
        started = inst.execute("blockdev-backup", backup)
        assert started.ok, started.message.raw
        inst.wait_event("JOB_STATUS_CHANGE", {"id": "j1", "status": "null"}, timeout=10)
        version = inst.info.version if inst.info else V7_2
        # The transcript holds every event once, in arrival order (a Reply's events are
        # also in session.events, so joining the two would count them twice).
        events = [m for m in messages(inst.transcript) if m.kind is Kind.EVENT]
    assert not set(process.live_pids()) - before
    statuses = [m.value["data"]["status"] for m in events if m.event_name == "JOB_STATUS_CHANGE"]  # type: ignore[index]
    assert statuses[0] == "created"
    assert statuses[-1] == "null"
    check_job_events(events, version)
    check_job_ended(events, version)
