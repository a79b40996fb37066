"""The QMP wire protocol, rule by rule (qmp-spec), against the binary under test.

Each test drives one area (negotiation, envelope, ids, output, malformed, events, oob,
pipelining) and judges what the transcript shows with the checks of
`conformance/oracle/protocol.py` (one message) and `conformance/oracle/conversation.py`
(a whole exchange). Generated inputs come from `strategies.wire` and are shrunk by
Hypothesis; a failing example carries its instance's transcript. The exchanges a
session drives (a broken envelope, broken bytes then a probe) are
`conformance/drive/sessions.py`'s, the blocked-queue choreography of qmp-test's
test_qmp_oob `conformance/drive/oob.py`'s.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from conformance.drive.exchange import minimal_arguments
from conformance.drive.oob import OVERTAKE, check_blocked_queue, overtaker
from conformance.drive.report import command_tags, evidence, label
from conformance.drive.sessions import (
    BEFORE_NEGOTIATION_PROBE,
    SESSIONS,
    bad_envelope,
    broken_then_probe,
    enable_oob,
    offered_capabilities,
    wait_reply,
)
from conformance.machine.instance import EventMissing, QemuInstance
from conformance.machine.pool import InstancePool
from conformance.oracle.classes import id_class
from conformance.oracle.conversation import (
    ISSUE_ORDER,
    PARSE_ERROR,
    check_events,
    check_issue_order,
    check_output,
    check_replies,
    replies,
)
from conformance.oracle.conversation import (
    RESYNC as RESYNC_RULE,
)
from conformance.oracle.deviation import (
    refused_noncharacter,
)
from conformance.oracle.failure import Failure, FindingKind, spec
from conformance.oracle.protocol import (
    ENVELOPE,
    EVENTS,
    MAX_IN_FLIGHT,
    NEGOTIATION,
    OOB,
    OOB_CAPABILITY,
    PIPELINING,
    RESPONSES,
    check_error_class,
    check_id_echo,
    check_reply_shape,
)
from conformance.oracle.required import check_succeeded
from conformance.qmp.wirejson import dumps
from conformance.runcontext import RunContext
from conformance.spec import Schema
from strategies.safety import Unconfinable
from strategies.wire import (
    ACCEPTED_CASES,
    ENVELOPE_RULES,
    LIMIT_CASES,
    STRUCTURAL_CASES,
    WIRE_RULES,
    Envelope,
    WireCase,
    accepted_cases,
    envelopes,
    json_ids,
    limit_cases,
    structural_cases,
    wire_bytes,
)

_PROTOCOL = FindingKind.PROTOCOL
JSON_EXTENSIONS = spec(
    "Protocol Specification",
    "the server will accept an extension of 'single-quoted' strings in place of the usual "
    '"double-quoted" json-string, and both input forms of strings understand an additional '
    "escape sequence of \\' for a single quote.",
)
_REUSE = settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def _ids() -> st.SearchStrategy[object]:
    """Request ids of every JSON type, integers far past 64 bits and noncharacters in
    strings included: the spec says any json-value."""
    return json_ids(noncharacters=True, huge=True)


def _fresh(qmp_run: RunContext, name: str | None = None) -> QemuInstance:
    return QemuInstance(qmp_run.launch_config(name or qmp_run.profiles[0]))


# -- negotiation -----------------------------------------------------------------------


def test_unknown_capability_is_an_error(fresh_qemu: QemuInstance) -> None:
    label(
        epic="protocol",
        feature="negotiation",
        story="unknown capability",
        citation=str(NEGOTIATION),
    )
    fresh_qemu.start(negotiate=False)
    with evidence(fresh_qemu):
        reply = fresh_qemu.execute(
            "qmp_capabilities", {"enable": ["x-no-such-capability"]}, id="unknown"
        )
        check_error_class(reply.message, None, NEGOTIATION, "negotiation.unknown-capability")
        check_id_echo(reply.message, "unknown")
        # The failed negotiation left the server in negotiation mode.
        still = fresh_qemu.execute("query-version", id="still-negotiating")
        check_error_class(still.message, "CommandNotFound", NEGOTIATION, "negotiation.before")
        check_succeeded(fresh_qemu.negotiate().message, "qmp_capabilities", NEGOTIATION)
        check_output(fresh_qemu.transcript)


def test_offered_oob_can_be_enabled(fresh_qemu: QemuInstance) -> None:
    label(epic="protocol", feature="negotiation", story="oob", citation=str(OOB_CAPABILITY))
    fresh_qemu.start(negotiate=False)
    offered = offered_capabilities(fresh_qemu)
    if "oob" not in offered:
        pytest.skip(f"the greeting offers no oob capability ({offered})")
    with evidence(fresh_qemu):
        reply = fresh_qemu.negotiate(["oob"])
        check_reply_shape(reply.message)
        if not reply.ok:
            raise Failure(
                "negotiation.oob",
                OOB_CAPABILITY,
                f"oob is offered but enabling it failed: {reply.message.raw[:200]!r}",
                kind=_PROTOCOL,
            )


# -- envelope and ids -----------------------------------------------------------------


@pytest.mark.parametrize("rule", ENVELOPE_RULES)
@_REUSE
@given(data=st.data())
def test_bad_envelope(
    rule: str, data: st.DataObject, qemu_pool: InstancePool, qmp_run: RunContext
) -> None:
    """Each broken envelope gets one GenericError, its id echoed where it had one, and
    the connection stays usable."""
    label(epic="protocol", feature="envelope", story=rule, citation=str(ENVELOPE))
    envelope: Envelope = data.draw(envelopes(rules=[rule]), label="envelope")
    bad_envelope(qemu_pool.get(qmp_run.profiles[0]), envelope, None)


@pytest.mark.parametrize("session", ["before-negotiation", "oob"])
@pytest.mark.parametrize("rule", ENVELOPE_RULES)
@_REUSE
@given(data=st.data())
def test_bad_envelope_on_session(
    rule: str,
    session: str,
    data: st.DataObject,
    request: pytest.FixtureRequest,
    qemu_pool: InstancePool,
    qmp_run: RunContext,
) -> None:
    """`test_bad_envelope` before negotiation (qmp-test's test_malformed runs there too)
    and with oob enabled: the envelope is checked before the command is looked up."""
    label(epic="protocol", feature="envelope", story=f"{rule} ({session})", citation=str(ENVELOPE))
    envelope: Envelope = data.draw(envelopes(rules=[rule]), label="envelope")
    inst, probe_class = _session(session, request, qemu_pool, qmp_run)
    bad_envelope(inst, envelope, probe_class)


@_REUSE
@given(sent_id=_ids())
# The edges json_ids(noncharacters=True, huge=True) documents, always tried: a
# noncharacter (valid JSON text) and an integer past the double range.
@example(sent_id="\uffff")
@example(sent_id=10**400)
def test_id_comes_back_equal(sent_id: object, qemu_pool: InstancePool, qmp_run: RunContext) -> None:
    label(epic="protocol", feature="ids", story="echo", citation=str(RESPONSES))
    inst = qemu_pool.get(qmp_run.profiles[0])
    mark = len(inst.transcript)
    with evidence(inst):
        ticket = inst.send_command("query-version", id=sent_id)
        # Replies come in issue order: once the fence is answered, so is the command.
        # Waiting on the fence, not on an id the server may have mangled beyond
        # pairing, keeps a broken echo from costing a whole deadline.
        fence = inst.send_command("query-version", id="fence")
        wait_reply(inst, fence)
        since = inst.transcript.since(mark)
        check_output(since)
        # QEMU refuses a noncharacter on purpose, as unparseable input: an id-less error.
        with refused_noncharacter(replies(since), sent_id):
            if ticket.reply is None:
                raise Failure(
                    "ids.echo",
                    RESPONSES,
                    f"no reply carries the id {sent_id!r}",
                    kind=_PROTOCOL,
                    path="$.id",
                    facets={"id": id_class(sent_id)},
                )
            check_id_echo(ticket.reply, sent_id)


# -- malformed input ------------------------------------------------------------------


@pytest.mark.parametrize("rule", WIRE_RULES)
@_REUSE
@given(data=st.data())
def test_malformed_input(
    rule: str,
    data: st.DataObject,
    qemu_pool: InstancePool,
    qmp_run: RunContext,
    wire_max_bytes: int,
) -> None:
    """Broken bytes, then the documented resynchronisation, then a probe that must get
    exactly its own reply; no part of the broken input may run."""
    label(epic="protocol", feature="malformed", story=rule, citation=str(RESYNC_RULE))
    case: WireCase = data.draw(wire_bytes(rules=[rule], max_size=wire_max_bytes), label="case")
    broken_then_probe(qemu_pool.get(qmp_run.profiles[0]), case)


@pytest.mark.parametrize("name", LIMIT_CASES)
def test_malformed_input_at_limits(
    name: str, qemu_pool: InstancePool, qmp_run: RunContext, wire_max_bytes: int
) -> None:
    """The broken inputs at the parser's documented limits (`strategies.wire.limit_cases`),
    which a short derandomised run reaches only by luck."""
    case = limit_cases(wire_max_bytes)[name]
    label(
        epic="protocol", feature="malformed", story=f"at limits: {name}", citation=str(RESYNC_RULE)
    )
    broken_then_probe(qemu_pool.get(qmp_run.profiles[0]), case)


def _session(
    session: str, request: pytest.FixtureRequest, qemu_pool: InstancePool, qmp_run: RunContext
) -> tuple[QemuInstance, str | None]:
    """The instance of `session`, and the error class its probe (query-version) gets."""
    if session == "oob":
        # A live one: the fixture restarts the QEMU an earlier test left dead.
        inst: QemuInstance = request.getfixturevalue("oob_qemu")
        return inst, None
    if session == "before-negotiation":
        return qemu_pool.get(qmp_run.profiles[0], negotiated=False), BEFORE_NEGOTIATION_PROBE
    return qemu_pool.get(qmp_run.profiles[0]), None


@pytest.mark.parametrize("session", SESSIONS[1:])
@pytest.mark.parametrize("rule", WIRE_RULES)
@_REUSE
@given(data=st.data())
def test_malformed_input_on_session(
    rule: str,
    session: str,
    data: st.DataObject,
    request: pytest.FixtureRequest,
    qemu_pool: InstancePool,
    qmp_run: RunContext,
    wire_max_bytes: int,
) -> None:
    """`test_malformed_input` before negotiation and with oob enabled: the JSON layer
    is the same whatever the session's mode, so the same rules hold."""
    label(
        epic="protocol", feature="malformed", story=f"{rule} ({session})", citation=str(RESYNC_RULE)
    )
    case: WireCase = data.draw(wire_bytes(rules=[rule], max_size=wire_max_bytes), label="case")
    inst, probe_class = _session(session, request, qemu_pool, qmp_run)
    broken_then_probe(inst, case, probe_class=probe_class)


@pytest.mark.parametrize("session", SESSIONS)
@pytest.mark.parametrize("name", STRUCTURAL_CASES)
def test_structural_json_error(
    name: str,
    session: str,
    request: pytest.FixtureRequest,
    qemu_pool: InstancePool,
    qmp_run: RunContext,
) -> None:
    """A line that is no JSON (`{]`, a lone `}`, a trailing comma, `00`, `%p`...) is
    answered by itself with a GenericError, before the resynchronisation's, and runs
    nothing (`strategies.wire.structural_cases`)."""
    case = structural_cases()[name]
    label(
        epic="protocol",
        feature="malformed",
        story=f"structural: {name} ({session})",
        citation=str(PARSE_ERROR),
    )
    inst, probe_class = _session(session, request, qemu_pool, qmp_run)
    broken_then_probe(inst, case, probe_class=probe_class, answered=2)


@pytest.mark.parametrize("name", ACCEPTED_CASES)
def test_json_extension_accepted(name: str, qemu_pool: InstancePool, qmp_run: RunContext) -> None:
    """Single-quoted strings, the \\' escape and the escapes RFC 8259 allows are read as
    the value they spell: the request runs and its id comes back equal, in ASCII."""
    case = accepted_cases()[name]
    label(epic="protocol", feature="json extensions", story=name, citation=str(JSON_EXTENSIONS))
    inst = qemu_pool.get(qmp_run.profiles[0])
    mark = len(inst.transcript)
    with evidence(inst):
        ticket = inst.send_raw(case.data, replies=[(True, case.id)], label=name)[0]
        fence = inst.send_command("query-version", id="fence")
        wait_reply(inst, fence)
        since = inst.transcript.since(mark)
        check_output(since)
        if ticket.reply is None:
            raise Failure(
                "json.extension",
                JSON_EXTENSIONS,
                f"{case.data!r} got no reply with the id {case.id!r}: "
                f"{[m.raw[:120] for m in replies(since)]!r}",
                kind=_PROTOCOL,
                path="$.id",
            )
        check_succeeded(ticket.reply, "query-version", JSON_EXTENSIONS, "json.extension")
        check_id_echo(ticket.reply, case.id)


# -- events ---------------------------------------------------------------------------


def test_events_shape_and_time_order(qemu_pool: InstancePool, qmp_run: RunContext) -> None:
    """Tray events (on the daemon: a job's), a few rounds: each well-formed, times never
    back."""
    label(epic="protocol", feature="events", story="shape and time order", citation=str(EVENTS))
    inst = qemu_pool.take(_event_profile(qmp_run))
    try:
        with evidence(inst):
            for round_ in range(8):
                name, match = _emit_event(inst, round_)
                try:
                    inst.wait_event(name, match)
                except EventMissing as exc:
                    raise Failure(
                        "events.missing",
                        EVENTS,
                        f"{name} {match} never arrived, though QEMU still answers: {exc}",
                        kind=FindingKind.BEHAVIOUR,
                    ) from exc
            check_output(inst.transcript)
            check_events(inst.transcript)
    finally:
        inst.close()


def test_event_reaches_every_monitor(qmp_run: RunContext) -> None:
    label(epic="protocol", feature="events", story="every monitor", citation=str(EVENTS))
    config = qmp_run.launch_config(_event_profile(qmp_run))
    config.monitors = 2
    with QemuInstance(config) as inst, evidence(inst):
        name, match = _emit_event(inst, 0)
        for number in range(inst.monitors):
            try:
                inst.wait_event(name, match, monitor=number)
            except EventMissing as exc:
                raise Failure(
                    "events.broadcast",
                    EVENTS,
                    f"{name} did not reach negotiated monitor {number}: {exc}",
                    kind=_PROTOCOL,
                ) from exc
            check_events(inst.monitor_transcript(number))


def _event_profile(qmp_run: RunContext) -> str:
    """A profile whose QEMU emits events when asked: the block profile (its CD-ROM tray),
    or on qemu-storage-daemon, which has no device, its own (a job on its null0)."""
    if qmp_run.block_profile is None and qmp_run.info is not None and qmp_run.info.storage_daemon:
        return qmp_run.argument_profile
    return qmp_run.need_block_profile()


SMALL = 1048576  # bytes of the nodes a job copies between


def _emit_event(inst: QemuInstance, round_: int) -> tuple[str, dict[str, object]]:
    """Make `inst` emit an event; returns the event's name and data to wait for."""
    if inst.profile.tray:
        command = "blockdev-close-tray" if round_ % 2 else "blockdev-open-tray"
        reply = inst.execute(command, {"id": "cd0"})
        check_succeeded(reply.message, command)
        return "DEVICE_TRAY_MOVED", {"id": "cd0", "tray-open": not round_ % 2}
    # A backup between two small null-co nodes runs to its end unattended, and its job
    # reports every status it passes through. (null0's 1 GiB would keep the main loop
    # copying for seconds on a loaded host.)
    job = f"ev{round_}"
    for node in (f"{job}s", f"{job}t"):
        added = inst.execute(
            "blockdev-add", {"driver": "null-co", "node-name": node, "size": SMALL}
        )
        check_succeeded(added.message, "blockdev-add")
    backup = {"job-id": job, "device": f"{job}s", "target": f"{job}t", "sync": "full"}
    reply = inst.execute("blockdev-backup", backup)
    check_succeeded(reply.message, "blockdev-backup")
    return "JOB_STATUS_CHANGE", {"id": job, "status": "null"}


# -- out-of-band ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def oob_instances(qmp_run: RunContext) -> Iterator[tuple[InstancePool, list[QemuInstance]]]:
    """The module's oob instances (a pool of one, restarted when it dies), and the one
    negotiated with oob last."""
    pool = InstancePool(qmp_run.launch_config)
    yield pool, []
    pool.close()


@pytest.fixture
def oob_qemu(
    oob_instances: tuple[InstancePool, list[QemuInstance]], qmp_run: RunContext
) -> QemuInstance:
    """An instance negotiated with the oob capability (when offered), shared by the
    module's tests. One that an earlier test left dead (its crash or hang is that
    test's finding) is replaced by a fresh one, so that later tests still run."""
    pool, negotiated = oob_instances
    inst = pool.get(qmp_run.block_profile or qmp_run.profiles[0], negotiated=False)
    if negotiated and negotiated[-1] is inst:
        return inst
    offered = offered_capabilities(inst)
    if "oob" not in offered:
        pytest.skip(f"the greeting offers no oob capability ({offered})")
    enable_oob(inst)
    negotiated[:] = [inst]
    return inst


def test_exec_oob_without_the_capability(qemu_pool: InstancePool, qmp_run: RunContext) -> None:
    label(epic="protocol", feature="oob", story="without the capability", citation=str(OOB))
    inst = qemu_pool.get(qmp_run.profiles[0])
    with evidence(inst):
        reply = inst.execute("query-yank", id="oob-off", oob=True)
        check_error_class(reply.message, "GenericError", OOB, "oob.without-capability")
        check_id_echo(reply.message, "oob-off")


def test_exec_oob(command_name: str, schema: Schema, oob_qemu: QemuInstance) -> None:
    """Through exec-oob, a command without allow-oob is refused; one with it behaves as
    it does in-band (the same reply kind and error class)."""
    command = schema.commands[command_name]
    label(
        epic="protocol",
        feature="oob",
        story="allow-oob" if command.allow_oob else "not allow-oob",
        tags=command_tags(command),
        citation=str(OOB),
    )
    inst = oob_qemu
    try:
        arguments = minimal_arguments(inst, schema, command_name)
    except (Unconfinable, ValueError) as exc:
        pytest.skip(f"no admissible arguments: {exc}")
    with evidence(inst):
        reply = inst.execute(command_name, arguments, id=f"oob-{command_name}", oob=True)
        check_reply_shape(reply.message)
        check_id_echo(reply.message, f"oob-{command_name}")
        if not command.allow_oob:
            check_error_class(reply.message, "GenericError", OOB, "oob.not-allowed")
            return
        in_band = inst.execute(command_name, arguments, id=f"ib-{command_name}")
        if (reply.message.kind, reply.message.error_class) != (
            in_band.message.kind,
            in_band.message.error_class,
        ):
            raise Failure(
                "oob.allowed",
                OOB,
                f"exec-oob got {reply.message.raw[:160]!r}, execute got "
                f"{in_band.message.raw[:160]!r}",
                kind=_PROTOCOL,
                command=command_name,
            )


def test_oob_may_overtake_and_in_band_keeps_order(oob_qemu: QemuInstance) -> None:
    label(epic="protocol", feature="oob", story="overtaking", citation=str(ISSUE_ORDER))
    inst = oob_qemu
    in_band = [f"ib-{i}" for i in range(MAX_IN_FLIGHT - 1)]
    mark = len(inst.transcript)
    with evidence(inst):
        lines = [dumps({"execute": "query-status", "id": i}) + b"\n" for i in in_band]
        lines.insert(3, dumps({"exec-oob": "query-yank", "id": "oob"}) + b"\n")
        tickets = inst.send_raw(
            b"".join(lines), replies=[(True, i) for i in [*in_band[:3], "oob", *in_band[3:]]]
        )
        for ticket in tickets:
            wait_reply(inst, ticket)
        since = inst.transcript.since(mark)
        check_output(since)
        check_replies(since, [*in_band, "oob"])
        check_issue_order(since, in_band)


def test_oob_overtakes_a_blocked_in_band_command(schema: Schema, qmp_run: RunContext) -> None:
    """qmp-test's test_qmp_oob (`conformance.drive.oob`): while an in-band command is
    blocked on a FIFO, an out-of-band command overtakes it and a quick in-band one
    waits; an envelope without `execute` behind it fails in-band, after it."""
    label(
        epic="protocol", feature="oob", story="overtakes a blocked command", citation=str(OVERTAKE)
    )
    overtaking = overtaker(schema)
    if overtaking is None:
        pytest.skip("no blkdebug driver or allow-oob command to block and overtake with")
    with _fresh(qmp_run) as inst:
        inst.start(negotiate=False)
        offered = offered_capabilities(inst)
        if "oob" not in offered:
            pytest.skip(f"the greeting offers no oob capability ({offered})")
        enable_oob(inst)
        check_blocked_queue(inst, overtaking)


# -- pipelining ------------------------------------------------------------------------


@pytest.mark.parametrize("oob", [False, True], ids=["plain", "oob"])
def test_pipelined_commands_answered_in_order(
    oob: bool, request: pytest.FixtureRequest, qemu_pool: InstancePool, qmp_run: RunContext
) -> None:
    label(
        epic="protocol",
        feature="pipelining",
        story=f"{MAX_IN_FLIGHT} in flight{' with oob' if oob else ''}",
        citation=str(PIPELINING),
    )
    inst = request.getfixturevalue("oob_qemu") if oob else qemu_pool.get(qmp_run.profiles[0])
    ids = [f"pipe-{i}" for i in range(MAX_IN_FLIGHT)]
    mark = len(inst.transcript)
    with evidence(inst):
        payload = b"".join(dumps({"execute": "query-status", "id": i}) + b"\n" for i in ids)
        for ticket in inst.send_raw(payload, replies=[(True, i) for i in ids]):
            wait_reply(inst, ticket)
        since = inst.transcript.since(mark)
        check_output(since)
        check_replies(since, ids)
        check_issue_order(since, ids)
