"""Which parts of a type a set of JSON values exercises, out of all it has.

The parts counted are the ones a generator must choose between: object **members**, enum
**values**, union **variants** and alternate **branches**, for every type reachable from
a command's argument type (through members, array elements, variants and branches).
Each part is an :class:`Item` owned by the type that declares it, so a type reached
along two paths (``BlockdevRef`` everywhere in ``blockdev-add``) counts once.

Only the valid parts of a value count: a member the type doesn't have, a string that is
no value of its enum, or a tag naming no variant exercises nothing. A union tag value is
an enum value and, when it selects a variant, that variant too.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from conformance.spec.model import (
    AlternateType,
    ArrayType,
    EnumType,
    ObjectType,
    Schema,
    TypeInfo,
)

# The branch rule is the validator's, so that coverage and validation never disagree on
# which branch a value took.
from conformance.spec.validate import _branch_json_type, json_type_of

__all__ = ["KINDS", "Coverage", "Item", "command_items", "exercised", "items", "summarise"]

#: Item kinds, in the order reports list them, with the words reports use.
KINDS: Mapping[str, str] = {
    "member": "members",
    "enum": "enum values",
    "variant": "union variants",
    "branch": "alternate branches",
}


@dataclass(frozen=True, slots=True, order=True)
class Item:
    """One part of a type: a member, enum value, variant case or alternate branch."""

    kind: str  # a key of KINDS
    owner: str  # the (masked) name of the type that declares it
    name: str  # the member name, enum value, variant case or branch type name

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
            found.update(Item("variant", name, v.case) for v in info.variants)
        elif isinstance(info, EnumType):
            found.update(Item("enum", name, v) for v in info.values)
        elif isinstance(info, AlternateType):
            found.update(Item("branch", name, b) for b in info.branches)
    return frozenset(found)


def command_items(schema: Schema, command: str) -> frozenset[Item]:
    """Every item of a command's argument type."""
    return items(schema, schema.command(command).arg_type)


def exercised(schema: Schema, type_name: str, value: object) -> set[Item]:
    """The items of ``type_name`` that ``value`` uses."""
    used: set[Item] = set()
    # A stack, not recursion: recursive types admit values of any depth.
    pending: list[tuple[object, TypeInfo]] = [(value, schema.type(type_name))]
    while pending:
        item, info = pending.pop()
        if isinstance(info, ObjectType) and isinstance(item, Mapping):
            pending.extend(_object(schema, info, item, used))
        elif isinstance(info, EnumType) and isinstance(item, str) and item in info.values:
            used.add(Item("enum", info.name, item))
        elif isinstance(info, ArrayType) and isinstance(item, list | tuple):
            element = schema.type(info.element_type)
            pending.extend((e, element) for e in item)
        elif isinstance(info, AlternateType):
            branch = _branch(schema, info, item)
            if branch is not None:
                used.add(Item("branch", info.name, branch.name))
                pending.append((item, branch))
    return used


def _object(
    schema: Schema, info: ObjectType, value: Mapping[str, object], used: set[Item]
) -> list[tuple[object, TypeInfo]]:
    children: list[tuple[object, TypeInfo]] = []
    for member in info.members:
        if member.name in value:
            used.add(Item("member", info.name, member.name))
            children.append((value[member.name], schema.type(member.type)))
    case = value.get(info.tag) if info.tag is not None else None
    for variant in info.variants:
        if variant.case == case:
            used.add(Item("variant", info.name, variant.case))
            # The variant's own members sit in the same JSON object (flat unions).
            children.append((value, schema.type(variant.type)))
    return children


def _branch(schema: Schema, info: AlternateType, value: object) -> TypeInfo | None:
    """The branch QEMU's input visitor picks for ``value``: by JSON type, where an int
    may stand for a number and any value fits an ``any`` branch."""
    actual = json_type_of(value)
    branches = [schema.type(b) for b in info.branches]
    kinds = [_branch_json_type(b) for b in branches]
    for wanted in (actual, "number" if actual == "int" else None, "value"):
        if wanted is not None and wanted in kinds:
            return branches[kinds.index(wanted)]
    return None


@dataclass(frozen=True, slots=True)
class Coverage:
    """Exercised and total items of one type, per kind."""

    exercised: Mapping[str, int]
    total: Mapping[str, int]

    @property
    def ratio(self) -> float:
        """Exercised items out of all items; 1.0 for a type without any."""
        total = sum(self.total.values())
        return sum(self.exercised.values()) / total if total else 1.0

    def to_json(self) -> dict[str, dict[str, int]]:
        return {k: {"exercised": self.exercised[k], "total": self.total[k]} for k in KINDS}


def summarise(universe: Iterable[Item], used: Iterable[Item]) -> Coverage:
    """Counts per kind of ``used`` (only items of ``universe`` count) out of ``universe``."""
    everything = frozenset(universe)
    hits = everything & frozenset(used)
    return Coverage(
        {k: sum(1 for i in hits if i.kind == k) for k in KINDS},
        {k: sum(1 for i in everything if i.kind == k) for k in KINDS},
    )
