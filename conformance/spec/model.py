"""The QMP schema as QEMU introspects it, as immutable Python objects.

``query-qmp-schema`` returns a flat list of SchemaInfo objects (qapi/introspect.json).
Each names a builtin, enum, array, object, alternate, command or event; types refer to
each other by name, and QEMU masks the names of non-builtin types as numbers ("262",
"[10]") so that clients can't depend on them. :class:`Schema` parses that list once,
checks that it hangs together, and answers the questions the other layers ask of it:
what members an object value may carry, which of them are required, what is featured.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from itertools import chain
from types import MappingProxyType
from typing import ClassVar, TypeAlias

from conformance.spec.errors import SchemaError, brief

__all__ = [
    "JSON_TYPES",
    "META_TYPES",
    "AlternateType",
    "ArrayType",
    "Builtin",
    "Command",
    "EnumType",
    "Event",
    "FeaturedItem",
    "Features",
    "Member",
    "ObjectType",
    "Resolved",
    "Schema",
    "TypeInfo",
    "Variant",
]

Features: TypeAlias = tuple[str, ...]

#: The meta-types of SchemaInfo, in the order introspect.json lists them.
META_TYPES: tuple[str, ...] = (
    "builtin",
    "enum",
    "array",
    "object",
    "alternate",
    "command",
    "event",
)

#: introspect.json's JSONType: what a builtin accepts ("value" is anything).
JSON_TYPES: frozenset[str] = frozenset(
    {"string", "number", "int", "boolean", "null", "object", "array", "value"}
)


def _no_value_features() -> Mapping[str, Features]:
    return MappingProxyType({})


@dataclass(frozen=True, slots=True)
class Builtin:
    """A predefined type (str, int, number, bool, null, any) and the JSON type it takes."""

    meta_type: ClassVar[str] = "builtin"
    name: str
    json_type: str
    features: Features = ()


@dataclass(frozen=True, slots=True)
class EnumType:
    """A string type restricted to ``values``; ``value_features`` only lists featured ones."""

    meta_type: ClassVar[str] = "enum"
    name: str
    values: tuple[str, ...]
    # Not hashed: mappings aren't hashable, and values + name already identify an enum.
    value_features: Mapping[str, Features] = field(default_factory=_no_value_features, hash=False)
    features: Features = ()


@dataclass(frozen=True, slots=True)
class ArrayType:
    """A JSON array whose elements all have ``element_type``.

    introspect.json allows features on every SchemaInfo, so arrays carry them too,
    although QEMU has never put any there.
    """

    meta_type: ClassVar[str] = "array"
    name: str
    element_type: str
    features: Features = ()


@dataclass(frozen=True, slots=True)
class Member:
    """One member of an object type; optional exactly when introspection gave a default."""

    name: str
    type: str
    optional: bool = False
    features: Features = ()


@dataclass(frozen=True, slots=True)
class Variant:
    """The object type whose members a union adds when its tag has the value ``case``."""

    case: str
    type: str


@dataclass(frozen=True, slots=True)
class ObjectType:
    """A JSON object type; with ``tag`` and ``variants`` it is a (flat) union."""

    meta_type: ClassVar[str] = "object"
    name: str
    members: tuple[Member, ...] = ()
    tag: str | None = None
    variants: tuple[Variant, ...] = ()
    features: Features = ()


@dataclass(frozen=True, slots=True)
class AlternateType:
    """A value of any one of ``branches``, chosen by the JSON type of the value."""

    meta_type: ClassVar[str] = "alternate"
    name: str
    branches: tuple[str, ...]
    features: Features = ()


@dataclass(frozen=True, slots=True)
class Command:
    """A QMP command: its arguments object type and its return type."""

    meta_type: ClassVar[str] = "command"
    name: str
    arg_type: str
    ret_type: str
    allow_oob: bool = False
    features: Features = ()


@dataclass(frozen=True, slots=True)
class Event:
    """A QMP event and the object type of its ``data``."""

    meta_type: ClassVar[str] = "event"
    name: str
    arg_type: str
    features: Features = ()


TypeInfo: TypeAlias = Builtin | EnumType | ArrayType | ObjectType | AlternateType
Definition: TypeAlias = TypeInfo | Command | Event

#: (kind, definition name, member or enum value name or None, features); see featured().
FeaturedItem: TypeAlias = tuple[str, str, str | None, Features]


@dataclass(frozen=True, slots=True)
class Resolved:
    """The members an object value may carry once its union tags have been read.

    ``undecided`` is the union (the object itself or a nested variant) whose tag is
    absent or not one of its values; the members its variants would add are then
    neither allowed nor known to be wrong.
    """

    members: tuple[Member, ...]
    undecided: ObjectType | None


@dataclass(frozen=True, slots=True)
class _Union:
    tag_enum: EnumType
    variant_types: Mapping[str, str]


class Schema:
    """The types, commands and events of one QEMU, consistent by construction.

    Build it with :meth:`from_schema_info`. The constructor checks every reference
    between definitions, so any ``Schema`` can be walked without meeting a dangling name.
    """

    __slots__ = ("_unions", "commands", "events", "types")

    def __init__(
        self,
        types: Mapping[str, TypeInfo],
        commands: Mapping[str, Command],
        events: Mapping[str, Event],
    ) -> None:
        self.types: dict[str, TypeInfo] = dict(types)
        self.commands: dict[str, Command] = dict(commands)
        self.events: dict[str, Event] = dict(events)
        self._unions: dict[str, _Union] = {}
        self._link()

    @classmethod
    def from_schema_info(cls, entries: object) -> Schema:
        """Build the model from the value of a ``query-qmp-schema`` reply.

        Raises :class:`SchemaError` (and nothing else) when ``entries`` is not a list
        of well-formed SchemaInfo objects whose references all resolve.
        """
        if not isinstance(entries, list):
            raise SchemaError(f"schema: expected a list of SchemaInfo, got {brief(entries)}")
        types: dict[str, TypeInfo] = {}
        commands: dict[str, Command] = {}
        events: dict[str, Event] = {}
        first_seen: dict[tuple[str, str], int] = {}
        for index, entry in enumerate(entries):
            definition = _parse_entry(index, entry)
            # Types, commands and events are looked up separately, so only a clash
            # within one of them is ambiguous.
            namespace = definition.meta_type if isinstance(definition, Command | Event) else "type"
            key = (namespace, definition.name)
            if key in first_seen:
                raise SchemaError(
                    f"schema entry {index}: {namespace} name {definition.name!r}"
                    f" is already defined by entry {first_seen[key]}"
                )
            first_seen[key] = index
            if isinstance(definition, Command):
                commands[definition.name] = definition
            elif isinstance(definition, Event):
                events[definition.name] = definition
            else:
                types[definition.name] = definition
        return cls(types, commands, events)

    # -- lookups ------------------------------------------------------------------

    def type(self, name: str) -> TypeInfo:
        """The type called ``name``; :class:`SchemaError` if there is none."""
        try:
            return self.types[name]
        except KeyError:
            raise SchemaError(f"schema has no type {brief(name)}") from None

    def reachable(self, type_name: str) -> Iterator[tuple[str, TypeInfo]]:
        """`type_name` and every type reachable from it (members, variants, array
        elements, alternate branches), each once."""
        seen: set[str] = set()
        pending = [type_name]
        while pending:
            name = pending.pop()
            if name in seen:
                continue
            seen.add(name)
            info = self.type(name)
            yield name, info
            if isinstance(info, ObjectType):
                pending.extend(m.type for m in info.members)
                pending.extend(v.type for v in info.variants)
            elif isinstance(info, AlternateType):
                pending.extend(info.branches)
            elif isinstance(info, ArrayType):
                pending.append(info.element_type)

    def object_type(self, name: str) -> ObjectType:
        """The object type called ``name``; :class:`SchemaError` if it is missing or not one."""
        info = self.type(name)
        if not isinstance(info, ObjectType):
            raise SchemaError(f"type {name!r} is {info.meta_type}, not object")
        return info

    def command(self, name: str) -> Command:
        """The command called ``name``; :class:`SchemaError` if there is none."""
        try:
            return self.commands[name]
        except KeyError:
            raise SchemaError(f"schema has no command {brief(name)}") from None

    def event(self, name: str) -> Event:
        """The event called ``name``; :class:`SchemaError` if there is none."""
        try:
            return self.events[name]
        except KeyError:
            raise SchemaError(f"schema has no event {brief(name)}") from None

    # -- summaries ------------------------------------------------------------------

    def counts(self) -> dict[str, int]:
        """How many definitions of each meta-type there are (every meta-type is a key)."""
        result = dict.fromkeys(META_TYPES, 0)
        for definition in self._definitions():
            result[definition.meta_type] += 1
        return result

    def featured(self) -> list[FeaturedItem]:
        """Every definition, member and enum value that carries features.

        Rows are ``(kind, definition, item, features)``. ``kind`` is the meta-type for
        definitions, ``"member"`` for object members and ``"enum-value"`` for enum
        values; ``item`` names the member or value (None for definitions). A member of
        a command's or event's arguments is reported under that command or event, once
        per user of the type, because masked type names mean nothing to a reader.
        """
        users: dict[str, list[str]] = {}
        takers: Iterable[Command | Event] = chain(self.commands.values(), self.events.values())
        for taker in takers:
            users.setdefault(taker.arg_type, []).append(taker.name)
        rows: list[FeaturedItem] = []
        for definition in self._definitions():
            if definition.features:
                rows.append((definition.meta_type, definition.name, None, definition.features))
            if isinstance(definition, EnumType):
                rows.extend(
                    ("enum-value", definition.name, value, features)
                    for value, features in definition.value_features.items()
                )
            elif isinstance(definition, ObjectType):
                owners = users.get(definition.name, [definition.name])
                rows.extend(
                    ("member", owner, member.name, member.features)
                    for member in definition.members
                    if member.features
                    for owner in owners
                )
        return rows

    # -- object members ---------------------------------------------------------------

    def resolve(self, obj: ObjectType, value: Mapping[str, object] | None = None) -> Resolved:
        """The members ``value`` may carry as an ``obj``: base members plus, for each
        union tag in ``value`` with a valid value, the selected variant's members.

        Without a value only the base members are known and ``obj`` (if a union) is
        left undecided.
        """
        members = list(obj.members)
        current = obj
        # A loop rather than recursion: variants nest, and the nesting is acyclic (_link).
        while current.tag is not None:
            union = self._unions.get(current.name)
            if union is None:
                raise SchemaError(f"{_label(current)} is not a union of this schema")
            case = None if value is None else value.get(current.tag)
            if not isinstance(case, str) or case not in union.tag_enum.values:
                return Resolved(tuple(members), current)
            variant = union.variant_types.get(case)
            if variant is None:
                break  # a legal tag value without a variant adds no members
            current = self.object_type(variant)
            members.extend(current.members)
        return Resolved(tuple(members), None)

    def members_of(
        self, obj: ObjectType, value: Mapping[str, object] | None = None
    ) -> tuple[Member, ...]:
        """Base members of ``obj`` plus those of the variants ``value``'s tags select."""
        return self.resolve(obj, value).members

    def required_members(
        self, obj: ObjectType, value: Mapping[str, object] | None = None
    ) -> tuple[Member, ...]:
        """The members of :meth:`members_of` that a value must carry."""
        return tuple(m for m in self.members_of(obj, value) if not m.optional)

    def variant_member_names(self, obj: ObjectType) -> frozenset[str]:
        """Every member name that some variant of ``obj`` (at any depth) could add."""
        names: set[str] = set()
        pending = [obj]
        seen: set[str] = set()
        while pending:
            for variant in pending.pop().variants:
                if variant.type not in seen:
                    seen.add(variant.type)
                    variant_type = self.object_type(variant.type)
                    names.update(m.name for m in variant_type.members)
                    pending.append(variant_type)
        return frozenset(names)

    def is_empty_object(self, type_name: str) -> bool:
        """Whether ``type_name`` is an object type admitting only ``{}``."""
        info = self.type(type_name)
        return isinstance(info, ObjectType) and not info.members and not info.variants

    def arg_members(self, command_name: str) -> tuple[Member, ...]:
        """The base argument members of a command (a union's variants are not included)."""
        return self.members_of(self.object_type(self.command(command_name).arg_type))

    def arg_members_required(self, command_name: str) -> tuple[Member, ...]:
        """The base argument members a command can't be executed without."""
        return self.required_members(self.object_type(self.command(command_name).arg_type))

    # -- consistency ------------------------------------------------------------------

    def _definitions(self) -> Iterator[Definition]:
        return chain(self.commands.values(), self.events.values(), self.types.values())

    def _link(self) -> None:
        """Check every reference between definitions and index the unions."""
        for table in (self.types, self.commands, self.events):
            for key, definition in table.items():
                if key != definition.name:
                    raise SchemaError(f"{_label(definition)} is filed under {key!r}")
        for definition in self._definitions():
            for role, name, wanted in _references(definition):
                target = self.types.get(name)
                if target is None:
                    raise SchemaError(f"{_label(definition)}: {role} {name!r} names no type")
                if target.meta_type not in wanted:
                    raise SchemaError(
                        f"{_label(definition)}: {role} {name!r} is {target.meta_type},"
                        f" not {' or '.join(wanted)}"
                    )
            if isinstance(definition, ObjectType) and definition.tag is not None:
                self._unions[definition.name] = self._union(definition)
        self._check_variants_acyclic()

    def _union(self, obj: ObjectType) -> _Union:
        tag_type = next((m.type for m in obj.members if m.name == obj.tag), None)
        if tag_type is None:
            raise SchemaError(f"{_label(obj)}: tag {obj.tag!r} is not one of its members")
        tag_enum = self.types[tag_type]
        assert isinstance(tag_enum, EnumType), "_references() checks the tag is an enum"
        for variant in obj.variants:
            if variant.case not in tag_enum.values:
                raise SchemaError(
                    f"{_label(obj)}: variant case {variant.case!r} is not a value"
                    f" of tag {obj.tag!r}"
                )
        return _Union(tag_enum, MappingProxyType({v.case: v.type for v in obj.variants}))

    def _check_variants_acyclic(self) -> None:
        # A variant that (transitively) contains its own union would make resolve()
        # loop forever; QAPI can't express it, but a corrupt dump can. Iterative
        # depth-first search, so that deep nesting can't exhaust the Python stack.
        finished: set[str] = set()
        for root in self._unions:
            if root in finished:
                continue
            active = {root}
            stack = [(root, self._variant_targets(root))]
            while stack:
                name, targets = stack[-1]
                target = next(targets, None)
                if target is None:
                    stack.pop()
                    active.discard(name)
                    finished.add(name)
                elif target in active:
                    raise SchemaError(f"object {target!r}: its variants nest back into it")
                elif target not in finished:
                    active.add(target)
                    stack.append((target, self._variant_targets(target)))

    def _variant_targets(self, name: str) -> Iterator[str]:
        union = self._unions.get(name)
        # dict.fromkeys: de-duplicated like a set, but in a stable order.
        return iter(()) if union is None else iter(dict.fromkeys(union.variant_types.values()))

    def __repr__(self) -> str:
        shown = ", ".join(f"{k}={v}" for k, v in self.counts().items())
        return f"<Schema {shown}>"


def _label(definition: Definition) -> str:
    return f"{definition.meta_type} {definition.name!r}"


_ANY_TYPE = ("builtin", "enum", "array", "object", "alternate")


def _references(definition: Definition) -> Iterator[tuple[str, str, tuple[str, ...]]]:
    """(role, referenced type name, meta-types it may have) for every reference."""
    if isinstance(definition, ArrayType):
        yield "element-type", definition.element_type, _ANY_TYPE
    elif isinstance(definition, ObjectType):
        for member in definition.members:
            # The tag's member is what picks the variant, so it has to be an enum.
            wanted = ("enum",) if member.name == definition.tag else _ANY_TYPE
            yield f"member {member.name!r} type", member.type, wanted
        for variant in definition.variants:
            yield f"variant {variant.case!r} type", variant.type, ("object",)
    elif isinstance(definition, AlternateType):
        # QAPI never nests alternates; validation relies on it to pick branches by JSON type.
        for branch in definition.branches:
            yield "branch", branch, ("builtin", "enum", "array", "object")
    elif isinstance(definition, Command):
        yield "arg-type", definition.arg_type, ("object",)
        yield "ret-type", definition.ret_type, _ANY_TYPE
    elif isinstance(definition, Event):
        yield "arg-type", definition.arg_type, ("object",)


# -- parsing one SchemaInfo -----------------------------------------------------------


class _Fields:
    """Typed access to one JSON object of the schema list, failing with its location.

    The location ("object '49' member 'driver'") is only formatted when an error
    needs it: a schema has thousands of members and the happy path should stay cheap.
    """

    __slots__ = ("_data", "_index", "_label", "_noun")

    def __init__(self, data: object, index: int, noun: str, label: str | int | None = None) -> None:
        self._index = index
        self._noun = noun
        self._label = label
        if not isinstance(data, dict):
            raise self.error(f"is not an object but {brief(data)}")
        self._data: dict[object, object] = data

    @property
    def what(self) -> str:
        if self._label is None:
            return self._noun
        if isinstance(self._label, str):
            return f"{self._noun} {self._label!r}"
        return f"{self._noun} {self._label}"

    def error(self, problem: str) -> SchemaError:
        return SchemaError(f"schema entry {self._index}: {self.what} {problem}")

    def has(self, key: str) -> bool:
        return key in self._data

    def _get(self, key: str) -> object:
        if key not in self._data:
            raise self.error(f"has no {key!r}")
        return self._data[key]

    def string(self, key: str) -> str:
        value = self._get(key)
        if not isinstance(value, str):
            raise self.error(f"has {key!r} {brief(value)}, not a string")
        return value

    def named(self, noun: str | None = None) -> str:
        """Read ``name`` and call this object by it (and ``noun``) from now on."""
        if noun is not None:
            self._noun = noun
        name = self.string("name")
        self._label = name
        return name

    def flag(self, key: str) -> bool:
        value = self._data.get(key, False)
        if not isinstance(value, bool):
            raise self.error(f"has {key!r} {brief(value)}, not a boolean")
        return value

    def _list(self, key: str) -> list[object]:
        value = self._get(key)
        if not isinstance(value, list):
            raise self.error(f"has {key!r} {brief(value)}, not a list")
        return value

    def strings(self, key: str) -> tuple[str, ...]:
        result: list[str] = []
        for item in self._list(key):
            if not isinstance(item, str):
                raise self.error(f"has {brief(item)} in {key!r}, not a string")
            result.append(item)
        return tuple(result)

    def objects(self, key: str, noun: str) -> list[_Fields]:
        items = self._list(key)
        noun = f"{self.what} {noun}"
        return [_Fields(item, self._index, noun, position) for position, item in enumerate(items)]

    def features(self) -> Features:
        return self.strings("features") if self.has("features") else ()

    def unique(self, names: Iterable[str], noun: str) -> None:
        seen: set[str] = set()
        for name in names:
            if name in seen:
                raise self.error(f"has duplicate {noun} {name!r}")
            seen.add(name)


def _parse_entry(index: int, entry: object) -> Definition:
    fields = _Fields(entry, index, "entry")
    meta_type = fields.string("meta-type")
    parse = _PARSERS.get(meta_type)
    if parse is None:
        raise fields.error(f"has unknown meta-type {brief(meta_type)}")
    return parse(fields, fields.named(meta_type))


def _builtin(fields: _Fields, name: str) -> Builtin:
    json_type = fields.string("json-type")
    if json_type not in JSON_TYPES:
        raise fields.error(f"has unknown json-type {json_type!r}")
    return Builtin(name, json_type, fields.features())


def _enum(fields: _Fields, name: str) -> EnumType:
    # QEMU 6.2 added 'members' (to carry per-value features) and deprecated 'values';
    # older QEMUs send only 'values'.
    if fields.has("members"):
        value_features: dict[str, Features] = {}
        listed: list[str] = []
        for member in fields.objects("members", "member"):
            value = member.named()
            listed.append(value)
            if features := member.features():
                value_features[value] = features
        values = tuple(listed)
        if fields.has("values") and fields.strings("values") != values:
            raise fields.error("has 'values' that disagree with its 'members'")
    else:
        values = fields.strings("values")
        value_features = {}
    fields.unique(values, "value")
    return EnumType(name, values, MappingProxyType(value_features), fields.features())


def _array(fields: _Fields, name: str) -> ArrayType:
    return ArrayType(name, fields.string("element-type"), fields.features())


def _object(fields: _Fields, name: str) -> ObjectType:
    members = tuple(_member(m) for m in fields.objects("members", "member"))
    fields.unique((m.name for m in members), "member")
    tag = fields.string("tag") if fields.has("tag") else None
    variants: tuple[Variant, ...] = ()
    if fields.has("variants"):
        variants = tuple(
            Variant(v.string("case"), v.string("type"))
            for v in fields.objects("variants", "variant")
        )
        fields.unique((v.case for v in variants), "variant case")
    if fields.has("tag") != fields.has("variants"):
        raise fields.error("needs both 'tag' and 'variants' or neither")
    return ObjectType(name, members, tag, variants, fields.features())


def _member(fields: _Fields) -> Member:
    name = fields.named()
    # Introspection marks optional members, and only them, with a 'default' key.
    return Member(name, fields.string("type"), fields.has("default"), fields.features())


def _alternate(fields: _Fields, name: str) -> AlternateType:
    branches = tuple(b.string("type") for b in fields.objects("members", "member"))
    if not branches:
        raise fields.error("has no members")
    return AlternateType(name, branches, fields.features())


def _command(fields: _Fields, name: str) -> Command:
    return Command(
        name,
        fields.string("arg-type"),
        fields.string("ret-type"),
        fields.flag("allow-oob"),
        fields.features(),
    )


def _event(fields: _Fields, name: str) -> Event:
    return Event(name, fields.string("arg-type"), fields.features())


_PARSERS: dict[str, Callable[[_Fields, str], Definition]] = {
    "builtin": _builtin,
    "enum": _enum,
    "array": _array,
    "object": _object,
    "alternate": _alternate,
    "command": _command,
    "event": _event,
}
