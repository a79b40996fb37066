"""The QMP session: greeting, negotiation, commands, reply pairing and events.

Replies are paired with what was sent in order, the way the server answers in-band
commands: a reply that carries an id goes to the oldest request with an equal id; a reply
without one (the server can't echo the id of input it could not parse) goes to the oldest
request that expects an id-less reply. Replies that pair with nothing are kept in
`unexpected` for the oracle to judge.

Every byte sent and received is recorded in the session's `Transcript`.
"""

from __future__ import annotations

import itertools
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

from conformance.errors import QemuMisbehaviour
from conformance.qmp.deadline import Deadline, DeadlineExceeded
from conformance.qmp.framing import Framer
from conformance.qmp.message import Kind, Message, parse_message
from conformance.qmp.transcript import Transcript
from conformance.qmp.transport import Disconnected, SocketTransport, write_seconds
from conformance.qmp.wirejson import dumps, json_equal


class _Auto:
    def __repr__(self) -> str:
        return "AUTO"


class _NoId:
    def __repr__(self) -> str:
        return "NO_ID"


AUTO: Final = _Auto()
"""Let the session choose a fresh integer id."""

NO_ID: Final = _NoId()
"""Send the command without an id (its reply is paired by order)."""

EventMatch = Mapping[str, object] | Callable[[Message], bool] | None

MAX_QUEUED_EVENTS = 10_000


class NoGreeting(QemuMisbehaviour, ConnectionError):
    """The server's first message was not a QMP greeting."""


@dataclass(slots=True)
class Ticket:
    """One request awaiting its reply."""

    label: str
    has_id: bool
    id: object
    sent_at: float
    reply: Message | None = None
    events: list[Message] = field(default_factory=list)


# Not frozen (see Deadline): one is created per command. Never mutated.
@dataclass(slots=True)
class Reply:
    """A reply and the events that arrived while it was awaited."""

    message: Message
    events: tuple[Message, ...]
    elapsed: float

    @property
    def ok(self) -> bool:
        return self.message.kind is Kind.RETURN

    @property
    def value(self) -> object:
        """The `return` value, or None for an error."""
        v = self.message.value
        return v.get("return") if isinstance(v, dict) else None


class Session:
    """A QMP client session over a byte transport."""

    def __init__(
        self,
        transport: SocketTransport,
        transcript: Transcript | None = None,
        *,
        timeout: float = 10.0,
    ) -> None:
        self.transport = transport
        self.transcript = transcript if transcript is not None else Transcript()
        self.timeout = timeout
        self.greeting: Message | None = None
        self.negotiated = False
        self.capabilities: tuple[str, ...] = ()
        self.events: deque[Message] = deque(maxlen=MAX_QUEUED_EVENTS)
        self.unexpected: list[Message] = []
        self._framer = Framer()
        self._pending: deque[Ticket] = deque()
        self._ids = itertools.count(1)
        self._eof = False

    # -- greeting and negotiation ------------------------------------------------------

    def read_greeting(self, timeout: float | None = None) -> Message:
        """Wait for the server's first message, which must be the greeting."""
        deadline = self._deadline(timeout)
        before = len(self.unexpected)
        while self.greeting is None:
            if len(self.unexpected) > before:
                first = self.unexpected[before]
                raise NoGreeting(f"first message was not a QMP greeting: {first.raw[:200]!r}")
            self._read(deadline)
        return self.greeting

    def negotiate(self, capabilities: Sequence[str] = (), *, timeout: float | None = None) -> Reply:
        """Send `qmp_capabilities`; on success the session is in command mode."""
        args = {"enable": list(capabilities)} if capabilities else None
        reply = self.execute("qmp_capabilities", args, timeout=timeout)
        if reply.ok:
            self.negotiated = True
            self.capabilities = tuple(capabilities)
        return reply

    # -- sending -----------------------------------------------------------------------

    def send_command(
        self,
        name: str,
        arguments: object = None,
        *,
        id: object = AUTO,
        oob: bool = False,
        extra: Mapping[str, object] | None = None,
        timeout: float | None = None,
    ) -> Ticket:
        """Send one command envelope without waiting; returns the ticket for its reply.

        `arguments` may be any JSON value (malformed cases send non-objects); None
        leaves the member out, and `extra` adds or overrides envelope members.
        """
        return self._send_command(name, arguments, id, oob, extra, timeout)[0]

    def _send_command(
        self,
        name: str,
        arguments: object,
        id: object,
        oob: bool,
        extra: Mapping[str, object] | None,
        timeout: float | None,
    ) -> tuple[Ticket, Deadline]:
        msg: dict[str, object] = {"exec-oob" if oob else "execute": name}
        if arguments is not None:
            msg["arguments"] = arguments
        if id is AUTO:
            id = next(self._ids)
        has_id = id is not NO_ID
        if has_id:
            msg["id"] = id
        if extra:
            msg.update(extra)
        tickets, deadline = self._send(dumps(msg), msg, name, [(has_id, id)], timeout)
        return tickets[0], deadline

    def send_raw(
        self,
        data: bytes,
        *,
        replies: Iterable[tuple[bool, object]] = (),
        label: str = "raw",
        timeout: float | None = None,
    ) -> list[Ticket]:
        """Send arbitrary bytes. `replies` lists the (has_id, id) of each reply expected."""
        return self._send(data, None, label, list(replies), timeout)[0]

    def _send(
        self,
        data: bytes,
        value: object,
        label: str,
        replies: list[tuple[bool, object]],
        timeout: float | None,
    ) -> tuple[list[Ticket], Deadline]:
        """Write `data`; returns its tickets and the deadline of the whole exchange."""
        now = time.monotonic()
        try:
            # The write comes first: the bookkeeping below then runs while QEMU works on
            # the request instead of adding to the round trip (bench/command_loop.py).
            sent = self.transport.send_now(data)
        finally:
            # Even when the write fails: the tickets and bytes stay visible to whoever
            # diagnoses it. No reply can be read before this, the session being the
            # only reader.
            tickets = [Ticket(label, has_id, id_, now) for has_id, id_ in replies]
            self._pending.extend(tickets)
            self.transcript.record_send(data, value, now)
        # A big input takes the monitor seconds to read: its deadline grows with it.
        seconds = write_seconds(len(data), self.timeout if timeout is None else timeout)
        deadline = Deadline(now + seconds, seconds)
        if sent < len(data):
            self.transport.send_rest(data, sent, deadline)
        return tickets, deadline

    # -- receiving ---------------------------------------------------------------------

    def wait(self, ticket: Ticket, timeout: float | None = None) -> Message:
        """Read until `ticket` has its reply."""
        return self._wait(ticket, self._deadline(timeout))

    def _wait(self, ticket: Ticket, deadline: Deadline) -> Message:
        while ticket.reply is None:
            self._read(deadline)
        return ticket.reply

    def execute(
        self,
        name: str,
        arguments: object = None,
        *,
        id: object = AUTO,
        oob: bool = False,
        extra: Mapping[str, object] | None = None,
        timeout: float | None = None,
    ) -> Reply:
        """Send a command and wait for its reply.

        One deadline bounds the whole exchange: the write (which grows with the input's
        size) and then the reply.
        """
        ticket, deadline = self._send_command(name, arguments, id, oob, extra, timeout)
        message = self._wait(ticket, deadline)
        return Reply(message, tuple(ticket.events), time.monotonic() - ticket.sent_at)

    def wait_event(
        self, name: str, match: EventMatch = None, timeout: float | None = None
    ) -> Message:
        """Return (and consume) the first queued or arriving event `name` that matches.

        `match` is either a mapping that the event's `data` must contain (equal values
        at the given keys) or a predicate over the message.
        """
        deadline = self._deadline(timeout)
        seen = 0
        while True:
            queue = self.events
            for i in range(seen, len(queue)):
                event = queue[i]
                if event.event_name == name and _matches(event, match):
                    del queue[i]
                    return event
            seen = len(queue)
            try:
                self._read(deadline)
            except DeadlineExceeded as exc:
                raise DeadlineExceeded(f"no event {name} within {deadline.seconds:g}s") from exc

    def drain_events(self) -> list[Message]:
        """Take every queued event."""
        out = list(self.events)
        self.events.clear()
        return out

    def poll(self, timeout: float) -> list[Message]:
        """Read whatever arrives within `timeout` (a quiet period); returns the messages."""
        deadline = Deadline.after(timeout)
        seen: list[Message] = []
        try:
            while True:
                seen.extend(self._read(deadline))
        except DeadlineExceeded:
            pass
        return seen

    @property
    def pending(self) -> tuple[Ticket, ...]:
        return tuple(self._pending)

    def close(self) -> None:
        self.transport.close()

    # -- internals ---------------------------------------------------------------------

    def _deadline(self, timeout: float | None) -> Deadline:
        return Deadline.after(self.timeout if timeout is None else timeout)

    def _read(self, deadline: Deadline) -> list[Message]:
        if self._eof:
            raise Disconnected("QEMU closed the QMP channel")
        try:
            data = self.transport.recv(deadline)
        except Disconnected:
            self._eof = True
            rest = self._framer.pending()
            if rest:
                self.transcript.record_recv(parse_message(rest), time.monotonic())
            raise
        now = time.monotonic()
        messages = []
        record = self.transcript.record_recv
        for frame in self._framer.feed(data):
            message = parse_message(frame)
            messages.append(message)
            record(message, now)
            self._dispatch(message)
        return messages

    def _dispatch(self, message: Message) -> None:
        kind = message.kind
        if kind is Kind.EVENT:
            self.events.append(message)
            for waiting in self._pending:
                waiting.events.append(message)
        elif kind is Kind.RETURN or kind is Kind.ERROR:
            ticket = self._pair(message)
            if ticket is None:
                self.unexpected.append(message)
            else:
                ticket.reply = message
        elif kind is Kind.GREETING and self.greeting is None:
            self.greeting = message
        else:
            self.unexpected.append(message)

    def _pair(self, reply: Message) -> Ticket | None:
        pending = self._pending
        if reply.has_id:
            rid = reply.id
            for i, ticket in enumerate(pending):
                if ticket.has_id and json_equal(ticket.id, rid):
                    del pending[i]
                    return ticket
            return None
        for i, ticket in enumerate(pending):
            if not ticket.has_id:
                del pending[i]
                return ticket
        return None


def _matches(event: Message, match: EventMatch) -> bool:
    if match is None:
        return True
    if callable(match):
        return match(event)
    value = event.value
    data = value.get("data") if isinstance(value, dict) else None
    if not isinstance(data, dict):
        return not match
    return all(k in data and json_equal(data[k], v) for k, v in match.items())
