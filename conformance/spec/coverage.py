"""Which parts of a type a set of JSON values exercises, out of all it has.

The parts counted are the domain points a generator must choose between: object
**members** (present), optional members **absent**, enum **values**, union **variants**,
alternate **branches**, the **int** boundaries of every integer member and the **empty
and long strings** of every string member, for every type reachable from a command's
argument type (through members, array elements, variants and branches). Each part is an
:class:`Item` owned by the type that declares it, so a type reached along two paths
(``BlockdevRef`` everywhere in ``blockdev-add``) counts once.

Integer boundaries are the int64 and uint64 ones (:data:`INT_POINTS`):
``query-qmp-schema`` introspects every QAPI integer type (int8 to uint64, size) as
``int``, so a member's width isn't known here. Scalar points belong to a member whose
type is the builtin, or an array of it (not to an alternate's branch).

Only the valid parts of a value count: a member the type doesn't have, a string that is
no value of its enum, or a tag naming no variant exercises nothing. A union tag value is
an enum value and, when it selects a variant, that variant too.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from conformance.spec.model import (
    AlternateType,
    ArrayType,
    Builtin,
    EnumType,
    ObjectType,
    Schema,
    TypeInfo,
)

# The branch rule is the validator's, so that coverage and validation never disagree on
# which branch a value took.
from conformance.spec.validate import _branch_json_type, json_type_of

__all__ = [
    "INT_POINTS",
    "KINDS",
    "LONG_STRING",
    "Coverage",
    "Item",
    "branch_of",
    "command_items",
    "exercised",
    "items",
    "summarise",
]

#: Item kinds, in the order reports list them, with the words reports use.
KINDS: Mapping[str, str] = {
    "member": "members",
    "absent": "optional members absent",
    "enum": "enum values",
    "variant": "union variants",
    "branch": "alternate branches",
    "int": "integer boundaries",
    "string": "empty and long strings",
}

#: The integer boundaries every int member has as points: int64's and uint64's edges
#: (introspection doesn't tell widths apart), with 0 and -1 where signedness flips.
INT_POINTS: tuple[int, ...] = (0, -1, 2**63 - 1, -(2**63), 2**64 - 1)

#: How long a string must be to exercise a string member's "long" point.
LONG_STRING = 256

_STRING_POINTS = ("empty", "long")


@dataclass(frozen=True, slots=True, order=True)
class Item:
    """One part of a type: a member, enum value, variant case or alternate branch."""

    kind: str  # a key of KINDS
    owner: str  # the (masked) name of the type that declares it
    # The member name, enum value, variant case or branch type name; for a scalar
    # point "member=point" (an INT_POINTS value, "empty" or "long").
    name: str

    @property
    def key(self) -> str:
        """A compact text form, for test properties; :meth:`parse` reads it back."""
        return f"{self.kind}:{self.owner}:{self.name}"

    @classmethod
    def parse(cls, key: str) -> Item:
        kind, owner, name = key.split(":", 2)  # enum values may contain ':'; owners don't
        if kind not in KINDS:
            raise ValueError(f"not a coverage item: {key!r}")
        return cls(kind, owner, name)


def items(schema: Schema, type_name: str) -> frozenset[Item]:
    """Every item of ``type_name`` and of the types reachable from it."""
    found: set[Item] = set()
    for name, info in schema.reachable(type_name):
        if isinstance(info, ObjectType):
            found.update(Item("member", name, m.name) for m in info.members)
            found.update(Item("absent", name, m.name) for m in info.members if m.optional)
            found.update(Item("variant", name, v.case) for v in info.variants)
            for m in info.members:
                scalar = _scalar_of(schema, m.type)
                if scalar == "int":
                    found.update(Item("int", name, f"{m.name}={p}") for p in INT_POINTS)
                elif scalar == "string":
                    found.update(Item("string", name, f"{m.name}={p}") for p in _STRING_POINTS)
        elif isinstance(info, EnumType):
            found.update(Item("enum", name, v) for v in info.values)
        elif isinstance(info, AlternateType):
            found.update(Item("branch", name, b) for b in info.branches)
    return frozenset(found)


def command_items(schema: Schema, command: str) -> frozenset[Item]:
    """Every item of a command's argument type."""
    return items(schema, schema.command(command).arg_type)


def _scalar_of(schema: Schema, type_name: str) -> str | None:
    """ "int" or "string" for a member whose type is that builtin (or arrays of it)."""
    info = schema.type(type_name)
    while isinstance(info, ArrayType):
        info = schema.type(info.element_type)
    if isinstance(info, Builtin) and info.json_type in ("int", "string"):
        return info.json_type
    return None


#: Where a scalar sits: the object type and member it is the value of.
_Position = tuple[str, str] | None


def _scalar_point(value: object, info: Builtin) -> str | None:
    if info.json_type == "int" and type(value) is int and value in INT_POINTS:
        return str(value)
    if info.json_type == "string" and isinstance(value, str):
        if not value:
            return "empty"
        if len(value) >= LONG_STRING:
            return "long"
    return None


def exercised(schema: Schema, type_name: str, value: object) -> set[Item]:
    """The items of ``type_name`` that ``value`` uses."""
    used: set[Item] = set()
    # A stack, not recursion: recursive types admit values of any depth.
    pending: list[tuple[object, TypeInfo, _Position]] = [(value, schema.type(type_name), None)]
    while pending:
        item, info, position = pending.pop()
        if isinstance(info, ObjectType) and isinstance(item, Mapping):
            pending.extend(_object(schema, info, item, used))
        elif isinstance(info, EnumType) and isinstance(item, str) and item in info.values:
            used.add(Item("enum", info.name, item))
        elif isinstance(info, ArrayType) and isinstance(item, list | tuple):
            element = schema.type(info.element_type)
            pending.extend((e, element, position) for e in item)
        elif isinstance(info, AlternateType):
            branch = branch_of(schema, info, item)
            if branch is not None:
                used.add(Item("branch", info.name, branch.name))
                pending.append((item, branch, None))
        elif isinstance(info, Builtin) and position is not None:
            point = _scalar_point(item, info)
            if point is not None:
                used.add(Item(info.json_type, position[0], f"{position[1]}={point}"))
    return used


def _object(
    schema: Schema, info: ObjectType, value: Mapping[str, object], used: set[Item]
) -> list[tuple[object, TypeInfo, _Position]]:
    children: list[tuple[object, TypeInfo, _Position]] = []
    for member in info.members:
        if member.name in value:
            used.add(Item("member", info.name, member.name))
            children.append(
                (value[member.name], schema.type(member.type), (info.name, member.name))
            )
        elif member.optional:
            used.add(Item("absent", info.name, member.name))
    case = value.get(info.tag) if info.tag is not None else None
    for variant in info.variants:
        if variant.case == case:
            used.add(Item("variant", info.name, variant.case))
            # The variant's own members sit in the same JSON object (flat unions).
            children.append((value, schema.type(variant.type), None))
    return children


def branch_of(schema: Schema, info: AlternateType, value: object) -> TypeInfo | None:
    """The branch QEMU's input visitor picks for ``value``: by JSON type, where an int
    may stand for a number and any value fits an ``any`` branch."""
    actual = json_type_of(value)
    branches = [schema.type(b) for b in info.branches]
    kinds = [_branch_json_type(b) for b in branches]
    for wanted in (actual, "number" if actual == "int" else None, "value"):
        if wanted is not None and wanted in kinds:
            return branches[kinds.index(wanted)]
    return None


def _no_exclusions() -> Mapping[str, int]:
    return dict.fromkeys(KINDS, 0)


@dataclass(frozen=True, slots=True)
class Coverage:
    """Exercised, total and excluded items of one type, per kind.

    Excluded items are ones no case may exercise here (the generation or host-safety
    policy refuses the values that would): listed with their reason by whoever
    excluded them, and left out of :attr:`ratio`.
    """

    exercised: Mapping[str, int]
    total: Mapping[str, int]
    excluded: Mapping[str, int] = field(default_factory=_no_exclusions)

    @property
    def eligible(self) -> int:
        """Items that may be exercised: all but the excluded ones."""
        return sum(self.total.values()) - sum(self.excluded.values())

    @property
    def ratio(self) -> float:
        """Exercised items out of the eligible ones; 1.0 for a type without any."""
        eligible = self.eligible
        return sum(self.exercised.values()) / eligible if eligible else 1.0

    def to_json(self) -> dict[str, dict[str, int]]:
        return {
            k: {
                "exercised": self.exercised[k],
                "total": self.total[k],
                "excluded": self.excluded.get(k, 0),
            }
            for k in KINDS
        }


def summarise(
    universe: Iterable[Item], used: Iterable[Item], excluded: Iterable[Item] = ()
) -> Coverage:
    """Counts per kind of ``used`` (only items of ``universe`` count) out of ``universe``,
    and of ``excluded`` items of ``universe`` that weren't used after all."""
    everything = frozenset(universe)
    hits = everything & frozenset(used)
    out = (everything & frozenset(excluded)) - hits
    return Coverage(
        {k: sum(1 for i in hits if i.kind == k) for k in KINDS},
        {k: sum(1 for i in everything if i.kind == k) for k in KINDS},
        {k: sum(1 for i in out if i.kind == k) for k in KINDS},
    )
