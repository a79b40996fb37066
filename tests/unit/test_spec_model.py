"""The schema model: loading real QEMU 7.2 dumps, and refusing malformed ones."""

from __future__ import annotations

import copy
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conformance.spec import (
    Builtin,
    Command,
    EnumType,
    Member,
    ObjectType,
    Schema,
    SchemaError,
    Variant,
    load_schema_file,
    read_schema_document,
    schema_from_reply,
)

TARGETS = ["x86_64", "aarch64", "ppc64", "riscv64", "s390x", "qemu-storage-daemon"]


@pytest.fixture(scope="module")
def schema(schema_72_x86: Path) -> Schema:
    return load_schema_file(schema_72_x86)


def corpus_file(corpus: Path, target: str) -> Path:
    return corpus / "qemu-7.2" / f"query-qmp-schema.{target}.json"


# -- hand-made schemas ------------------------------------------------------------------

BUILTINS: list[dict[str, Any]] = [
    {"name": "str", "meta-type": "builtin", "json-type": "string"},
    {"name": "int", "meta-type": "builtin", "json-type": "int"},
]


def obj(name: str, *members: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"name": name, "meta-type": "object", "members": list(members), **extra}


def member(name: str, type_name: str, *, optional: bool = False) -> dict[str, Any]:
    return {"name": name, "type": type_name, **({"default": None} if optional else {})}


def enum(name: str, *values: str) -> dict[str, Any]:
    return {
        "name": name,
        "meta-type": "enum",
        "values": list(values),
        "members": [{"name": v} for v in values],
    }


def command(name: str, arg_type: str = "0", ret_type: str = "0") -> dict[str, Any]:
    return {"name": name, "meta-type": "command", "arg-type": arg_type, "ret-type": ret_type}


def mini(*entries: object) -> list[object]:
    """A small well-formed schema (builtins, an empty object, a command) plus entries."""
    return [*BUILTINS, obj("0"), command("stop"), *entries]


def union(name: str, tag_enum: str, *variants: tuple[str, str]) -> dict[str, Any]:
    return obj(
        name,
        member("kind", tag_enum),
        tag="kind",
        variants=[{"case": c, "type": t} for c, t in variants],
    )


def schema_error(entries: object) -> str:
    with pytest.raises(SchemaError) as info:
        Schema.from_schema_info(entries)
    return str(info.value)


# -- the recorded 7.2 dumps ---------------------------------------------------------------


def test_counts_of_recorded_x86_64_dump(schema: Schema) -> None:
    assert schema.counts() == {
        "builtin": 6,
        "enum": 132,
        "array": 86,
        "object": 553,
        "alternate": 6,
        "command": 216,
        "event": 52,
    }


@pytest.mark.parametrize("target", TARGETS)
def test_every_corpus_dump_loads_with_counts_matching_its_list(corpus: Path, target: str) -> None:
    entries, metadata = read_schema_document(corpus_file(corpus, target))
    schema = load_schema_file(corpus_file(corpus, target))
    counted = Counter(entry["meta-type"] for entry in entries if isinstance(entry, dict))
    assert schema.counts() == {meta: counted[meta] for meta in schema.counts()}
    assert sum(schema.counts().values()) == len(entries)
    assert str(metadata["binary"]).endswith(target)


def test_metadata_of_recording(schema_72_x86: Path) -> None:
    _, metadata = read_schema_document(schema_72_x86)
    assert set(metadata) == {"binary", "arguments", "qemu-version"}
    assert metadata["binary"] == "qemu-system-x86_64"


@pytest.mark.parametrize(
    "row",
    [
        ("command", "drive-backup", None, ("deprecated",)),
        ("command", "nbd-server-add", None, ("deprecated",)),
        ("event", "MEM_UNPLUG_ERROR", None, ("deprecated",)),
        ("member", "block-commit", "top", ("deprecated",)),
        ("member", "eject", "device", ("deprecated",)),
        ("command", "x-query-virtio", None, ("unstable",)),
        ("command", "device_add", None, ("json-cli", "json-cli-hotplug")),
    ],
)
def test_featured_lists_known_72_features(schema: Schema, row: tuple[Any, ...]) -> None:
    assert row in schema.featured()


def test_featured_enum_values_and_types(schema: Schema) -> None:
    rows = schema.featured()
    assert ("drive-backup", ("deprecated",)) in {(r[2], r[3]) for r in rows if r[0] == "enum-value"}
    assert ("x-colo", ("unstable",)) in {(r[2], r[3]) for r in rows if r[0] == "enum-value"}
    assert any(r[0] == "object" and r[3] == ("dynamic-auto-read-only",) for r in rows)
    assert all(r[3] for r in rows)


def test_members_of_flat_union(schema: Schema) -> None:
    options = schema.object_type(schema.command("blockdev-add").arg_type)
    base = [m.name for m in schema.members_of(options)]
    assert base[:2] == ["driver", "node-name"]
    assert [m.name for m in schema.arg_members("blockdev-add")] == base
    null_co = [m.name for m in schema.members_of(options, {"driver": "null-co"})]
    assert null_co == [*base, "size", "latency-ns", "read-zeroes"]
    assert [m.name for m in schema.required_members(options)] == ["driver"]
    assert [m.name for m in schema.required_members(options, {"driver": "file"})] == [
        "driver",
        "filename",
    ]


@pytest.mark.parametrize("tag", [None, "bogus", 5])
def test_resolve_leaves_union_undecided_without_a_valid_tag(schema: Schema, tag: object) -> None:
    options = schema.object_type(schema.command("blockdev-add").arg_type)
    value = {} if tag is None else {"driver": tag}
    resolved = schema.resolve(options, value)
    assert resolved.undecided == options
    assert resolved.members == options.members
    assert {"filename", "size", "read-zeroes"} <= schema.variant_member_names(options)


def test_device_add_arguments_and_empty_objects(schema: Schema) -> None:
    members = schema.arg_members("device_add")
    assert [(m.name, m.type, m.optional) for m in members] == [
        ("driver", "str", False),
        ("bus", "str", True),
        ("id", "str", True),
    ]
    assert [m.name for m in schema.arg_members_required("device_add")] == ["driver"]
    assert schema.arg_members_required("query-status") == ()
    assert schema.is_empty_object(schema.command("query-status").arg_type)
    assert not schema.is_empty_object(schema.command("device_add").arg_type)
    assert not schema.is_empty_object("str")


def test_model_objects_are_typed_and_frozen(schema: Schema) -> None:
    assert schema.type("int") == Builtin("int", "int")
    assert isinstance(schema.command("query-version"), Command)
    status = schema.type(schema.members_of(schema.object_type("1"))[2].type)
    assert isinstance(status, EnumType)
    assert "running" in status.values
    with pytest.raises(AttributeError):
        status.name = "x"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("lookup", "name"),
    [
        (Schema.type, "nope"),
        (Schema.command, "nope"),
        (Schema.event, "nope"),
        (Schema.object_type, "str"),
    ],
)
def test_unknown_names_raise_schema_error(schema: Schema, lookup: Any, name: str) -> None:
    with pytest.raises(SchemaError):
        lookup(schema, name)


# -- hand-made schemas: nesting and corruption --------------------------------------------


def test_nested_variants_resolve_recursively() -> None:
    schema = Schema.from_schema_info(
        mini(
            enum("K", "a", "b"),
            enum("S", "x", "y"),
            union("Outer", "K", ("a", "Inner")),
            obj(
                "Inner",
                member("sub", "S"),
                member("common", "int"),
                tag="sub",
                variants=[{"case": "x", "type": "X"}, {"case": "y", "type": "0"}],
            ),
            obj("X", member("deep", "str")),
        )
    )
    outer = schema.object_type("Outer")
    names = [m.name for m in schema.members_of(outer, {"kind": "a", "sub": "x"})]
    assert names == ["kind", "sub", "common", "deep"]
    assert [m.name for m in schema.members_of(outer, {"kind": "b"})] == ["kind"]
    assert schema.resolve(outer, {"kind": "a", "sub": "z"}).undecided == schema.type("Inner")
    assert schema.variant_member_names(outer) == {"sub", "common", "deep"}


@pytest.mark.parametrize(
    ("types", "fragment"),
    [
        ({"A": ObjectType("A", (Member("m", "Missing"),))}, "names no type"),
        (
            {"A": ObjectType("A", (), "t", (Variant("x", "A"),))},
            "tag 't' is not one of its members",
        ),
        ({"A": ObjectType("B")}, "object 'B' is filed under 'A'"),
    ],
    ids=["dangling", "tag", "misfiled"],
)
def test_direct_construction_checks_references(types: dict[str, Any], fragment: str) -> None:
    with pytest.raises(SchemaError, match=fragment):
        Schema(types, {}, {})


def test_direct_construction_of_a_consistent_schema() -> None:
    schema = Schema(
        {
            "K": EnumType("K", ("a",)),
            "U": ObjectType("U", (Member("k", "K"),), "k", (Variant("a", "U2"),)),
            "U2": ObjectType("U2"),
        },
        {},
        {},
    )
    assert schema.members_of(schema.object_type("U"), {"k": "a"}) == (Member("k", "K"),)


CORRUPT: list[tuple[str, object, str]] = [
    ("not a list", {"return": []}, "expected a list of SchemaInfo"),
    ("entry not an object", mini(["x"]), "schema entry 4: entry is not an object"),
    ("no meta-type", mini({"name": "x"}), "schema entry 4: entry has no 'meta-type'"),
    ("unknown meta-type", mini({"name": "x", "meta-type": "union"}), "unknown meta-type 'union'"),
    ("no name", mini({"meta-type": "enum", "values": []}), "schema entry 4: enum has no 'name'"),
    ("name not a string", mini({"meta-type": "array", "name": 3}), "has 'name' 3, not a string"),
    (
        "member without type",
        mini(obj("O", {"name": "x"})),
        "schema entry 4: object 'O' member 'x' has no 'type'",
    ),
    ("member without name", mini(obj("O", {"type": "str"})), "object 'O' member 0 has no 'name'"),
    ("members not a list", mini({"name": "O", "meta-type": "object", "members": {}}), "not a list"),
    ("duplicate type", mini(obj("O"), enum("O")), "type name 'O' is already defined by entry 4"),
    ("duplicate command", mini(command("stop")), "command name 'stop' is already defined"),
    (
        "duplicate member",
        mini(obj("O", member("a", "str"), member("a", "int"))),
        "duplicate member 'a'",
    ),
    ("duplicate enum value", mini(enum("E", "a", "a")), "duplicate value 'a'"),
    ("dangling member type", mini(obj("O", member("a", "9"))), "member 'a' type '9' names no type"),
    (
        "dangling element",
        mini({"name": "[9]", "meta-type": "array", "element-type": "9"}),
        "'9' names no type",
    ),
    ("dangling arg-type", mini(command("go", "9")), "command 'go': arg-type '9' names no type"),
    ("dangling ret-type", mini(command("go", "0", "9")), "ret-type '9' names no type"),
    (
        "dangling event arg-type",
        mini({"name": "EV", "meta-type": "event", "arg-type": "9"}),
        "event 'EV': arg-type '9' names no type",
    ),
    (
        "dangling variant",
        mini(enum("K", "a"), union("U", "K", ("a", "9"))),
        "variant 'a' type '9' names no type",
    ),
    (
        "dangling branch",
        mini({"name": "A", "meta-type": "alternate", "members": [{"type": "9"}]}),
        "branch '9' names no type",
    ),
    (
        "tag not a member",
        mini(obj("U", tag="kind", variants=[])),
        "object 'U': tag 'kind' is not one of its members",
    ),
    ("tag not an enum", mini(union("U", "str")), "member 'kind' type 'str' is builtin, not enum"),
    (
        "variant not an object",
        mini(enum("K", "a"), union("U", "K", ("a", "int"))),
        "is builtin, not object",
    ),
    (
        "case not a tag value",
        mini(enum("K", "a"), union("U", "K", ("b", "0"))),
        "case 'b' is not a value",
    ),
    ("variants without tag", mini(obj("U", variants=[])), "needs both 'tag' and 'variants'"),
    (
        "variant cycle",
        mini(enum("K", "a"), union("U", "K", ("a", "U"))),
        "variants nest back into it",
    ),
    ("arg-type not an object", mini(command("go", "str")), "arg-type 'str' is builtin, not object"),
    ("enum without values", mini({"name": "E", "meta-type": "enum"}), "enum 'E' has no 'values'"),
    (
        "enum values disagree",
        mini({"name": "E", "meta-type": "enum", "values": ["a"], "members": [{"name": "b"}]}),
        "'values' that disagree",
    ),
    (
        "bad json-type",
        mini({"name": "B", "meta-type": "builtin", "json-type": "float"}),
        "json-type 'float'",
    ),
    ("features not strings", mini({**obj("O"), "features": [1]}), "has 1 in 'features'"),
    (
        "allow-oob not a bool",
        mini({**command("go"), "allow-oob": "yes"}),
        "'allow-oob' 'yes', not a boolean",
    ),
    (
        "empty alternate",
        mini({"name": "A", "meta-type": "alternate", "members": []}),
        "has no members",
    ),
    (
        "nested alternate",
        mini(
            {"name": "A", "meta-type": "alternate", "members": [{"type": "B"}]},
            {"name": "B", "meta-type": "alternate", "members": [{"type": "str"}]},
        ),
        "branch 'B' is alternate",
    ),
]


@pytest.mark.parametrize(
    ("entries", "fragment"), [c[1:] for c in CORRUPT], ids=[c[0] for c in CORRUPT]
)
def test_corrupt_schema_raises_one_line_schema_error(entries: object, fragment: str) -> None:
    message = schema_error(entries)
    assert fragment in message
    assert "\n" not in message


# Leaves include names and meta-types, so that mutations often yield entries that
# parse far enough to reach the cross-reference checks.
JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.sampled_from(["0", "str", "int", "K", "U", "X", "a", "kind", "enum", "object"]),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=8,
)

VALID = mini(
    enum("K", "a", "b"),
    union("U", "K", ("a", "X")),
    obj("X", member("n", "int", optional=True)),
    {"name": "[U]", "meta-type": "array", "element-type": "U"},
    {"name": "A", "meta-type": "alternate", "members": [{"type": "str"}, {"type": "U"}]},
    {"name": "EV", "meta-type": "event", "arg-type": "U", "features": ["deprecated"]},
)


def mutate(document: Any, data: st.DataObject) -> None:
    """Delete or replace one randomly chosen part of ``document``, at any depth."""
    node = document
    while keys := list(node) if isinstance(node, dict) else list(range(len(node))):
        key = data.draw(st.sampled_from(keys))
        if isinstance(node[key], dict | list) and data.draw(st.booleans()):
            node = node[key]
        elif data.draw(st.booleans()):
            del node[key]
            return
        else:
            node[key] = data.draw(JSON)
            return


@given(st.data())
def test_mutated_schema_raises_nothing_but_schema_error(data: st.DataObject) -> None:
    entries = copy.deepcopy(VALID)
    for _ in range(data.draw(st.integers(1, 3))):
        mutate(entries, data)
    try:
        Schema.from_schema_info(entries)
    except SchemaError as exc:
        message = str(exc)
    else:
        message = ""
    assert "\n" not in message


# -- files --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "wrap",
    [lambda e: e, lambda e: {"return": e}, lambda e: {"schema": e, "binary": "qemu-x"}],
    ids=["list", "reply", "recording"],
)
def test_load_accepts_three_document_shapes(tmp_path: Path, wrap: Any) -> None:
    path = tmp_path / "schema.json"
    path.write_text(json.dumps(wrap(mini())))
    assert load_schema_file(path).counts()["command"] == 1
    assert schema_from_reply(wrap(mini())).counts()["object"] == 1


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ("", "empty file"),
        ("  \n", "empty file"),
        ("{not json", "not JSON"),
        ("[" * 100_000, "not JSON"),
        ('{"schema": 5}', "expected a list of SchemaInfo"),
        ('"text"', "expected a list of SchemaInfo"),
        (json.dumps(mini(obj("O", {"name": "x"}))), "object 'O' member 'x' has no 'type'"),
    ],
    ids=["empty", "blank", "garbage", "too-deep", "wrong-wrapper", "string", "bad-entry"],
)
def test_bad_file_raises_one_line_error_naming_it(
    tmp_path: Path, content: str, fragment: str
) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(SchemaError) as info:
        load_schema_file(path)
    message = str(info.value)
    assert message.startswith(f"{path}: ")
    assert fragment in message
    assert "\n" not in message


@pytest.mark.parametrize("name", ["missing.json", "."], ids=["missing", "directory"])
def test_unreadable_file_raises_schema_error(tmp_path: Path, name: str) -> None:
    with pytest.raises(SchemaError, match="cannot read"):
        load_schema_file(tmp_path / name)


def test_non_utf8_file_raises_schema_error(tmp_path: Path) -> None:
    path = tmp_path / "latin1.json"
    path.write_bytes(b'["\xff"]')
    with pytest.raises(SchemaError, match="not UTF-8"):
        read_schema_document(path)
