"""Running a behaviour rule on a live QEMU and judging each step.

Every expectation that doesn't hold raises `Failure` (kind behaviour) citing the rule's
doc sentence. A setup request that fails raises a `Failure` too (check
``behaviour.<rule>.setup``, citing the setup command): setup requests are documented
commands with valid arguments, so a refusal is a regression of that command (a
``blockdev-add`` that stopped working), and a skip would quietly take the rule's coverage
away with it. A rule whose setup can't work on a QEMU version says so with its version
range (`Rule.applies_to`), which the suite checks before running it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import NoReturn

from conformance.behaviour.rule import AFTER, BEFORE, Event, Rule, State, Step
from conformance.machine.instance import EventMissing, QemuInstance
from conformance.oracle.failure import Failure, FindingKind, qapi
from conformance.qmp.message import Kind, Message
from conformance.qmp.wirejson import json_equal

#: What a setup request relies on: the command's own documentation.
SETUP_WORKS = "a documented command with valid arguments succeeds"


def run_rule(rule: Rule, inst: QemuInstance) -> None:
    for number, setup in enumerate(rule.setup, start=1):
        step = setup if isinstance(setup, Step) else Step(setup[0], setup[1])
        try:
            _run_step(rule, number, step, inst)
        except Failure as exc:
            raise Failure(
                f"behaviour.{rule.id}.setup",
                qapi(step.command, SETUP_WORKS),
                f"setup refused, the rule can't be judged: {exc.message}",
                kind=FindingKind.BEHAVIOUR,
                command=step.command,
            ) from exc
    inst.drain_events()
    for number, step in enumerate(rule.steps, start=1):
        _run_step(rule, number, step, inst)


def _run_step(rule: Rule, number: int, step: Step, inst: QemuInstance) -> None:
    where = f"step {number} ({step.command})"
    reply = inst.execute(step.command, None if step.arguments is None else dict(step.arguments))
    message = reply.message
    if not _reply_matches(step.reply, message):
        _fail(rule, where, f"expected {step.reply}, got {message.raw[:200]!r}")
    before = list(reply.events)
    after: list[Message] = []
    for expected in step.events:
        shown = f"event {expected.name} {dict(expected.data)}"
        seen_before = _find(expected, before)
        if expected.when == BEFORE and not seen_before:
            arrived = _await(inst, expected, after)
            _fail(
                rule,
                where,
                f"{shown} expected before the return, "
                + ("arrived after it" if arrived else "never arrived"),
            )
        elif expected.when == AFTER and seen_before:
            _fail(rule, where, f"{shown} expected after the return, arrived before it")
        elif not seen_before and not _await(inst, expected, after):
            _fail(rule, where, f"{shown} never arrived")
    if step.ordered:
        stream = [*before, *after]
        positions = [next(i for i, e in enumerate(stream) if _matches(x, e)) for x in step.events]
        if positions != sorted(positions):
            names = [stream[i].event_name for i in sorted(positions)]
            _fail(rule, where, f"events came in the order {names}, not as listed")
    if step.quiet is not None:
        fence = inst.execute("query-status")
        seen = [e for e in [*before, *after, *fence.events] if e.event_name in step.quiet.names]
        if seen:
            _fail(rule, where, f"expected no {', '.join(step.quiet.names)}, got {seen[0].raw!r}")
    for state in step.state:
        _check_state(rule, where, state, inst)


def _reply_matches(expected: str, message: Message) -> bool:
    if expected == "return":
        return message.kind is Kind.RETURN
    if expected == "error":
        return message.kind is Kind.ERROR
    return message.kind is Kind.ERROR and message.error_class == expected


def _find(expected: Event, events: Sequence[Message]) -> bool:
    return any(_matches(expected, e) for e in events)


def _matches(expected: Event, event: Message) -> bool:
    if event.event_name != expected.name:
        return False
    value = event.value
    data = value.get("data") if isinstance(value, dict) else None
    data = data if isinstance(data, dict) else {}
    return all(k in data and json_equal(data[k], v) for k, v in expected.data.items())


def _await(inst: QemuInstance, expected: Event, into: list[Message]) -> bool:
    """Wait (with the reply deadline) for the event; record it in `into`."""
    try:
        into.append(inst.wait_event(expected.name, lambda e: _matches(expected, e)))
    except EventMissing:
        return False
    return True


def _check_state(rule: Rule, where: str, state: State, inst: QemuInstance) -> None:
    arguments = None if state.arguments is None else dict(state.arguments)
    reply = inst.execute(state.query, arguments)
    if reply.message.kind is not Kind.RETURN:
        _fail(rule, where, f"{state.query} failed: {reply.message.raw[:200]!r}")
    element = _element(reply.value, state.where)
    if state.none:
        if element is not None:
            _fail(rule, where, f"{state.query} has an element with {dict(state.where)}")
        return
    if element is None:
        _fail(rule, where, f"{state.query} has no element with {dict(state.where)}")
    present, value = _member(element, state.path)
    if state.absent:
        if present:
            _fail(rule, where, f"{state.query} {state.path} is {value!r}, expected absent")
        return
    if state.has is not None:
        if _element(value if isinstance(value, list) else [], state.has) is None:
            _fail(rule, where, f"{state.query} {state.path} has no element {dict(state.has)}")
        return
    if not present or not json_equal(value, state.equals):
        shown = repr(value) if present else "absent"
        _fail(rule, where, f"{state.query} {state.path} is {shown}, expected {state.equals!r}")


def _element(value: object, where: Mapping[str, object]) -> object | None:
    candidates = value if isinstance(value, list) else [value]
    for item in candidates:
        if isinstance(item, dict) and all(
            k in item and json_equal(item[k], v) for k, v in where.items()
        ):
            return item
    return None


def _member(value: object, path: str) -> tuple[bool, object]:
    for part in filter(None, path.split(".")):
        if not isinstance(value, dict) or part not in value:
            return False, None
        value = value[part]
    return True, value


def _fail(rule: Rule, where: str, message: str) -> NoReturn:
    raise Failure(
        f"{'doc' if rule.kind is FindingKind.DOC else 'behaviour'}.{rule.id}",
        rule.citation,
        f"{rule.title}: {where}: {message}",
        kind=rule.kind,
        command=rule.command,
    )
