"""When a QEMU may serve the next test: refused commands and queries keep it."""

from __future__ import annotations

import pytest

from conformance.machine.reuse import keeps_state, reads_only, unchanged
from conformance.qmp.message import Kind, parse_message
from conformance.qmp.transcript import Transcript
from conformance.qmp.wirejson import dumps


@pytest.mark.parametrize(
    "command",
    ["query-status", "x-query-irq", "x-debug-query-block-graph", "qom-get", "qom-list-types"],
)
def test_queries_read_only(command: str) -> None:
    assert reads_only(command)
    assert keeps_state(command, Kind.RETURN)


@pytest.mark.parametrize("command", ["object-add", "device_add", "qom-set", "migrate_cancel"])
def test_a_successful_change_spoils_and_a_refused_one_does_not(command: str) -> None:
    assert not reads_only(command)
    assert not keeps_state(command, Kind.RETURN)
    assert keeps_state(command, Kind.ERROR)


def _exchange(transcript: Transcript, command: str, reply: bytes) -> None:
    message = {"execute": command}
    transcript.record_send(dumps(message), message)
    transcript.record_recv(parse_message(reply))


def test_a_transcript_of_queries_and_refusals_is_unchanged() -> None:
    t = Transcript()
    _exchange(t, "query-block", b'{"return": []}\r\n')
    t.record_recv(parse_message(b'{"event": "RESUME", "timestamp": {}}\r\n'))
    _exchange(t, "object-add", b'{"error": {"class": "GenericError", "desc": "no"}}\r\n')
    assert unchanged(t.records)
    _exchange(t, "object-add", b'{"return": {}}\r\n')
    assert not unchanged(t.records)


def test_what_cannot_be_paired_counts_as_a_change() -> None:
    t = Transcript()
    t.record_send(b'{"execute": "query-status"', None)  # raw bytes: no command value
    t.record_recv(parse_message(b'{"return": {}}\r\n'))
    assert not unchanged(t.records)
    t = Transcript()
    message = {"execute": "query-status"}
    t.record_send(dumps(message), message)  # no reply
    assert not unchanged(t.records)
