"""Checking JSON values against the introspected schema.

:func:`validate` reports every way a value breaks its type, each as a
:class:`Violation` with a JSON path and one rule from :data:`RULES`. Each defect
yields exactly one violation: a bad union tag is a ``union-tag`` and not also an
``enum-value``, and members a bad tag leaves undecidable are not called unknown. That
lets a test that breaks one rule on purpose expect exactly that rule back.

The walk uses an explicit stack rather than recursion: recursive types (a
BlockdevOptions whose ``file`` is another BlockdevOptions) allow values of any depth.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from conformance.spec.errors import brief
from conformance.spec.model import (
    AlternateType,
    ArrayType,
    Builtin,
    EnumType,
    ObjectType,
    Schema,
    TypeInfo,
)

__all__ = [
    "INT_MAX",
    "INT_MIN",
    "OPEN_ENDED_ARGUMENTS",
    "RULES",
    "Violation",
    "element_path",
    "json_type_of",
    "member_path",
    "validate",
    "validate_arguments",
    "validate_event",
    "validate_return",
]

#: Every rule a :class:`Violation` can name.
RULES: frozenset[str] = frozenset(
    {
        "missing-member",  # a required member is absent
        "unknown-member",  # a member the type (and selected variants) doesn't have
        "wrong-type",  # a JSON-type mismatch not covered by "null" or "not-object"
        "enum-value",  # a string that isn't one of the enum's values
        "union-tag",  # a union tag string that isn't one of the tag enum's values
        "alternate-branch",  # a (non-null) value whose JSON type fits no branch
        "null",  # null where the type doesn't admit it
        "not-object",  # a non-null non-object where an object type is expected
        "int-range",  # an int outside what any QAPI integer type can hold
    }
)

# QAPI's integer types run from int64 to uint64, and introspection masks them all as
# "int", so the union of their ranges is all that can be checked.
INT_MIN = -(2**63)
INT_MAX = 2**64 - 1

#: Commands whose arguments introspection does not fully describe, and why. Their
#: listed members are still checked; members it doesn't list are not reported.
OPEN_ENDED_ARGUMENTS: Mapping[str, str] = MappingProxyType(
    {
        "device_add": (
            "qapi/qdev.json: device_add is 'gen': false;"
            ' "Additional arguments depend on the type"'
        ),
    }
)


@dataclass(frozen=True, slots=True)
class Violation:
    """One way a value breaks its schema type: where, which rule, and a readable why."""

    path: str
    rule: str
    message: str

    def __post_init__(self) -> None:
        if self.rule not in RULES:
            raise ValueError(f"unknown violation rule {self.rule!r}")

    def __str__(self) -> str:
        return f"{self.path}: {self.message} [{self.rule}]"


def validate(schema: Schema, value: object, type_name: str, path: str = "$") -> list[Violation]:
    """Every violation of type ``type_name`` in ``value``, which sits at ``path``.

    Raises :class:`SchemaError` only if ``type_name`` is not a type of ``schema``.
    """
    return _Walk(schema).run(value, schema.type(type_name), path, open_ended=False)


def validate_arguments(schema: Schema, command: str, arguments: object) -> list[Violation]:
    """Every violation in the ``arguments`` of an ``execute`` of ``command``.

    ``None`` means the request had no ``arguments``, which QMP treats as ``{}``.
    Commands in :data:`OPEN_ENDED_ARGUMENTS` may carry members the schema doesn't list.
    """
    arg_type = schema.type(schema.command(command).arg_type)
    value = {} if arguments is None else arguments
    open_ended = command in OPEN_ENDED_ARGUMENTS
    return _Walk(schema).run(value, arg_type, "$", open_ended=open_ended)


def validate_return(schema: Schema, command: str, value: object) -> list[Violation]:
    """Every violation in the ``return`` value of a reply to ``command``."""
    return validate(schema, value, schema.command(command).ret_type)


def validate_event(schema: Schema, event: str, data: object) -> list[Violation]:
    """Every violation in the ``data`` of ``event``.

    ``None`` means the event had no ``data``, as QEMU sends events without members.
    """
    return validate(schema, {} if data is None else data, schema.event(event).arg_type)


_PLAIN_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_+-]*\Z")


def member_path(path: str, name: object) -> str:
    """The JSON path of member ``name`` of the object at ``path``.

    Names that aren't plain identifiers use bracket notation, so that a fuzzed key
    containing dots or quotes can't make a path ambiguous.
    """
    text = str(name)
    if _PLAIN_NAME.match(text):
        return f"{path}.{text}"
    return f"{path}[{json.dumps(text)}]"


def element_path(path: str, index: int) -> str:
    """The JSON path of element ``index`` of the array at ``path``."""
    return f"{path}[{index}]"


def json_type_of(value: object) -> str | None:
    """The introspection JSON type of a Python value: string, number, int, boolean,
    null, object or array; None when it is no JSON value (a set, NaN, ...)."""
    # bool before int: bool is an int subclass, but JSON true is not a number.
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "number" if math.isfinite(value) else None
    if isinstance(value, str):
        return "string"
    if isinstance(value, Mapping):
        return "object"
    if isinstance(value, list | tuple):
        return "array"
    return None


def _is_json(value: object) -> bool:
    pending = [value]
    while pending:
        item = pending.pop()
        kind = json_type_of(item)
        if kind is None:
            return False
        if isinstance(item, Mapping):
            if not all(isinstance(key, str) for key in item):
                return False
            pending.extend(item.values())
        elif isinstance(item, list | tuple):
            pending.extend(item)
    return True


def _describe(value: object) -> str:
    kind = json_type_of(value)
    return f"{kind} {brief(value)}" if kind else f"non-JSON {type(value).__name__}"


def _branch_json_type(info: TypeInfo) -> str:
    """The JSON type that sends a value to this alternate branch."""
    if isinstance(info, Builtin):
        return info.json_type
    if isinstance(info, EnumType):
        return "string"
    if isinstance(info, ArrayType):
        return "array"
    # Schema guarantees branches are never alternates, so this is an object.
    return "object"


_Task = tuple[object, TypeInfo, str]


class _Walk:
    """One validation: a stack of (value, type, path) still to check, and the findings."""

    __slots__ = ("schema", "violations")

    def __init__(self, schema: Schema) -> None:
        self.schema = schema
        self.violations: list[Violation] = []

    def run(self, value: object, info: TypeInfo, path: str, *, open_ended: bool) -> list[Violation]:
        # Only the top-level object of an open-ended command takes unlisted members.
        stack: list[_Task] = list(reversed(self._check(value, info, path, open_ended)))
        while stack:
            children = self._check(*stack.pop(), open_ended=False)
            # Reversed so that children are checked in document order.
            stack.extend(reversed(children))
        return self.violations

    def _report(self, path: str, rule: str, message: str) -> None:
        self.violations.append(Violation(path, rule, message))

    def _check(self, value: object, info: TypeInfo, path: str, open_ended: bool) -> list[_Task]:
        """Check ``value`` itself; return the parts of it still to be checked."""
        if value is None and not self._admits_null(info):
            self._report(path, "null", f"null is not allowed here ({info.meta_type} {info.name!r})")
            return []
        if isinstance(info, Builtin):
            self._builtin(info, value, path)
        elif isinstance(info, EnumType):
            self._enum(info, value, path)
        elif isinstance(info, ArrayType):
            return self._array(info, value, path)
        elif isinstance(info, ObjectType):
            return self._object(info, value, path, open_ended)
        else:
            return self._alternate(info, value, path)
        return []

    def _admits_null(self, info: TypeInfo) -> bool:
        if isinstance(info, Builtin):
            return info.json_type in ("null", "value")
        if isinstance(info, AlternateType):
            return any(self._admits_null(self.schema.type(b)) for b in info.branches)
        return False

    def _builtin(self, info: Builtin, value: object, path: str) -> None:
        if info.json_type == "value":
            if not _is_json(value):
                self._report(path, "wrong-type", f"expected a JSON value, got {_describe(value)}")
            return
        actual = json_type_of(value)
        # An int is a perfectly good JSON number; the reverse is not true.
        if actual == info.json_type or (actual == "int" and info.json_type == "number"):
            if actual == "int" and info.json_type == "int":
                assert isinstance(value, int)
                if not INT_MIN <= value <= INT_MAX:
                    self._report(path, "int-range", f"{value} is outside [-2^63, 2^64-1]")
            return
        self._report(path, "wrong-type", f"expected {info.json_type}, got {_describe(value)}")

    def _enum(self, info: EnumType, value: object, path: str) -> None:
        if not isinstance(value, str):
            self._report(
                path,
                "wrong-type",
                f"expected a string of enum {info.name!r}, got {_describe(value)}",
            )
        elif value not in info.values:
            self._report(path, "enum-value", f"{brief(value)} is not a value of enum {info.name!r}")

    def _array(self, info: ArrayType, value: object, path: str) -> list[_Task]:
        if not isinstance(value, list | tuple):
            self._report(path, "wrong-type", f"expected array, got {_describe(value)}")
            return []
        element = self.schema.type(info.element_type)
        return [(item, element, element_path(path, i)) for i, item in enumerate(value)]

    def _object(self, info: ObjectType, value: object, path: str, open_ended: bool) -> list[_Task]:
        if not isinstance(value, Mapping):
            self._report(path, "not-object", f"expected object, got {_describe(value)}")
            return []
        resolved = self.schema.resolve(info, value)
        undecided = resolved.undecided
        children: list[_Task] = []
        known: set[str] = set()
        for member in resolved.members:
            known.add(member.name)
            where = member_path(path, member.name)
            if member.name not in value:
                if not member.optional:
                    self._report(
                        where, "missing-member", f"required member {member.name!r} is absent"
                    )
                continue
            item = value[member.name]
            if undecided is not None and member.name == undecided.tag and isinstance(item, str):
                # A string that resolve() couldn't use: not a case, so the tag is at
                # fault, and reporting it as an enum-value too would count it twice.
                self._report(
                    where,
                    "union-tag",
                    f"{brief(item)} is not a tag value of union {undecided.name!r}",
                )
            else:
                children.append((item, self.schema.type(member.type), where))
        if not open_ended:
            # Without a usable tag, variant members might be right; don't guess.
            maybe = (
                frozenset() if undecided is None else self.schema.variant_member_names(undecided)
            )
            for key in value:
                if key not in known and key not in maybe:
                    self._report(
                        member_path(path, key), "unknown-member", f"unknown member {brief(key)}"
                    )
        return children

    def _alternate(self, info: AlternateType, value: object, path: str) -> list[_Task]:
        actual = json_type_of(value)
        branches = [self.schema.type(b) for b in info.branches]
        kinds = [_branch_json_type(b) for b in branches]
        for wanted in (actual, "number" if actual == "int" else None, "value"):
            if wanted is not None and wanted in kinds:
                return [(value, branches[kinds.index(wanted)], path)]
        self._report(
            path,
            "alternate-branch",
            f"{_describe(value)} fits no branch of alternate {info.name!r}"
            f" (expected {' or '.join(kinds)})",
        )
        return []
