"""The validator, against the real QEMU 7.2 x86_64 schema (and a few hand-made ones)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from conformance.spec import (
    OPEN_ENDED_ARGUMENTS,
    RULES,
    AlternateType,
    Schema,
    SchemaError,
    Violation,
    load_schema_file,
    read_schema_document,
    validate,
    validate_arguments,
    validate_event,
    validate_return,
)
from conformance.spec.validate import element_path, member_path

TARGETS = ["x86_64", "aarch64", "ppc64", "riscv64", "s390x", "qemu-storage-daemon"]

Found = list[tuple[str, str]]


@pytest.fixture(scope="module")
def schema(schema_72_x86: Path) -> Schema:
    return load_schema_file(schema_72_x86)


def found(violations: list[Violation]) -> Found:
    """(path, rule) of each violation: what the tests pin down (messages are for people)."""
    assert all("\n" not in v.message for v in violations)
    return [(v.path, v.rule) for v in violations]


def member_type(schema: Schema, command: str, *path: str) -> str:
    """The (masked) type name of a member of a command's arguments, by member names.

    Type names are masked numbers, so tests reach types the way a client would.
    """
    type_name = schema.command(command).arg_type
    for name in path:
        members = schema.members_of(schema.object_type(type_name))
        type_name = next(m.type for m in members if m.name == name)
    return type_name


def alternate_with(schema: Schema, *branches: str) -> str:
    """The name of the alternate whose branches' meta-types / builtin names are these."""

    def label(name: str) -> str:
        info = schema.type(name)
        return name if info.meta_type in ("builtin", "array") else info.meta_type

    return next(
        t.name
        for t in schema.types.values()
        if isinstance(t, AlternateType) and tuple(label(b) for b in t.branches) == branches
    )


# -- builtins -----------------------------------------------------------------------------

BUILTIN_CASES: list[tuple[str, object, Found]] = [
    ("int", 5, []),
    ("int", -(2**63), []),
    ("int", 2**64 - 1, []),
    ("int", 2**64, [("$", "int-range")]),
    ("int", -(2**63) - 1, [("$", "int-range")]),
    ("int", True, [("$", "wrong-type")]),
    ("int", 1.0, [("$", "wrong-type")]),
    ("int", "1", [("$", "wrong-type")]),
    ("int", None, [("$", "null")]),
    ("number", 1.5, []),
    ("number", 3, []),
    ("number", 2**70, []),
    ("number", False, [("$", "wrong-type")]),
    ("number", float("nan"), [("$", "wrong-type")]),
    ("number", "1.5", [("$", "wrong-type")]),
    ("str", "", []),
    ("str", 1, [("$", "wrong-type")]),
    ("str", ["a"], [("$", "wrong-type")]),
    ("str", None, [("$", "null")]),
    ("bool", False, []),
    ("bool", 0, [("$", "wrong-type")]),
    ("bool", "true", [("$", "wrong-type")]),
    ("null", None, []),
    ("null", 0, [("$", "wrong-type")]),
    ("null", {}, [("$", "wrong-type")]),
    ("any", {"a": [1, "b", None, {"c": 2.5}]}, []),
    ("any", None, []),
    ("any", [], []),
    ("any", {"a": {1, 2}}, [("$", "wrong-type")]),
    ("any", {1: "non-string key"}, [("$", "wrong-type")]),
]


@pytest.mark.parametrize(("type_name", "value", "expected"), BUILTIN_CASES)
def test_builtins(schema: Schema, type_name: str, value: object, expected: Found) -> None:
    assert found(validate(schema, value, type_name)) == expected


# -- enums, arrays, objects -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("running", []),
        ("inmigrate", []),
        ("flying", [("$.status", "enum-value")]),
        ("Running", [("$.status", "enum-value")]),
        (1, [("$.status", "wrong-type")]),
        (None, [("$.status", "null")]),
    ],
)
def test_enum_in_query_status_return(schema: Schema, value: object, expected: Found) -> None:
    reply = {"running": True, "singlestep": False, "status": value}
    assert found(validate_return(schema, "query-status", reply)) == expected


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        (None, []),
        ({}, []),
        ({"enable": []}, []),
        ({"enable": ["oob"]}, []),
        (
            {"enable": ["oob", "bogus", 3]},
            [("$.enable[1]", "enum-value"), ("$.enable[2]", "wrong-type")],
        ),
        ({"enable": "oob"}, [("$.enable", "wrong-type")]),
        ({"enable": {}}, [("$.enable", "wrong-type")]),
        ({"enable": None}, [("$.enable", "null")]),
        ({"enable": [None]}, [("$.enable[0]", "null")]),
    ],
)
def test_array_in_qmp_capabilities(schema: Schema, arguments: object, expected: Found) -> None:
    assert found(validate_arguments(schema, "qmp_capabilities", arguments)) == expected


def test_union_tag_enum_on_its_own_reports_enum_value(schema: Schema) -> None:
    driver = member_type(schema, "blockdev-add", "driver")
    assert found(validate(schema, "null-co", driver)) == []
    assert found(validate(schema, "floppy", driver)) == [("$", "enum-value")]


def test_array_of_objects_reports_element_member_paths(schema: Schema) -> None:
    reply = [{"name": "stop"}, {"name": 5}, {}, {"name": "cont", "x": 1}]
    assert found(validate_return(schema, "query-commands", reply)) == [
        ("$[1].name", "wrong-type"),
        ("$[2].name", "missing-member"),
        ("$[3].x", "unknown-member"),
    ]


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ({"running": True, "singlestep": False, "status": "paused"}, []),
        ({"singlestep": False, "status": "paused"}, [("$.running", "missing-member")]),
        (
            {},
            [
                ("$.running", "missing-member"),
                ("$.singlestep", "missing-member"),
                ("$.status", "missing-member"),
            ],
        ),
        (
            {"running": True, "singlestep": False, "status": "paused", "extra": 1},
            [("$.extra", "unknown-member")],
        ),
        (
            {"running": "yes", "singlestep": False, "status": "paused"},
            [("$.running", "wrong-type")],
        ),
        ("running", [("$", "not-object")]),
        ([], [("$", "not-object")]),
        (None, [("$", "null")]),
    ],
)
def test_object_query_status_return(schema: Schema, reply: object, expected: Found) -> None:
    assert found(validate_return(schema, "query-status", reply)) == expected


def test_query_version_return_of_the_recording(schema: Schema, schema_72_x86: Path) -> None:
    _, metadata = read_schema_document(schema_72_x86)
    version = metadata["qemu-version"]
    assert found(validate_return(schema, "query-version", version)) == []
    broken = {"qemu": {"major": 7, "minor": "2"}, "package": ""}
    assert found(validate_return(schema, "query-version", broken)) == [
        ("$.qemu.micro", "missing-member"),
        ("$.qemu.minor", "wrong-type"),
    ]


@pytest.mark.parametrize("target", TARGETS)
def test_each_schema_is_a_valid_query_qmp_schema_reply_of_itself(corpus: Path, target: str) -> None:
    entries, _ = read_schema_document(corpus / "qemu-7.2" / f"query-qmp-schema.{target}.json")
    schema = Schema.from_schema_info(entries)
    assert found(validate_return(schema, "query-qmp-schema", entries)) == []


# -- flat unions ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ({"driver": "null-co", "node-name": "null0"}, []),
        ({"driver": "null-co", "node-name": "n", "size": 1024, "read-zeroes": True}, []),
        ({"driver": "null-co", "size": "big"}, [("$.size", "wrong-type")]),
        # 'filename' belongs to the file driver's variant, not null-co's.
        ({"driver": "null-co", "filename": "/x"}, [("$.filename", "unknown-member")]),
        ({"driver": "file", "filename": "/x"}, []),
        ({"driver": "file"}, [("$.filename", "missing-member")]),
        ({"driver": "bogus", "size": 1, "filename": "/x"}, [("$.driver", "union-tag")]),
        (
            {"driver": "bogus", "nowhere": 1},
            [("$.driver", "union-tag"), ("$.nowhere", "unknown-member")],
        ),
        ({"driver": 5}, [("$.driver", "wrong-type")]),
        ({"driver": None}, [("$.driver", "null")]),
        ({"size": 1}, [("$.driver", "missing-member")]),
        (
            {"driver": "null-co", "node-name": 7, "cache": {"direct": "no"}},
            [("$.node-name", "wrong-type"), ("$.cache.direct", "wrong-type")],
        ),
        # Variants nest through BlockdevRef: file is itself a BlockdevOptions union.
        ({"driver": "raw", "file": "node0"}, []),
        (
            {"driver": "raw", "file": {"driver": "null-co", "size": "big"}},
            [("$.file.size", "wrong-type")],
        ),
        ({"driver": "raw", "file": {"driver": "nope"}}, [("$.file.driver", "union-tag")]),
        ({"driver": "qcow2", "file": "f", "encrypt": {"format": "luks", "key-secret": "s"}}, []),
        (
            {"driver": "qcow2", "file": "f", "encrypt": {"format": "aes", "key-secret": 1}},
            [("$.encrypt.key-secret", "wrong-type")],
        ),
        (
            {"driver": "qcow2", "file": "f", "encrypt": {"format": "des"}},
            [("$.encrypt.format", "union-tag")],
        ),
    ],
)
def test_flat_union_blockdev_add(schema: Schema, arguments: object, expected: Found) -> None:
    assert found(validate_arguments(schema, "blockdev-add", arguments)) == expected


def test_deep_values_of_recursive_types_need_no_recursion(schema: Schema) -> None:
    value: dict[str, Any] = {"driver": "null-co", "size": "x"}
    for _ in range(5000):
        value = {"driver": "raw", "file": value}
    violations = validate_arguments(schema, "blockdev-add", value)
    assert [v.rule for v in violations] == ["wrong-type"]
    assert violations[0].path == "$" + ".file" * 5000 + ".size"


NESTED = [
    {"name": "str", "meta-type": "builtin", "json-type": "string"},
    {"name": "int", "meta-type": "builtin", "json-type": "int"},
    {"name": "K", "meta-type": "enum", "values": ["a", "b"]},
    {"name": "S", "meta-type": "enum", "values": ["x", "y"]},
    {
        "name": "Outer",
        "meta-type": "object",
        "members": [{"name": "kind", "type": "K"}],
        "tag": "kind",
        "variants": [{"case": "a", "type": "Inner"}],
    },
    {
        "name": "Inner",
        "meta-type": "object",
        "members": [{"name": "sub", "type": "S"}, {"name": "n", "type": "int", "default": None}],
        "tag": "sub",
        "variants": [{"case": "x", "type": "X"}, {"case": "y", "type": "Y"}],
    },
    {"name": "X", "meta-type": "object", "members": [{"name": "only-x", "type": "str"}]},
    {"name": "Y", "meta-type": "object", "members": []},
]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"kind": "a", "sub": "x", "only-x": "v", "n": 1}, []),
        ({"kind": "a", "sub": "y"}, []),
        ({"kind": "b"}, []),
        ({"kind": "a", "sub": "y", "only-x": "v"}, [("$.only-x", "unknown-member")]),
        ({"kind": "b", "sub": "x"}, [("$.sub", "unknown-member")]),
        ({"kind": "a", "sub": "x"}, [("$.only-x", "missing-member")]),
        ({"kind": "a", "sub": "z", "only-x": "v"}, [("$.sub", "union-tag")]),
        ({"kind": "a"}, [("$.sub", "missing-member")]),
        ({"kind": "c", "sub": "x", "only-x": "v"}, [("$.kind", "union-tag")]),
    ],
)
def test_nested_variants(value: object, expected: Found) -> None:
    schema = Schema.from_schema_info(NESTED)
    assert found(validate(schema, value, "Outer")) == expected


# -- alternates -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ({"node-name": "n", "iothread": "io0"}, []),
        ({"node-name": "n", "iothread": None}, []),
        ({"node-name": "n", "iothread": 5}, [("$.iothread", "alternate-branch")]),
        ({"node-name": "n", "iothread": True}, [("$.iothread", "alternate-branch")]),
        ({"node-name": "n", "iothread": {}}, [("$.iothread", "alternate-branch")]),
        ({"node-name": "n"}, [("$.iothread", "missing-member")]),
    ],
)
def test_str_or_null_alternate(schema: Schema, arguments: object, expected: Found) -> None:
    assert found(validate_arguments(schema, "x-blockdev-set-iothread", arguments)) == expected


@pytest.mark.parametrize(
    ("file", "expected"),
    [
        ("node0", []),
        ({"driver": "null-co"}, []),
        ({}, [("$.file.driver", "missing-member")]),
        (5, [("$.file", "alternate-branch")]),
        ([], [("$.file", "alternate-branch")]),
        (None, [("$.file", "null")]),
    ],
)
def test_str_or_object_alternate(schema: Schema, file: object, expected: Found) -> None:
    arguments = {"driver": "raw", "file": file}
    assert found(validate_arguments(schema, "blockdev-add", arguments)) == expected


@pytest.mark.parametrize(
    ("backing", "expected"),
    [
        (None, []),
        ("base", []),
        ({"driver": "null-co"}, []),
        (1.5, [("$.backing", "alternate-branch")]),
    ],
)
def test_object_str_or_null_alternate(schema: Schema, backing: object, expected: Found) -> None:
    arguments = {"driver": "qcow2", "file": "f", "backing": backing}
    assert found(validate_arguments(schema, "blockdev-add", arguments)) == expected


@pytest.mark.parametrize(
    ("check", "expected"),
    [
        ("all", []),
        ({"template": "none", "main-header": True}, []),
        ("bogus", [("$.overlap-check", "enum-value")]),
        ({"template": "bogus"}, [("$.overlap-check.template", "enum-value")]),
        (True, [("$.overlap-check", "alternate-branch")]),
    ],
)
def test_object_or_enum_alternate(schema: Schema, check: object, expected: Found) -> None:
    arguments = {"driver": "qcow2", "file": "f", "overlap-check": check}
    assert found(validate_arguments(schema, "blockdev-add", arguments)) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (3, []),
        (False, []),
        ([1, 2], []),
        ([1, "2"], [("$[1]", "wrong-type")]),
        (2**64, [("$", "int-range")]),
        (1.5, [("$", "alternate-branch")]),
        ("3", [("$", "alternate-branch")]),
        (None, [("$", "null")]),
    ],
)
def test_int_bool_or_int_array_alternate(schema: Schema, value: object, expected: Found) -> None:
    alternate = alternate_with(schema, "int", "bool", "[int]")
    assert found(validate(schema, value, alternate)) == expected


def test_int_is_accepted_by_a_number_branch() -> None:
    schema = Schema.from_schema_info(
        [
            {"name": "number", "meta-type": "builtin", "json-type": "number"},
            {"name": "str", "meta-type": "builtin", "json-type": "string"},
            {
                "name": "A",
                "meta-type": "alternate",
                "members": [{"type": "str"}, {"type": "number"}],
            },
        ]
    )
    assert found(validate(schema, 3, "A")) == []
    assert found(validate(schema, 3.5, "A")) == []
    assert found(validate(schema, True, "A")) == [("$", "alternate-branch")]


# -- events, open-ended commands, paths ------------------------------------------------------


@pytest.mark.parametrize(
    ("event", "data", "expected"),
    [
        ("SHUTDOWN", {"guest": True, "reason": "host-qmp-quit"}, []),
        (
            "SHUTDOWN",
            {"guest": 1, "reason": "tired"},
            [("$.guest", "wrong-type"), ("$.reason", "enum-value")],
        ),
        ("SHUTDOWN", None, [("$.guest", "missing-member"), ("$.reason", "missing-member")]),
        ("POWERDOWN", None, []),
        ("POWERDOWN", {}, []),
        ("POWERDOWN", {"x": 1}, [("$.x", "unknown-member")]),
        ("POWERDOWN", [], [("$", "not-object")]),
    ],
)
def test_event_data(schema: Schema, event: str, data: object, expected: Found) -> None:
    assert found(validate_event(schema, event, data)) == expected


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ({"driver": "e1000", "id": "net1", "bus": "pci.0", "mac": "52:54:00:12:34:56"}, []),
        ({"driver": "virtio-blk-pci", "drive": "d0", "bootindex": 1, "x-weird": [None]}, []),
        ({"driver": 5, "mac": "x"}, [("$.driver", "wrong-type")]),
        ({"mac": "x"}, [("$.driver", "missing-member")]),
        ({"driver": "e1000", "id": None}, [("$.id", "null")]),
        ("e1000", [("$", "not-object")]),
    ],
)
def test_device_add_is_open_ended(schema: Schema, arguments: object, expected: Found) -> None:
    assert found(validate_arguments(schema, "device_add", arguments)) == expected


def test_open_ended_reason_cites_qapi_and_plain_validate_stays_strict(schema: Schema) -> None:
    assert OPEN_ENDED_ARGUMENTS["device_add"].startswith("qapi/qdev.json")
    arg_type = schema.command("device_add").arg_type
    assert found(validate(schema, {"driver": "e1000", "mac": "x"}, arg_type)) == [
        ("$.mac", "unknown-member")
    ]


@pytest.mark.parametrize(
    ("key", "path"),
    [("node-name", "$.node-name"), ("a.b", '$["a.b"]'), ("", '$[""]'), ('q"\n', '$["q\\"\\n"]')],
)
def test_unknown_member_paths_are_unambiguous(schema: Schema, key: str, path: str) -> None:
    assert member_path("$", key) == path
    violations = validate_return(
        schema, "query-status", {"running": True, "singlestep": True, "status": "debug", key: 0}
    )
    assert found(violations) == [(path, "unknown-member")]
    assert element_path(path, 3) == f"{path}[3]"


def test_custom_root_path(schema: Schema) -> None:
    assert found(validate(schema, [1], "[int]", "$.arguments")) == []
    assert found(validate(schema, ["1"], "[str]", "$.arguments")) == []
    assert found(validate(schema, [1], "[str]", "$.arguments")) == [
        ("$.arguments[0]", "wrong-type")
    ]


@pytest.mark.parametrize(
    "call",
    [
        lambda s: validate(s, {}, "no-such-type"),
        lambda s: validate_arguments(s, "no-such-command", {}),
        lambda s: validate_return(s, "no-such-command", {}),
        lambda s: validate_event(s, "NO_SUCH_EVENT", None),
    ],
    ids=["type", "arguments", "return", "event"],
)
def test_unknown_names_raise_schema_error(schema: Schema, call: Any) -> None:
    with pytest.raises(SchemaError):
        call(schema)


def test_violation_rules_are_checked_and_printable() -> None:
    violation = Violation("$.a", "null", "null is not allowed here")
    assert str(violation) == "$.a: null is not allowed here [null]"
    with pytest.raises(ValueError, match="unknown violation rule"):
        Violation("$", "typo", "")


# -- one broken rule, one violation -----------------------------------------------------------

# Each case is valid but for one deliberate defect, and must yield exactly that rule at
# that path: the contract a generator of malformed arguments relies on.
ONE_RULE: list[tuple[str, str, dict[str, Any], str]] = [
    ("missing-member", "device_del", {}, "$.id"),
    ("unknown-member", "device_del", {"id": "d", "force": True}, "$.force"),
    ("wrong-type", "device_del", {"id": 1}, "$.id"),
    ("enum-value", "qmp_capabilities", {"enable": ["oob", "nope"]}, "$.enable[1]"),
    ("union-tag", "blockdev-add", {"driver": "floppy", "node-name": "n"}, "$.driver"),
    ("alternate-branch", "blockdev-add", {"driver": "raw", "file": 0}, "$.file"),
    ("null", "device_del", {"id": None}, "$.id"),
    (
        "not-object",
        "blockdev-add",
        {"driver": "raw", "file": {"driver": "raw", "file": "n", "cache": 1}},
        "$.file.cache",
    ),
    ("int-range", "blockdev-add", {"driver": "null-co", "size": 2**64}, "$.size"),
]


@pytest.mark.parametrize(
    ("rule", "command", "arguments", "path"), ONE_RULE, ids=[c[0] for c in ONE_RULE]
)
def test_one_defect_yields_exactly_its_rule(
    schema: Schema, rule: str, command: str, arguments: dict[str, Any], path: str
) -> None:
    assert found(validate_arguments(schema, command, arguments)) == [(path, rule)]


def test_one_rule_cases_cover_every_rule() -> None:
    assert {case[0] for case in ONE_RULE} == RULES
