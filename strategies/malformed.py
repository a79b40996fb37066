"""Command arguments that break exactly one schema rule, tagged with that rule.

A conformance test sends each :class:`Malformed` case and expects QEMU to reject it
with an error (and not crash, hang or accept it); the tag says which check in QEMU's
input visitor should have caught it, and lets a test cross-check the error.

Every case is a valid value from :mod:`strategies.values` with one defect placed at
one location, so :func:`~conformance.spec.validate_arguments` reports that case's
rule, and only that rule, at that case's path. The defects and where they can go:

- ``not-object``: the whole arguments, or a value where an object type goes, is a
  non-null non-object (never null at the top: QMP reads ``"arguments": null`` as
  ``{}``).
- ``unknown-member``: an object gains a member that neither it nor any variant at any
  depth defines (a variant's member could be "maybe right" to the validator while the
  tag is unusable), named by short text or a near miss of a real member name
  (``node_name``, ``NODE-NAME``: where a lenient parser would go wrong). Never at the
  top of :data:`~conformance.spec.OPEN_ENDED_ARGUMENTS` commands, whose top level
  takes device properties.
- ``missing-member``: a required member (of the base or the variant the tag selects,
  the tag included) is dropped.
- ``wrong-type``: a builtin (except ``any``), enum or array position gets a value of a
  JSON type it doesn't take, never null; ints are valid numbers, floats not ints.
- ``null``: null where neither the type nor, for alternates, a branch admits it.
- ``enum-value``: a string outside an enum that is not a union tag, including enum
  branches of alternates (a string there selects the enum branch).
- ``union-tag``: a union's tag is a string outside the tag enum.
- ``alternate-branch``: an alternate gets a value whose JSON type selects no branch.

Inside an alternate only defects that keep the JSON type are placed (any other
changes which branch the value is read as); inside arrays, the defect goes into one
element among valid ones. Defects are placed down to the values factory's
``max_depth``, following the same tag values and branches it would generate there.
The policy holds as for valid values: no disallowed member or value is added, and no
object anywhere, junk included, carries a member value the policy excludes.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from functools import partial
from typing import Literal, TypeAlias

from hypothesis import assume
from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy

from conformance.spec import (
    OPEN_ENDED_ARGUMENTS,
    AlternateType,
    ArrayType,
    Builtin,
    EnumType,
    ObjectType,
    Schema,
    TypeInfo,
)
from conformance.spec.validate import element_path, member_path
from strategies.policy import PERMISSIVE, GenerationPolicy
from strategies.pools import Pools
from strategies.values import (
    DEFAULT_MAX_DEPTH,
    Constraint,
    ValueFactory,
    factory_for,
)

__all__ = [
    "MALFORMED_RULES",
    "Malformed",
    "json_path",
    "malformed_arguments",
    "malformed_rules",
    "near_misses",
]

#: The rules a :class:`Malformed` case breaks, simplest first: a failing test's cases
#: shrink toward the front of this list.
MALFORMED_RULES: tuple[str, ...] = (
    "not-object",
    "unknown-member",
    "missing-member",
    "wrong-type",
    "null",
    "enum-value",
    "union-tag",
    "alternate-branch",
)


@dataclass(frozen=True)
class Malformed:
    """Arguments for a command that break ``rule`` (a validator rule) at ``path``."""

    rule: str
    path: str
    arguments: object


Steps: TypeAlias = tuple[str | int, ...]
#: A value with its defect, and the path from that value to the defect.
Located: TypeAlias = tuple[object, Steps]

# How a value's position constrains its defects:
# - "position": an ordinary member value or array element;
# - "tag": the value of a union's tag member (a bad string is a union-tag, not an
#   enum-value);
# - "shape": a branch of an alternate, where only defects that keep the JSON type fit;
# - "top" / "top-open": the arguments object (open: of an OPEN_ENDED_ARGUMENTS command).
Mode: TypeAlias = Literal["position", "tag", "shape", "top", "top-open"]
_Key: TypeAlias = tuple[str, int, str | None, Mode]

# The JSON types a wrong value can have, simplest first. Never null: that is "null".
_WRONG_TYPES = ("int", "boolean", "string", "number", "array", "object")


def _accepted(schema: Schema, info: TypeInfo) -> frozenset[str]:
    """The JSON types a position of type ``info`` takes ("value": all of them)."""
    if isinstance(info, Builtin):
        return frozenset({info.json_type})
    if isinstance(info, EnumType):
        return frozenset({"string"})
    if isinstance(info, ArrayType):
        return frozenset({"array"})
    if isinstance(info, ObjectType):
        return frozenset({"object"})
    # Every branch counts, allowed by the policy or not: the validator routes by all.
    return frozenset().union(*(_accepted(schema, schema.type(b)) for b in info.branches))


def _fits(json_type: str, accepted: frozenset[str]) -> bool:
    # An int is a good JSON number; the reverse is not true.
    return (
        "value" in accepted
        or json_type in accepted
        or (json_type == "int" and "number" in accepted)
    )


def near_misses(name: str) -> tuple[str, ...]:
    """Strings a careless client might send for ``name``; interesting to a parser."""
    return (
        name.upper(),
        name.replace("-", "_"),
        name.replace("_", "-"),
        f"{name}-x",
        name[:-1],
        f" {name}",
    )


def _outside(taken: Collection[str], near: Iterable[str]) -> SearchStrategy[str]:
    """Strings not in ``taken``: short text, or near misses of the ``near`` names."""
    misses = sorted({miss for name in near for miss in near_misses(name)} - set(taken))
    candidates = st.text(max_size=12)
    if misses:
        candidates = st.one_of(candidates, st.sampled_from(misses))
    return candidates.filter(lambda text: text not in taken)


def json_path(steps: Steps) -> str:
    """The JSON path (as the validator writes it) of ``steps`` from the top value."""
    path = "$"
    for step in steps:
        path = element_path(path, step) if isinstance(step, int) else member_path(path, step)
    return path


def _case(rule: str, located: Located) -> Malformed:
    return Malformed(rule, json_path(located[1]), located[0])


#: Draws a value with a defect of the given rule: one option's way of placing it.
Placer: TypeAlias = Callable[[st.DrawFn, str], Located]


@dataclass(frozen=True)
class _Option:
    """One way to place a defect in a value: the rules it can break, and how."""

    rules: frozenset[str]
    place: Placer


def _replace(bad: SearchStrategy[object], draw: st.DrawFn, _rule: str) -> Located:
    return draw(bad), ()


def _drop(
    base: SearchStrategy[dict[str, object]], name: str, draw: st.DrawFn, _rule: str
) -> Located:
    value = draw(base)
    return {key: item for key, item in value.items() if key != name}, (name,)


def _add(
    factory: ValueFactory,
    base: SearchStrategy[dict[str, object]],
    names: SearchStrategy[str],
    draw: st.DrawFn,
    _rule: str,
) -> Located:
    value = draw(base)
    name = draw(names)
    extra = draw(factory.json("value"))
    # The new member with its value mustn't spell an excluded value either ("driver":
    # "nbd" added where no driver member exists). Rare enough to just reject.
    assume(factory.clean({name: extra}))
    return {**value, name: extra}, (name,)


class _Defects:
    """Where each rule can be broken in values of each type, and how to break it there.

    :meth:`options` lists the ways (replace the value; drop or add a member; recurse
    into a member, an element or an alternate branch) per (type, depth, member,
    mode). Which rules a command supports and how its cases are drawn both come from
    that one list, so they can't disagree. Options are plain data and the walk down
    to the defect happens at draw time, one choice per level: a strategy per place a
    defect could go would make a graph of tens of thousands of strategies for
    blockdev-add alone, which Hypothesis takes seconds to validate.
    """

    def __init__(self, factory: ValueFactory) -> None:
        self.factory = factory
        self.schema = factory.schema
        self._options: dict[_Key, tuple[_Option, ...]] = {}
        self._by_rule: dict[tuple[_Key, str], tuple[_Option, ...]] = {}
        self._rules: dict[_Key, frozenset[str]] = {}
        self._cases: dict[str, SearchStrategy[Malformed]] = {}

    def cases(self, command: str) -> SearchStrategy[Malformed]:
        """The :func:`malformed_arguments` strategy of ``command``, built once: a test
        asks for it in every example, and Hypothesis re-examines new strategies."""
        strategy = self._cases.get(command)
        if strategy is None:
            key = _top(self.schema, command)
            supported = self.rules(key)
            strategy = st.one_of(
                [
                    _located(self, key, rule).map(partial(_case, rule))
                    for rule in MALFORMED_RULES
                    if rule in supported
                ]
            )
            self._cases[command] = strategy
        return strategy

    def rules(self, key: _Key) -> frozenset[str]:
        """The rules a defect placed in a value described by ``key`` can break."""
        rules = self._rules.get(key)
        if rules is None:
            rules = self._rules[key] = frozenset().union(*(o.rules for o in self.options(key)))
        return rules

    def place(self, draw: st.DrawFn, key: _Key, rule: str) -> Located:
        """Draw a value described by ``key`` with one defect breaking ``rule``."""
        candidates = self._by_rule.get((key, rule))
        if candidates is None:
            candidates = tuple(o for o in self.options(key) if rule in o.rules)
            self._by_rule[(key, rule)] = candidates
        if not candidates:
            raise ValueError(f"no way to break {rule!r} in {key!r}")
        # The index shrinks toward 0: options are listed outermost first.
        index = draw(st.integers(min_value=0, max_value=len(candidates) - 1))
        return candidates[index].place(draw, rule)

    def options(self, key: _Key) -> tuple[_Option, ...]:
        options = self._options.get(key)
        if options is None:
            options = self._options[key] = tuple(self._find_options(*key))
        return options

    def _find_options(
        self, type_name: str, depth: int, member: str | None, mode: Mode
    ) -> Iterable[_Option]:
        if not self.factory.possible(type_name, member):
            return  # no valid value to put a defect into
        info = self.schema.type(type_name)
        yield from self._replacements(info, member, mode)
        if isinstance(info, ObjectType):
            yield from self._object_options(info, depth, member, open_ended=mode == "top-open")
        elif isinstance(info, ArrayType):
            yield from self._element_options(info, depth, member)
        elif isinstance(info, AlternateType):
            for branch in self.factory.branches(info, depth, member):
                yield from self.options((branch, depth, member, "shape"))

    # -- replacing the whole value ---------------------------------------------------

    def _replacements(self, info: TypeInfo, member: str | None, mode: Mode) -> Iterable[_Option]:
        accepted = _accepted(self.schema, info)
        if mode != "shape":
            wrong = [t for t in _WRONG_TYPES if not _fits(t, accepted)]
            if wrong:
                rule = "wrong-type"
                if isinstance(info, ObjectType):
                    rule = "not-object"
                elif isinstance(info, AlternateType):
                    rule = "alternate-branch"
                yield _replacement(rule, st.one_of([self.factory.json(t) for t in wrong]))
            if mode in ("position", "tag") and not _fits("null", accepted):
                yield _replacement("null", st.none())
        # A string keeps the JSON type, so it is the one replacement that also fits
        # an alternate's enum branch.
        if isinstance(info, EnumType):
            rule = "union-tag" if mode == "tag" else "enum-value"
            # Not a value the policy excludes for this member either, even if this
            # enum lacks it: the policy is about what is sent, not what is valid.
            taken = {*info.values, *self.factory.excluded(member)}
            yield _replacement(rule, _outside(taken, info.values))

    # -- inside objects ----------------------------------------------------------------

    def _layers(self, obj: ObjectType, depth: int) -> list[tuple[ObjectType, Constraint]]:
        """``obj`` and each variant (nested ones too) generation may select at
        ``depth``, with the tag values that select it: the members of one JSON object
        come from all of these, and a defect in a variant's member needs its tag."""
        layers: list[tuple[ObjectType, Constraint]] = [(obj, {})]
        for current, constraint in layers:  # grows while it is walked
            if current.tag is None:
                continue
            for variant, cases in self.factory.variant_groups(current, depth, constraint):
                if variant is not None:
                    narrowed = {**constraint, current.name: cases}
                    layers.append((self.schema.object_type(variant), narrowed))
        return layers

    def _object_options(
        self, obj: ObjectType, depth: int, member: str | None, *, open_ended: bool
    ) -> Iterable[_Option]:
        factory = self.factory
        if not open_ended:
            known = {m.name for m in obj.members} | self.schema.variant_member_names(obj)
            names = _outside(known, sorted(known))
            base = factory.fields(obj.name, depth, member)
            yield _Option(frozenset({"unknown-member"}), partial(_add, factory, base, names))
        layers = [
            (layer, factory.fields(obj.name, depth, member, constraint))
            for layer, constraint in self._layers(obj, depth)
        ]
        for layer, base in layers:
            for m in layer.members:
                if not m.optional:
                    yield _Option(frozenset({"missing-member"}), partial(_drop, base, m.name))
        if depth + 1 > factory.max_depth:
            return
        for layer, base in layers:
            for m in layer.members:
                if m.optional and not factory.includable(m):
                    continue
                mode: Mode = "tag" if m.name == layer.tag else "position"
                context = factory.context(factory.member_key(member, m.name))
                child: _Key = (m.type, depth + 1, context, mode)
                rules = self.rules(child)
                if rules:
                    yield _Option(rules, partial(self._in_member, base, m.name, child))

    def _in_member(
        self,
        base: SearchStrategy[dict[str, object]],
        name: str,
        child: _Key,
        draw: st.DrawFn,
        rule: str,
    ) -> Located:
        value = draw(base)
        item, steps = self.place(draw, child, rule)
        return {**value, name: item}, (name, *steps)

    # -- inside arrays -----------------------------------------------------------------

    def _element_options(
        self, info: ArrayType, depth: int, member: str | None
    ) -> Iterable[_Option]:
        if depth + 1 > self.factory.max_depth:
            return
        child: _Key = (info.element_type, depth + 1, member, "position")
        rules = self.rules(child)
        if rules:
            valid = st.lists(self.factory.value(info.element_type, depth + 1, member), max_size=3)
            yield _Option(rules, partial(self._in_element, valid, child))

    def _in_element(
        self, valid: SearchStrategy[list[object]], child: _Key, draw: st.DrawFn, rule: str
    ) -> Located:
        before = draw(valid)
        item, steps = self.place(draw, child, rule)
        return [*before, item, *draw(valid)], (len(before), *steps)


def _replacement(rule: str, bad: SearchStrategy[object]) -> _Option:
    return _Option(frozenset({rule}), partial(_replace, bad))


@st.composite
def _located(draw: st.DrawFn, defects: _Defects, key: _Key, rule: str) -> Located:
    return defects.place(draw, key, rule)


# Like values.factory_for: by the identity of the factory, which the entry keeps alive.
_DEFECTS: OrderedDict[int, _Defects] = OrderedDict()
_DEFECTS_KEPT = 32
_DEFECTS_LOCK = threading.Lock()


def _defects_for(factory: ValueFactory) -> _Defects:
    with _DEFECTS_LOCK:
        defects = _DEFECTS.get(id(factory))
        if defects is None:
            defects = _DEFECTS[id(factory)] = _Defects(factory)
            while len(_DEFECTS) > _DEFECTS_KEPT:
                _DEFECTS.popitem(last=False)
        else:
            _DEFECTS.move_to_end(id(factory))
        return defects


def _top(schema: Schema, command: str) -> _Key:
    mode: Mode = "top-open" if command in OPEN_ENDED_ARGUMENTS else "top"
    return (schema.command(command).arg_type, 0, None, mode)


def malformed_rules(
    schema: Schema,
    command: str,
    *,
    pools: Pools | None = None,
    policy: GenerationPolicy = PERMISSIVE,
    max_depth: int = DEFAULT_MAX_DEPTH,
) -> tuple[str, ...]:
    """The rules :func:`malformed_arguments` breaks for ``command``, in
    :data:`MALFORMED_RULES` order (``pools`` only shares its cache; rules don't
    depend on them)."""
    factory = factory_for(schema, pools, policy, max_depth)
    supported = _defects_for(factory).rules(_top(schema, command))
    return tuple(rule for rule in MALFORMED_RULES if rule in supported)


def malformed_arguments(
    schema: Schema,
    command: str,
    *,
    pools: Pools | None = None,
    policy: GenerationPolicy = PERMISSIVE,
    max_depth: int = DEFAULT_MAX_DEPTH,
) -> SearchStrategy[Malformed]:
    """Arguments for ``command`` that break exactly one rule, tagged with it.

    Generates :class:`Malformed` cases for each rule of :func:`malformed_rules` (see
    the module docstring for what each defect is; every command has ``not-object``,
    ``unknown-member`` unless it is open-ended without nested objects, and
    ``wrong-type`` if it has members): a valid value from :mod:`strategies.values`
    (same ``pools`` and ``policy``; no defect adds a member or value the policy
    excludes) with one defect, and the JSON path of the defect. For every case,
    ``validate_arguments(schema, command, case.arguments)`` reports only
    ``case.rule``, at least once at ``case.path``.

    ``max_depth`` bounds the valid parts as in :func:`~strategies.values.values`,
    and defects are placed at most that deep.

    Shrinks toward the rules early in :data:`MALFORMED_RULES`, toward defects in the
    outermost object (each level lists replacing the value, adding and dropping
    members before descending into members, base members before variant members),
    and toward the simplest valid rest, as :func:`~strategies.values.arguments` does.
    """
    return _defects_for(factory_for(schema, pools, policy, max_depth)).cases(command)
