"""Valid JSON values of schema types: what a well-behaved client could send.

:func:`values` and :func:`arguments` turn a :class:`~conformance.spec.Schema` type into
a Hypothesis strategy whose every example passes :func:`~conformance.spec.validate`.
Scalars are biased toward where servers break: integers at the edges of the C integer
types QAPI maps ``int`` to, empty, non-ASCII and multi-kilobyte strings, and (when a
:class:`~strategies.pools.Pools` is given) real names harvested from the server.

Objects carry every required member and a random subset of the optional ones; unions
draw their tag first and then the selected variant's members. Recursive types (a
BlockdevOptions whose ``file`` is a BlockdevRef alternate whose object branch is a
BlockdevOptions) are bounded by ``max_depth``: beyond it, optional members are left
out, arrays are empty, and alternates and unions only take the branches and variants
that lead to the shallowest values. The *height* of a type (how deep its shallowest
value nests, computed once per schema and policy) makes that choice, and it is what
guarantees generation terminates: every step past ``max_depth`` goes to a strictly
lower height. An infinite height means the policy leaves the type no valid value.

:class:`ValueFactory` memoises one strategy per (type, depth, member context), so the
strategies for all ~200 commands of a schema share their parts and build in
milliseconds; :mod:`strategies.malformed` builds on the same factory so that its
"valid except for one thing" values are exactly this module's valid values.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from functools import partial
from typing import TypeVar

from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy

from conformance.spec import (
    AlternateType,
    ArrayType,
    Builtin,
    EnumType,
    Member,
    ObjectType,
    Schema,
    TypeInfo,
)
from conformance.spec.validate import INT_MAX, INT_MIN
from strategies.policy import PERMISSIVE, GenerationPolicy
from strategies.pools import MEMBER_POOLS, Pools, pool_strings

__all__ = [
    "DEFAULT_MAX_DEPTH",
    "INT_BOUNDARIES",
    "Constraint",
    "ValueFactory",
    "arguments",
    "factory_for",
    "json_of_type",
    "values",
]

T = TypeVar("T")

#: How deep values nest before generation only completes what validity requires.
#: Four levels reach a format node over a protocol node over a filter node, which is
#: as deep as real block graphs usually go.
DEFAULT_MAX_DEPTH = 4

INF = math.inf

#: For a union (by type name), the tag values generation may choose.
Constraint = Mapping[str, Sequence[str]]
_FrozenConstraint = tuple[tuple[str, tuple[str, ...]], ...]


# -- scalars -----------------------------------------------------------------------------


def _int_boundaries() -> tuple[int, ...]:
    # QAPI maps 'int' to int8..int64 and uint8..uint64 (and size), all introspected as
    # "int": the edges of each, and one either side, are where range checks and
    # conversions go wrong. 2**53 is where doubles stop representing every integer.
    anchors = (0, 2**7, 2**8, 2**15, 2**16, 2**31, 2**32, 2**53, 2**63, 2**64)
    found = {
        candidate
        for anchor in anchors
        for base in (anchor, -anchor)
        for candidate in (base - 1, base, base + 1)
        if INT_MIN <= candidate <= INT_MAX
    }
    # Simplest first: sampled_from shrinks toward the front.
    return tuple(sorted(found, key=lambda value: (abs(value), value < 0)))


#: Integers QAPI's integer types are likely to mishandle, smallest magnitude first.
INT_BOUNDARIES: tuple[int, ...] = _int_boundaries()

_INTS: SearchStrategy[int] = st.one_of(
    st.sampled_from(INT_BOUNDARIES), st.integers(min_value=INT_MIN, max_value=INT_MAX)
)
_FLOATS: SearchStrategy[float] = st.floats(allow_nan=False, allow_infinity=False)

# Lone surrogates are excluded: they can't be encoded as UTF-8, so no client could
# send them and the harness couldn't either.
_CHARACTERS = st.characters(codec="utf-8")
_SHORT_TEXT = st.text(_CHARACTERS, max_size=24)
_LONG_TEXT_SIZE = 4096


def _repeat(unit: str, size: int) -> str:
    return (unit * (size // len(unit) + 1))[:size]


_RARE = 8  # one draw in _RARE takes the rare branch of _rarely()


@st.composite
def _rarely(draw: st.DrawFn, common: SearchStrategy[T], rare: SearchStrategy[T]) -> T:
    """Mostly ``common``, one time in _RARE ``rare``; shrinks toward ``common``."""
    if draw(st.integers(min_value=0, max_value=_RARE - 1)) == _RARE - 1:
        return draw(rare)
    return draw(common)


# A long string is a short one repeated: drawing 4096 independent characters would
# cost Hypothesis 4096 choices for no extra bug-finding power. Long strings are rare
# because they make every exchange slow, and a few of them find length bugs.
_STRINGS: SearchStrategy[str] = _rarely(
    st.one_of(st.just(""), st.text(st.characters(codec="ascii"), max_size=24), _SHORT_TEXT),
    st.builds(
        _repeat,
        st.text(_CHARACTERS, min_size=1, max_size=8),
        st.integers(min_value=256, max_value=_LONG_TEXT_SIZE),
    ),
)

_JSON_SCALARS: SearchStrategy[object] = st.one_of(
    st.none(), st.booleans(), _INTS, _FLOATS, _SHORT_TEXT
)
_KEYS = st.text(_CHARACTERS, max_size=8)


def _containers(inner: SearchStrategy[object]) -> SearchStrategy[object]:
    return st.one_of(st.lists(inner, max_size=4), st.dictionaries(_KEYS, inner, max_size=4))


# Two levels of containers, spelled out: st.recursive() costs three times as much per
# example, and 'any' members (qom-set's value, object-add's props) are common.
_NESTED: SearchStrategy[object] = st.one_of(_JSON_SCALARS, _containers(_JSON_SCALARS))
_ARRAYS: SearchStrategy[object] = st.lists(_NESTED, max_size=4)
_OBJECTS: SearchStrategy[object] = st.dictionaries(_KEYS, _NESTED, max_size=4)
_ANY: SearchStrategy[object] = st.one_of(_JSON_SCALARS, _ARRAYS, _OBJECTS)

_OF_TYPE: Mapping[str, SearchStrategy[object]] = {
    "null": st.none(),
    "boolean": st.booleans(),
    "int": _INTS,
    "number": _FLOATS,
    "string": _STRINGS,
    "array": _ARRAYS,
    "object": _OBJECTS,
    "value": _ANY,
}


def json_of_type(json_type: str) -> SearchStrategy[object]:
    """JSON values whose introspection JSON type is exactly ``json_type``.

    ``json_type`` is one of "null", "boolean", "int", "number", "string", "array",
    "object" (values of exactly that type, so "number" generates only non-integer
    Python floats, never ints) or "value" (any JSON value). Ints are boundary-heavy
    within [INT_MIN, INT_MAX]; floats are finite; strings are empty, ASCII, unicode
    without lone surrogates, or up to 4096 characters long; arrays and objects hold
    at most 4 arbitrary JSON values, with containers nested at most two deep.

    Shrinks toward None, false, 0, 0.0, the empty string, [] and {} respectively.
    """
    try:
        return _OF_TYPE[json_type]
    except KeyError:
        raise ValueError(f"unknown JSON type {json_type!r}") from None


# -- arrays --------------------------------------------------------------------------------

_SHORT_ARRAY = 8
# Long arrays of scalars are cheap and find length bugs; long arrays of objects mostly
# make examples slow, so they stay shorter.
_LONG_SCALAR_ARRAY = 64
_LONG_COMPOUND_ARRAY = 16


# -- the factory ---------------------------------------------------------------------------


def _plain(member: str) -> str:
    """The member name of a (possibly "parent.member") context key."""
    return member.rpartition(".")[2]


def _tagged(tag: str, parts: tuple[str, dict[str, object], dict[str, object]]) -> dict[str, object]:
    case, base, variant = parts
    return {tag: case, **base, **variant}


def _freeze(constraint: Constraint | None) -> _FrozenConstraint:
    if not constraint:
        return ()
    return tuple(sorted((name, tuple(cases)) for name, cases in constraint.items()))


class ValueFactory:
    """Memoised strategies for the valid values of one schema under one policy.

    Get one with :func:`factory_for` (which caches them); :func:`values` and
    :func:`arguments` are the usual entry points. ``depth`` arguments count how many
    objects and arrays enclose a value (the command's arguments object is at depth
    0); ``member`` is the name of the member the value belongs to (kept through
    arrays and alternates), which selects pools and policy exclusions.
    """

    def __init__(
        self,
        schema: Schema,
        pools: Pools | None = None,
        policy: GenerationPolicy = PERMISSIVE,
        max_depth: int = DEFAULT_MAX_DEPTH,
    ) -> None:
        if max_depth < 0:
            raise ValueError(f"max_depth must not be negative, not {max_depth}")
        self.schema = schema
        self.pools = pools
        self.policy = policy
        self.max_depth = max_depth
        self._values: dict[tuple[str, int, str | None], SearchStrategy[object]] = {}
        self._fields: dict[
            tuple[str, int, str | None, _FrozenConstraint], SearchStrategy[dict[str, object]]
        ] = {}
        self._strings: dict[str | None, SearchStrategy[str]] = {}
        self._building: set[tuple[str, int, str | None]] = set()
        self._json: dict[str, SearchStrategy[object]] = {}
        self._parents = frozenset(key.partition(".")[0] for key in MEMBER_POOLS if "." in key)
        self._heights = self._object_heights()

    # -- what policy and depth allow ---------------------------------------------------

    def member_key(self, parent: str | None, name: str) -> str:
        """The context of member ``name`` of an object that is the value of ``parent``:
        ``"parent.name"`` where :data:`~strategies.pools.MEMBER_POOLS` has that key."""
        if parent is not None:
            dotted = f"{_plain(parent)}.{name}"
            if dotted in MEMBER_POOLS:
                return dotted
        return name

    def excluded(self, member: str | None) -> frozenset[str]:
        """The values the policy excludes for a member with context ``member``."""
        return frozenset() if member is None else self.policy.excluded(_plain(member))

    def enum_values(self, info: EnumType, member: str | None) -> tuple[str, ...]:
        """The values of ``info`` generation may use for a member called ``member``."""
        excluded = self.excluded(member)
        return tuple(
            value
            for value in info.values
            if value not in excluded and self.policy.allows(info.value_features.get(value, ()))
        )

    def height(self, type_name: str, member: str | None = None) -> float:
        """How many objects deep the shallowest allowed value of the type nests
        (``math.inf`` when the policy leaves it no valid value at all)."""
        return self._height(type_name, member, self._heights)

    def possible(self, type_name: str, member: str | None = None) -> bool:
        """Whether the policy leaves the type any valid value (for this member)."""
        return self.height(type_name, member) < INF

    def includable(self, member: Member) -> bool:
        """Whether generation may add optional ``member`` (policy and type permitting)."""
        return (
            self.policy.allows(member.features)
            and self.policy.allows(self.schema.type(member.type).features)
            and self.possible(member.type, member.name)
        )

    def variant_cases(
        self, obj: ObjectType, depth: int, constraint: Constraint | None = None
    ) -> list[tuple[str, str | None]]:
        """The union's tag values generation may choose at ``depth``, each with the
        variant type it selects (None: the value adds no members), shallowest first.

        ``constraint`` may narrow the choice for this union (keyed by its name).
        """
        assert obj.tag is not None
        tag_type = next(m.type for m in obj.members if m.name == obj.tag)
        tag_enum = self.schema.type(tag_type)
        assert isinstance(tag_enum, EnumType), "Schema checks union tags are enums"
        wanted = None if constraint is None else constraint.get(obj.name)
        variants = {v.case: v.type for v in obj.variants}
        chosen: list[tuple[str, str | None, float]] = []
        for case in self.enum_values(tag_enum, obj.tag):
            if wanted is not None and case not in wanted:
                continue
            variant = variants.get(case)
            if variant is None:
                chosen.append((case, None, 0.0))
            elif self.policy.allows(self.schema.type(variant).features):
                height = self._heights[variant]
                if height < INF:
                    chosen.append((case, variant, height))
        if depth >= self.max_depth and chosen:
            lowest = min(height for _, _, height in chosen)
            chosen = [entry for entry in chosen if entry[2] == lowest]
        # Shallowest variants first (stable, so schema order among equals): examples
        # shrink toward the front, and the simplest value is the shallowest.
        chosen.sort(key=lambda entry: entry[2])
        return [(case, variant) for case, variant, _ in chosen]

    def variant_groups(
        self, obj: ObjectType, depth: int, constraint: Constraint | None = None
    ) -> list[tuple[str | None, tuple[str, ...]]]:
        """:meth:`variant_cases` grouped by variant type, in the same order."""
        groups: dict[str | None, list[str]] = {}
        for case, variant in self.variant_cases(obj, depth, constraint):
            groups.setdefault(variant, []).append(case)
        return [(variant, tuple(cases)) for variant, cases in groups.items()]

    def branches(self, info: AlternateType, depth: int, member: str | None) -> tuple[str, ...]:
        """The branches of alternate ``info`` generation may take at ``depth``."""
        allowed = [
            (branch, self.height(branch, member))
            for branch in info.branches
            if self.policy.allows(self.schema.type(branch).features)
        ]
        allowed = [(branch, height) for branch, height in allowed if height < INF]
        if depth >= self.max_depth and allowed:
            lowest = min(height for _, height in allowed)
            allowed = [entry for entry in allowed if entry[1] == lowest]
        # Shallowest first, as for variants: BlockdevRef shrinks to its string branch.
        allowed.sort(key=lambda entry: entry[1])
        return tuple(branch for branch, _ in allowed)

    # -- strategies ----------------------------------------------------------------------

    def value(
        self, type_name: str, depth: int = 0, member: str | None = None
    ) -> SearchStrategy[object]:
        """Valid values of type ``type_name`` at ``depth`` for a member called
        ``member``; generated and shrunk as :func:`values` describes."""
        key = (type_name, min(depth, self.max_depth), self.context(member))
        strategy = self._values.get(key)
        if strategy is None:
            if key in self._building:
                # Unreachable for schemas QAPI can express: below max_depth the depth
                # grows, and past it every step lowers the height. A corrupt schema
                # could still get here, and a lazy reference beats a RecursionError.
                return st.deferred(lambda: self._values[key])
            self._building.add(key)
            try:
                strategy = self._build(self.schema.type(type_name), key[1], key[2])
            finally:
                self._building.discard(key)
            self._values[key] = strategy
        return strategy

    def fields(
        self,
        type_name: str,
        depth: int = 0,
        member: str | None = None,
        constraint: Constraint | None = None,
    ) -> SearchStrategy[dict[str, object]]:
        """Valid values of object type ``type_name``, with union tags narrowed by
        ``constraint`` (a union's type name to the tag values it may take); generated
        and shrunk as :func:`values` describes objects."""
        key = (
            type_name,
            min(depth, self.max_depth),
            self.context(member),
            _freeze(constraint),
        )
        strategy = self._fields.get(key)
        if strategy is None:
            strategy = self._fields[key] = self._build_fields(
                self.schema.object_type(type_name), key[1], key[2], constraint
            )
        return strategy

    def json(self, json_type: str) -> SearchStrategy[object]:
        """:func:`json_of_type` without the values the policy excludes anywhere in it.

        Arbitrary JSON (an 'any' member, a wrong-typed replacement) may spell out an
        object with an excluded member value, such as ``{"driver": "nbd"}``;
        Hypothesis even favours strings it finds in the code under test. Shrinks as
        :func:`json_of_type` does.
        """
        strategy = self._json.get(json_type)
        if strategy is None:
            strategy = json_of_type(json_type)
            if any(self.policy.excluded_values.values()):
                strategy = strategy.filter(self.clean)
            self._json[json_type] = strategy
        return strategy

    def clean(self, value: object) -> bool:
        """Whether no object in JSON ``value`` has a member value the policy excludes."""
        pending = [value]
        while pending:
            item = pending.pop()
            if isinstance(item, dict):
                for key, member in item.items():
                    if isinstance(member, str) and member in self.policy.excluded(key):
                        return False
                    pending.append(member)
            elif isinstance(item, list):
                pending.extend(item)
        return True

    def context(self, member: str | None) -> str | None:
        """``member`` if it changes how values are generated (it selects pools, has
        policy exclusions, or parents a pooled member), else None.

        Most member names change nothing; keying caches on them anyway would build
        the same strategy once per member name.
        """
        if member is None:
            return None
        if (
            (self.pools is not None and member in MEMBER_POOLS)
            or _plain(member) in self.policy.excluded_values
            or _plain(member) in self._parents
        ):
            return member
        return None

    def _build(self, info: TypeInfo, depth: int, member: str | None) -> SearchStrategy[object]:
        if not self.possible(info.name, member):
            return st.nothing()
        if isinstance(info, Builtin):
            if info.json_type == "string":
                return self._string(member)
            if info.json_type == "number":
                # An int is a valid number (the validator agrees): both, then.
                return st.one_of(_FLOATS, _INTS)
            return self.json(info.json_type)
        if isinstance(info, EnumType):
            return st.sampled_from(self.enum_values(info, member))
        if isinstance(info, ArrayType):
            return self._array(info, depth, member)
        if isinstance(info, ObjectType):
            return self.fields(info.name, depth, member)
        return st.one_of([self.value(b, depth, member) for b in self.branches(info, depth, member)])

    def _string(self, member: str | None) -> SearchStrategy[str]:
        strategy = self._strings.get(member)
        if strategy is None:
            if self.pools is not None and member in MEMBER_POOLS:
                strategy = pool_strings(self.pools, member, fallback=_STRINGS)
            else:
                strategy = _STRINGS
            excluded = self.excluded(member)
            if excluded:
                strategy = strategy.filter(lambda text: text not in excluded)
            self._strings[member] = strategy
        return strategy

    def _array(self, info: ArrayType, depth: int, member: str | None) -> SearchStrategy[object]:
        if depth >= self.max_depth:
            return st.builds(list)
        element = self.value(info.element_type, depth + 1, member)
        scalar = isinstance(self.schema.type(info.element_type), Builtin | EnumType)
        longest = _LONG_SCALAR_ARRAY if scalar else _LONG_COMPOUND_ARRAY
        return _rarely(
            st.lists(element, max_size=_SHORT_ARRAY),
            st.lists(element, min_size=_SHORT_ARRAY + 1, max_size=longest),
        )

    def _build_fields(
        self, obj: ObjectType, depth: int, member: str | None, constraint: Constraint | None
    ) -> SearchStrategy[dict[str, object]]:
        if self._heights[obj.name] == INF:
            return st.nothing()
        deep = depth >= self.max_depth
        required: dict[str, SearchStrategy[object]] = {}
        optional: dict[str, SearchStrategy[object]] = {}
        for m in obj.members:
            if m.name == obj.tag:
                continue  # drawn below, before the variant it selects
            strategy = self.value(m.type, depth + 1, self.member_key(member, m.name))
            if not m.optional:
                required[m.name] = strategy
            elif not deep and self.includable(m):
                optional[m.name] = strategy
        base = st.fixed_dictionaries(required, optional=optional)
        if obj.tag is None:
            return base
        # One branch per tag value, not per variant type: BlockdevOptions maps nine
        # drivers to one variant type, and each driver should be as likely as any
        # other. Cases selecting the same variant share its (cached) strategy.
        branches = []
        for case, variant in self.variant_cases(obj, depth, constraint):
            rest: SearchStrategy[dict[str, object]] = (
                st.just({}) if variant is None else self.fields(variant, depth, member, constraint)
            )
            parts = st.tuples(st.just(case), base, rest)
            branches.append(parts.map(partial(_tagged, obj.tag)))
        return st.one_of(branches)

    # -- heights -------------------------------------------------------------------------

    def _height(self, type_name: str, member: str | None, objects: Mapping[str, float]) -> float:
        info = self.schema.type(type_name)
        if isinstance(info, Builtin | ArrayType):
            return 0.0  # arrays may be empty
        if isinstance(info, EnumType):
            return 0.0 if self.enum_values(info, member) else INF
        if isinstance(info, ObjectType):
            return objects[info.name]
        return min(
            (
                self._height(branch, member, objects)
                for branch in info.branches
                if self.policy.allows(self.schema.type(branch).features)
            ),
            default=INF,
        )

    def _object_heights(self) -> dict[str, float]:
        """Every object type's height: a fixpoint from "impossible" downward, since
        recursive types make a plain recursive definition circular."""
        objects = [t for t in self.schema.types.values() if isinstance(t, ObjectType)]
        heights = dict.fromkeys((obj.name for obj in objects), INF)
        changed = True
        while changed:
            changed = False
            for obj in objects:
                height = self._measure(obj, heights)
                if height < heights[obj.name]:
                    heights[obj.name] = height
                    changed = True
        return heights

    def _measure(self, obj: ObjectType, heights: Mapping[str, float]) -> float:
        base = 0.0
        for m in obj.members:
            if not m.optional and m.name != obj.tag:
                base = max(base, 1 + self._height(m.type, m.name, heights))
        if obj.tag is None:
            return base
        tag_type = next(m.type for m in obj.members if m.name == obj.tag)
        tag_enum = self.schema.type(tag_type)
        assert isinstance(tag_enum, EnumType)
        variants = {v.case: v.type for v in obj.variants}
        best = INF
        for case in self.enum_values(tag_enum, obj.tag):
            variant = variants.get(case)
            if variant is None:
                best = min(best, max(base, 1.0))
            elif self.policy.allows(self.schema.type(variant).features):
                best = min(best, max(base, 1.0, heights[variant]))
        return best


# Factories by the identity of what they were built from. Schemas and policies are
# not hashable (and needn't be equal to be interchangeable), so identity it is; the
# cached factory holds them, which keeps their ids from being reused while cached.
_FACTORIES: OrderedDict[tuple[int, int, int, int], ValueFactory] = OrderedDict()
_FACTORIES_KEPT = 32
_FACTORIES_LOCK = threading.Lock()


def factory_for(
    schema: Schema,
    pools: Pools | None = None,
    policy: GenerationPolicy = PERMISSIVE,
    max_depth: int = DEFAULT_MAX_DEPTH,
) -> ValueFactory:
    """The (cached) :class:`ValueFactory` of this schema, pools, policy and depth."""
    key = (id(schema), id(pools), id(policy), max_depth)
    with _FACTORIES_LOCK:
        factory = _FACTORIES.get(key)
        if factory is None:
            factory = _FACTORIES[key] = ValueFactory(schema, pools, policy, max_depth)
            while len(_FACTORIES) > _FACTORIES_KEPT:
                _FACTORIES.popitem(last=False)
        else:
            _FACTORIES.move_to_end(key)
        return factory


def values(
    schema: Schema,
    type_name: str,
    *,
    pools: Pools | None = None,
    policy: GenerationPolicy = PERMISSIVE,
    max_depth: int = DEFAULT_MAX_DEPTH,
    member: str | None = None,
) -> SearchStrategy[object]:
    """Valid JSON values of schema type ``type_name``, as the value of ``member``.

    Generates, by meta-type:

    - int: a boundary of a C integer type or a neighbour of one (0, ±1, 255, 256,
      2**31-1, 2**31, 2**32, -2**63, 2**63-1, 2**64-1, ...) about half the time,
      otherwise any integer in [INT_MIN, INT_MAX]; number: finite floats and ints;
      bool; null; any: arbitrary JSON, containers nested at most two deep.
    - str: empty, ASCII, unicode (no lone surrogates) or long (up to 4096 characters);
      with ``pools``, a member named in ``MEMBER_POOLS`` draws from
      :func:`~strategies.pools.pool_strings` instead.
    - enum: any value, except values ``policy.excluded(member)`` names and values
      whose features the policy disallows.
    - array: 0-8 elements, one time in eight longer (up to 64 scalars or 16 others).
    - object: every required member and a random subset of the optional members the
      policy allows; a union draws an allowed tag value first (every allowed variant
      is reachable), then that variant's members.
    - alternate: a value of any allowed branch.

    Past ``max_depth`` enclosing objects and arrays, objects carry only required
    members, arrays are empty and alternates and unions take only their shallowest
    branches and variants, so recursive types terminate. Generates nothing if the
    policy leaves the type no valid value.

    Shrinks toward 0, the empty string, false, the first allowed enum value, [] and
    objects with only their required members, each member shrinking likewise;
    unions toward their shallowest variant and alternates toward their shallowest
    branch (schema order among equals: BlockdevRef shrinks to its string); pooled
    strings toward the oldest harvested string.
    """
    factory = factory_for(schema, pools, policy, max_depth)
    schema.type(type_name)  # an unknown type should fail here, not at the first draw
    return factory.value(type_name, 0, member)


def arguments(
    schema: Schema,
    command: str,
    *,
    pools: Pools | None = None,
    policy: GenerationPolicy = PERMISSIVE,
    max_depth: int = DEFAULT_MAX_DEPTH,
) -> SearchStrategy[dict[str, object]]:
    """Valid ``arguments`` objects for an ``execute`` of ``command``.

    Generates values of the command's arg-type object as :func:`values` describes
    (``{}`` for commands without arguments). Whether the command itself may be sent
    under ``policy`` (deprecated, unstable) is the caller's choice of command.

    Shrinks toward the required members only, each at its simplest value, and a
    union toward its shallowest variant.
    """
    factory = factory_for(schema, pools, policy, max_depth)
    return factory.fields(schema.command(command).arg_type, 0)
