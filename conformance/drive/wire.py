"""A Hypothesis state machine over the QMP wire: commands, garbage and framing mixed.

The rule tests of `test_protocol.py` send one kind of input at a time. Servers break on
sequences: garbage that leaves the parser mid-string, a command split across writes
right after it, eight pipelined commands behind a bad envelope. The machine mixes
those steps on one connection and holds, after every step, the invariants:

- every well-formed command gets exactly one reply, with an equal id;
- every server message is strict JSON ending in CRLF, events well-formed;
- nothing hidden in rejected input runs;
- the process is alive.

A failing sequence shrinks to a short one, and its transcript is attached.
"""

from __future__ import annotations

from collections.abc import Callable

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
)

from conformance.drive.report import evidence
from conformance.drive.unshrunk import run_state_machine
from conformance.machine.instance import QemuGone, QemuInstance
from conformance.oracle.classes import id_class
from conformance.oracle.conversation import (
    check_events,
    check_issue_order,
    check_nothing_hidden_ran,
    check_output,
    check_replies,
)
from conformance.oracle.deviation import answered_modified_utf8
from conformance.oracle.failure import Failure, FindingKind
from conformance.oracle.protocol import (
    ENVELOPE,
    MAX_IN_FLIGHT,
    RESPONSES,
    check_error_class,
    check_id_echo,
)
from conformance.qmp.session import Ticket
from conformance.qmp.wirejson import dumps
from strategies.wire import (
    MIN_MAX_SIZE,
    MUST_NOT_RUN_PREFIX,
    RESYNC,
    Envelope,
    WireCase,
    encode,
    envelopes,
    json_ids,
    wire_bytes,
)

#: Steps per run. With the `ci` profile's 20 runs that is at most 1200 steps; the
#: summary reports how many were taken.
STEPS = 60
# Commands that read state and change none: any interleaving of them is harmless.
QUERIES = ("query-status", "query-version", "query-name", "query-uuid", "query-target")


class WireMachine(RuleBasedStateMachine):
    """One QEMU connection driven by rules; `steps` counts the rules run (all runs)."""

    steps = 0

    def __init__(self, make: Callable[[], QemuInstance]) -> None:
        super().__init__()
        self.inst = make()
        self.inst.start()
        self.mark = len(self.inst.transcript)  # judged from here: after negotiation
        self.expected: list[object] = []  # ids of the well-formed commands sent
        self.id_less = 0  # well-formed commands sent without an id
        self.dirty = False  # broken input may have left the parser mid-message
        self.fences = 0

    # -- helpers -----------------------------------------------------------------------

    def _send(self, data: bytes, ids: list[object], label: str) -> list[Ticket]:
        WireMachine.steps += 1
        return self.inst.send_raw(data, replies=[(True, i) for i in ids], label=label)

    def _await(self, tickets: list[Ticket]) -> None:
        """Wait on a fence sent after `tickets`: replies come in issue order, so once it
        is answered the commands must be too. A command whose reply never comes (the
        server refused it as JSON) is a failure at once, not a deadline later."""
        self.fences += 1
        fence = f"fence-{self.fences}"
        self.expected.append(fence)
        self.inst.wait(self.inst.send_command("query-status", id=fence))
        for ticket in tickets:
            if ticket.reply is None:
                raise Failure(
                    "ids.unanswered",
                    RESPONSES,
                    f"the well-formed command with id {ticket.id!r} got no reply before "
                    f"the later {fence}",
                    kind=FindingKind.PROTOCOL,
                    path="$.id",
                    facets={"id": id_class(ticket.id, present=ticket.has_id)},
                )

    @staticmethod
    def _line(command: str, id_: object) -> bytes:
        return dumps({"execute": command, "id": id_}) + b"\n"

    # -- rules -------------------------------------------------------------------------

    @precondition(lambda self: not self.dirty)
    @rule(command=st.sampled_from(QUERIES), id_=json_ids())
    def good_command(self, command: str, id_: object) -> None:
        with evidence(self.inst):
            self._await(self._send(self._line(command, id_), [id_], "good"))
            self.expected.append(id_)

    # Garbage only from a clean parser: after other garbage, the bytes that follow can
    # legitimately complete what is pending (a string left open, a brace), and no rule
    # of the spec says such input must run nothing. The spec's remedy is resync.
    @precondition(lambda self: not self.dirty)
    @rule(case=wire_bytes(max_size=MIN_MAX_SIZE))
    def garbage(self, case: WireCase) -> None:
        with evidence(self.inst):
            self._send(case.data, [], f"garbage:{case.rule}")
            self.dirty = True

    @precondition(lambda self: not self.dirty)
    @rule(envelope=envelopes())
    def bad_envelope(self, envelope: Envelope) -> None:
        with evidence(self.inst):
            WireMachine.steps += 1
            (ticket,) = self.inst.send_raw(
                encode(envelope), replies=[(envelope.has_id, envelope.id)], label=envelope.rule
            )
            self._await([ticket])
            reply = ticket.reply
            assert reply is not None
            check_error_class(reply, "GenericError", ENVELOPE, f"envelope.{envelope.rule}")
            check_id_echo(reply, envelope.id, sent=envelope.has_id)
            if envelope.has_id:
                self.expected.append(envelope.id)

    @precondition(lambda self: not self.dirty)
    @rule(id_=json_ids(), cuts=st.lists(st.integers(1, 200), min_size=1, max_size=4))
    def split(self, id_: object, cuts: list[int]) -> None:
        """One command written in several pieces."""
        data = self._line("query-status", id_)
        points = sorted({c % len(data) for c in cuts} - {0})
        pieces = [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]
        with evidence(self.inst):
            for piece in pieces[:-1]:
                self.inst.send_raw(piece, label="split")
            self._await(self._send(pieces[-1], [id_], "split"))
            self.expected.append(id_)

    @precondition(lambda self: not self.dirty)
    @rule(ids=st.lists(json_ids(), min_size=2, max_size=4))
    def merge(self, ids: list[object]) -> None:
        """Several commands in one write."""
        with evidence(self.inst):
            data = b"".join(self._line("query-version", i) for i in ids)
            self._await(self._send(data, ids, "merge"))
            self.expected.extend(ids)

    @precondition(lambda self: not self.dirty)
    @rule(count=st.integers(1, MAX_IN_FLIGHT))
    def pipeline(self, count: int) -> None:
        """Up to the documented number of in-band commands in flight, answered in order."""
        ids = [f"pipe-{WireMachine.steps}-{i}" for i in range(count)]
        mark = len(self.inst.transcript)
        with evidence(self.inst):
            data = b"".join(self._line("query-status", i) for i in ids)
            self._await(self._send(data, list(ids), "pipeline"))
            check_issue_order(self.inst.transcript.since(mark), ids)
            self.expected.extend(ids)

    @rule()
    def resynchronise(self) -> None:
        with evidence(self.inst):
            self._send(RESYNC, [], "resync")
            self.dirty = False

    # -- invariants --------------------------------------------------------------------

    @invariant()
    def conforming(self) -> None:
        with evidence(self.inst):
            if not self.inst.alive():
                # Signed and replayed like any exit: the reproducer is the bytes the
                # machine wrote, the expected outcome this exit.
                cause = RuntimeError("process exited")
                raise QemuGone(self.inst.settle(cause), self.inst.transcript)
            since = self.inst.transcript.since(self.mark)
            check_output(since)
            check_events(since)
            with answered_modified_utf8(since, MUST_NOT_RUN_PREFIX):
                check_nothing_hidden_ran(since, MUST_NOT_RUN_PREFIX)

    def teardown(self) -> None:
        try:
            if self.inst.alive():
                with evidence(self.inst):
                    # Everything sent before the fence is answered before it.
                    if self.dirty:
                        self.inst.send_raw(RESYNC, label="resync")
                    self._await([])
                    since = self.inst.transcript.since(self.mark)
                    check_output(since)
                    # A request QEMU reads as modified UTF-8 is answered, deliberately.
                    with answered_modified_utf8(since, MUST_NOT_RUN_PREFIX) as excused:
                        check_nothing_hidden_ran(since, MUST_NOT_RUN_PREFIX)
                    check_replies(since, [*self.expected, *excused], self.id_less)
        finally:
            self.inst.close()


def run_wire_machine(make: Callable[[], QemuInstance]) -> None:
    """Run the machine as one test, a QEMU from `make` per example; it counts its steps
    in `WireMachine.steps`."""
    WireMachine.steps = 0
    run_state_machine(
        lambda: WireMachine(make),
        settings=settings(
            settings.default,
            stateful_step_count=STEPS,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
