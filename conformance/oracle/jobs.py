"""Job checks: QEMU's job state machine, as the JOB_STATUS_CHANGE events show it.

Every job (block jobs, blockdev-create, snapshot-save, ...) moves through the JobStatus
states of qapi/job.json, and QEMU announces each move with
``{"event": "JOB_STATUS_CHANGE", "data": {"id": ID, "status": STATUS}}``. Which moves are
legal is the table ``JobSTT`` in QEMU's job.c (QEMU asserts on any other move), and which
commands ("verbs") a job accepts in each state is the table ``JobVerbTable`` beside it (QEMU
refuses the others with "Job 'ID' in state 'S' cannot accept command verb 'V'").

The tables below are copied bit for bit from job.c, columns in JobStatus order
(U, C, R, P, Y, S, W, D, X, E, N). Versions read (job.c in qemu/qemu and in patches posted to
qemu-devel):

- 3.0 era (commit 00359a71d45a; job.c was created in 3.0, as was JOB_STATUS_CHANGE);
- 7.2.0 (blob 72d57f0934: the base of the 8.2 block-job-change patch and of the 2024
  out-of-tree patch named below; Debian 12's 7.2 behaves by it, see tests/unit/test_jobs.py);
- 8.2 and later (with JOB_VERB_CHANGE, job_mutex and job_set_aio_context).

``JobSTT`` is the same in all of them. ``JobVerbTable`` changed twice:

- 6.0: "job: Allow complete for jobs on standby" (53ddb9c892, Max Reitz, merged
  2021-04-09, before v6.0.0-rc3) lets ``complete`` through in STANDBY as well as READY;
- 8.2: "blockjob: introduce block-job-change QMP command" (Fiona Ebner) adds the ``change``
  verb, with the bits of ``set-speed``.

No released QEMU allows READY -> RUNNING. The only such change found is an out-of-tree patch
against 7.2.0 (``job_transition_to_running()``, flipping JobSTT[READY][RUNNING]) posted in
the qemu-devel thread "Issue with QEMU Live Migration" (Aug 2024, gitlab issue #2482); it
was not merged, and job.c of 8.2 and later still has READY -> {STANDBY, WAITING, ABORTING}.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import cache
from types import MappingProxyType

from conformance.oracle.failure import Citation, Failure, FindingKind, qapi
from conformance.qmp.message import Kind, Message

Version = tuple[int, int, int]

EVENT = "JOB_STATUS_CHANGE"
FIRST_VERSION: Version = (3, 0, 0)  # JOB_STATUS_CHANGE "Since: 3.0"
STATES = (
    "undefined",
    "created",
    "running",
    "paused",
    "ready",
    "standby",
    "waiting",
    "pending",
    "aborting",
    "concluded",
    "null",
)
ENDS = frozenset({"concluded", "null"})

# job.c JobSTT: the row is the state a job leaves, the columns the states it may enter.
# fmt: off
_JOB_STT: dict[str, tuple[int, ...]] = {
    #               U, C, R, P, Y, S, W, D, X, E, N
    "undefined":   (0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0),
    "created":     (0, 0, 1, 0, 0, 0, 0, 0, 1, 0, 1),
    "running":     (0, 0, 0, 1, 1, 0, 1, 0, 1, 0, 0),
    "paused":      (0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0),
    "ready":       (0, 0, 0, 0, 0, 1, 1, 0, 1, 0, 0),
    "standby":     (0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0),
    "waiting":     (0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0),
    "pending":     (0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0),
    "aborting":    (0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0),
    "concluded":   (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1),
    "null":        (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0),
}

# job.c JobVerbTable: the row is a verb, the columns the states that accept it.
_JOB_VERB_TABLE: dict[str, tuple[int, ...]] = {
    #               U, C, R, P, Y, S, W, D, X, E, N
    "cancel":      (0, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0),
    "pause":       (0, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0),
    "resume":      (0, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0),
    "set-speed":   (0, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0),
    "complete":    (0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0),  # from 6.0; READY only before
    "finalize":    (0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0),
    "dismiss":     (0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0),
    "change":      (0, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0),  # from 8.2
}
_COMPLETE_BEFORE_6_0 = (0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0)
# fmt: on
_COMPLETE_ON_STANDBY: Version = (6, 0, 0)
_CHANGE_VERB: Version = (8, 2, 0)

# qapi/job.json, the same words in 7.2 and in the newest schema.
_STATE_DOC = {
    "undefined": "Erroneous, default state.  Should not ever be visible.",
    "created": "The job has been created, but not yet started.",
    "running": "The job is currently running.",
    "paused": "The job is running, but paused.",
    "ready": "The job is running, but is ready for the user to signal completion.",
    "standby": "The job may return to @ready or otherwise be canceled.",
    "waiting": "The job is waiting for other jobs in the transaction to converge to the "
    "waiting state.",
    "pending": "The job has finished its work, but has finalization steps that it needs to "
    "make prior to completing.",
    "aborting": "The job will afterwards report that it is @concluded.",
    "concluded": "The job has finished all work.",
    "null": "The job is in the process of being dismantled.",
}
CHANGE_EVENT = qapi(
    "qapi/job.json: JOB_STATUS_CHANGE", "Emitted when a job transitions to a different status."
)
START = qapi("qapi/job.json: JobStatus", _STATE_DOC["created"])
END = qapi("qapi/job.json: JobStatus", _STATE_DOC["concluded"])
VERB = qapi("qapi/job.json: JobVerb", "Represents command verbs that can be applied to a job.")


def _state_doc(state: str) -> Citation:
    return qapi("qapi/job.json: JobStatus", _STATE_DOC.get(state, ""))


def _fail(
    check: str,
    citation: Citation,
    message: str,
    path: str | None = None,
    *,
    kind: FindingKind = FindingKind.BEHAVIOUR,
    command: str | None = None,
) -> Failure:
    return Failure(check, citation, message, kind=kind, path=path, command=command)


def _states(row: tuple[int, ...]) -> frozenset[str]:
    return frozenset(state for state, bit in zip(STATES, row, strict=True) if bit)


def _check_version(version: Version) -> None:
    if version < FIRST_VERSION:
        raise ValueError(f"QEMU {version} predates JOB_STATUS_CHANGE (since 3.0)")


@cache
def transitions(version: Version) -> Mapping[str, frozenset[str]]:
    """The states a job may enter from each state (job.c JobSTT), for QEMU `version`.

    The same for every QEMU from 3.0 to 8.2 and later: in particular READY leads only to
    STANDBY, WAITING or ABORTING (a mirror job never drops back from READY to RUNNING; see
    the module docstring for the unmerged patch that would have allowed it).
    ABORTING -> ABORTING is in the table but never shows as an event (QEMU only emits one
    for a different status). Raises ValueError before 3.0.
    """
    _check_version(version)
    return MappingProxyType({state: _states(row) for state, row in _JOB_STT.items()})


@cache
def verbs(version: Version) -> Mapping[str, frozenset[str]]:
    """The verbs a job accepts in each state (job.c JobVerbTable), for QEMU `version`.

    Verbs are the JobVerb names: cancel, pause, resume, set-speed, complete, dismiss,
    finalize, and, from 8.2, change. `complete` is accepted in READY, and from 6.0 also
    in STANDBY (before 6.0, READY only). Raises ValueError before 3.0.
    """
    _check_version(version)
    table = dict(_JOB_VERB_TABLE)
    if version < _COMPLETE_ON_STANDBY:
        table["complete"] = _COMPLETE_BEFORE_6_0
    if version < _CHANGE_VERB:
        del table["change"]
    accepting = {verb: _states(row) for verb, row in table.items()}
    return MappingProxyType(
        {
            state: frozenset(v for v, states in accepting.items() if state in states)
            for state in STATES
        }
    )


def _status_change(event: Message) -> tuple[str, str] | None:
    """(job id, status) of a JOB_STATUS_CHANGE event; None for any other message."""
    if event.event_name != EVENT:
        return None
    value = event.value
    data = value.get("data") if isinstance(value, dict) else None
    job = data.get("id") if isinstance(data, dict) else None
    status = data.get("status") if isinstance(data, dict) else None
    if not isinstance(job, str) or not isinstance(status, str):
        raise _fail(
            "jobs.event",
            CHANGE_EVENT,
            f"event data lacks a string id and status: {event.raw[:200]!r}",
            "$.data",
            kind=FindingKind.SCHEMA,
        )
    return job, status


def check_job_events(events: Iterable[Message], version: Version, *, partial: bool = False) -> None:
    """Each job's JOB_STATUS_CHANGE events follow job.c JobSTT (holds from 3.0 on).

    Events are grouped by job id; other messages are ignored. A job's first status must be
    ``created`` ("jobs.start") unless `partial` (the caller started watching mid-life); then
    every status must be one the previous one may lead to, and differ from it
    ("jobs.transition"). A job id is free again after ``null``: its next event starts a new
    job, at ``created`` whatever `partial` says. READY -> RUNNING fails on every release
    (7.2 and 8.2+ alike), as does an undefined or unknown status anywhere.
    """
    table = transitions(version)
    reachable = frozenset().union(*table.values())
    last: dict[str, str] = {}
    for event in events:
        change = _status_change(event)
        if change is None:
            continue
        job, status = change
        prev = last.get(job)
        if prev is None and partial:
            if status not in reachable:
                raise _fail(
                    "jobs.transition",
                    _state_doc(status),
                    f"job {job!r} shows status {status!r}, which no state leads to",
                    "$.data.status",
                )
        elif prev is None or prev == "null":
            if status != "created":
                again = " after its previous job reached 'null'" if prev else ""
                raise _fail(
                    "jobs.start",
                    START,
                    f"job {job!r} starts at {status!r}{again}, not at 'created'",
                    "$.data.status",
                )
        elif status == prev:
            raise _fail(
                "jobs.transition",
                CHANGE_EVENT,
                f"job {job!r} reports {status!r} twice in a row",
                "$.data.status",
            )
        elif status not in table[prev]:
            allowed = ", ".join(sorted(table[prev])) or "nothing"
            raise _fail(
                "jobs.transition",
                _state_doc(prev),
                f"job {job!r} moved {prev!r} -> {status!r}; job.c JobSTT allows {prev!r} -> "
                f"{allowed} (QEMU {'.'.join(map(str, version))})",
                "$.data.status",
            )
        last[job] = status


def check_job_ended(events: Iterable[Message], version: Version) -> None:
    """Each job's last JOB_STATUS_CHANGE is ``concluded`` or ``null`` ("jobs.end").

    Holds from 3.0 on. Separate from `check_job_events` because a test may stop watching a
    job before it ends; call it only after waiting for the end (e.g. the ``null`` event of
    an auto-dismissed job, or ``concluded`` with auto-dismiss false).
    """
    _check_version(version)
    last: dict[str, str] = {}
    for event in events:
        change = _status_change(event)
        if change is not None:
            last[change[0]] = change[1]
    for job, status in last.items():
        if status not in ENDS:
            raise _fail(
                "jobs.end",
                END,
                f"job {job!r} last reported {status!r}, not 'concluded' or 'null'",
                "$.data.status",
            )


def check_verb_refused(
    verb: str, state: str, reply: Message, version: Version, *, command: str | None = None
) -> None:
    """A command whose verb the job's state refuses (job.c JobVerbTable) gets an error.

    `state` is the job's status when the command ran (from its events or query-jobs), `verb`
    the command's JobVerb (job-complete/block-job-complete -> "complete", and so on). When
    the state accepts the verb nothing is checked here: the command may still fail for its
    own reasons (resuming a job that isn't paused, say). The table differs by version: see
    `verbs` (``complete`` in STANDBY is refused before 6.0 and accepted from 6.0;
    ``change`` exists from 8.2). Raises ValueError for a verb or state that QEMU `version`
    does not have.
    """
    allowed = verbs(version)
    if state not in allowed:
        raise ValueError(f"unknown job state {state!r}")
    if verb not in frozenset().union(*allowed.values()):
        raise ValueError(f"QEMU {version} has no job verb {verb!r}")
    if verb in allowed[state]:
        return
    if reply.kind is not Kind.ERROR:
        accepting = ", ".join(s for s in STATES if verb in allowed[s])
        raise _fail(
            "jobs.verb",
            VERB,
            f"a job in state {state!r} accepted verb {verb!r} (job.c JobVerbTable allows it "
            f"only in {accepting}): {reply.raw[:200]!r}",
            command=command,
        )
