"""Protocol checks judged again on a replayed conversation.

A protocol finding is not a reply of one command: a reply with a mangled id, a frame
that isn't strict JSON, a command hidden in rejected input that ran anyway. Replaying
its trigger and comparing the reply kind would say "reproduced" on any QEMU that
answers the probe, and minimising against that would throw the broken input away. So
such a reproducer names its check (`Outcome.check`), and replay runs the same oracle
functions over the whole replayed conversation: reproduced means that check fails
again.

Only checks that need nothing but the transcript are judged again (`REJUDGED`); the
others keep the reply comparison. The job-stream checks are among them, given the
version of the QEMU replayed on (its JobStatus table): a job's stream broken once is
judged again on the replayed conversation's events.

The suite's deviations apply as the suite applies them (the same rules of
`conformance.oracle.deviation`): an id holding a noncharacter refused as unparseable
input, a hidden command read from modified UTF-8. Their failures are recorded as
deviations, not returned; a caller that wants them wraps the call in
`deviation.recorded()`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from conformance.findings.reproducer import envelope
from conformance.oracle.conversation import check_nothing_hidden_ran, check_output, messages
from conformance.oracle.deviation import answered_modified_utf8, refused_noncharacter
from conformance.oracle.failure import Failure
from conformance.oracle.jobs import Version, check_job_events
from conformance.oracle.protocol import check_id_echo
from conformance.qmp.message import Kind
from conformance.qmp.transcript import Direction, Record
from strategies.wire import MUST_NOT_RUN_PREFIX

__all__ = ["REJUDGED", "failed_checks"]

#: The protocol checks a replay judges again, by check id.
#: The job-stream checks among them (judged when the replay knows QEMU's version).
JOB_CHECKS = frozenset({"jobs.start", "jobs.transition"})
REJUDGED = frozenset(
    {
        "output.kind",
        "output.strict-json",
        "output.ascii",
        "malformed.executed",
        "malformed.parsed",
        "malformed.nesting-resumed",
        "ids.echo",
        *JOB_CHECKS,
    }
)


def failed_checks(
    records: Sequence[Record], fence_prefix: str, version: Version | None = None
) -> set[str]:
    """The `REJUDGED` checks that `records` (a replayed conversation) fail.

    Ids starting with ``fence_prefix`` are the replayer's own fence commands: their
    replies answer the replayer, not a message of the reproducer.
    """
    failed: set[str] = set()
    # The per-message checks run on each record alone: a check raises at its first
    # failure, and one function judges several check ids (an echoed hidden id early in a
    # long conversation must not hide a hidden command that ran later).
    checks: list[Callable[[], None]] = [
        *(
            check
            for record in records
            for check in (
                lambda r=record: check_output([r]),
                lambda r=record: _check_hidden(r, records),
            )
        ),
        lambda: _check_ids(records, fence_prefix),
    ]
    if version is not None:
        events = [m for m in messages(records) if m.kind is Kind.EVENT]
        checks.append(lambda: check_job_events(events, version))
    for check in checks:
        try:
            check()
        except Failure as failure:
            failed.add(failure.check)
    return failed & REJUDGED


def _check_hidden(record: Record, records: Sequence[Record]) -> None:
    """No reply of `record` answers a hidden command, unless QEMU read it as modified
    UTF-8 (the suite's rule: `answered_modified_utf8`)."""
    try:
        check_nothing_hidden_ran([record], MUST_NOT_RUN_PREFIX, records)
    except Failure:
        # The rule reads the whole conversation: asked only of a failure, not per record.
        with answered_modified_utf8(records, MUST_NOT_RUN_PREFIX):
            raise


def _check_ids(records: Sequence[Record], fence_prefix: str) -> None:
    """Each reply carries the id of the request it follows. Requests are fenced one by
    one, so a reply before the next fence's reply answers the last request sent.

    Wire input (bytes that are no request) gets no fence, so until the next fence's
    reply its own id-less errors, any number of them, arrive among the replies to the
    request sent after it: no reply of that stretch can be paired, and none is judged.
    """
    sent_id: tuple[object] | None = None  # the last request's id, if it had one
    unpaired = False  # wire input sent since the last fence's reply
    for record in records:
        if record.direction is Direction.SEND:
            value = envelope(record.raw)
            ident = value.get("id") if value is not None else None
            if not _is_fence(ident, fence_prefix):
                sent_id = (ident,) if value is not None and "id" in value else None
                unpaired = unpaired or value is None
            continue
        if record.direction is not Direction.RECV:
            continue
        (reply,) = messages([record])
        if reply.kind not in (Kind.RETURN, Kind.ERROR):
            continue
        if reply.has_id and _is_fence(reply.id, fence_prefix):
            sent_id, unpaired = None, False  # everything sent before it has been answered
        elif sent_id is not None and not unpaired:
            with refused_noncharacter([reply], sent_id[0]):
                check_id_echo(reply, sent_id[0])


def _is_fence(ident: object, fence_prefix: str) -> bool:
    return isinstance(ident, str) and ident.startswith(fence_prefix)
