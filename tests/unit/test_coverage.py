"""Schema coverage: which members, enum values, variants and branches values exercise."""

from __future__ import annotations

from pathlib import Path

import pytest

from conformance.spec import Schema, load_schema_file
from conformance.spec.coverage import (
    INT_POINTS,
    LONG_STRING,
    Item,
    command_items,
    exercised,
    items,
    summarise,
)
from conformance.spec.minimal import minimal_object

# A command whose arguments hold every kind of item: a flat union with a nested union,
# an enum, an alternate (int or a recursive object), an array of enums.
ENTRIES = [
    {"name": "str", "meta-type": "builtin", "json-type": "string"},
    {"name": "int", "meta-type": "builtin", "json-type": "int"},
    {"name": "K", "meta-type": "enum", "values": ["a", "b", "c"]},
    {"name": "S", "meta-type": "enum", "values": ["x", "y"]},
    {"name": "[S]", "meta-type": "array", "element-type": "S"},
    {
        "name": "Args",
        "meta-type": "object",
        "members": [
            {"name": "kind", "type": "K"},
            {"name": "tags", "type": "[S]", "default": None},
            {"name": "ref", "type": "Ref", "default": None},
        ],
        "tag": "kind",
        "variants": [{"case": "a", "type": "A"}, {"case": "b", "type": "B"}],
    },
    {"name": "A", "meta-type": "object", "members": [{"name": "only-a", "type": "str"}]},
    {"name": "B", "meta-type": "object", "members": []},
    {
        "name": "Ref",
        "meta-type": "alternate",
        "members": [{"type": "int"}, {"type": "Node"}],
    },
    {
        "name": "Node",
        "meta-type": "object",
        "members": [{"name": "next", "type": "Ref", "default": None}],
    },
    {"name": "Empty", "meta-type": "object", "members": []},
    {"name": "cmd", "meta-type": "command", "arg-type": "Args", "ret-type": "Empty"},
    {"name": "bare", "meta-type": "command", "arg-type": "Empty", "ret-type": "Empty"},
]


@pytest.fixture(scope="module")
def schema() -> Schema:
    return Schema.from_schema_info(ENTRIES)


def keys(found: set[Item] | frozenset[Item]) -> set[str]:
    return {i.key for i in found}


def test_every_item_reachable_from_the_arguments(schema: Schema) -> None:
    assert keys(command_items(schema, "cmd")) == {
        "member:Args:kind",
        "member:Args:tags",
        "member:Args:ref",
        "variant:Args:a",
        "variant:Args:b",
        "member:A:only-a",
        "enum:K:a",
        "enum:K:b",
        "enum:K:c",
        "enum:S:x",
        "enum:S:y",
        "branch:Ref:int",
        "branch:Ref:Node",
        "member:Node:next",  # reached once, although Node refers to itself
        # Optional members absent, and the string member's empty and long points.
        "absent:Args:tags",
        "absent:Args:ref",
        "absent:Node:next",
        "string:A:only-a=empty",
        "string:A:only-a=long",
    }
    assert command_items(schema, "bare") == frozenset()


def test_a_value_exercises_only_what_it_uses(schema: Schema) -> None:
    value = {"kind": "a", "only-a": "v", "tags": ["y", "y"], "ref": {"next": {"next": 5}}}
    assert keys(exercised(schema, "Args", value)) == {
        "member:Args:kind",
        "enum:K:a",
        "variant:Args:a",
        "member:A:only-a",
        "member:Args:tags",
        "enum:S:y",
        "member:Args:ref",
        "branch:Ref:Node",
        "member:Node:next",
        "branch:Ref:int",
    }


def test_scalar_points_by_member() -> None:
    entries = [
        {"name": "str", "meta-type": "builtin", "json-type": "string"},
        {"name": "int", "meta-type": "builtin", "json-type": "int"},
        {"name": "[int]", "meta-type": "array", "element-type": "int"},
        {
            "name": "O",
            "meta-type": "object",
            "members": [
                {"name": "n", "type": "int"},
                {"name": "ns", "type": "[int]", "default": None},
                {"name": "s", "type": "str"},
            ],
        },
    ]
    real = Schema.from_schema_info(entries)
    universe = keys(items(real, "O"))
    assert {f"int:O:n={p}" for p in INT_POINTS} <= universe
    assert {f"int:O:ns={p}" for p in INT_POINTS} <= universe  # arrays of int too
    assert {"string:O:s=empty", "string:O:s=long"} <= universe
    value = {"n": 2**64 - 1, "ns": [0, True, 7], "s": "x" * LONG_STRING}
    used = keys(exercised(real, "O", value))
    # True is no integer, and 7 is no boundary.
    assert {k for k in used if k.startswith(("int:", "string:"))} == {
        "int:O:n=18446744073709551615",
        "int:O:ns=0",
        "string:O:s=long",
    }
    assert "string:O:s=empty" in keys(exercised(real, "O", {"n": 1, "s": ""}))


def test_excluded_points_leave_the_ratio(schema: Schema) -> None:
    universe = command_items(schema, "cmd")
    used = exercised(schema, "Args", {"kind": "c"})
    left_out = [Item("enum", "K", "b"), Item("enum", "K", "c")]  # c was used after all
    coverage = summarise(universe, used, left_out)
    assert coverage.excluded["enum"] == 1
    assert coverage.eligible == len(universe) - 1
    assert coverage.ratio == pytest.approx(sum(coverage.exercised.values()) / (len(universe) - 1))


def test_a_tag_without_a_variant_is_an_enum_value_only(schema: Schema) -> None:
    assert keys(exercised(schema, "Args", {"kind": "c"})) == {
        "member:Args:kind",
        "enum:K:c",
        "absent:Args:tags",
        "absent:Args:ref",
    }


@pytest.mark.parametrize(
    "value",
    [
        {"kind": "nosuch"},  # not an enum value, no variant
        {"kind": 1},  # not even a string
        {"unknown": 1},  # a member the type doesn't have
        {"ref": "text"},  # fits no branch of Ref
        {"tags": "x"},  # not an array
        "not an object",
        None,
    ],
)
def test_invalid_parts_exercise_nothing(schema: Schema, value: object) -> None:
    used = keys(exercised(schema, "Args", value))
    assert used <= {
        "member:Args:kind",
        "member:Args:ref",
        "member:Args:tags",
        "absent:Args:kind",
        "absent:Args:ref",
        "absent:Args:tags",
    }
    assert not any(k.startswith(("enum:", "variant:", "branch:")) for k in used)


def test_deep_values_need_no_recursion(schema: Schema) -> None:
    value: object = 1
    for _ in range(20000):  # far deeper than Python's recursion limit
        value = {"next": value}
    assert "branch:Ref:int" in keys(exercised(schema, "Ref", value))


def test_summary_counts_per_kind(schema: Schema) -> None:
    used = exercised(schema, "Args", {"kind": "b", "ref": 3})
    coverage = summarise(command_items(schema, "cmd"), used)
    assert coverage.exercised == {
        "member": 2,
        "absent": 1,
        "enum": 1,
        "variant": 1,
        "branch": 1,
        "int": 0,
        "string": 0,
    }
    assert coverage.total == {
        "member": 5,
        "absent": 3,
        "enum": 5,
        "variant": 2,
        "branch": 2,
        "int": 0,
        "string": 2,
    }
    assert coverage.ratio == pytest.approx(6 / 19)
    # Items of another type don't count, and a command without items is fully covered.
    assert summarise(command_items(schema, "bare"), used).ratio == 1.0


@pytest.mark.parametrize("key", ["member:Args:kind", "enum:K:a:b", "branch:Ref:[int]"])
def test_keys_read_back(key: str) -> None:
    assert Item.parse(key).key == key


def test_a_bad_key_is_refused() -> None:
    with pytest.raises(ValueError, match="not a coverage item"):
        Item.parse("colour:X:red")


def test_real_schema_minimal_arguments_are_within_the_items(schema_72_x86: Path) -> None:
    real = load_schema_file(schema_72_x86)
    for name, command in real.commands.items():
        value = minimal_object(real, real.object_type(command.arg_type))
        used = exercised(real, command.arg_type, value)
        assert used <= command_items(real, name), name
        required = {m.name for m in real.arg_members_required(name)}
        assert {i.name for i in used if i.kind == "member" and i.owner == command.arg_type} >= (
            required
        ), name
    # blockdev-add: one variant item per driver with options, e.g. file and qcow2.
    arg_type = real.command("blockdev-add").arg_type
    variants = {
        i.name for i in items(real, arg_type) if i.kind == "variant" and i.owner == arg_type
    }
    assert variants == {v.case for v in real.object_type(arg_type).variants}
    assert {"file", "qcow2"} <= variants
