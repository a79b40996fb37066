"""The schema difference of two QEMUs and how each change is judged (conformance.oracle.compat).

Every schema here is hand-written SchemaInfo; B's type names are A's shifted by 100
(`masked`), as two builds of QEMU mask the same types differently, so nothing below
can pass by matching type names.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from conformance.cli import main
from conformance.compat_report import SchemaDiff, render
from conformance.oracle.compat import Change, Status, check_change, compare_schemas, findings
from conformance.oracle.failure import Failure, FindingKind
from conformance.spec import Schema

Entry = dict[str, Any]

BUILTINS: list[Entry] = [
    {"name": name, "meta-type": "builtin", "json-type": json_type}
    for name, json_type in (
        ("str", "string"),
        ("int", "int"),
        ("number", "number"),
        ("bool", "boolean"),
        ("null", "null"),
        ("any", "value"),
    )
]
EMPTY: Entry = {"name": "0", "meta-type": "object", "members": []}


def member(
    name: str, type_: str, *, optional: bool = False, features: list[str] | None = None
) -> Entry:
    entry: Entry = {"name": name, "type": type_}
    if optional:
        entry["default"] = None
    if features:
        entry["features"] = features
    return entry


def obj(
    name: str, *members: Entry, tag: str | None = None, variants: dict[str, str] | None = None
) -> Entry:
    entry: Entry = {"name": name, "meta-type": "object", "members": list(members)}
    if tag is not None:
        entry["tag"] = tag
        entry["variants"] = [{"case": c, "type": t} for c, t in (variants or {}).items()]
    return entry


def enum(name: str, *values: str, deprecated: tuple[str, ...] = ()) -> Entry:
    members = [
        {"name": v, **({"features": ["deprecated"]} if v in deprecated else {})} for v in values
    ]
    return {"name": name, "meta-type": "enum", "members": members, "values": list(values)}


def command(name: str, arg: str = "0", ret: str = "0", **extra: Any) -> Entry:
    return {"name": name, "meta-type": "command", "arg-type": arg, "ret-type": ret, **extra}


def event(name: str, arg: str = "0", **extra: Any) -> Entry:
    return {"name": name, "meta-type": "event", "arg-type": arg, **extra}


def masked(entries: list[Entry], shift: int) -> list[Entry]:
    """The same entries with every numbered type name shifted: another build's masks."""

    def rename(name: str) -> str:
        if name.startswith("[") and name.endswith("]"):
            return f"[{rename(name[1:-1])}]"
        return str(int(name) + shift) if name.isdigit() else name

    def walk(value: Any, key: str = "") -> Any:
        if isinstance(value, dict):
            return {k: walk(v, k) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v, key) for v in value]
        if isinstance(value, str) and key in (
            "name",
            "type",
            "arg-type",
            "ret-type",
            "element-type",
        ):
            return rename(value)
        return value

    # Command, event and member names are never numbers, so renaming "name" is safe.
    return [walk(e) for e in entries]


def diff(a: list[Entry], b: list[Entry]) -> list[Change]:
    schema_a = Schema.from_schema_info([*BUILTINS, EMPTY, *a])
    schema_b = Schema.from_schema_info(masked([*BUILTINS, EMPTY, *b], 100))
    return compare_schemas(schema_a, schema_b)


def only(changes: list[Change]) -> Change:
    assert len(changes) == 1, [c.describe() for c in changes]
    return changes[0]


def args_of(*members: Entry, extra: tuple[Entry, ...] = ()) -> list[Entry]:
    """A command `c` taking `members`."""
    return [command("c", arg="1"), obj("1", *members), *extra]


def returning(*members: Entry, extra: tuple[Entry, ...] = ()) -> list[Entry]:
    """A command `c` returning an object of `members`."""
    return [command("c", ret="1"), obj("1", *members), *extra]


# -- sameness -------------------------------------------------------------------------------


def test_the_same_structure_under_other_masked_names_is_no_change() -> None:
    entries = [
        command("blockdev-add", arg="1", ret="0"),
        obj(
            "1",
            member("driver", "2"),
            member("opts", "3", optional=True),
            tag="driver",
            variants={"file": "4"},
        ),
        enum("2", "file", "null-co"),
        {"name": "3", "meta-type": "alternate", "members": [{"type": "str"}, {"type": "5"}]},
        obj("4", member("filename", "str"), member("list", "[int]", optional=True)),
        obj("5", member("x", "int")),
        {"name": "[int]", "meta-type": "array", "element-type": "int"},
        event("E", arg="4"),
    ]
    assert diff(entries, entries) == []


# -- commands and events ----------------------------------------------------------------------


def test_a_removed_command_is_a_finding_and_an_added_one_compatible() -> None:
    removed = only(diff([command("old")], []))
    assert (removed.kind, removed.what, removed.path, removed.status) == (
        "removed",
        "command",
        "old",
        Status.FINDING,
    )
    added = only(diff([], [command("new")]))
    assert (added.kind, added.status) == ("added", Status.COMPATIBLE)


def test_a_command_deprecated_in_a_is_removed_as_announced() -> None:
    change = only(diff([command("old", features=["deprecated"])], []))
    assert change.status is Status.DEPRECATED
    assert "deprecated in A" in change.status.value


@pytest.mark.parametrize("entry", [command("x-old"), command("old", features=["unstable"])])
def test_unstable_and_x_commands_were_never_promised(entry: Entry) -> None:
    assert only(diff([entry], [])).status is Status.UNSTABLE


def test_a_removed_event_is_a_finding_unless_deprecated() -> None:
    assert only(diff([event("GONE")], [])).status is Status.FINDING
    assert only(diff([event("GONE", features=["deprecated"])], [])).status is Status.DEPRECATED
    assert only(diff([], [event("NEW")])).status is Status.COMPATIBLE


def test_losing_out_of_band_execution_breaks_a_client_gaining_it_does_not() -> None:
    lost = only(diff([{**command("c"), "allow-oob": True}], [command("c")]))
    assert (lost.what, lost.detail, lost.status) == ("allow-oob", "true → false", Status.FINDING)
    gained = only(diff([command("c")], [{**command("c"), "allow-oob": True}]))
    assert gained.status is Status.COMPATIBLE


def test_features_gained_or_lost_are_listed_and_compatible() -> None:
    change = only(diff([command("c")], [command("c", features=["deprecated"])]))
    assert (change.what, change.detail, change.status) == (
        "command feature",
        "gained 'deprecated'",
        Status.COMPATIBLE,
    )
    assert change.rule == "deprecated"


# -- members, by direction ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b", "kind", "status"),
    [
        ((), (member("n", "int", optional=True),), "added", Status.COMPATIBLE),
        ((), (member("n", "int"),), "added", Status.FINDING),  # a new mandatory argument
        ((member("n", "int", optional=True),), (), "removed", Status.FINDING),
        (
            (member("n", "int", optional=True, features=["deprecated"]),),
            (),
            "removed",
            Status.DEPRECATED,
        ),
        ((member("x-n", "int", optional=True),), (), "removed", Status.UNSTABLE),
        ((member("n", "int", optional=True),), (member("n", "int"),), "changed", Status.FINDING),
        ((member("n", "int"),), (member("n", "int", optional=True),), "changed", Status.COMPATIBLE),
    ],
)
def test_argument_members(
    a: tuple[Entry, ...], b: tuple[Entry, ...], kind: str, status: Status
) -> None:
    change = only(diff(args_of(*a), args_of(*b)))
    name = (a or b)[0]["name"]
    assert (change.kind, change.path, change.status) == (kind, f"c.arguments.{name}", status)
    assert change.direction == "input"


@pytest.mark.parametrize(
    ("a", "b", "kind", "status"),
    [
        ((), (member("n", "int"),), "added", Status.COMPATIBLE),
        ((member("n", "int"),), (), "removed", Status.FINDING),
        ((member("n", "int", features=["deprecated"]),), (), "removed", Status.DEPRECATED),
        # An optional member a client can't rely on: "can't be sent anymore" is no difference.
        ((member("n", "int", optional=True),), (), "removed", Status.COMPATIBLE),
        ((member("n", "int"),), (member("n", "int", optional=True),), "changed", Status.FINDING),
        ((member("n", "int", optional=True),), (member("n", "int"),), "changed", Status.COMPATIBLE),
    ],
)
def test_return_members(
    a: tuple[Entry, ...], b: tuple[Entry, ...], kind: str, status: Status
) -> None:
    change = only(diff(returning(*a), returning(*b)))
    assert (change.kind, change.path, change.status) == (kind, "c.return.n", status)
    assert change.direction == "output"


def test_event_data_is_output() -> None:
    a = [event("E", arg="1"), obj("1", member("n", "int"))]
    change = only(diff(a, [event("E", arg="1"), obj("1")]))
    assert (change.path, change.direction, change.status) == ("E.data.n", "output", Status.FINDING)


def test_deprecation_of_the_command_covers_its_members() -> None:
    a = [
        command("c", arg="1", features=["deprecated"]),
        obj("1", member("n", "int", optional=True)),
    ]
    b = [command("c", arg="1", features=["deprecated"]), obj("1")]
    assert only(diff(a, b)).status is Status.DEPRECATED


def test_nested_members_are_named_by_their_path() -> None:
    a = returning(
        member("list", "[2]"),
        extra=(
            obj("2", member("inner", "3")),
            obj("3", member("ro", "bool")),
            {"name": "[2]", "meta-type": "array", "element-type": "2"},
        ),
    )
    b = returning(
        member("list", "[2]"),
        extra=(
            obj("2", member("inner", "3")),
            obj("3"),
            {"name": "[2]", "meta-type": "array", "element-type": "2"},
        ),
    )
    assert only(diff(a, b)).path == "c.return.list[].inner.ro"


# -- enum values --------------------------------------------------------------------------------


def test_enum_values_by_direction() -> None:
    a, b = enum("2", "a", "b"), enum("2", "a", "c")
    changes = {
        (c.kind, c.detail): c.status
        for c in diff(args_of(member("e", "2"), extra=(a,)), args_of(member("e", "2"), extra=(b,)))
    }
    assert changes == {("removed", "'b'"): Status.FINDING, ("added", "'c'"): Status.COMPATIBLE}
    changes = {
        (c.kind, c.detail): c.status
        for c in diff(
            returning(member("e", "2"), extra=(a,)), returning(member("e", "2"), extra=(b,))
        )
    }
    assert changes == {("removed", "'b'"): Status.COMPATIBLE, ("added", "'c'"): Status.COMPATIBLE}


def test_a_deprecated_enum_value_is_removed_as_announced() -> None:
    a = args_of(member("e", "2"), extra=(enum("2", "a", "b", deprecated=("b",)),))
    b = args_of(member("e", "2"), extra=(enum("2", "a"),))
    assert only(diff(a, b)).status is Status.DEPRECATED


# -- types ----------------------------------------------------------------------------------------

ARRAY_OF_STR: Entry = {"name": "[str]", "meta-type": "array", "element-type": "str"}


@pytest.mark.parametrize(
    ("type_a", "type_b", "detail", "input_status", "output_status"),
    [
        ("str", "int", "str → int", Status.FINDING, Status.FINDING),
        ("int", "number", "int → number", Status.COMPATIBLE, Status.FINDING),
        ("number", "int", "number → int", Status.FINDING, Status.COMPATIBLE),
        ("str", "any", "str → any", Status.COMPATIBLE, Status.FINDING),
        ("any", "str", "any → str", Status.FINDING, Status.COMPATIBLE),
        ("str", "3", "str → object", Status.FINDING, Status.FINDING),
        ("str", "[str]", "str → [str]", Status.FINDING, Status.FINDING),
        ("[str]", "str", "[str] → str", Status.FINDING, Status.FINDING),
        # QEMU counts str → enum among introspection-only changes.
        ("str", "2", "str → enum", Status.COMPATIBLE, Status.COMPATIBLE),
    ],
)
def test_type_changes(
    type_a: str, type_b: str, detail: str, input_status: Status, output_status: Status
) -> None:
    extra = (enum("2", "a"), obj("3", member("x", "int")), ARRAY_OF_STR)
    for build, status in ((args_of, input_status), (returning, output_status)):
        change = only(
            diff(build(member("v", type_a), extra=extra), build(member("v", type_b), extra=extra))
        )
        assert (change.what, change.path, change.detail, change.status) == (
            "type",
            "c." + ("arguments" if build is args_of else "return") + ".v",
            detail,
            status,
        )


ALTERNATE: Entry = {
    "name": "4",
    "meta-type": "alternate",
    "members": [{"type": "str"}, {"type": "3"}],
}
OBJECT_3: Entry = obj("3", member("x", "int"))


def test_a_type_turned_alternate_of_itself_is_opt_in_for_input_only() -> None:
    a, b = member("v", "str"), member("v", "4")
    change = only(
        diff(args_of(a, extra=(ALTERNATE, OBJECT_3)), args_of(b, extra=(ALTERNATE, OBJECT_3)))
    )
    assert (change.kind, change.what, change.detail, change.status) == (
        "added",
        "alternate",
        "str → alternate(object|string)",
        Status.COMPATIBLE,
    )
    change = only(
        diff(returning(a, extra=(ALTERNATE, OBJECT_3)), returning(b, extra=(ALTERNATE, OBJECT_3)))
    )
    assert change.status is Status.FINDING


def test_alternate_branches_are_matched_by_json_type_and_compared_inside() -> None:
    a = args_of(member("v", "4"), extra=(ALTERNATE, OBJECT_3))
    b = args_of(
        member("v", "4"), extra=(ALTERNATE, obj("3", member("x", "int"), member("y", "int")))
    )
    assert only(diff(a, b)).path == "c.arguments.v<object>.y"
    narrowed = args_of(member("v", "3"), extra=(OBJECT_3,))
    change = only(diff(a, narrowed))
    assert (change.kind, change.what, change.detail, change.status) == (
        "removed",
        "alternate branch",
        "string",
        Status.FINDING,
    )


# -- unions ---------------------------------------------------------------------------------------


def union(
    *branches: str, base: tuple[Entry, ...] = (), variants: dict[str, str] | None = None
) -> tuple[Entry, ...]:
    return (
        obj(
            "1",
            member("driver", "2"),
            *base,
            tag="driver",
            variants=variants or {b: "3" for b in branches},
        ),
        enum("2", *branches),
    )


def union_command(*entries: Entry) -> list[Entry]:
    return [command("c", arg="1"), *entries]


def test_branch_members_are_named_with_the_tag_value() -> None:
    a = union_command(*union("file"), obj("3", member("filename", "str")))
    b = union_command(
        *union("file"), obj("3", member("filename", "str"), member("aio", "str", optional=True))
    )
    change = only(diff(a, b))
    assert (change.path, change.status) == ("c.arguments{driver=file}.aio", Status.COMPATIBLE)


def test_a_removed_tag_value_is_one_change_not_also_a_branch() -> None:
    a = union_command(*union("file", "nbd"), obj("3", member("filename", "str")))
    b = union_command(*union("file"), obj("3", member("filename", "str")))
    change = only(diff(a, b))
    assert (change.what, change.detail, change.status) == ("enum value", "'nbd'", Status.FINDING)


def test_a_branch_gone_while_its_tag_value_stays_removes_its_members() -> None:
    a = union_command(
        *union("file", "nbd", variants={"file": "3", "nbd": "4"}),
        obj("3"),
        obj("4", member("host", "str")),
    )
    b = union_command(*union("file", "nbd", variants={"file": "3"}), obj("3"))
    change = only(diff(a, b))
    assert (change.what, change.path, change.status) == (
        "union branch",
        "c.arguments{driver=nbd}",
        Status.FINDING,
    )


def test_a_member_moved_from_the_base_into_every_branch_is_no_change() -> None:
    # QEMU's introspection documents this rework as invisible on the wire.
    a = union_command(*union("file", base=(member("ro", "bool", optional=True),)), obj("3"))
    b = union_command(*union("file"), obj("3", member("ro", "bool", optional=True)))
    assert diff(a, b) == []


def test_a_member_moved_into_some_branches_is_removed_from_the_others() -> None:
    a = union_command(
        *union(
            "file",
            "nbd",
            base=(member("ro", "bool", optional=True),),
            variants={"file": "3", "nbd": "4"},
        ),
        obj("3"),
        obj("4"),
    )
    b = union_command(
        *union("file", "nbd", variants={"file": "3", "nbd": "4"}),
        obj("3", member("ro", "bool", optional=True)),
        obj("4"),
    )
    change = only(diff(a, b))
    assert (change.kind, change.path, change.detail, change.status) == (
        "removed",
        "c.arguments.ro",
        "(only in branches file)",
        Status.FINDING,
    )


def test_another_tag_member_is_an_incompatible_change() -> None:
    a = union_command(*union("file"), obj("3"))
    b = union_command(
        obj("1", member("driver", "2"), member("kind", "2"), tag="kind", variants={"file": "3"}),
        enum("2", "file"),
        obj("3"),
    )
    changes = {(c.what, c.detail): c.status for c in diff(a, b)}
    assert changes == {
        ("union tag", "driver → kind"): Status.FINDING,
        ("member", "required"): Status.FINDING,  # `kind` is a new mandatory argument
    }


# -- recursion ------------------------------------------------------------------------------------


def test_recursive_types_end_and_a_change_inside_is_listed_once() -> None:
    def tree(*extra: Entry) -> list[Entry]:
        node = obj("1", member("name", "str"), member("children", "[1]", optional=True), *extra)
        return [
            command("c", ret="[1]"),
            node,
            {"name": "[1]", "meta-type": "array", "element-type": "1"},
            event("E", arg="1"),
        ]

    change = only(diff(tree(member("size", "int")), tree()))
    assert (change.path, change.status) == ("c.return[].size", Status.FINDING)


# -- findings ----------------------------------------------------------------------------------------


def test_a_finding_is_a_failure_citing_the_rule() -> None:
    changes = diff(args_of(member("n", "int", optional=True)), args_of())
    with pytest.raises(Failure) as caught:
        check_change(changes[0])
    failure = caught.value
    assert failure.kind is FindingKind.COMPAT
    assert (failure.command, failure.path) == ("c", "c.arguments.n")
    assert (
        "Incompatible changes include removing commands, command arguments"
        in failure.citation.quote
    )
    assert [f.path for f in findings(changes)] == ["c.arguments.n"]
    check_change(only(diff([], [command("new")])))  # compatible: nothing raised


# -- output -------------------------------------------------------------------------------------------


def test_text_groups_by_kind_marks_each_line_and_sums_up() -> None:
    changes = diff([command("old"), command("keep")], [command("keep"), command("new")])
    text = render(SchemaDiff("A-label", "B-label", changes))
    lines = text.splitlines()
    assert lines[:2] == ["schema A: A-label", "schema B: B-label"]
    assert lines[2] == "removed (1):"
    assert lines[3].split() == ["finding", "command", "old", "[send-removed]"]
    assert lines[4] == "added (1):"
    assert lines[5].split() == ["compatible", "command", "new"]
    assert lines[6].startswith(
        '[send-removed] qapi § qapi-code-gen: Compatibility considerations: "Incompatible'
    )
    assert lines[-1] == (
        "schema: 2 changes: 1 findings, 0 incompatible but deprecated in A, 0 incompatible but unstable, 1 compatible"
    )


def test_no_changes_is_one_line() -> None:
    assert render(SchemaDiff("A", "B", [])) == "schema: no differences between A and B\n"


def write_schema(path: Path, entries: list[Entry]) -> str:
    path.write_text(json.dumps({"return": [*BUILTINS, EMPTY, *entries]}))
    return str(path)


def test_cli_compares_two_saved_schemas(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a = write_schema(tmp_path / "a.json", [command("old"), command("keep")])
    b = write_schema(tmp_path / "b.json", [command("keep")])
    assert main(["diff", "--schema", a, "--schema", b]) == 1
    assert capsys.readouterr().out.splitlines()[-1].startswith("schema: 1 changes: 1 findings")
    assert main(["diff", "--schema", b, "--schema", a, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["counts"]["compatible"] == 1
    assert report["changes"] == [
        {
            "kind": "added",
            "what": "command",
            "path": "old",
            "detail": "",
            "direction": None,
            "status": "compatible",
            "citation": report["changes"][0]["citation"],
        }
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--schema", "{a}"), "--schema given 1 times: give two, A then B"),
        (("--schema", "{a}", "--schema", "{missing}"), "missing.json: cannot read"),
        (("--schema", "{a}", "--schema", "{bad}"), "bad.json: not JSON"),
        (
            ("--schema", "{a}", "--schema", "{a}", "--qemu", "q"),
            "give --qemu or --schema, not both",
        ),
    ],
)
def test_cli_bad_schema_input_is_one_line_and_exit_2(
    args: tuple[str, ...], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = {"a": write_schema(tmp_path / "a.json", []), "missing": str(tmp_path / "missing.json")}
    (tmp_path / "bad.json").write_text("{nope")
    files["bad"] = str(tmp_path / "bad.json")
    assert main(["diff", *(arg.format(**files) for arg in args)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert message in err[0], err
