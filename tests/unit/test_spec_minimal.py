"""The smallest valid value of a type (conformance/spec/minimal.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from conformance.spec import Schema, load_schema_file, validate_arguments
from conformance.spec.minimal import minimal_object
from strategies.safety import EXCLUDED_VALUES


@pytest.fixture(scope="module")
def schema(schema_72_x86: Path) -> Schema:
    return load_schema_file(schema_72_x86)


def test_every_commands_minimal_arguments_are_valid(schema: Schema) -> None:
    for name, command in schema.commands.items():
        arguments = minimal_object(schema, schema.object_type(command.arg_type))
        assert validate_arguments(schema, name, arguments) == [], (name, arguments)


def test_only_required_members_and_first_values(schema: Schema) -> None:
    obj = schema.object_type(schema.command("block_resize").arg_type)
    assert minimal_object(schema, obj) == {"size": 0}
    # A union's tag takes the first value, and the variant's required members follow.
    obj = schema.object_type(schema.command("chardev-add").arg_type)
    assert minimal_object(schema, obj) == {
        "id": "x",
        "backend": {"type": "file", "data": {"out": "x"}},
    }


def test_excluded_values_are_never_picked(schema: Schema) -> None:
    obj = schema.object_type(schema.command("nbd-server-start").arg_type)
    # "inet" is the first SocketAddressType and excluded by the host-safety policy.
    assert minimal_object(schema, obj)["addr"] == {
        "type": "inet",
        "data": {"host": "x", "port": "x"},
    }
    assert minimal_object(schema, obj, excluded=EXCLUDED_VALUES)["addr"] == {
        "type": "unix",
        "data": {"path": "x"},
    }


def test_choose_supplies_members_by_name(schema: Schema) -> None:
    obj = schema.object_type(schema.command("block-dirty-bitmap-add").arg_type)
    chosen = minimal_object(schema, obj, lambda m: "null0" if m.name == "node" else None)
    assert chosen == {"node": "null0", "name": "x"}
