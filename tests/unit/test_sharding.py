"""--shard K/N: the partition of collected tests by command, balanced by expected cost."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import pytest

from conformance.behaviour.rules import RULES
from conformance.sharding import (
    COSTS,
    DEFAULT_COST,
    ShardSpec,
    expected_cost,
    group_key,
    parse_shard,
    partition,
    plan,
)

pytest_plugins = ["pytester"]


@dataclass
class _Callspec:
    params: dict[str, object]


@dataclass
class FakeItem:
    """What the sharding reads of a pytest item: its id, function name and params."""

    nodeid: str
    originalname: str
    params: dict[str, object] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.nodeid.rsplit("::", 1)[-1]

    @property
    def callspec(self) -> _Callspec | None:
        return _Callspec(self.params) if self.params else None


@dataclass
class _Entry:
    name: str


def _item(module: str, function: str, ident: str = "", **params: object) -> FakeItem:
    suffix = f"[{ident}]" if ident else ""
    return FakeItem(f"conformance/suite/{module}.py::{function}{suffix}", function, params)


def suite_items() -> list[FakeItem]:
    """A collection shaped like the real one: per-command tests for 60 commands, doc
    tests, behaviour rules, and the protocol and state-machine tests."""
    items: list[FakeItem] = []
    commands = [f"cmd-{i:02d}" for i in range(60)]
    for c in commands:
        items.append(_item("test_arguments", "test_valid_arguments", c, command_name=c))
        items.append(_item("test_arguments", "test_malformed_arguments", c, command_name=c))
        items.append(
            _item("test_negotiation", "test_command_before_negotiation", c, command_name=c)
        )
        for profile in ("none", "q35"):
            items.append(
                _item(
                    "test_no_arguments",
                    "test_no_arguments",
                    f"{c}-{profile}",
                    no_arg_command=c,
                    profile_name=profile,
                )
            )
    for c in commands[::3]:
        items.append(
            _item(
                "test_doc_examples", "test_doc_example", f"{c}-1", doc_example=(_Entry(c), 0, None)
            )
        )
        items.append(
            _item("test_doc_errors", "test_doc_error", f"{c}-1", doc_error=(_Entry(c), 0, None))
        )
        items.append(_item("test_doc_drift", "test_doc_drift", c, drift_items=(c, ())))
    for rule in RULES[:20]:
        items.append(_item("test_behaviour", "test_behaviour", rule.id, behaviour_rule=rule))
    for rule in ("not-object", "no-execute", "bad-arguments"):
        items.append(_item("test_protocol", "test_bad_envelope", rule, rule=rule))
    for function in (
        "test_wire_state_machine",
        "test_resource_state_machine",
        "test_greeting_conforms",
    ):
        items.append(_item("test_misc", function))
    items.append(_item("test_migration", "test_postcopy_during_migration"))
    items.append(
        _item("test_job_verbs", "test_refused_verb", "running-pause", state="running", verb="pause")
    )
    return items


def _shards(items: list[FakeItem], n: int) -> list[list[str]]:
    return [[i.nodeid for i in partition(items, ShardSpec(k, n))[0]] for k in range(1, n + 1)]


@pytest.mark.parametrize("n", range(1, 7))
def test_shards_are_disjoint_and_complete(n: int) -> None:
    items = suite_items()
    shards = _shards(items, n)
    every = [nodeid for shard in shards for nodeid in shard]
    assert len(every) == len(set(every)), "a test is in two shards"
    assert sorted(every) == sorted(i.nodeid for i in items)
    assert all(shards), "with this many groups no shard is empty"


@pytest.mark.parametrize("n", range(1, 7))
def test_partition_is_stable_and_independent_of_order(n: int) -> None:
    items = suite_items()
    first = [set(s) for s in _shards(items, n)]
    assert [set(s) for s in _shards(items, n)] == first
    shuffled = list(items)
    random.Random(n).shuffle(shuffled)
    assert [set(s) for s in _shards(shuffled, n)] == first


def test_kept_tests_keep_their_collection_order() -> None:
    items = suite_items()
    kept, dropped, _ = partition(items, ShardSpec(1, 3))
    order = {i.nodeid: n for n, i in enumerate(items)}
    assert [order[i.nodeid] for i in kept] == sorted(order[i.nodeid] for i in kept)
    assert len(kept) + len(dropped) == len(items)


@pytest.mark.parametrize("n", range(1, 7))
def test_shards_are_balanced(n: int) -> None:
    """Greedy LPT: the fullest shard exceeds the emptiest by at most one group's cost
    (the last group it got went to the emptiest shard of the moment), so it is within
    the mean plus the costliest group."""
    items = suite_items()
    made = plan(((group_key(i), expected_cost(i)) for i in items), n)
    biggest = max(made.group_costs.values())
    total = sum(made.group_costs.values())
    assert max(made.loads) - min(made.loads) <= biggest + 1e-6
    assert max(made.loads) <= total / n + biggest + 1e-6
    assert sum(made.loads) == pytest.approx(total)


def test_a_command_stays_in_one_shard() -> None:
    """Every test of a command (arguments, doc examples, drift, behaviour rules) goes
    where its group goes: a command's matrix row comes from one job."""
    items = suite_items()
    by_command: dict[str, set[int]] = {}
    for k in range(1, 5):
        for item in partition(items, ShardSpec(k, 4))[0]:
            by_command.setdefault(group_key(item), set()).add(k)
    assert all(len(shards) == 1 for shards in by_command.values())


def test_group_keys() -> None:
    rule = RULES[0]
    cases = {
        "command:cmd-01": _item("a", "test_valid_arguments", "x", command_name="cmd-01"),
        "command:cmd-02": _item("a", "test_no_arguments", "x", no_arg_command="cmd-02"),
        "command:cmd-03": _item(
            "a", "test_doc_example", "x", doc_example=(_Entry("cmd-03"), 0, None)
        ),
        "command:cmd-04": _item("a", "test_doc_error", "x", doc_error=(_Entry("cmd-04"), 1, None)),
        "command:EVENT": _item("a", "test_doc_drift", "x", drift_items=("EVENT", ())),
        f"command:{rule.command}": _item("a", "test_behaviour", rule.id, behaviour_rule=rule),
        "machine:pc-q35-7.2": _item("m", "test_machine_type", "x", machine_type="pc-q35-7.2"),
        "test:conformance/suite/p.py::test_bad_envelope": _item(
            "p", "test_bad_envelope", "r", rule="r"
        ),
        "test:conformance/suite/w.py::test_wire_state_machine": _item(
            "w", "test_wire_state_machine"
        ),
        # Docs missing: the param is None (skipped), grouped by function.
        "test:conformance/suite/d.py::test_doc_example": _item(
            "d", "test_doc_example", "x", doc_example=None
        ),
    }
    for key, item in cases.items():
        assert group_key(item) == key


def test_costs_rank_the_expensive_tests_first() -> None:
    assert expected_cost(_item("w", "test_wire_state_machine")) > 10 * COSTS["test_valid_arguments"]
    assert (
        expected_cost(_item("m", "test_postcopy_during_migration")) > COSTS["test_valid_arguments"]
    )
    assert expected_cost(_item("x", "test_something_new")) == DEFAULT_COST


def test_plan_adds_the_costs_of_a_repeated_key() -> None:
    made = plan([("a", 1.0), ("b", 1.5), ("a", 1.0)], 2)
    assert made.group_costs == {"a": 2.0, "b": 1.5}
    assert made.assignment == {"a": 0, "b": 1}


def test_more_shards_than_groups_leaves_some_empty() -> None:
    made = plan([("a", 1.0), ("b", 1.0)], 4)
    assert sorted(made.assignment.values()) == [0, 1]
    assert made.loads == (1.0, 1.0, 0.0, 0.0)


@pytest.mark.parametrize(
    ("text", "expected"), [("1/1", (1, 1)), ("2/4", (2, 4)), (" 3 / 3 ", (3, 3))]
)
def test_parse_shard(text: str, expected: tuple[int, int]) -> None:
    spec = parse_shard(text)
    assert (spec.index, spec.total) == expected
    assert str(spec) == f"{expected[0]}/{expected[1]}"


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("0/2", "K must be between 1 and N"),
        ("3/2", "K must be between 1 and N"),
        ("1/0", "N must be at least 1"),
        ("1", "expected K/N"),
        ("a/b", "expected K/N"),
        ("-1/2", "expected K/N"),
        ("", "expected K/N"),
    ],
)
def test_parse_shard_errors(text: str, why: str) -> None:
    with pytest.raises(ValueError, match=why) as err:
        parse_shard(text)
    assert "\n" not in str(err.value)


_TESTS = """
import pytest

@pytest.mark.parametrize("x", range(4))
def test_a(x): pass

@pytest.mark.parametrize("x", range(3))
def test_b(x): pass

def test_c(): pass

def test_d(): pass
"""


def test_plugin_deselects_and_reports(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_shard=_TESTS)
    outcomes = []
    for k in (1, 2):
        result = pytester.runpytest(
            "-p", "no:cacheprovider", "-p", "conformance.sharding", f"--shard={k}/2"
        )
        result.stdout.fnmatch_lines([f"shard {k}/2: * tests of 9, expected cost *"])
        counts = result.parseoutcomes()
        assert counts["passed"] + counts["deselected"] == 9
        outcomes.append(counts["passed"])
    assert sum(outcomes) == 9


def test_plugin_refuses_a_bad_shard(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_shard=_TESTS)
    result = pytester.runpytest(
        "-p", "no:cacheprovider", "-p", "conformance.sharding", "--shard=3/2"
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--shard 3/2: K must be between 1 and N (2)*"])
