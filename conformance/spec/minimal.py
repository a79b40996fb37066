"""The smallest schema-valid value of a type, deterministically.

Hypothesis strategies explore; some checks instead need *one* known-valid value to
change a single member of: inducing a documented error condition means every argument
but the one the condition is about must be valid, or QEMU's error would be about
something else. Members the caller knows better values for (a profile's node and device
names) come from `choose`, which sees each member before its type is consulted.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from conformance.spec.model import (
    AlternateType,
    ArrayType,
    Builtin,
    EnumType,
    Member,
    ObjectType,
    Schema,
)

#: Returns the value for a member, or None to let the type decide.
Chooser = Callable[[Member], object | None]
#: Enum values not to pick, by member name (the host-safety exclusions).
Excluded = Mapping[str, frozenset[str]]

_SCALARS: dict[str, object] = {
    "string": "x",
    "int": 0,
    "number": 0,
    "boolean": False,
    "null": None,
    "value": {},
}


def minimal(
    schema: Schema,
    type_name: str,
    choose: Chooser = lambda _: None,
    excluded: Excluded | None = None,
    member: str = "",
) -> object:
    """The smallest valid value of `type_name`: required members only, empty arrays,
    first enum values, the first variant of a union, the first branch of an alternate
    (a string branch if there is one, since names are what `choose` supplies).
    Enum values in `excluded[member]` are never picked; an enum with nothing else
    left raises ValueError.

    Recursion through required members terminates: QAPI has no type that requires
    itself (that type would have no finite value).
    """
    info = schema.type(type_name)
    if isinstance(info, Builtin):
        return _SCALARS.get(info.json_type, {})
    if isinstance(info, EnumType):
        banned = (excluded or {}).get(member, frozenset())
        allowed = [v for v in info.values if v not in banned]
        if not allowed:
            raise ValueError(f"every value of {member or type_name} is excluded")
        return allowed[0]
    if isinstance(info, ArrayType):
        return []
    if isinstance(info, AlternateType):
        strings = [b for b in info.branches if is_string(schema, b)]
        return minimal(schema, (strings or list(info.branches))[0], choose, excluded, member)
    assert isinstance(info, ObjectType)
    return minimal_object(schema, info, choose, excluded)


def minimal_object(
    schema: Schema,
    obj: ObjectType,
    choose: Chooser = lambda _: None,
    excluded: Excluded | None = None,
) -> dict[str, object]:
    """The required members of `obj` (and of the variant its tags select), filled in."""
    value: dict[str, object] = {}
    while True:
        resolved = schema.resolve(obj, value)
        missing = [m for m in resolved.members if not m.optional and m.name not in value]
        if not missing:
            return value
        for member in missing:
            chosen = choose(member)
            value[member.name] = (
                chosen
                if chosen is not None
                else minimal(schema, member.type, choose, excluded, member.name)
            )


def is_string(schema: Schema, type_name: str) -> bool:
    info = schema.type(type_name)
    return isinstance(info, Builtin) and info.json_type == "string"
