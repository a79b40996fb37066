"""The argument strategies, checked by the validator against the real QEMU 7.2 schema.

The validator is the oracle: every valid example must pass it, and every malformed
example must fail it for exactly the rule it is tagged with, at its path.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import TypeVar

import pytest
from hypothesis import HealthCheck, Phase, find, given, settings
from hypothesis import strategies as st
from hypothesis.errors import NoSuchExample

from conformance.spec import (
    OPEN_ENDED_ARGUMENTS,
    AlternateType,
    ArrayType,
    Builtin,
    EnumType,
    ObjectType,
    Schema,
    TypeInfo,
    load_schema_file,
    validate,
    validate_arguments,
)
from conformance.spec.validate import INT_MAX, INT_MIN, json_type_of, member_path
from strategies.malformed import (
    MALFORMED_RULES,
    Malformed,
    malformed_arguments,
    malformed_rules,
)
from strategies.policy import GenerationPolicy
from strategies.pools import Pools
from strategies.values import INT_BOUNDARIES, arguments, factory_for, values

T = TypeVar("T")

# Big schema values make examples slow and large; neither is a problem here.
SLOW = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]
MANY = settings(max_examples=1000, deadline=None, suppress_health_check=SLOW, database=None)
SOME = settings(max_examples=120, deadline=None, suppress_health_check=SLOW, database=None)
# find() for reachability: the first hit is enough, shrinking it would only cost time.
FIRST = settings(max_examples=3000, phases=[Phase.generate], database=None)
# For asserting what examples shrink to: no example database may replay old finds.
SHRUNK = settings(max_examples=2000, phases=[Phase.generate, Phase.shrink], database=None)
# For "never generated": a cheaper search, backed by the invariant tests above it.
NEVER = settings(max_examples=150, phases=[Phase.generate], database=None)

STRICT = GenerationPolicy(allow_deprecated=False, allow_unstable=False)
NO_NETWORK_DRIVERS = GenerationPolicy(excluded_values={"driver": frozenset({"iscsi", "nbd"})})

# Commands whose arguments nest unions, alternates and arrays of objects: where the
# subtle malformed cases live, so they get examples of their own.
INTRICATE = (
    "blockdev-add",
    "blockdev-create",
    "blockdev-reopen",
    "x-blockdev-amend",
    "object-add",
    "netdev_add",
    "chardev-add",
    "transaction",
    "migrate-set-parameters",
    "x-blockdev-set-iothread",
    "query-cpu-model-expansion",
    "block-dirty-bitmap-merge",
    "set_password",
    "display-update",
    "query-stats",
    "yank",
    "input-send-event",
    "device_add",
)


@pytest.fixture(scope="module")
def schema(schema_72_x86: Path) -> Schema:
    return load_schema_file(schema_72_x86)


@pytest.fixture(scope="module")
def commands(schema: Schema) -> list[str]:
    return sorted(schema.commands)


def is_rejected_for(schema: Schema, command: str, case: Malformed) -> bool:
    violations = validate_arguments(schema, command, case.arguments)
    return (
        bool(violations)
        and all(v.rule == case.rule for v in violations)
        and any(v.path == case.path for v in violations)
    )


def walk(value: object) -> Iterator[object]:
    """Every JSON value inside ``value``, itself included."""
    pending = [value]
    while pending:
        item = pending.pop()
        yield item
        if isinstance(item, dict):
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)


def _branch(schema: Schema, info: AlternateType, value: object) -> TypeInfo | None:
    kinds = {"enum": "string", "array": "array", "object": "object"}
    actual = json_type_of(value)
    for name in info.branches:
        branch = schema.type(name)
        kind = branch.json_type if isinstance(branch, Builtin) else kinds[branch.meta_type]
        if kind == actual or (kind == "number" and actual == "int"):
            return branch
    return None


def features_used(schema: Schema, type_name: str, value: object) -> Iterator[tuple[str, str]]:
    """(member or enum value, feature) for every featured thing ``value`` uses.

    Parts that don't fit their type (a malformed case's defect) are skipped.
    """
    pending: list[tuple[TypeInfo, object]] = [(schema.type(type_name), value)]
    while pending:
        info, item = pending.pop()
        if isinstance(info, AlternateType):
            branch = _branch(schema, info, item)
            if branch is not None:
                pending.append((branch, item))
        elif isinstance(info, EnumType) and isinstance(item, str):
            yield from ((item, f) for f in info.value_features.get(item, ()))
        elif isinstance(info, ArrayType) and isinstance(item, list):
            pending.extend((schema.type(info.element_type), element) for element in item)
        elif isinstance(info, ObjectType) and isinstance(item, dict):
            for member in schema.members_of(info, item):
                if member.name in item:
                    yield from ((member.name, f) for f in member.features)
                    pending.append((schema.type(member.type), item[member.name]))


def policy_features_used(schema: Schema, command: str, value: object) -> set[tuple[str, str]]:
    used = features_used(schema, schema.command(command).arg_type, value)
    return {(item, f) for item, f in used if f in ("deprecated", "unstable")}


def reachable(schema: Schema, type_name: str) -> Iterator[TypeInfo]:
    seen = {type_name}
    pending = [type_name]
    while pending:
        info = schema.type(pending.pop())
        yield info
        if isinstance(info, ArrayType):
            names = [info.element_type]
        elif isinstance(info, AlternateType):
            names = list(info.branches)
        elif isinstance(info, ObjectType):
            names = [m.type for m in info.members] + [v.type for v in info.variants]
        else:
            names = []
        for name in names:
            if name not in seen:
                seen.add(name)
                pending.append(name)


def has_policy_features(schema: Schema, command: str) -> bool:
    features: set[str] = set()
    for info in reachable(schema, schema.command(command).arg_type):
        if isinstance(info, ObjectType):
            features.update(f for m in info.members for f in m.features)
        elif isinstance(info, EnumType):
            features.update(f for fs in info.value_features.values() for f in fs)
    return bool(features & {"deprecated", "unstable"})


def found(strategy: st.SearchStrategy[T], condition: Callable[[T], bool]) -> bool:
    """Whether ``strategy`` generates an example meeting ``condition`` (first hit wins)."""
    try:
        find(strategy, condition, settings=FIRST)
    except NoSuchExample:
        return False
    return True


def never(strategy: st.SearchStrategy[T], condition: Callable[[T], bool]) -> bool:
    """Whether 150 examples of ``strategy`` all fail ``condition``."""
    try:
        find(strategy, condition, settings=NEVER)
    except NoSuchExample:
        return True
    return False


def anything(_: object) -> bool:
    return True


def first(strategy: st.SearchStrategy[T], condition: Callable[[T], bool] = anything) -> T:
    """The first example of ``strategy`` meeting ``condition``, unshrunk."""
    return find(strategy, condition, settings=FIRST)


def simplest(strategy: st.SearchStrategy[T], condition: Callable[[T], bool] = anything) -> T:
    """The example of ``strategy`` meeting ``condition`` that Hypothesis shrinks to."""
    return find(strategy, condition, settings=SHRUNK)


def has_member(name: str, args: dict[str, object]) -> bool:
    return name in args


def inner(args: dict[str, object], member: str, key: str) -> list[object]:
    """``args[member][key]`` for an object member, each element's for an array."""
    value = args.get(member)
    items = value if isinstance(value, list) else [value]
    return [item[key] for item in items if isinstance(item, dict) and key in item]


def blockdev_drivers(schema: Schema) -> frozenset[str]:
    return frozenset(
        v.case for v in schema.object_type(schema.command("blockdev-add").arg_type).variants
    )


def blockdev_add_enums(schema: Schema) -> dict[str, dict[str, set[str]]]:
    """For each enum-typed member of blockdev-add's arguments (tag aside): each of
    its values, and the drivers whose variant has the member with that value."""
    obj = schema.object_type(schema.command("blockdev-add").arg_type)
    result: dict[str, dict[str, set[str]]] = {}
    for variant in obj.variants:
        for member in schema.members_of(obj, {"driver": variant.case}):
            info = schema.type(member.type)
            if isinstance(info, EnumType) and member.name != obj.tag:
                for value in info.values:
                    result.setdefault(member.name, {}).setdefault(value, set()).add(variant.case)
    return result


# -- valid arguments ----------------------------------------------------------------------


@MANY
@given(data=st.data())
def test_arguments_are_valid(schema: Schema, commands: list[str], data: st.DataObject) -> None:
    command = data.draw(st.sampled_from(commands), label="command")
    args = data.draw(arguments(schema, command), label="arguments")
    assert isinstance(args, dict)
    assert validate_arguments(schema, command, args) == []


@SOME
@given(data=st.data())
def test_intricate_arguments_are_valid(schema: Schema, data: st.DataObject) -> None:
    command = data.draw(st.sampled_from(INTRICATE), label="command")
    args = data.draw(arguments(schema, command), label="arguments")
    assert validate_arguments(schema, command, args) == []


def test_commands_without_arguments_get_empty_objects(schema: Schema) -> None:
    assert simplest(arguments(schema, "query-status")) == {}


def test_arguments_shrink_to_required_members_at_their_simplest(schema: Schema) -> None:
    assert simplest(arguments(schema, "block-dirty-bitmap-add")) == {
        "node": "",
        "name": "",
    }
    # BlockdevRef shrinks to its string branch, even where its object branch may go.
    raw = GenerationPolicy(excluded_values={"driver": blockdev_drivers(schema) - {"raw"}})
    assert simplest(arguments(schema, "blockdev-add", policy=raw, max_depth=2)) == {
        "driver": "raw",
        "file": "",
    }


# Random search finds a given one of 42 drivers slowly, and Hypothesis's mutations
# correlate examples; so each target is made the only choice with a policy, which
# exercises the very branch and variant strategies an unrestricted draw uses.
def test_every_blockdev_driver_is_reachable(schema: Schema) -> None:
    drivers = blockdev_drivers(schema)
    for driver in sorted(drivers):
        policy = GenerationPolicy(excluded_values={"driver": drivers - {driver}})
        args = first(arguments(schema, "blockdev-add", policy=policy, max_depth=1))
        assert args["driver"] == driver
        assert validate_arguments(schema, "blockdev-add", args) == []
    # Unrestricted too, for a driver that shares its variant type with eight others.
    assert found(arguments(schema, "blockdev-add", max_depth=1), lambda a: a["driver"] == "vdi")


def test_every_enum_value_of_blockdev_add_is_reachable(schema: Schema) -> None:
    drivers = blockdev_drivers(schema)
    for name, by_value in sorted(blockdev_add_enums(schema).items()):
        for value, having in sorted(by_value.items()):
            policy = GenerationPolicy(
                excluded_values={
                    name: frozenset(by_value) - {value},
                    "driver": drivers - having,
                }
            )
            strategy = arguments(schema, "blockdev-add", policy=policy, max_depth=1)
            args = first(strategy, partial(has_member, name))
            assert args[name] == value


def test_every_union_variant_is_generated_at_the_top(schema: Schema) -> None:
    # Structural, for all unions at once: a find() per variant would take minutes.
    factory = factory_for(schema)
    for info in schema.types.values():
        if isinstance(info, ObjectType) and info.tag is not None:
            groups = factory.variant_groups(info, 0)
            generated = {case for _, cases in groups for case in cases}
            tag = next(m.type for m in info.members if m.name == info.tag)
            tag_enum = schema.type(tag)
            assert isinstance(tag_enum, EnumType)
            assert generated == set(tag_enum.values), info.name


@SOME
@given(data=st.data())
def test_excluded_values_are_never_generated(schema: Schema, data: st.DataObject) -> None:
    command = data.draw(
        st.sampled_from(["blockdev-add", "blockdev-reopen", "blockdev-create", "x-blockdev-amend"])
    )
    malformed = data.draw(st.booleans())
    if malformed:
        strategy = malformed_arguments(schema, command, policy=NO_NETWORK_DRIVERS, max_depth=2)
        case = data.draw(strategy)
        value: object = case.arguments
    else:
        value = data.draw(arguments(schema, command, policy=NO_NETWORK_DRIVERS, max_depth=2))
        assert validate_arguments(schema, command, value) == []
    # A list, not a set: a malformed driver may be an (unhashable) wrong-typed value.
    drivers = [item.get("driver") for item in walk(value) if isinstance(item, dict)]
    assert "iscsi" not in drivers
    assert "nbd" not in drivers


def test_arbitrary_json_never_spells_an_excluded_value(schema: Schema) -> None:
    # 'any' values and wrong-typed junk are filtered by this, wherever they nest.
    factory = factory_for(schema, policy=NO_NETWORK_DRIVERS)
    assert not factory.clean({"props": [{"x": 1}, {"driver": "nbd"}]})
    assert factory.clean({"props": [{"driver": "raw"}, {"mode": "nbd"}, "nbd"]})


def test_exclusions_are_not_vacuous(schema: Schema) -> None:
    assert found(arguments(schema, "blockdev-add", max_depth=1), lambda a: a["driver"] == "nbd")
    assert found(arguments(schema, "blockdev-reopen"), lambda a: bool(a["options"]))


def test_a_policy_leaving_no_value_generates_nothing(schema: Schema) -> None:
    # watchdog-set-action's only member is a required enum: exclude all its values.
    action = schema.type(schema.arg_members("watchdog-set-action")[0].type)
    assert isinstance(action, EnumType)
    policy = GenerationPolicy(excluded_values={"action": frozenset(action.values)})
    assert arguments(schema, "watchdog-set-action", policy=policy).is_empty


@SOME
@given(data=st.data())
def test_strict_policy_leaves_out_deprecated_and_unstable(
    schema: Schema, commands: list[str], data: st.DataObject
) -> None:
    featured = [c for c in commands if has_policy_features(schema, c)]
    command = data.draw(st.sampled_from(featured), label="command")
    args = data.draw(arguments(schema, command, policy=STRICT, max_depth=2), label="arguments")
    assert validate_arguments(schema, command, args) == []
    assert policy_features_used(schema, command, args) == set()


def test_deprecated_and_unstable_are_generated_when_allowed(schema: Schema) -> None:
    assert found(arguments(schema, "block-commit"), lambda a: "base" in a)
    capabilities = arguments(schema, "migrate-set-capabilities")
    assert found(
        capabilities, lambda a: "x-ignore-shared" in inner(a, "capabilities", "capability")
    )
    assert never(
        arguments(schema, "block-commit", policy=STRICT), lambda a: "base" in a or "top" in a
    )


# -- scalars --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "boundary",
    [0, 1, -1, 255, 256, 2**31 - 1, 2**31, -(2**31), 2**32, 2**63 - 1, -(2**63), 2**64 - 1],
)
def test_ints_hit_the_boundaries(schema: Schema, boundary: int) -> None:
    assert boundary in INT_BOUNDARIES
    assert found(values(schema, "int"), lambda v: v == boundary)


@SOME
@given(data=st.data())
def test_scalars_are_json_the_harness_can_send(schema: Schema, data: st.DataObject) -> None:
    type_name = data.draw(st.sampled_from(["int", "number", "str", "bool", "null", "any"]))
    value = data.draw(values(schema, type_name))
    assert validate(schema, value, type_name) == []
    for item in walk(value):
        if isinstance(item, int) and not isinstance(item, bool):
            assert INT_MIN <= item <= INT_MAX
        if isinstance(item, str):
            item.encode("utf-8")  # no lone surrogates


def test_strings_include_empty_unicode_and_long(schema: Schema) -> None:
    strings = values(schema, "str")
    assert simplest(strings) == ""
    assert found(strings, lambda s: isinstance(s, str) and any(ord(c) > 127 for c in s))
    assert found(strings, lambda s: isinstance(s, str) and len(s) >= 1024)


def test_numbers_include_ints_and_floats(schema: Schema) -> None:
    assert found(values(schema, "number"), lambda v: isinstance(v, float))
    assert found(values(schema, "number"), lambda v: isinstance(v, int))


# -- pools ----------------------------------------------------------------------------------


def test_node_names_come_from_the_pool(schema: Schema) -> None:
    pools = Pools()
    pools.extend("node-name", ["disk0", "disk1"])
    strategy = arguments(schema, "blockdev-del", pools=pools)
    assert simplest(strategy) == {"node-name": "disk0"}
    assert found(strategy, lambda a: a["node-name"] == "disk1")


def test_strings_added_after_construction_are_drawn(schema: Schema) -> None:
    pools = Pools()
    strategy = arguments(schema, "blockdev-del", pools=pools)
    pools.add("node-name", "harvested-later")
    assert found(strategy, lambda a: a["node-name"] == "harvested-later")


def test_cpu_model_names_come_from_the_pool(schema: Schema) -> None:
    pools = Pools()
    pools.add("cpu-model", "Skylake-Client")
    strategy = arguments(schema, "query-cpu-model-expansion", pools=pools)
    assert found(strategy, lambda a: inner(a, "model", "name") == ["Skylake-Client"])


# -- malformed arguments ------------------------------------------------------------------------


@MANY
@given(data=st.data())
def test_malformed_arguments_break_exactly_their_rule(
    schema: Schema, commands: list[str], data: st.DataObject
) -> None:
    command = data.draw(st.sampled_from(commands), label="command")
    case = data.draw(malformed_arguments(schema, command), label="case")
    assert case.rule in malformed_rules(schema, command)
    assert is_rejected_for(schema, command, case), validate_arguments(
        schema, command, case.arguments
    )


@SOME
@given(data=st.data())
def test_intricate_malformed_arguments_break_exactly_their_rule(
    schema: Schema, data: st.DataObject
) -> None:
    command = data.draw(st.sampled_from(INTRICATE), label="command")
    case = data.draw(malformed_arguments(schema, command), label="case")
    assert is_rejected_for(schema, command, case), validate_arguments(
        schema, command, case.arguments
    )


@SOME
@given(data=st.data())
def test_malformed_arguments_honour_the_policy(
    schema: Schema, commands: list[str], data: st.DataObject
) -> None:
    featured = [c for c in commands if has_policy_features(schema, c)]
    command = data.draw(st.sampled_from(featured), label="command")
    strategy = malformed_arguments(schema, command, policy=STRICT, max_depth=2)
    case = data.draw(strategy, label="case")
    assert is_rejected_for(schema, command, case)
    assert policy_features_used(schema, command, case.arguments) == set()


def test_rules_every_command_supports(schema: Schema, commands: list[str]) -> None:
    for command in commands:
        rules = malformed_rules(schema, command)
        assert "not-object" in rules
        if command not in OPEN_ENDED_ARGUMENTS:
            assert "unknown-member" in rules, command
        if schema.arg_members(command):
            assert "wrong-type" in rules, command


@pytest.mark.parametrize(
    ("command", "rules"),
    [
        ("query-status", ("not-object", "unknown-member")),
        ("device_add", ("not-object", "missing-member", "wrong-type", "null")),
        ("qom-get", ("not-object", "unknown-member", "missing-member", "wrong-type", "null")),
        ("blockdev-add", MALFORMED_RULES),
        # StrOrNull: null is a branch, so no "null" there; wrong JSON types are
        # alternate-branch.
        (
            "x-blockdev-set-iothread",
            (
                "not-object",
                "unknown-member",
                "missing-member",
                "wrong-type",
                "null",
                "alternate-branch",
            ),
        ),
    ],
)
def test_rules_of_particular_commands(schema: Schema, command: str, rules: tuple[str, ...]) -> None:
    assert malformed_rules(schema, command) == rules


@pytest.mark.parametrize("rule", MALFORMED_RULES)
def test_blockdev_add_breaks_every_rule(schema: Schema, rule: str) -> None:
    strategy = malformed_arguments(schema, "blockdev-add", max_depth=2)
    case = find(strategy, lambda c: c.rule == rule, settings=FIRST)
    assert is_rejected_for(schema, "blockdev-add", case)


def test_malformed_cases_shrink_to_the_outermost_location(schema: Schema) -> None:
    # max_depth keeps examples (and so shrinking) small; the top level is the same.
    strategy = malformed_arguments(schema, "blockdev-add", max_depth=1)
    assert simplest(strategy) == Malformed("not-object", "$", 0)
    case = simplest(strategy, lambda c: c.rule == "wrong-type")
    assert case.path == "$.driver"
    case = simplest(strategy, lambda c: c.rule == "union-tag")
    assert case == Malformed("union-tag", "$.driver", {"driver": ""})
    reopen = malformed_arguments(schema, "blockdev-reopen", max_depth=3)
    case = simplest(reopen, lambda c: c.rule == "union-tag")
    assert case == Malformed("union-tag", "$.options[0].driver", {"options": [{"driver": ""}]})


def test_malformed_reaches_the_subtle_places(schema: Schema) -> None:
    # Narrowed to raw (whose file is a BlockdevRef) so that searches are short.
    raw = GenerationPolicy(excluded_values={"driver": blockdev_drivers(schema) - {"raw"}})
    raw_only = malformed_arguments(schema, "blockdev-add", policy=raw, max_depth=2)
    # A tag is never an enum-value; a nested BlockdevOptions' tag is a union-tag.
    assert never(raw_only, lambda c: c.rule == "enum-value" and c.path == "$.driver")
    assert found(raw_only, lambda c: c.rule == "union-tag" and c.path == "$.file.driver")
    # Inside the object branch of an alternate, and inside an array element.
    assert found(raw_only, lambda c: c.path.startswith("$.file.") and c.rule == "wrong-type")
    reopen = malformed_arguments(schema, "blockdev-reopen", max_depth=2)
    assert found(reopen, lambda c: c.path.startswith("$.options[") and c.rule == "missing-member")
    # StrOrNull takes null, so null there is never a case; an int there fits no branch.
    iothread = malformed_arguments(schema, "x-blockdev-set-iothread")
    assert never(iothread, lambda c: c.path == "$.iothread" and c.rule == "null")
    assert found(iothread, lambda c: c.path == "$.iothread" and c.rule == "alternate-branch")
    # qom-set's value is 'any': nothing is wrong there.
    qom_set = malformed_arguments(schema, "qom-set")
    assert never(qom_set, lambda c: c.path == "$.value" and c.rule != "missing-member")


def unknown_at_top(case: Malformed) -> bool:
    if case.rule != "unknown-member" or not isinstance(case.arguments, dict):
        return False
    return case.path in {member_path("$", name) for name in case.arguments}


def test_open_ended_commands_get_no_top_level_unknown_member(schema: Schema) -> None:
    for command in OPEN_ENDED_ARGUMENTS:
        malformed = malformed_arguments(schema, command)
        assert never(malformed, unknown_at_top)
    # The check itself sees top-level unknown members where they are allowed.
    assert found(malformed_arguments(schema, "qom-get"), unknown_at_top)


# -- building ---------------------------------------------------------------------------------


def test_strategies_for_every_command_build_from_one_cached_factory(schema_72_x86: Path) -> None:
    # A schema of its own, so no cache from the other tests helps. What building costs
    # is measured in bench/ (fuzz_throughput.py), not asserted here.
    fresh = load_schema_file(schema_72_x86)
    for command in fresh.commands:
        arguments(fresh, command).validate()
        malformed_arguments(fresh, command).validate()
    # Every command's strategies share one factory, so a type's strategy is built once.
    assert factory_for(fresh) is factory_for(fresh)
