"""One generated command, sent through the safety policy and judged.

`ArgumentRun` holds what one test function needs across its Hypothesis examples: the
command, the schema, the pools, the policy, and a QEMU that is restarted when it dies.
It also counts what the examples sent: how many ran, how many the policy dropped, and
which members, enum values, variants and branches valid ones exercised (the
conformance matrix reads those from the test's properties, `properties()`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

from hypothesis import reject

from conformance.docs.setup import profile_chooser
from conformance.drive.harvest import absorb
from conformance.drive.report import evidence
from conformance.errors import QmpcError
from conformance.machine.exits import module_not_loadable
from conformance.machine.harness import PROBE_ID
from conformance.machine.instance import QemuGone, QemuInstance
from conformance.machine.pool import InstancePool
from conformance.machine.reuse import keeps_state
from conformance.oracle.deviation import DEVICE_ADD_BY_HAND, deliberate
from conformance.oracle.judge import judge_events, judge_reply
from conformance.oracle.protocol import check_reply_shape
from conformance.oracle.visitor import check_not_refused_as_invalid, check_refused_as_malformed
from conformance.qmp.message import Kind, Message
from conformance.qmp.session import Reply
from conformance.spec import Schema, validate_arguments
from conformance.spec.coverage import exercised
from conformance.spec.minimal import minimal_object
from strategies import Malformed
from strategies.policy import GenerationPolicy
from strategies.pools import KINDS, Pools
from strategies.safety import EXCLUDED_VALUES, Unconfinable, admit, confine

log = logging.getLogger(__name__)

#: The user property carrying a command's exercised coverage items (JSON, `properties()`).
COVERAGE_PROPERTY = "coverage"
#: The user property listing the coverage items excluded from a command's count, with
#: their reason (JSON: command, excluded: item key -> reason).
EXCLUDED_PROPERTY = "coverage-excluded"
#: The user property counting the replies by kind (return, error), as JSON.
REPLIES_PROPERTY = "replies"


# The last snapshot of each pools object, with the sizes it was taken at. Pools only
# grow, so equal sizes mean equal contents, and tests then share one snapshot: the
# strategies built on it (cached per pools object by strategies.values.factory_for)
# are built and validated once instead of once per test. The entry holds the source
# object, so that its id isn't reused while cached.
_SNAPSHOTS: dict[int, tuple[Pools, tuple[int, ...], Pools]] = {}


def minimal_arguments(inst: QemuInstance, schema: Schema, command: str) -> object:
    """The smallest arguments of `command` on `inst` (started), naming the profile's
    objects where the command refers to one, admitted by the host-safety policy.
    Raises `Unconfinable` when the policy refuses them, `ValueError` when no value of a
    required member is admissible."""
    choose = profile_chooser(inst.profile, command, schema)
    arg_type = schema.object_type(schema.commands[command].arg_type)
    minimal = minimal_object(schema, arg_type, choose, EXCLUDED_VALUES)
    return admit(command, minimal, str(inst.workdir))


def snapshot(pools: Pools) -> Pools:
    """A copy of `pools` that later harvesting doesn't change."""
    sizes = tuple(len(pools.values(kind)) for kind in KINDS)
    cached = _SNAPSHOTS.get(id(pools))
    if cached is not None and cached[0] is pools and cached[1] == sizes:
        return cached[2]
    copy = Pools()
    for kind in KINDS:
        copy.extend(kind, pools.values(kind))
    if len(_SNAPSHOTS) >= 4:
        _SNAPSHOTS.clear()
    _SNAPSHOTS[id(pools)] = (pools, sizes, copy)
    return copy


class Dropped(QmpcError):
    """Arguments the host-safety policy doesn't run as they are (`ArgumentRun.admitted`):
    a signal, caught where raised (a Hypothesis `reject`, a sweep's excluded value)."""


@dataclass
class ArgumentRun:
    command: str
    schema: Schema
    pools: Pools
    policy: GenerationPolicy
    instances: InstancePool
    profile: str
    examples: int = 0
    rejected: int = 0
    kinds: dict[str, int] = field(default_factory=dict)
    valid_examples: int = 0
    covered: set[str] = field(default_factory=set)  # coverage Item keys of valid examples
    # Coverage Item keys no case may exercise here, with why (the covering phase's).
    excluded: dict[str, str] = field(default_factory=dict)
    # Frozen: draw from `pools` as harvested at the start and add nothing to them, so
    # that every test's cases are the same whatever ran before it (the CI profile).
    frozen: bool = False
    # Whether a command changed the machine (`conformance.machine.reuse`): then the
    # instance can't serve a later test.
    spoiled: bool = False
    # The arguments last drawn and sent by `exchange`, with their malformed case: what
    # the fuzzer keeps in its corpus when they reached something new.
    drawn: tuple[object, Malformed | None] | None = None

    draw_pools: Pools = field(default_factory=Pools)
    # Called after every example sent, passed or failed, with the instance it ran on,
    # the command and the arguments as sent: the fuzzer's per-example point.
    after: Callable[[QemuInstance, str, object], None] | None = None
    # Called with each QEMU before its first example: the fuzzer's set-up
    # (`conformance.feedback.setups`), sent again on every restart so that a
    # failure's re-sends, shrinking and replay see the state it was found in.
    prepare: Callable[[QemuInstance], None] | None = None
    # The ids of the valid examples whose success changed the machine.
    changed: list[object] = field(default_factory=list)
    _prepared: QemuInstance | None = None

    def __post_init__(self) -> None:
        # Strategies read pools at draw time. Replies keep adding to the shared pools,
        # so a test draws from a snapshot taken at its start: otherwise Hypothesis,
        # replaying a choice sequence, would draw different strings from it
        # (FlakyStrategyDefinition). Later tests see what this one harvested.
        self.draw_pools = self.pools if self.frozen else snapshot(self.pools)

    def instance(self) -> QemuInstance:
        inst = self.instances.get(self.profile)
        if self.prepare is not None and inst is not self._prepared:
            self._prepared = inst
            self.prepare(inst)
            if inst.exit_info is not None or not inst.alive():
                # The set-up ended this QEMU: the examples go on without one.
                self.prepare = None
                inst = self.instances.get(self.profile)
        return inst

    def exchange(self, arguments: object, sent_id: object, *, malformed: Malformed | None) -> None:
        """Send one drawn example, or drop it (Hypothesis's `reject`) when the
        host-safety policy can't run it as drawn or this host can't test it."""
        try:
            admitted = self.admitted(arguments, malformed)
        except Dropped:
            reject()
        self.drawn = (arguments, malformed)
        try:
            self.send(admitted, sent_id, malformed=malformed)
        except Dropped:
            reject()

    def offer(self, arguments: object, sent_id: object, *, malformed: Malformed | None) -> bool:
        """`send` for a fixed case (the covering phase): False when the policy drops it
        or this host can't test it."""
        try:
            admitted = self.admitted(arguments, malformed)
            self.send(admitted, sent_id, malformed=malformed)
        except Dropped:
            return False
        return True

    def admitted(self, arguments: object, malformed: Malformed | None) -> object:
        """`arguments` as confined for this QEMU; `Dropped` (counted as rejected) when
        they can't be confined, or confinement changed what they meant."""
        inst = self.instance()
        try:
            confined = confine(self.command, arguments, str(inst.workdir))
        except Unconfinable as exc:
            log.debug("dropped a %s example: %s", self.command, exc)
            self.rejected += 1
            raise Dropped(str(exc)) from exc
        if confined != arguments:
            log.debug("confined %s arguments: %r -> %r", self.command, arguments, confined)
        arguments = confined
        # Confinement rewrites values; an example it turned valid (or broke) is no
        # longer the example the strategy meant, so it doesn't run.
        violations = (
            validate_arguments(self.schema, self.command, arguments)
            if isinstance(arguments, dict)
            else None
        )
        if malformed is None and violations:
            self.rejected += 1
            raise Dropped("confinement made valid arguments invalid")
        if (
            malformed is not None
            and violations is not None
            and not any(v.rule == malformed.rule for v in violations)
        ):
            self.rejected += 1
            raise Dropped("confinement repaired the broken rule")
        return arguments

    def send(self, arguments: object, sent_id: object, *, malformed: Malformed | None) -> None:
        """Send admitted arguments and judge the reply, the liveness probe after it and
        the events."""
        inst = self.instance()
        try:
            with self.host_exits():
                self._send(inst, arguments, sent_id, malformed)
        finally:
            if self.after is not None:
                self.after(inst, self.command, arguments)

    @contextmanager
    def host_exits(self) -> Iterator[None]:
        """An exit the host caused is `Dropped`, not a finding: QEMU exits on purpose
        when a type's module doesn't load here (a package's library missing), which
        this host can't test (`module_not_loadable`; the sweeps exclude such values)."""
        try:
            yield
        except QemuGone as exc:
            why = module_not_loadable(exc.exit_info) if exc.exit_info is not None else ""
            if not why:
                raise
            log.info("dropped a %s example: %s", self.command, why)
            self.rejected += 1
            raise Dropped(f"{self.command}: {why}") from exc

    def _send(
        self, inst: QemuInstance, arguments: object, sent_id: object, malformed: Malformed | None
    ) -> None:
        self._count(arguments, malformed)
        # An exit is signed by what QEMU writes from this example on.
        inst.mark_stderr()
        with evidence(inst):
            # JSON null as arguments must be sent as such, not left out.
            extra = {"arguments": None} if arguments is None and malformed else None
            reply = inst.execute(self.command, arguments, id=sent_id, extra=extra)
            self._judge(reply.message, arguments, sent_id, malformed)
            check_alive(inst, self.schema)

    def send_batch(self, cases: Sequence[tuple[object, object, Malformed | None]]) -> None:
        """`send` for several admitted examples (arguments, id, malformed) pipelined: all
        sent, then one liveness probe, then each reply judged in issue order as `send`
        judges it, the probe and the events last. At most `PIPELINE_DEPTH` - 1 cases,
        so that QEMU's request queue holds the probe too. A failure here may belong to
        any case up to the one it names (a crash after a reply shows at a later one):
        the caller re-sends the cases one by one to sign it."""
        inst = self.instance()
        try:
            for arguments, _, malformed in cases:
                self._count(arguments, malformed)
            inst.mark_stderr()
            with self.host_exits(), evidence(inst):
                tickets = [
                    inst.send_command(
                        self.command,
                        arguments,
                        id=sent_id,
                        extra={"arguments": None} if arguments is None and malformed else None,
                    )
                    for arguments, sent_id, malformed in cases
                ]
                probe = inst.send_command("query-version", id=PROBE_ID)
                for ticket, (arguments, sent_id, malformed) in zip(tickets, cases, strict=True):
                    self._judge(inst.wait(ticket), arguments, sent_id, malformed)
                judge_reply(self.schema, "query-version", inst.wait(probe), PROBE_ID)
                judge_events(self.schema, inst.drain_events())
        finally:
            if self.after is not None:
                for arguments, _, _ in cases:
                    self.after(inst, self.command, arguments)

    def _count(self, arguments: object, malformed: Malformed | None) -> None:
        self.examples += 1
        if malformed is None:
            self.valid_examples += 1
            arg_type = self.schema.command(self.command).arg_type
            self.covered.update(i.key for i in exercised(self.schema, arg_type, arguments))

    def _judge(
        self, message: Message, arguments: object, sent_id: object, malformed: Malformed | None
    ) -> None:
        """Every check of one example's reply (before the liveness probe)."""
        kind = message.kind
        self.kinds[kind.value] = self.kinds.get(kind.value, 0) + 1
        if not keeps_state(self.command, kind):
            self.spoiled = True
            if malformed is None and kind is Kind.RETURN:
                self.changed.append(sent_id)
        if not self.frozen:
            value = message.value
            absorb(value.get("return") if isinstance(value, dict) else None, self.pools)
        if malformed is not None:
            check_reply_shape(message)
            with deliberate(DEVICE_ADD_BY_HAND, when=self.command == "device_add"):
                check_refused_as_malformed(message, malformed.rule, malformed.path, self.command)
        judge_reply(self.schema, self.command, message, sent_id)
        if malformed is None:
            check_not_refused_as_invalid(message, self.schema, self.command, arguments)

    def properties(self) -> list[tuple[str, object]]:
        """The test's user properties: example counts, reply kinds, and (when valid
        examples ran) the coverage items, as JSON."""
        found: list[tuple[str, object]] = [
            ("examples", self.examples),
            ("rejected", self.rejected),
            (REPLIES_PROPERTY, json.dumps(self.kinds, sort_keys=True)),
        ]
        if self.valid_examples:
            coverage = {"command": self.command, "items": sorted(self.covered)}
            found.append((COVERAGE_PROPERTY, json.dumps(coverage, separators=(",", ":"))))
        if self.excluded:
            excluded = {"command": self.command, "excluded": dict(sorted(self.excluded.items()))}
            found.append((EXCLUDED_PROPERTY, json.dumps(excluded, separators=(",", ":"))))
        return found


def check_alive(inst: QemuInstance, schema: Schema) -> None:
    """After an exchange: QEMU still answers a liveness probe (a crash that came after
    the reply is signed by the command that caused it, not by whatever is sent next),
    and every event it sent meanwhile matches its type."""
    probe = inst.execute("query-version", id=PROBE_ID)
    judge_reply(schema, "query-version", probe.message, PROBE_ID)
    judge_events(schema, inst.drain_events())


def judged(
    inst: QemuInstance,
    schema: Schema,
    command: str,
    arguments: object,
    sent_id: str,
    check: Callable[[Message], None] | None = None,
    *,
    probe: bool = True,
) -> Reply:
    """`command` with `arguments` (already admitted by the host-safety policy) run on
    `inst` and judged as a generated example is: the reply against the schema and the
    QMP spec, the caller's `check` of it, then `check_alive` (without `probe`, only the
    events: for a caller whose next command has the same name and arguments' shape, so
    that an exit after this reply is signed the same by the next exchange). A failure
    carries the instance's evidence; an exit is signed by what QEMU wrote from this
    exchange on."""
    inst.mark_stderr()
    with evidence(inst):
        reply = inst.execute(command, arguments, id=sent_id)
        judge_reply(schema, command, reply.message, sent_id)
        if check is not None:
            check(reply.message)
        if probe:
            check_alive(inst, schema)
        else:
            judge_events(schema, inst.drain_events())
    return reply


#: Commands a pipeline keeps in flight: QEMU queues at most QMP_REQ_QUEUE_LEN_MAX (8)
#: requests per monitor (include/monitor/monitor.h) and, without OOB, reads the next
#: one as it dispatches the last.
PIPELINE_DEPTH = 8


def judged_pipeline(
    inst: QemuInstance,
    schema: Schema,
    command: str,
    requests: Sequence[tuple[object, str]],
) -> list[Message]:
    """`judged` without a probe, for `command` with each (arguments, id) of `requests`
    (at most `PIPELINE_DEPTH`) sent at once, then each reply awaited and judged in
    issue order: one round trip instead of one per call, for a sweep of many calls of
    one command. An exit is raised at the first reply it cut; every call in flight has
    the same name and arguments' shape, so the finding is signed as the call that caused
    it would sign it, and its reproducer holds that call."""
    inst.mark_stderr()
    with evidence(inst):
        tickets = [inst.send_command(command, arguments, id=i) for arguments, i in requests]
        replies = []
        for ticket, (_, sent_id) in zip(tickets, requests, strict=True):
            message = inst.wait(ticket)
            judge_reply(schema, command, message, sent_id)
            replies.append(message)
        judge_events(schema, inst.drain_events())
    return replies
