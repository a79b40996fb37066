"""Reading documented error conditions and building the requests that induce them."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from conformance.docs.conditions import NONEXISTENT, Condition, conditions, read, requests
from conformance.docs.model import DocArgument, DocEntry, DocExample, DocMessage, Parse
from conformance.docs.qapi import parse_qapi
from conformance.docs.setup import profile_chooser
from conformance.machine.profiles import profile
from conformance.spec import Schema, load_schema_file, validate_arguments
from strategies.safety import EXCLUDED_VALUES


@pytest.fixture(scope="module")
def schema(schema_72_x86: Path) -> Schema:
    return load_schema_file(schema_72_x86)


def cmd(name: str, *errors: str, arguments: tuple[DocArgument, ...] = ()) -> DocEntry:
    return DocEntry(name, "command", "doc:1", errors=errors, arguments=arguments)


def one(schema: Schema, name: str, text: str, **kw: tuple[DocArgument, ...]) -> Condition:
    return read(text, cmd(name, text, **kw), schema)


@pytest.mark.parametrize(
    ("command", "text", "how", "member", "error_class"),
    [
        # QAPI before 9.0 (bullets under Returns:), with and without @.
        (
            "block_resize",
            "If @device is not a valid block device, DeviceNotFound",
            "missing",
            "device",
            "DeviceNotFound",
        ),
        (
            "change-backing-file",
            'If "device" does not exist or cannot be determined, DeviceNotFound',
            "missing",
            "device",
            "DeviceNotFound",
        ),
        # The argument after the words that say it's missing.
        (
            "block-job-cancel",
            "If no background operation is active on this device, DeviceNotActive",
            "missing",
            "device",
            "DeviceNotActive",
        ),
        # The last argument of the clause before "is not found".
        (
            "block-dirty-bitmap-merge",
            "If any bitmap in @bitmaps or @target is not found, GenericError",
            "missing",
            "target",
            "GenericError",
        ),
        (
            "block-dirty-bitmap-add",
            "If @name is already taken, GenericError with an explanation",
            "twice",
            None,
            "GenericError",
        ),
        # No class named: any error will do.
        ("nbd-server-start", "error if the server is already running.", "twice", None, None),
        (
            "query-balloon",
            "If no balloon device is present, DeviceNotActive",
            "state",
            None,
            "DeviceNotActive",
        ),
    ],
)
def test_read(
    schema: Schema, command: str, text: str, how: str, member: str | None, error_class: str | None
) -> None:
    condition = one(schema, command, text)
    assert (condition.how, condition.member, condition.error_class) == (how, member, error_class)
    assert condition.inducible


@pytest.mark.parametrize(
    ("command", "text", "reason"),
    [
        ("block-commit", "Any other error returns a GenericError.", "catch-all"),
        ("transaction", "Errors depend on the operations of the transaction", "catch-all"),
        (
            "balloon",
            "If the balloon driver is enabled but not functional because the KVM "
            "kernel module cannot support it, KvmMissingCap",
            "can't produce",
        ),
        # The export is not an argument of block-export-del (its id is).
        ("block-export-del", "Error if the export is not found", "names no argument"),
        # An enum argument can't name something absent without failing the type check.
        ("netdev_add", "If @type is not a valid network backend, DeviceNotFound", "enum"),
    ],
)
def test_not_inducible_says_why(schema: Schema, command: str, text: str, reason: str) -> None:
    condition = one(schema, command, text)
    assert not condition.inducible
    assert reason in condition.reason


def test_a_noun_is_not_the_error_class(schema: Schema) -> None:
    """ "any of the YankInstances" is the argument's type, found through the doc's type."""
    condition = one(
        schema,
        "yank",
        "DeviceNotFound error, if any of the YankInstances doesn't exist",
        arguments=(DocArgument("instances", type="array of YankInstance"),),
    )
    assert (condition.error_class, condition.member) == ("DeviceNotFound", "instances")


def test_the_state_sentence_selects_the_enum_value_it_names(schema: Schema) -> None:
    condition = one(schema, "set_password", "If Spice is not enabled, DeviceNotFound")
    assert condition.how == "state"
    assert dict(condition.overrides) == {"protocol": "spice"}


def test_members_the_profile_names_nothing_for_take_the_documented_example_value(
    schema: Schema,
) -> None:
    """expire_password's ``time`` is a ``str`` that QEMU parses before it looks for
    SPICE: the schema's smallest string would make the request fail on ``time``, not on
    the condition. The command's own example says what a valid one looks like."""
    example = DocExample(
        (
            DocMessage(
                "->",
                "",
                Parse.PARSED,
                {"execute": "expire_password", "arguments": {"protocol": "vnc", "time": "+60"}},
            ),
        )
    )
    text = "If @protocol is 'spice' and Spice is not active, DeviceNotFound"
    entry = DocEntry("expire_password", "command", "doc:1", errors=(text,), examples=(example,))
    (condition,) = conditions(entry, schema)
    q35 = profile("q35")
    sent = requests(
        condition,
        "expire_password",
        schema,
        profile_chooser(q35, "expire_password", schema),
        EXCLUDED_VALUES,
    )
    # The sentence's enum value wins over the example's; the rest is the example's.
    assert sent == [{"protocol": "spice", "time": "+60"}]
    # A documented value the binary's schema refuses is not taken.
    wrong = DocExample(
        (
            replace(
                example.messages[0],
                value={"execute": "expire_password", "arguments": {"protocol": "vnc", "time": 60}},
            ),
        )
    )
    (condition,) = conditions(replace(entry, examples=(wrong,)), schema)
    assert "time" not in condition.documented


def test_requests_are_valid_but_for_the_condition(schema: Schema) -> None:
    """Every induced request passes the schema: the error can only be the condition's."""
    q35 = profile("q35")
    for command, text in [
        ("block-dirty-bitmap-clear", "If @name is not found, GenericError"),
        ("block_resize", "If @device is not a valid block device, DeviceNotFound"),
        ("yank", "DeviceNotFound error, if any of the YankInstances doesn't exist"),
        ("nbd-server-start", "error if the server is already running."),
        ("remove-fd", "If @fdset-id or @fd is not found, FdNotFound"),
    ]:
        condition = one(
            schema,
            command,
            text,
            arguments=(DocArgument("instances", type="array of YankInstance"),),
        )
        sent = requests(
            condition, command, schema, profile_chooser(q35, command, schema), EXCLUDED_VALUES
        )
        for arguments in sent:
            assert validate_arguments(schema, command, arguments) == [], (command, arguments)
        assert len(sent) == (2 if condition.how == "twice" else 1)
    clear = requests(
        one(schema, "block-dirty-bitmap-clear", "If @name is not found, GenericError"),
        "block-dirty-bitmap-clear",
        schema,
        profile_chooser(q35, "block-dirty-bitmap-clear", schema),
        EXCLUDED_VALUES,
    )
    # The other argument names the profile's node; the condition's names nothing.
    assert clear == [{"node": "null0", "name": f"{NONEXISTENT}-name"}]


def test_nested_members_are_not_mapped_to_profile_names(schema: Schema) -> None:
    condition = one(schema, "nbd-server-start", "error if the server is already running.")
    (arguments, _) = requests(
        condition,
        "nbd-server-start",
        schema,
        profile_chooser(profile("q35"), "nbd-server-start", schema),
        EXCLUDED_VALUES,
    )
    addr = arguments["addr"]
    assert isinstance(addr, dict)
    assert addr["type"] == "unix"  # inet is excluded
    assert addr["data"] == {"path": "x"}  # not the profile's QOM path


def test_qapi_errors_sections(corpus: Path, schema: Schema) -> None:
    """The newest QAPI syntax (Errors: sections) reads into inducible conditions."""
    docs = parse_qapi(corpus / "qapi-latest" / "block-core.json")
    found = {
        e.name: [c for c in conditions(e, schema) if c.inducible]
        for e in docs.commands()
        if e.name in ("block-dirty-bitmap-add", "block_resize", "block-job-cancel")
    }
    assert {c.how for cs in found.values() for c in cs} >= {"missing", "twice"}
    assert all(c.error_class for cs in found.values() for c in cs)
