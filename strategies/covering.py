"""Deterministic covering cases: a short, fixed list of arguments per command that
together exercise every domain point (`conformance.spec.coverage`) the policy allows.

Not a Hypothesis strategy: no draws, so the same schema, pools and policy always give
the same cases in the same order (schema order), and a run covers what it covers by
construction rather than by chance. The random examples go on from there.

:func:`covering_plan` generates, for a command's argument type:

- every allowed value of every enum (union tags included), every allowed union variant
  and alternate branch;
- every optional member the policy allows present, and absent;
- for every int member the :data:`~conformance.spec.coverage.INT_POINTS` boundaries;
  for every string member the empty string and a long one (after a harvested name
  first, for a member :data:`~strategies.pools.MEMBER_POOLS` maps to pools);
- the policy's exclusions honoured as :mod:`strategies.values` honours them.

Points are combined greedily: an object's members are covered in parallel (case *i*
takes each member's *i*-th value), followed by one case with only the required
members, so a command needs as many cases as its widest member, not the sum. Each type
(each member, for scalar points) is covered in full once, at its first occurrence in
schema order; later occurrences, recursive ones included, take the smallest allowed
value (shallowest variant and branch, required members only), so the list stays short
and recursion ends. The points no case exercises are returned with their reason.

:func:`covering_malformed` gives one case per rule of
:func:`~strategies.malformed.malformed_rules` the command has: the first place, in the
covering cases and outermost first, where a fixed defect breaks exactly that rule.

Nothing to shrink: each case is already small, and the same every run.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from conformance.spec import (
    OPEN_ENDED_ARGUMENTS,
    AlternateType,
    ArrayType,
    Builtin,
    EnumType,
    ObjectType,
    Schema,
    TypeInfo,
    validate_arguments,
)
from conformance.spec.coverage import (
    INT_POINTS,
    LONG_STRING,
    Item,
    branch_of,
    command_items,
    exercised,
)
from strategies.malformed import Malformed, json_path, malformed_rules
from strategies.policy import PERMISSIVE, GenerationPolicy
from strategies.pools import MEMBER_POOLS, Pools
from strategies.values import ValueFactory, factory_for

__all__ = ["CoveringPlan", "covering_malformed", "covering_plan"]

#: Elements per array: a type's whole cover goes into arrays of at most this many.
_ARRAY_CHUNK = 16
#: A long string: four times what counts as long, past the fixed buffers QEMU has for
#: names and paths (a UNIX socket path's 108 bytes, a node name's 32).
_LONG = "qmpc" * LONG_STRING
_BAD_NAME = "qmpc-no-such-member"
_BAD_STRING = "qmpc-no-such-value"
# A value of each JSON type, for defects that swap a value's type.
_OF_JSON_TYPE: Mapping[str, object] = {
    "int": 0,
    "boolean": True,
    "string": "x",
    "number": 0.5,
    "array": [],
    "object": {},
}

#: Why an item of the universe is left out.
POLICY_VALUE = "the generation policy excludes this value (host safety, strategies/safety.py)"
POLICY_FEATURE = "the generation policy leaves out what carries this feature"
UNREACHABLE = "reachable only through values or members the generation policy excludes"
NOT_GENERATED = "not generated (a gap of strategies/covering.py)"


@dataclass(frozen=True)
class CoveringPlan:
    """A command's covering cases and the points of its universe they can't reach."""

    command: str
    cases: tuple[dict[str, object], ...]
    excluded: Mapping[Item, str]


class _Cover:
    def __init__(self, factory: ValueFactory) -> None:
        self.f = factory
        self.schema = factory.schema
        # Types covered in full already (by name), and scalar positions ("owner.member").
        self.done: set[str] = set()

    # -- the smallest allowed value ------------------------------------------------------

    def minimal(self, type_name: str, member: str | None) -> object:
        info = self.schema.type(type_name)
        if isinstance(info, Builtin):
            return self._scalars(info, member, full=False)[0]
        if isinstance(info, EnumType):
            return self.f.enum_values(info, member)[0]
        if isinstance(info, ArrayType):
            return []
        if isinstance(info, AlternateType):
            # Shallowest first: the factory sorts them by height, which ends recursion.
            return self.minimal(self.f.branches(info, 0, member)[0], member)
        return self.minimal_fields(info, member)

    def minimal_fields(self, obj: ObjectType, member: str | None) -> dict[str, object]:
        value: dict[str, object] = {}
        for m in obj.members:
            if not m.optional and m.name != obj.tag:
                value[m.name] = self.minimal(m.type, self.f.member_key(member, m.name))
        if obj.tag is not None:
            case, variant = self.f.variant_cases(obj, 0)[0]
            value[obj.tag] = case
            if variant is not None:
                value.update(self.minimal_fields(self.schema.object_type(variant), member))
        return value

    # -- covers ----------------------------------------------------------------------------

    def cover(self, type_name: str, member: str | None, position: str | None) -> list[object]:
        """Values of ``type_name`` that together exercise its points not covered yet."""
        info = self.schema.type(type_name)
        if isinstance(info, Builtin):
            if position is None or position in self.done:
                return [self.minimal(type_name, member)]
            self.done.add(position)
            return self._scalars(info, member, full=True)
        if isinstance(info, ArrayType):
            if not self.f.possible(info.element_type, member):
                return [[]]
            elements = self.cover(info.element_type, member, position)
            return [elements[i : i + _ARRAY_CHUNK] for i in range(0, len(elements), _ARRAY_CHUNK)]
        if type_name in self.done:
            return [self.minimal(type_name, member)]
        self.done.add(type_name)
        if isinstance(info, EnumType):
            return list(self.f.enum_values(info, member))
        if isinstance(info, AlternateType):
            found: list[object] = []
            for branch in self.f.branches(info, 0, member):
                found.extend(self.cover(branch, member, None))
            return found
        return list(self.fields(info, member))

    def fields(self, obj: ObjectType, member: str | None) -> list[dict[str, object]]:
        lists: dict[str, list[object]] = {}
        required: list[str] = []
        optional = False
        for m in obj.members:
            if m.name == obj.tag:
                continue
            if m.optional:
                optional = True
                if not self.f.includable(m):
                    continue
            else:
                required.append(m.name)
            context = self.f.member_key(member, m.name)
            lists[m.name] = self.cover(m.type, context, f"{obj.name}.{m.name}")
        width = max((len(values) for values in lists.values()), default=1)
        base = [{name: vs[i % len(vs)] for name, vs in lists.items()} for i in range(width)]
        if optional:
            base.append({name: lists[name][0] for name in required})
        if obj.tag is None:
            return base
        tag_enum = next(m.type for m in obj.members if m.name == obj.tag)
        self.done.add(tag_enum)
        found: list[dict[str, object]] = []
        for case, variant in self.f.variant_cases(obj, 0):
            rest: list[dict[str, object]] = [{}]
            if variant is not None:
                variant_info = self.schema.object_type(variant)
                if variant in self.done:
                    rest = [self.minimal_fields(variant_info, member)]
                else:
                    self.done.add(variant)
                    rest = self.fields(variant_info, member)
            for part in rest:
                found.append({obj.tag: case, **base[len(found) % len(base)], **part})
        # Base cases the variants didn't use go out with the first variant's smallest.
        first_case, first_variant = self.f.variant_cases(obj, 0)[0]
        first = (
            {}
            if first_variant is None
            else self.minimal_fields(self.schema.object_type(first_variant), member)
        )
        for extra in base[len(found) :]:
            found.append({obj.tag: first_case, **extra, **first})
        return found

    def _scalars(self, info: Builtin, member: str | None, *, full: bool) -> list[object]:
        kind = info.json_type
        if kind == "int":
            return list(INT_POINTS) if full else [0]
        if kind == "string":
            named = self._pooled(member)
            texts = [named] if named is not None else []
            if full:
                texts += ["", _LONG]
            elif not texts:
                texts = ["x"]
            excluded = self.f.excluded(member)
            return [t for t in texts if t not in excluded] or ["qmpc"]
        if kind == "boolean":
            return [False, True] if full else [False]
        if kind == "number":
            return [0.5, 0] if full else [0]
        if kind == "null":
            return [None]
        return [{}]  # 'any': an object, which 'any' members mostly take

    def _pooled(self, member: str | None) -> str | None:
        pools = self.f.pools
        if pools is None or member is None or member not in MEMBER_POOLS:
            return None
        for kind in MEMBER_POOLS[member]:
            strings = pools.values(kind)
            if strings:
                return strings[0]
        return None


def covering_plan(
    schema: Schema,
    command: str,
    *,
    pools: Pools | None = None,
    policy: GenerationPolicy = PERMISSIVE,
) -> CoveringPlan:
    """The covering cases of ``command`` and the points they leave out, with why.

    Every case passes :func:`~conformance.spec.validate_arguments`; a command without
    arguments has the one case ``{}``.
    """
    factory = factory_for(schema, pools, policy)
    arg_type = schema.object_type(schema.command(command).arg_type)
    cases = tuple(_Cover(factory).fields(arg_type, None)) if factory.possible(arg_type.name) else ()
    universe = command_items(schema, command)
    reached: set[Item] = set()
    for case in cases:
        reached |= exercised(schema, arg_type.name, case)
    missed = universe - reached
    owners = {item.owner for item in reached}
    return CoveringPlan(
        command, cases, {item: _why(schema, policy, item, owners) for item in sorted(missed)}
    )


def _why(schema: Schema, policy: GenerationPolicy, item: Item, owners: set[str]) -> str:
    if item.kind in ("enum", "variant"):
        if any(item.name in values for values in policy.excluded_values.values()):
            return POLICY_VALUE
        info = schema.type(item.owner)
        if isinstance(info, EnumType) and not policy.allows(info.value_features.get(item.name, ())):
            return POLICY_FEATURE
    if item.owner not in owners:
        return UNREACHABLE
    info = schema.type(item.owner)
    if item.kind in ("member", "absent", "int", "string") and isinstance(info, ObjectType):
        name = item.name.partition("=")[0]
        member = next((m for m in info.members if m.name == name), None)
        if member is not None and not (
            policy.allows(member.features) and policy.allows(schema.type(member.type).features)
        ):
            return POLICY_FEATURE
        if member is not None and not factory_for(schema, None, policy).possible(member.type, name):
            return UNREACHABLE
    return NOT_GENERATED


# -- malformed -----------------------------------------------------------------------------

_Steps = tuple[str | int, ...]


@dataclass(frozen=True)
class _Spot:
    steps: _Steps
    info: TypeInfo
    member: str | None
    mode: str  # as strategies.malformed's modes: position, tag, shape, top, top-open


def _spots(factory: ValueFactory, value: object, top: _Spot) -> Iterator[_Spot]:
    """Every position of ``value`` (described by ``top``), outermost first."""
    schema = factory.schema
    queue = [(value, top)]
    while queue:
        item, spot = queue.pop(0)
        yield spot
        info = spot.info
        if isinstance(info, ObjectType) and isinstance(item, dict):
            layers = [info]
            for layer in layers:  # grows while walked: the selected variants
                for m in layer.members:
                    if m.name in item:
                        mode = "tag" if m.name == layer.tag else "position"
                        child = _Spot(
                            (*spot.steps, m.name),
                            schema.type(m.type),
                            factory.member_key(spot.member, m.name),
                            mode,
                        )
                        queue.append((item[m.name], child))
                case = item.get(layer.tag) if layer.tag is not None else None
                layers.extend(schema.object_type(v.type) for v in layer.variants if v.case == case)
        elif isinstance(info, ArrayType) and isinstance(item, list):
            element = schema.type(info.element_type)
            for index, e in enumerate(item):
                queue.append((e, _Spot((*spot.steps, index), element, spot.member, "position")))
        elif isinstance(info, AlternateType):
            branch = branch_of(schema, info, item)
            if branch is not None:
                queue.append((item, _Spot(spot.steps, branch, spot.member, "shape")))


def _accepts(schema: Schema, info: TypeInfo) -> set[str]:
    if isinstance(info, Builtin):
        return {info.json_type}
    if isinstance(info, EnumType):
        return {"string"}
    if isinstance(info, ArrayType):
        return {"array"}
    if isinstance(info, ObjectType):
        return {"object"}
    return set().union(*(_accepts(schema, schema.type(b)) for b in info.branches))


def _wrong(schema: Schema, info: TypeInfo) -> object | None:
    accepted = _accepts(schema, info)
    if "value" in accepted:
        return None
    for json_type, value in _OF_JSON_TYPE.items():
        fits = json_type in accepted or (json_type == "int" and "number" in accepted)
        if not fits:
            return value
    return None


def _defects(
    schema: Schema, spot: _Spot, rule: str, value: object
) -> Iterator[tuple[object, _Steps]]:
    """Replacements for ``value`` at ``spot`` that break ``rule``, each with the steps
    from ``spot`` to the defect."""
    info, mode = spot.info, spot.mode
    if rule == "not-object" and isinstance(info, ObjectType) and mode != "shape":
        yield [], ()
    elif rule == "alternate-branch" and isinstance(info, AlternateType) and mode != "shape":
        wrong = _wrong(schema, info)
        if wrong is not None:
            yield wrong, ()
    elif rule == "wrong-type" and isinstance(info, Builtin | EnumType | ArrayType):
        wrong = _wrong(schema, info)
        if wrong is not None and mode in ("position", "tag"):
            yield wrong, ()
    elif rule == "null" and mode in ("position", "tag") and "null" not in _accepts(schema, info):
        yield None, ()
    elif isinstance(info, EnumType) and rule == ("union-tag" if mode == "tag" else "enum-value"):
        yield _BAD_STRING, ()
    elif rule == "unknown-member" and isinstance(info, ObjectType) and isinstance(value, dict):
        if mode != "top-open":
            yield {**value, _BAD_NAME: 0}, (_BAD_NAME,)
    elif rule == "missing-member" and isinstance(info, ObjectType) and isinstance(value, dict):
        required = {m.name for m in schema.resolve(info, value).members if not m.optional}
        for name in value:
            if name in required:
                yield {k: v for k, v in value.items() if k != name}, (name,)


def _at(value: object, steps: _Steps) -> object:
    for step in steps:
        value = value[step]  # type: ignore[index]
    return value


def _put(value: object, steps: _Steps, new: object) -> object:
    if not steps:
        return new
    head, rest = steps[0], steps[1:]
    if isinstance(value, dict):
        return {**value, str(head): _put(value[head], rest, new)}
    assert isinstance(value, list)
    assert isinstance(head, int)
    return [*value[:head], _put(value[head], rest, new), *value[head + 1 :]]


def covering_malformed(
    schema: Schema,
    command: str,
    *,
    pools: Pools | None = None,
    policy: GenerationPolicy = PERMISSIVE,
    plan: CoveringPlan | None = None,
) -> tuple[Malformed, ...]:
    """One malformed case per rule of ``command``'s :func:`malformed_rules`, in their
    order: a covering case (of ``plan``, or the command's own) with one fixed defect,
    placed at the outermost position where it breaks exactly that rule (validated as
    :func:`~strategies.malformed.malformed_arguments` cases are). A rule no position of
    the covering cases can break is left out."""
    factory = factory_for(schema, pools, policy)
    if plan is None:
        plan = covering_plan(schema, command, pools=pools, policy=policy)
    arg_type = schema.type(schema.command(command).arg_type)
    top = _Spot((), arg_type, None, "top-open" if command in OPEN_ENDED_ARGUMENTS else "top")
    found: list[Malformed] = []
    for rule in malformed_rules(schema, command, pools=pools, policy=policy):
        case = next(_breaking(factory, plan.cases, top, command, rule), None)
        if case is not None:
            found.append(case)
    return tuple(found)


def _breaking(
    factory: ValueFactory,
    cases: tuple[dict[str, object], ...],
    top: _Spot,
    command: str,
    rule: str,
) -> Iterator[Malformed]:
    """Every case with a defect breaking just ``rule``, in the order tried."""
    schema = factory.schema
    for case in cases or ({},):
        for spot in _spots(factory, case, top):
            current = _at(case, spot.steps)
            for new, tail in _defects(schema, spot, rule, current):
                arguments = _put(case, spot.steps, new)
                path = json_path((*spot.steps, *tail))
                violations = validate_arguments(schema, command, arguments)
                if (
                    violations
                    and all(v.rule == rule for v in violations)
                    and any(v.path == path for v in violations)
                    and factory.clean(arguments)
                ):
                    yield Malformed(rule, path, arguments)
