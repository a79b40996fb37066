"""Delta debugging and argument simplification, with predicates instead of QEMU."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable

import pytest

from conformance.findings import minimise as mod
from conformance.findings.minimise import ddmin, simplifications, simplify
from conformance.findings.reproducer import Outcome, Reproducer
from tests.unit.reproducers import CAPS, reproducer


class Counting:
    """A predicate that records every sublist it is asked about."""

    def __init__(self, needs: set[int]) -> None:
        self.needs = needs
        self.asked: list[tuple[int, ...]] = []

    def __call__(self, candidate: list[int]) -> bool:
        self.asked.append(tuple(candidate))
        return self.needs <= set(candidate)


@pytest.mark.parametrize(
    ("size", "needs"),
    [(16, {3, 11}), (10, {0}), (7, {6}), (12, {1, 2, 3}), (9, {0, 4, 8}), (1, {0}), (30, set())],
)
def test_ddmin_finds_exactly_what_is_needed_in_order(size: int, needs: set[int]) -> None:
    predicate = Counting(needs)
    assert ddmin(list(range(size)), predicate) == sorted(needs)
    assert len(predicate.asked) == len(set(predicate.asked)), "a sublist was tested twice"
    assert all(list(c) == sorted(c) for c in predicate.asked), "order must be kept"


def test_ddmin_tries_the_empty_list_first() -> None:
    predicate = Counting(set())
    assert ddmin(list(range(100)), predicate) == []
    assert predicate.asked == [()]


def test_ddmin_is_one_minimal_for_interacting_items() -> None:
    # Passes when it holds an adjacent pair: no single removal from the result passes.
    def adjacent_pair(c: list[int]) -> bool:
        return any(b == a + 1 for a, b in itertools.pairwise(c))

    result = ddmin(list(range(20)), adjacent_pair)
    assert len(result) == 2
    assert adjacent_pair(result)


def test_ddmin_is_cheaper_than_trying_every_subset() -> None:
    predicate = Counting({5, 40})
    assert ddmin(list(range(64)), predicate) == [5, 40]
    assert len(predicate.asked) < 64


def test_ddmin_returns_the_best_so_far_when_time_runs_out() -> None:
    predicate = Counting({3})
    calls = iter(range(1000))
    result = ddmin(list(range(16)), predicate, out_of_time=lambda: next(calls) >= 3)
    assert len(predicate.asked) == 3
    assert 3 in result
    assert predicate.needs <= set(result)
    assert len(result) < 16  # the passing halves it found stay found
    assert ddmin(list(range(16)), Counting({3}), out_of_time=lambda: True) == list(range(16))


def test_simplifications_are_each_one_step_and_shallow_first() -> None:
    value = {"a": "abcd", "b": [1, 2, 3, 4], "c": {"d": "xy"}}
    steps = list(simplifications(value))
    assert steps[:3] == [
        {"b": [1, 2, 3, 4], "c": {"d": "xy"}},
        {"a": "abcd", "c": {"d": "xy"}},
        {"a": "abcd", "b": [1, 2, 3, 4]},
    ]
    assert {**value, "a": ""} in steps
    assert {**value, "a": "ab"} in steps
    assert {**value, "b": [1, 2]} in steps  # half an array
    assert {**value, "b": [1, 3, 4]} in steps
    assert {**value, "c": {}} in steps
    assert {**value, "c": {"d": "x"}} in steps
    assert value == {"a": "abcd", "b": [1, 2, 3, 4], "c": {"d": "xy"}}  # not mutated


@pytest.mark.parametrize("text", ["/dev/sda1", "$WORKDIR/disk.img", "unix:$WORKDIR/s", "a/b"])
def test_strings_that_could_be_host_paths_are_never_shortened(text: str) -> None:
    assert list(simplifications(text)) == []
    assert list(simplifications({"filename": text})) == [{}]


def test_shortening_gives_empty_then_half_and_never_a_dot_directory() -> None:
    assert list(simplifications("abcd")) == ["", "ab"]
    assert list(simplifications("a")) == [""]
    assert list(simplifications("..")) == [""]
    assert list(simplifications("....")) == [""]


def test_simplify_keeps_what_the_predicate_needs_and_drops_the_rest() -> None:
    args = {
        "qom-type": "colo-compare",
        "id": "c0",
        "iothread": "nosuch",
        "compare_timeout": 3000,
        "notify_dev": "abc",
        "list": ["x", "y", "z"],
    }

    def crashes(value: object) -> bool:
        return (
            isinstance(value, dict)
            and value.get("qom-type") == "colo-compare"
            and "iothread" in value
            and "id" in value
        )

    assert simplify(args, crashes) == {"qom-type": "colo-compare", "id": "", "iothread": ""}


def test_simplify_asks_about_each_candidate_once_and_stops_when_told() -> None:
    asked: list[str] = []

    def never(value: object) -> bool:
        asked.append(json.dumps(value, sort_keys=True))
        return False

    args = {"a": "abc", "b": ["x", "y"]}
    assert simplify(args, never) == args
    assert len(asked) == len(set(asked))
    assert simplify(args, lambda v: True, out_of_time=lambda: True) == args


# -- the reproducer-level steps ------------------------------------------------------------


def _rep(messages: list[bytes], trigger: int) -> Reproducer:
    return reproducer(*messages, expected=Outcome("exit", trigger, exit_kind="abort", detail="x"))


def _query(n: int) -> bytes:
    return json.dumps({"execute": "query-status", "id": n}).encode()


TRIGGER = json.dumps(
    {"execute": "object-add", "arguments": {"qom-type": "t", "id": "obj0", "x": 1}, "id": 99}
).encode()


def _needs(*needed: bytes) -> Callable[[Reproducer], bool]:
    """A fake replay: reproduces when the messages hold `needed` and the trigger points at
    the object-add."""

    def reproduces(rep: Reproducer) -> bool:
        trigger = rep.messages[rep.expected.trigger]
        return all(n in rep.messages for n in needed) and trigger.startswith(
            b'{"execute": "object-add"'
        )

    return reproduces


def test_fewer_messages_keeps_capabilities_and_the_trigger_and_repoints_it() -> None:
    rep = _rep([CAPS, *[_query(n) for n in range(10)], TRIGGER, _query(50)], 11)
    smaller = mod._fewer_messages(rep, _needs(_query(4)), lambda: False)
    assert smaller.messages == (CAPS, _query(4), TRIGGER)
    assert smaller.expected.trigger == 2


def test_fewer_messages_keeps_no_capabilities_it_was_not_given() -> None:
    rep = _rep([_query(1), TRIGGER], 1)
    smaller = mod._fewer_messages(rep, _needs(), lambda: False)
    assert smaller.messages == (TRIGGER,)
    assert smaller.expected.trigger == 0


def test_simpler_trigger_rewrites_only_the_arguments() -> None:
    rep = _rep([CAPS, TRIGGER], 1)

    def needs_type(candidate: Reproducer) -> bool:
        envelope = json.loads(candidate.messages[1])
        return envelope["arguments"].get("qom-type") == "t" and envelope["id"] == 99

    smaller = mod._simpler_trigger(rep, needs_type, lambda: False)
    assert json.loads(smaller.messages[1]) == {
        "execute": "object-add",
        "arguments": {"qom-type": "t"},
        "id": 99,
    }
    assert smaller.messages[0] == CAPS


def test_wire_garbage_triggers_are_left_as_they_are() -> None:
    rep = _rep([CAPS, b'{"execute":"x", "arguments": {'], 1)
    assert mod._simpler_trigger(rep, lambda r: True, lambda: False) is rep
