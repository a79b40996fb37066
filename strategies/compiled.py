"""Arguments drawn from `random.Random` by generators compiled once per type from the
schema: the fuzzer's hot path (`qmp-conformance fuzz --engine compiled`), where
Hypothesis's per-draw bookkeeping cost more than the exchange with QEMU.

:class:`Compiled` walks a :class:`~strategies.values.ValueFactory`'s own decisions
(which enum values, tag values, alternate branches and optional members the policy
allows, the member contexts that select pools, the heights that end recursion past
``max_depth``), so it generates the values :func:`strategies.values.arguments`
generates, with the same biases: integers at the edges of the C integer types,
empty, ASCII, unicode and long strings, harvested pool strings for pooled members,
arrays of 0-8 elements and one time in eight longer, every required member and each
allowed optional one half the time, a union's tag value chosen first.

Malformed cases are mutants of those valid values, judged by the validator rather
than placed by rule: :meth:`Compiled.malformed` mutates one position (drops or adds
a member, with a near miss of a real name or short text; puts null, a value of
another JSON type, a junk string or a near miss of the string there; or replaces the
whole arguments by a non-object) and keeps the mutant only when
:func:`~conformance.spec.validate_arguments` finds exactly one violation, whose
rule and path tag the case. So each case breaks one rule, as the cases of
:func:`strategies.malformed_arguments` do, and that rule is the validator's.

Generators never produce a value the policy excludes (the factory's ``clean``
check on arbitrary JSON and mutants, its exclusions on strings and enum values).
They don't shrink: a failing example is minimised by the fuzzer's structural
shrinker (`conformance.fuzz.shrink`), which keeps the same validity (no violation, or
the one violation of the case) at every step.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

from conformance.errors import QmpcError
from conformance.spec import (
    OPEN_ENDED_ARGUMENTS,
    AlternateType,
    ArrayType,
    Builtin,
    EnumType,
    ObjectType,
    Schema,
    validate_arguments,
)
from conformance.spec.validate import INT_MAX, INT_MIN
from strategies.malformed import MALFORMED_RULES, Malformed, near_misses
from strategies.policy import GenerationPolicy
from strategies.pools import _ANY, _OWN, _ROLLS, KINDS, MEMBER_POOLS, Pools
from strategies.values import (
    _LONG_COMPOUND_ARRAY,
    _LONG_SCALAR_ARRAY,
    _LONG_TEXT_SIZE,
    _RARE,
    _SHORT_ARRAY,
    DEFAULT_MAX_DEPTH,
    INT_BOUNDARIES,
    ValueFactory,
    factory_for,
)

__all__ = [
    "Compiled",
    "NoValue",
    "Position",
    "compiled_for",
    "positions",
    "put_at",
    "request_id",
    "value_at",
]

Gen = Callable[[random.Random], object]

#: Tries at a value the policy excludes, or a mutant that isn't one clean defect,
#: before the draw gives up (`NoValue`, the example is skipped as Hypothesis rejects).
_TRIES = 20


class NoValue(QmpcError):
    """No value of the type could be drawn: the policy leaves it none, or every try
    was excluded."""


# -- scalars -------------------------------------------------------------------------------

# Code points by kind, so that short unicode text mixes ASCII, controls, Latin-1,
# the rest of the BMP (no surrogates: no client could encode them) and astral planes.
_RANGES: tuple[tuple[int, int], ...] = (
    (0x20, 0x7E),
    (0x00, 0x1F),
    (0x80, 0xFF),
    (0x100, 0xD7FF),
    (0xE000, 0xFFFD),
    (0x10000, 0x10FFFF),
)


def _char(rnd: random.Random, ascii_only: bool) -> str:
    low, high = _RANGES[0] if ascii_only or rnd.random() < 0.5 else rnd.choice(_RANGES)
    if ascii_only and rnd.random() < 0.1:
        low, high = _RANGES[1]
    code = rnd.randint(low, high)
    # No noncharacters: QEMU refuses them as invalid UTF-8 on purpose (the
    # noncharacter-refused deviation), which would blur every example's verdict.
    return chr(0x20) if _is_nonchar(code) else chr(code)


def _is_nonchar(code: int) -> bool:
    return 0xFDD0 <= code <= 0xFDEF or code & 0xFFFE == 0xFFFE


def _text(rnd: random.Random, most: int, *, ascii_only: bool = False, least: int = 0) -> str:
    return "".join(_char(rnd, ascii_only) for _ in range(rnd.randint(least, most)))


def _string(rnd: random.Random) -> str:
    if rnd.randrange(_RARE) == _RARE - 1:
        unit = _text(rnd, 8, least=1)
        size = rnd.randint(256, _LONG_TEXT_SIZE)
        return (unit * (size // len(unit) + 1))[:size]
    roll = rnd.randrange(3)
    if roll == 0:
        return ""
    return _text(rnd, 24, ascii_only=roll == 1)


def _int(rnd: random.Random) -> int:
    roll = rnd.random()
    if roll < 0.5:
        return rnd.choice(INT_BOUNDARIES)
    if roll < 0.75:
        return rnd.randint(-256, 256)
    return rnd.randint(INT_MIN, INT_MAX)


_FLOAT_EDGES = (0.0, -0.0, 0.5, -1.5, 1e-300, 5e-324, 1.7976931348623157e308, -1e308, 2.0**53)


def _float(rnd: random.Random) -> float:
    roll = rnd.random()
    if roll < 0.3:
        return rnd.choice(_FLOAT_EDGES)
    if roll < 0.7:
        return rnd.uniform(-1000.0, 1000.0)
    return rnd.uniform(-1.0, 1.0) * 10.0 ** rnd.randint(-300, 300)


def _scalar(rnd: random.Random) -> object:
    roll = rnd.randrange(5)
    if roll == 0:
        return None
    if roll == 1:
        return rnd.random() < 0.5
    if roll == 2:
        return _int(rnd)
    if roll == 3:
        return _float(rnd)
    return _text(rnd, 24)


def _nested(rnd: random.Random) -> object:
    roll = rnd.randrange(3)
    if roll == 0:
        return [_scalar(rnd) for _ in range(rnd.randint(0, 4))]
    if roll == 1:
        return {_text(rnd, 8): _scalar(rnd) for _ in range(rnd.randint(0, 4))}
    return _scalar(rnd)


def _json(rnd: random.Random, json_type: str) -> object:
    """As `strategies.values.json_of_type`: arbitrary JSON of one type, two levels deep."""
    if json_type == "null":
        return None
    if json_type == "boolean":
        return rnd.random() < 0.5
    if json_type == "int":
        return _int(rnd)
    if json_type == "number":
        return _float(rnd)
    if json_type == "string":
        return _string(rnd)
    if json_type == "array":
        return [_nested(rnd) for _ in range(rnd.randint(0, 4))]
    if json_type == "object":
        return {_text(rnd, 8): _nested(rnd) for _ in range(rnd.randint(0, 4))}
    return _json(rnd, rnd.choice(("null", "boolean", "int", "number", "string", "array", "object")))


def _pick(rnd: random.Random, pools: Pools, kinds: Sequence[str]) -> str | None:
    snapshots = [pools.values(kind) for kind in kinds]
    total = sum(map(len, snapshots))
    if not total:
        return None
    index = rnd.randrange(total)
    for strings in snapshots:
        if index < len(strings):
            return strings[index]
        index -= len(strings)
    raise AssertionError("unreachable: index < total")


def _id_text(rnd: random.Random) -> str:
    return _text(rnd, 16)


def request_id(rnd: random.Random, leaves: int = 6) -> object:
    """A request id as `strategies.wire.json_ids()` draws them: any JSON value, strings
    of at most 16 characters, arrays and objects of at most 3 members, 6 leaves."""
    roll = rnd.randrange(8)
    if roll < 2:
        return _int(rnd)
    if roll < 4:
        return _id_text(rnd)
    if roll == 4:
        return rnd.random() < 0.5
    if roll == 5:
        return None if rnd.random() < 0.5 else _float(rnd)
    size = rnd.randint(0, min(3, leaves))
    share = max(1, leaves // max(size, 1))
    if roll == 6:
        return [request_id(rnd, share - 1) if share > 1 else _int(rnd) for _ in range(size)]
    return {
        _id_text(rnd): request_id(rnd, share - 1) if share > 1 else _int(rnd) for _ in range(size)
    }


# -- the compiled generators ---------------------------------------------------------------


class Compiled:
    """Generators for one schema, pools and policy, built on first use and kept."""

    def __init__(self, factory: ValueFactory) -> None:
        self.factory = factory
        self.schema = factory.schema
        self._values: dict[tuple[str, int, str | None], Gen] = {}
        self._fields: dict[tuple[str, int, str | None], Gen] = {}

    # -- valid values --------------------------------------------------------------------

    def arguments(self, command: str) -> Callable[[random.Random], dict[str, object]]:
        """Valid arguments of `command`, as `strategies.values.arguments` generates."""
        gen = self.fields(self.schema.command(command).arg_type, 0, None)

        def draw(rnd: random.Random) -> dict[str, object]:
            value = gen(rnd)
            assert isinstance(value, dict)
            return value

        return draw

    def value(self, type_name: str, depth: int, member: str | None) -> Gen:
        return self._cached(self._values, self._build, type_name, depth, member)

    def fields(self, type_name: str, depth: int, member: str | None) -> Gen:
        return self._cached(self._fields, self._build_fields, type_name, depth, member)

    def _cached(
        self,
        cache: dict[tuple[str, int, str | None], Gen],
        build: Callable[[str, int, str | None], Gen],
        type_name: str,
        depth: int,
        member: str | None,
    ) -> Gen:
        # Compiled once per (type, depth, member context): the factory's decisions
        # depend on nothing else.
        factory = self.factory
        key = (type_name, min(depth, factory.max_depth), factory.context(member))
        gen = cache.get(key)
        if gen is None:
            gen = cache[key] = build(*key)
        return gen

    def _build(self, type_name: str, depth: int, member: str | None) -> Gen:
        factory = self.factory
        info = self.schema.type(type_name)
        if not factory.possible(type_name, member):
            return _nothing
        if isinstance(info, Builtin):
            if info.json_type == "string":
                return self._string(member)
            if info.json_type == "number":
                return lambda rnd: _float(rnd) if rnd.random() < 0.5 else _int(rnd)
            json_type = info.json_type
            if json_type in ("null", "boolean", "int"):
                return lambda rnd: _json(rnd, json_type)
            return lambda rnd: _clean(factory, lambda r: _json(r, json_type), rnd)
        if isinstance(info, EnumType):
            allowed = factory.enum_values(info, member)
            return lambda rnd: rnd.choice(allowed)
        if isinstance(info, ArrayType):
            return self._array(info, depth, member)
        if isinstance(info, ObjectType):
            return self.fields(info.name, depth, member)
        assert isinstance(info, AlternateType)
        branches = factory.branches(info, depth, member)

        def alternate(rnd: random.Random) -> object:
            return self.value(rnd.choice(branches), depth, member)(rnd)

        return alternate

    def _string(self, member: str | None) -> Gen:
        factory = self.factory
        pools = factory.pools
        own = MEMBER_POOLS.get(member, ()) if pools is not None and member is not None else None
        excluded = factory.excluded(member)

        def draw(rnd: random.Random) -> str:
            if own is None or pools is None:
                return _string(rnd)
            roll = rnd.randrange(_ROLLS)
            picked = None
            if roll < _OWN:
                picked = _pick(rnd, pools, own)
            if picked is None and roll < _ANY:
                picked = _pick(rnd, pools, KINDS)
            return _string(rnd) if picked is None else picked

        if not excluded:
            return draw

        def allowed(rnd: random.Random) -> str:
            for _ in range(_TRIES):
                text = draw(rnd)
                if text not in excluded:
                    return text
            raise NoValue(f"every string drawn for {member} is excluded")

        return allowed

    def _array(self, info: ArrayType, depth: int, member: str | None) -> Gen:
        if depth >= self.factory.max_depth:
            return lambda rnd: []
        element_type = info.element_type
        scalar = isinstance(self.schema.type(element_type), Builtin | EnumType)
        longest = _LONG_SCALAR_ARRAY if scalar else _LONG_COMPOUND_ARRAY

        def draw(rnd: random.Random) -> list[object]:
            element = self.value(element_type, depth + 1, member)
            if rnd.randrange(_RARE) == _RARE - 1:
                size = rnd.randint(_SHORT_ARRAY + 1, longest)
            else:
                size = rnd.randint(0, _SHORT_ARRAY)
            return [element(rnd) for _ in range(size)]

        return draw

    def _build_fields(self, type_name: str, depth: int, member: str | None) -> Gen:
        factory = self.factory
        obj = self.schema.object_type(type_name)
        if factory.height(type_name) == float("inf"):
            return _nothing
        deep = depth >= factory.max_depth
        required: list[tuple[str, str, str]] = []
        optional: list[tuple[str, str, str]] = []
        for m in obj.members:
            if m.name == obj.tag:
                continue
            entry = (m.name, m.type, factory.member_key(member, m.name))
            if not m.optional:
                required.append(entry)
            elif not deep and factory.includable(m):
                optional.append(entry)

        def base(rnd: random.Random) -> dict[str, object]:
            out: dict[str, object] = {}
            for name, type_, key in required:
                out[name] = self.value(type_, depth + 1, key)(rnd)
            for name, type_, key in optional:
                if rnd.random() < 0.5:
                    out[name] = self.value(type_, depth + 1, key)(rnd)
            return out

        if obj.tag is None:
            return base
        tag = obj.tag
        cases = factory.variant_cases(obj, depth)
        if not cases:
            return _nothing

        def union(rnd: random.Random) -> dict[str, object]:
            case, variant = rnd.choice(cases)
            rest = self.fields(variant, depth, member)(rnd) if variant else {}
            assert isinstance(rest, dict)
            return {tag: case, **base(rnd), **rest}

        return union

    # -- malformed cases -----------------------------------------------------------------

    def malformed(
        self, command: str, valid: Callable[[random.Random], dict[str, object]] | None = None
    ) -> Callable[[random.Random], Malformed]:
        """Cases of `command`'s arguments with one defect, as the module describes:
        mutants of `valid`'s values (by default the command's compiled `arguments`)."""
        valid = valid or self.arguments(command)
        schema = self.schema
        names = sorted(_member_names(schema, schema.command(command).arg_type))
        misses = sorted({miss for name in names for miss in near_misses(name)} - set(names))
        open_ended = command in OPEN_ENDED_ARGUMENTS
        factory = self.factory

        def draw(rnd: random.Random) -> Malformed:
            for _ in range(_TRIES):
                mutant = _mutate(rnd, valid(rnd), misses, open_ended)
                if not factory.clean(mutant):
                    continue
                violations = validate_arguments(schema, command, mutant)
                if len(violations) == 1 and violations[0].rule in MALFORMED_RULES:
                    return Malformed(violations[0].rule, violations[0].path, mutant)
            raise NoValue(f"no mutant of {command}'s arguments broke exactly one rule")

        return draw


def _nothing(_rnd: random.Random) -> object:
    raise NoValue("the policy leaves this type no valid value")


def _clean(factory: ValueFactory, gen: Gen, rnd: random.Random) -> object:
    for _ in range(_TRIES):
        value = gen(rnd)
        if factory.clean(value):
            return value
    raise NoValue("every value drawn spelled out an excluded value")


def _member_names(schema: Schema, type_name: str) -> set[str]:
    """Every member name of an object type and the object types under it."""
    return {
        m.name
        for _, info in schema.reachable(type_name)
        if isinstance(info, ObjectType)
        for m in info.members
    }


#: A place inside a JSON value: its container and the key or index there.
Position = tuple[dict[str, object] | list[object], str | int]


def positions(value: object) -> list[Position]:
    """Every (container, key) position inside `value`."""
    found: list[Position] = []
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            for key, member in item.items():
                found.append((item, key))
                pending.append(member)
        elif isinstance(item, list):
            for index, element in enumerate(item):
                found.append((item, index))
                pending.append(element)
    return found


_OTHER_TYPES = ("int", "boolean", "string", "number", "array", "object")


def _mutate(
    rnd: random.Random, value: dict[str, object], misses: Sequence[str], open_ended: bool
) -> object:
    """`value` (fresh: mutated in place) with one position changed."""
    slots = positions(value)
    objects = [value, *(o for c, k in slots if isinstance(o := value_at(c, k), dict))]
    roll = rnd.randrange(6)
    if roll == 0 or not slots:
        if roll == 0 and rnd.random() < 0.3:
            # Never null at the top: QMP reads "arguments": null as {}.
            return _json(rnd, rnd.choice(("int", "boolean", "string", "number", "array")))
        target = rnd.choice(objects)
        if target is value and open_ended and len(objects) > 1:
            target = rnd.choice(objects[1:])
        name = rnd.choice(misses) if misses and rnd.random() < 0.5 else _text(rnd, 12)
        target[name] = _json(rnd, "value")
        return value
    if roll == 5:
        # A near miss of a string in place: of an enum value or union tag, the
        # spelling a lenient parser might take (`ON`, `read_only`).
        texts = [(c, k, t) for c, k in slots if isinstance(t := value_at(c, k), str) and t]
        if texts:
            container, key, text = rnd.choice(texts)
            put_at(container, key, rnd.choice(near_misses(text)))
            return value
    container, key = rnd.choice(slots)
    if roll == 1 and isinstance(container, dict):
        assert isinstance(key, str)
        del container[key]
    elif roll == 2:
        put_at(container, key, None)
    elif roll == 3:
        put_at(container, key, _text(rnd, 12))
    else:
        put_at(container, key, _json(rnd, rnd.choice(_OTHER_TYPES)))
    return value


def value_at(container: dict[str, object] | list[object], key: str | int) -> object:
    """The value at a `Position`."""
    if isinstance(container, dict):
        assert isinstance(key, str)
        return container[key]
    assert isinstance(key, int)
    return container[key]


def put_at(container: dict[str, object] | list[object], key: str | int, item: object) -> None:
    """Put `item` at a `Position`."""
    if isinstance(container, dict):
        assert isinstance(key, str)
        container[key] = item
    else:
        assert isinstance(key, int)
        container[key] = item


_COMPILED: dict[tuple[int, int, int, int], tuple[ValueFactory, Compiled]] = {}


def compiled_for(
    schema: Schema,
    pools: Pools | None,
    policy: GenerationPolicy,
    max_depth: int = DEFAULT_MAX_DEPTH,
) -> Compiled:
    """The (cached) generators over `strategies.values.factory_for`'s factory."""
    factory = factory_for(schema, pools, policy, max_depth)
    key = (id(schema), id(pools), id(policy), max_depth)
    cached = _COMPILED.get(key)
    if cached is None or cached[0] is not factory:
        if len(_COMPILED) >= 8:
            _COMPILED.clear()
        cached = _COMPILED[key] = (factory, Compiled(factory))
    return cached[1]
