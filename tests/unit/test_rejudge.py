"""Protocol checks judged again on a replayed conversation (conformance.findings.rejudge)."""

from __future__ import annotations

import pytest

from conformance.findings.rejudge import REJUDGED, failed_checks
from conformance.oracle.deviation import recorded, take
from conformance.qmp.message import parse_message
from conformance.qmp.transcript import Transcript

FENCE = "qmpc-replay-"


def conversation(*steps: tuple[str, bytes]) -> Transcript:
    transcript = Transcript()
    for direction, raw in steps:
        if direction == "send":
            transcript.record_send(raw)
        else:
            transcript.record_recv(parse_message(raw + b"\r\n"))
    return transcript


def fenced(request: bytes, *replies: bytes) -> list[tuple[str, bytes]]:
    """A request, the fence the replayer sends after it, the replies, the fence's reply."""
    fence = b'"' + FENCE.encode() + b'fence-1"'
    return [
        ("send", request),
        ("send", b'{"execute":"query-status","id":' + fence + b"}"),
        *(("recv", r) for r in replies),
        ("recv", b'{"return": {"status": "running"}, "id": ' + fence + b"}"),
    ]


@pytest.mark.parametrize(
    ("steps", "failed"),
    [
        (fenced(b'{"execute":"query-version","id":"a"}', b'{"return": {}, "id": "a"}'), set()),
        (
            fenced(b'{"execute":"query-version","id":"a"}', b'{"return": {}, "id": "b"}'),
            {"ids.echo"},
        ),
        (fenced(b'{"execute":"query-version","id":"a"}', b'{"return": {}}'), {"ids.echo"}),
        # Wire input carries no id to echo; an id-less error is its proper answer.
        (fenced(b'{"execute":', b'{"error": {"class": "GenericError", "desc": "x"}}'), set()),
        (
            fenced(b'{"execute":"query-version","id":1e400}', b'{"return": {}, "id": inf}'),
            {"output.strict-json"},
        ),
        (
            fenced(b"[[[[", b'{"return": {}, "id": "MUST-NOT-RUN-0"}'),
            {"malformed.executed"},
        ),
        # A long replayed conversation: an echoed hidden id first must not hide the
        # hidden command that ran after it.
        (
            fenced(
                b'{"\xc0\x80execute":',
                b'{"error": {"class": "GenericError", "desc": "x"}, "id": "MUST-NOT-RUN-1"}',
            )
            + fenced(b"[[[[", b'{"return": {}, "id": "MUST-NOT-RUN-2"}'),
            {"malformed.parsed", "malformed.executed"},
        ),
        # Wire input has no fence of its own: its id-less error, answered after the next
        # request was sent, is not that request's reply.
        (
            [
                ("send", b"0\n"),
                *fenced(
                    b'{"execute":"query-version","id":"a"}',
                    b'{"error": {"class": "GenericError", "desc": "x"}}',
                    b'{"return": {}, "id": "a"}',
                ),
            ],
            set(),
        ),
    ],
)
def test_failed_checks(steps: list[tuple[str, bytes]], failed: set[str]) -> None:
    assert failed_checks(conversation(*steps).records, FENCE) == failed
    assert failed <= REJUDGED


def _job_event(status: bytes) -> bytes:
    return (
        b'{"timestamp": {"seconds": 1, "microseconds": 0}, "event": "JOB_STATUS_CHANGE", '
        b'"data": {"status": "' + status + b'", "id": "j"}}'
    )


@pytest.mark.parametrize(
    ("statuses", "failed"),
    [
        ([b"created", b"running", b"waiting", b"pending", b"concluded", b"null"], set()),
        ([b"ready"], {"jobs.start"}),
        ([b"created", b"concluded", b"running"], {"jobs.transition"}),
    ],
)
def test_job_streams_are_judged_again(statuses: list[bytes], failed: set[str]) -> None:
    """Given QEMU's version, a replayed conversation's job streams are judged too; without
    it (no version known) they are not."""
    steps = fenced(b'{"execute":"query-jobs","id":"a"}', *map(_job_event, statuses))
    records = conversation(*steps).records
    assert failed_checks(records, FENCE, (7, 2, 0)) == failed
    assert failed_checks(records, FENCE) == set()
    assert failed <= REJUDGED


_ERROR = b'{"error": {"class": "GenericError", "desc": "x"}}'


@pytest.mark.parametrize(
    ("steps", "deviation"),
    [
        # QEMU refuses an id holding U+FFFF as unparseable input: an id-less error.
        (fenced(b'{"execute":"query-version","id":"\xef\xbf\xbf"}', _ERROR), "ids.echo"),
        # C0 80 in a string is U+0000 to QEMU: the hidden command is a request.
        (
            fenced(
                b'{"execute":"query-version","id":"MUST-NOT-RUN-\xc0\x80"}\x1b\n',
                b'{"return": {}, "id": "MUST-NOT-RUN-\\u0000"}',
            ),
            "malformed.executed",
        ),
        (
            fenced(
                b'{"\xc0\x80execute":"query-version","id":"MUST-NOT-RUN-1"}\x1b\n',
                b'{"error": {"class": "GenericError", "desc": "x"}, "id": "MUST-NOT-RUN-1"}',
            ),
            "malformed.parsed",
        ),
    ],
)
def test_the_suites_deviations_are_recorded_not_failed(
    steps: list[tuple[str, bytes]], deviation: str
) -> None:
    with recorded() as seen:
        assert failed_checks(conversation(*steps).records, FENCE) == set()
    assert [d.check for d in seen] == [deviation]
    assert take() == []  # kept from the test that replays


def test_a_refused_ordinary_id_is_still_a_finding() -> None:
    steps = fenced(b'{"execute":"query-version","id":"a"}', _ERROR)
    with recorded() as seen:
        assert failed_checks(conversation(*steps).records, FENCE) == {"ids.echo"}
    assert seen == []
