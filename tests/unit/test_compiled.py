"""The compiled generators (strategies.compiled) and the structural shrinker
(conformance.fuzz.shrink), on the recorded 7.2 schema: valid arguments pass the
validator, malformed cases break exactly the rule they carry, the policy holds."""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from conformance.fuzz.shrink import shrink, simpler
from conformance.spec import Schema, load_schema_file, validate_arguments
from strategies import safety
from strategies.compiled import NoValue, compiled_for, request_id
from strategies.mutate import mutant, mutator
from strategies.pools import Pools

EXAMPLES = 15


@pytest.fixture(scope="module")
def schema(schema_72_x86: Path) -> Schema:
    return load_schema_file(schema_72_x86)


def runnable(schema: Schema) -> list[str]:
    return sorted(c for c in schema.commands if not safety.skip_reason(c))


def drawn(draw: Callable[[random.Random], object], rnd: random.Random) -> Iterator[object]:
    """EXAMPLES draws of ``draw``, less the ones with no value."""
    for _ in range(EXAMPLES):
        try:
            yield draw(rnd)
        except NoValue:
            continue


def test_valid_arguments_pass_the_validator(schema: Schema) -> None:
    policy = safety.generation_policy()
    compiled = compiled_for(schema, Pools(), policy)
    rnd = random.Random(1)
    for command in runnable(schema):
        for value in drawn(compiled.arguments(command), rnd):
            assert validate_arguments(schema, command, value) == [], (command, value)
            assert compiled.factory.clean(value), (command, value)


def test_malformed_cases_break_their_rule_alone(schema: Schema) -> None:
    policy = safety.generation_policy()
    compiled = compiled_for(schema, Pools(), policy)
    rnd = random.Random(2)
    rules: set[str] = set()
    for command in runnable(schema):
        draw = compiled.malformed(command)
        for _ in range(EXAMPLES):
            try:
                case = draw(rnd)
            except NoValue:
                continue
            (violation,) = validate_arguments(schema, command, case.arguments)
            assert (violation.rule, violation.path) == (case.rule, case.path)
            assert case.arguments is not None, "never null at the top"
            rules.add(case.rule)
    assert {"not-object", "unknown-member", "missing-member", "wrong-type", "null"} <= rules
    assert {"enum-value", "union-tag"} & rules


def test_pooled_members_draw_harvested_strings(schema: Schema) -> None:
    pools = Pools()
    pools.extend("node-name", ["harvested-node"])
    compiled = compiled_for(schema, pools, safety.generation_policy())
    rnd = random.Random(3)
    draw = compiled.arguments("block-dirty-bitmap-add")
    nodes = {draw(rnd)["node"] for _ in range(50)}
    assert "harvested-node" in nodes


def test_same_seed_same_arguments(schema: Schema) -> None:
    compiled = compiled_for(schema, Pools(), safety.generation_policy())
    draw = compiled.arguments("blockdev-add")
    first = [draw(random.Random(9)) for _ in range(3)]
    assert first == [draw(random.Random(9)) for _ in range(3)]


def test_request_ids_are_json_without_noncharacters() -> None:
    rnd = random.Random(4)
    for _ in range(500):
        text = json.dumps(request_id(rnd), ensure_ascii=False)
        assert not any(0xFDD0 <= ord(c) <= 0xFDEF or ord(c) & 0xFFFE == 0xFFFE for c in text)


def test_simpler_variants_are_one_step_simpler() -> None:
    assert list(simpler({"a": 1, "b": "xy"})) == [
        {"b": "xy"},
        {"a": 1},
        {"a": 0, "b": "xy"},
        {"a": 1, "b": ""},
        {"a": 1, "b": "x"},
    ]
    assert list(simpler(-1000)) == [0, -1, -3, -62, -500]
    assert list(simpler([True])) == [[], [False]]
    assert list(simpler(0)) == []
    assert list(simpler(False)) == []


def test_shrink_keeps_what_the_predicate_accepts() -> None:
    value = {"node": "abcdef", "size": 4096, "extra": [1, 2, 3], "flag": True}

    def fails(variant: object) -> bool:
        # The "failure": a size of at least 100 with a node given.
        return isinstance(variant, dict) and "node" in variant and variant.get("size", 0) >= 100

    assert shrink(value, fails, 10.0) == {"node": "", "size": 128}
    # 2**63 - 1 down to the smallest magnitude above a threshold in few steps.
    tries: list[object] = []

    def big(variant: object) -> bool:
        tries.append(variant)
        return isinstance(variant, int) and variant >= 5000

    assert 5000 <= shrink(2**63 - 1, big, 10.0) < 10000
    assert len(tries) < 200


def test_shrink_stops_at_its_budget() -> None:
    calls = []

    def slow(variant: object) -> bool:
        calls.append(variant)
        return True

    assert shrink([1, 2, 3], slow, 0.0) == [1, 2, 3]
    assert calls == []


def test_mutants_of_seeds_are_valid_clean_and_near_their_seeds(schema: Schema) -> None:
    policy = safety.generation_policy()
    compiled = compiled_for(schema, Pools(), policy)
    rnd = random.Random(3)
    changed = 0
    for command in ("object-add", "blockdev-add", "migrate-set-parameters", "chardev-add"):
        fresh = compiled.arguments(command)
        seeds = [fresh(rnd) for _ in range(4)]
        draw = mutator(schema, compiled.factory, command, fresh, seeds)
        for value in drawn(draw, rnd):
            assert validate_arguments(schema, command, value) == [], (command, value)
            assert compiled.factory.clean(value)
            changed += value not in seeds
    assert changed > EXAMPLES
    assert seeds == [json.loads(json.dumps(s)) for s in seeds]  # seeds left as they were


def test_a_mutant_changes_one_thing() -> None:
    rnd = random.Random(5)
    seed: dict[str, object] = {"a": {"n": 2**40, "s": "x"}, "b": [1, 2]}
    fresh: dict[str, object] = {"a": {"n": 7, "t": True}, "c": "y"}
    seen = set()
    for _ in range(200):
        value = mutant(rnd, seed, fresh)
        seen.add(json.dumps(value, sort_keys=True))
        assert seed == {"a": {"n": 2**40, "s": "x"}, "b": [1, 2]}
    # A donor's value in place, a donor's member added, a member left out, a small int.
    assert json.dumps({"a": {"n": 7, "s": "x"}, "b": [1, 2]}, sort_keys=True) in seen
    assert json.dumps({"a": {"n": 2**40, "s": "x", "t": True}, "b": [1, 2]}, sort_keys=True) in seen
    assert json.dumps({"a": {"n": 2**40, "s": "x"}}, sort_keys=True) in seen
    made_small = [json.loads(v)["a"].get("n") for v in seen if json.loads(v).get("a")]
    assert any(isinstance(n, int) and n not in (7, 2**40) and n <= 1 << 20 for n in made_small)


def test_a_mutant_may_give_a_naming_member_a_fresh_well_formed_name() -> None:
    rnd = random.Random(2)
    seed: dict[str, object] = {"node-name": "null0", "driver": "null-co"}
    names = {str(mutant(rnd, seed, {"driver": "raw"}).get("node-name")) for _ in range(200)}
    fresh = names - {"null0", "None", "null-co", "raw"}
    assert fresh
    # QEMU's id_wellformed(): a letter, then letters, digits, '-', '.', '_'.
    assert all(re.fullmatch(r"[A-Za-z][A-Za-z0-9._-]*", name) for name in fresh)
