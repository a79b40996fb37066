"""Compositions of checks that every exchange goes through."""

from __future__ import annotations

from collections.abc import Iterable

from conformance.oracle.protocol import check_event_shape, check_id_echo, check_reply_shape
from conformance.oracle.schema import check_event, check_return
from conformance.qmp.message import Message
from conformance.spec import Schema


def judge_reply(schema: Schema, command: str, reply: Message, sent_id: object) -> None:
    """A reply is well formed, echoes the id, and a return matches the ret-type."""
    check_reply_shape(reply)
    check_id_echo(reply, sent_id)
    check_return(schema, command, reply)


def judge_events(schema: Schema, events: Iterable[Message]) -> None:
    """Every event is well formed and its data matches the event's type."""
    for event in events:
        check_event_shape(event)
        check_event(schema, event)
