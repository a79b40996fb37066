"""Whether schema B keeps the promises schema A made to QMP clients.

Two introspected schemas are compared structurally, from each command's arguments and
return value and each event's data down through members, union branches, alternate
branches, array elements and enum values. Introspection masks type names ("1", "2",
…), and the masks differ between builds, so nothing is matched by type name: a place
in the schema is named by its path from a command or event
(``blockdev-add.arguments{driver=file}.filename``, ``query-block.return[].inserted.ro``).

Each change is judged by direction, as QEMU's compatibility policy does: arguments are
the *send* direction (a client's input), returns and event data the *receive*
direction (its output). The rules and the sentences they rest on are in ``RULES``.
An incompatible change to something that was marked ``deprecated`` in A (itself or
what contains it) was announced; one to something ``unstable`` or ``x-`` named was
never promised. Any other incompatible change is a finding (:func:`check_change`).

A pair of types is compared once per direction and context: recursive types end, and
a change in a type many commands share is listed once, at the first path that reaches
it (commands in name order, then events).
"""

from __future__ import annotations

import enum
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from conformance.oracle.failure import Citation, Failure, FindingKind, Source, spec
from conformance.spec.model import (
    AlternateType,
    ArrayType,
    Builtin,
    Command,
    EnumType,
    Event,
    Features,
    Member,
    ObjectType,
    Schema,
    TypeInfo,
)
from conformance.spec.validate import _branch_json_type

__all__ = [
    "RULES",
    "Change",
    "Direction",
    "Status",
    "check_change",
    "compare_schemas",
    "findings",
]

CHECK_ID = "schema.compatible"
DEPRECATED = "deprecated"
UNSTABLE = "unstable"
EXPERIMENTAL_PREFIX = "x-"


class Direction(enum.StrEnum):
    INPUT = "input"  # command arguments: what a client sends
    OUTPUT = "output"  # returns and event data: what a client receives


class Status(enum.StrEnum):
    COMPATIBLE = "compatible"
    DEPRECATED = "incompatible, deprecated in A"
    UNSTABLE = "incompatible, unstable"
    FINDING = "finding"


def _qapi_doc(section: str, quote: str) -> Citation:
    return Citation(Source.QAPI, f"qapi-code-gen: {section}", quote)


_COMPAT = "Compatibility considerations"

#: Every rule a change is judged by, with the sentence of QEMU's documentation behind it.
RULES: Mapping[str, Citation] = {
    "send-added": _qapi_doc(
        _COMPAT,
        "Adding opt-in functionality to the send direction is backwards compatible: adding"
        " commands, optional arguments, enumeration values, union and alternate branches;"
        " turning an argument type into an alternate of that type; making mandatory"
        " arguments optional.",
    ),
    "send-removed": _qapi_doc(
        _COMPAT,
        "Incompatible changes include removing commands, command arguments, enumeration"
        " values, union and alternate branches, adding mandatory command arguments, and"
        " making optional arguments mandatory.",
    ),
    "send-type": spec(
        "Compatibility Considerations",
        "The QMP Server performs a type check on the arguments to a command.  It generates"
        " an error if a value does not have the expected type for its key",
    ),
    "receive-added": _qapi_doc(
        _COMPAT,
        "Adding functionality to the receive direction is generally backwards compatible:"
        " adding events, adding return and event data members.",
    ),
    "receive-removed": _qapi_doc(
        _COMPAT, "Incompatible changes include removing return and event data members."
    ),
    "receive-unreachable": _qapi_doc(
        _COMPAT,
        'Removing "unreachable" stuff like events that can\'t be triggered anymore,'
        " optional return or event data members that can't be sent anymore, and return or"
        " event data member (enumeration) values that can't be sent anymore makes no"
        " difference to clients, except for introspection.",
    ),
    "receive-type": _qapi_doc(
        _COMPAT,
        "Any change to a command definition's 'return', an event definition's 'data', or"
        " one of the types used there (recursively) needs to consider receive direction"
        " compatibility.",
    ),
    "receive-liberal": spec(
        "Compatibility Considerations",
        'a Client should be "conservative in what they send, and liberal in what they accept".',
    ),
    "event-removed": _qapi_doc(
        _COMPAT,
        'Removing "unreachable" stuff like events that can\'t be triggered anymore [...]'
        " can conceivably confuse clients, so tread carefully.",
    ),
    "str-to-enum": _qapi_doc(
        "Client JSON Protocol introspection",
        "one version of qemu may list a member with open-ended type 'str', and a later"
        " version could convert it to a finite set of strings via an enum type",
    ),
    "oob": _qapi_doc(
        "Client JSON Protocol introspection",
        'When "allow-oob" is true, it means the command supports out-of-band execution.',
    ),
    "features": _qapi_doc(
        "Features",
        "Intended use is to have each feature string signal that this build of QEMU shows"
        " a certain behaviour.",
    ),
    DEPRECATED: _qapi_doc(
        "Special features",
        "Interfaces so marked may be withdrawn in future releases in accordance with"
        " QEMU's deprecation policy.",
    ),
    UNSTABLE: _qapi_doc(
        "Special features",
        "Interfaces so marked may be withdrawn or changed incompatibly in future releases.",
    ),
    "experimental": spec(
        "Compatibility Considerations",
        "Any command or member name beginning with ``x-`` is deemed experimental, and may be"
        " withdrawn or changed in an incompatible manner in a future release.",
    ),
}


@dataclass(frozen=True, slots=True)
class Change:
    """One difference between A and B at one path, and how a client fares with it."""

    kind: str  # added | removed | changed
    what: str  # command, event, member, enum value, union branch, alternate branch, ...
    path: str
    detail: str
    direction: Direction | None  # None for a whole command or event
    compatible: bool
    rule: str  # a key of RULES
    deprecated: bool = False  # the thing (or what holds it) carried 'deprecated' in A
    unstable: bool = False  # ... carried 'unstable' or an x- name, in A or B

    @property
    def status(self) -> Status:
        if self.compatible:
            return Status.COMPATIBLE
        if self.unstable:
            return Status.UNSTABLE
        if self.deprecated:
            return Status.DEPRECATED
        return Status.FINDING

    @property
    def citation(self) -> Citation:
        return RULES[self.rule]

    @property
    def root(self) -> str:
        """The command or event the path starts at."""
        return self.path.split(".", 1)[0]

    def where(self) -> str:
        """The path, the detail and the direction."""
        parts = [self.path]
        if self.detail:
            parts.append(self.detail)
        if self.direction is not None:
            parts.append(f"({self.direction})")
        return " ".join(parts)

    def describe(self) -> str:
        return f"{self.what} {self.where()}"

    def to_json(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "what": self.what,
            "path": self.path,
            "detail": self.detail,
            "direction": self.direction.value if self.direction else None,
            "status": self.status.value,
            "citation": str(self.citation),
        }


def check_change(change: Change) -> None:
    """Raise the :class:`Failure` an unannounced incompatible change is."""
    if change.status is not Status.FINDING:
        return
    raise Failure(
        CHECK_ID,
        change.citation,
        f"{change.kind} {change.what}{' ' + change.detail if change.detail else ''},"
        " incompatible for a client and not deprecated in A",
        kind=FindingKind.COMPAT,
        path=change.path,
        command=change.root,
    )


def findings(changes: list[Change]) -> list[Failure]:
    """The failures of :func:`check_change`, one per finding."""
    found: list[Failure] = []
    for change in changes:
        try:
            check_change(change)
        except Failure as failure:
            found.append(failure)
    return found


def compare_schemas(a: Schema, b: Schema) -> list[Change]:
    """Every difference between A and B a client can see, classified."""
    return _Comparison(a, b).run()


# -- the walk ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Context:
    """What the things holding the current path were marked with."""

    deprecated: bool = False
    unstable: bool = False

    def within(self, name: str, a: Features = (), b: Features = ()) -> _Context:
        return _Context(
            self.deprecated or DEPRECATED in a,
            self.unstable or UNSTABLE in a or UNSTABLE in b or name.startswith(EXPERIMENTAL_PREFIX),
        )


def _wire_kind(info: TypeInfo) -> str:
    """The JSON type a value of ``info`` has on the wire; how alternates tell branches apart.
    The validator's branch kind, with an int a JSON number like any other."""
    if isinstance(info, AlternateType):
        return "alternate"
    kind = _branch_json_type(info)
    return {"int": "number", "value": "any"}.get(kind, kind)


def _scalar_name(info: Builtin) -> str:
    return {"string": "str", "boolean": "bool", "value": "any"}.get(info.json_type, info.json_type)


class _Comparison:
    def __init__(self, a: Schema, b: Schema) -> None:
        self.a = a
        self.b = b
        self.changes: list[Change] = []
        self.seen: set[tuple[str, str, Direction, _Context]] = set()

    def run(self) -> list[Change]:
        for name in sorted(self.a.commands.keys() | self.b.commands.keys()):
            self._command(name)
        for name in sorted(self.a.events.keys() | self.b.events.keys()):
            self._event(name)
        return self.changes

    def emit(
        self,
        kind: str,
        what: str,
        path: str,
        detail: str,
        direction: Direction | None,
        rule: str,
        ctx: _Context,
        *,
        compatible: bool,
    ) -> None:
        self.changes.append(
            Change(
                kind, what, path, detail, direction, compatible, rule, ctx.deprecated, ctx.unstable
            )
        )

    # -- commands and events ------------------------------------------------------------

    def _command(self, name: str) -> None:
        ca, cb = self.a.commands.get(name), self.b.commands.get(name)
        ctx = self._definition("command", name, ca, cb, ("send-added", "send-removed"))
        if ca is None or cb is None or ctx is None:
            return
        if ca.allow_oob != cb.allow_oob:
            self.emit(
                "changed",
                "allow-oob",
                name,
                f"{str(ca.allow_oob).lower()} → {str(cb.allow_oob).lower()}",
                None,
                "oob",
                ctx,
                compatible=cb.allow_oob,
            )
        self._type(ca.arg_type, cb.arg_type, f"{name}.arguments", Direction.INPUT, ctx)
        self._type(ca.ret_type, cb.ret_type, f"{name}.return", Direction.OUTPUT, ctx)

    def _event(self, name: str) -> None:
        ea, eb = self.a.events.get(name), self.b.events.get(name)
        ctx = self._definition("event", name, ea, eb, ("receive-added", "event-removed"))
        if ea is None or eb is None or ctx is None:
            return
        self._type(ea.arg_type, eb.arg_type, f"{name}.data", Direction.OUTPUT, ctx)

    def _definition(
        self,
        what: str,
        name: str,
        da: Command | Event | None,
        db: Command | Event | None,
        rules: tuple[str, str],
    ) -> _Context | None:
        """A command or event on one side only is added or removed; on both, its features
        are compared and the context of what it holds returned."""
        if da is not None and db is not None:
            ctx = _Context().within(name, da.features, db.features)
            self._features(what, name, da.features, db.features, None, ctx)
            return ctx
        present = db or da
        assert present is not None
        added = da is None
        self.emit(
            "added" if added else "removed",
            what,
            name,
            "",
            None,
            rules[0] if added else rules[1],
            _Context().within(name, da.features if da else (), present.features),
            compatible=added,
        )
        return None

    def _features(
        self,
        what: str,
        path: str,
        fa: Features,
        fb: Features,
        direction: Direction | None,
        ctx: _Context,
    ) -> None:
        # A feature changes no JSON on the wire: gaining 'deprecated' is the notice of a
        # removal to come, losing a behaviour feature tells a client to fall back.
        for feature in sorted(set(fa) ^ set(fb)):
            gained = feature in fb
            self.emit(
                "changed",
                f"{what} feature",
                path,
                f"{'gained' if gained else 'lost'} {feature!r}",
                direction,
                feature if feature in (DEPRECATED, UNSTABLE) else "features",
                ctx,
                compatible=True,
            )

    # -- types ------------------------------------------------------------------------

    def _type(
        self, name_a: str, name_b: str, path: str, direction: Direction, ctx: _Context
    ) -> None:
        key = (name_a, name_b, direction, ctx)
        if key in self.seen:
            return  # compared already (or being compared: a recursive type)
        self.seen.add(key)
        ta, tb = self.a.type(name_a), self.b.type(name_b)
        if ta.features or tb.features:
            self._features("type", path, ta.features, tb.features, direction, ctx)
        if _wire_kind(ta) == "any" or _wire_kind(tb) == "any":
            if _wire_kind(ta) != _wire_kind(tb):
                # 'any' takes every value: to it is a widening, from it a narrowing.
                self._retyped(ta, tb, path, direction, ctx, wider=_wire_kind(tb) == "any")
        elif isinstance(ta, AlternateType) or isinstance(tb, AlternateType):
            self._alternates(ta, tb, path, direction, ctx)
        elif isinstance(ta, Builtin) and isinstance(tb, Builtin):
            if ta.json_type != tb.json_type:
                pair = (ta.json_type, tb.json_type)
                wider = (
                    True
                    if pair == ("int", "number")
                    else False
                    if pair == ("number", "int")
                    else None
                )
                self._retyped(ta, tb, path, direction, ctx, wider=wider)
        elif isinstance(ta, EnumType) and isinstance(tb, EnumType):
            self._enums(ta, tb, path, direction, ctx)
        elif {_wire_kind(ta), _wire_kind(tb)} == {"string"}:
            self._str_enum(ta, tb, path, direction, ctx)
        elif isinstance(ta, ArrayType) and isinstance(tb, ArrayType):
            self._type(ta.element_type, tb.element_type, f"{path}[]", direction, ctx)
        elif isinstance(ta, ObjectType) and isinstance(tb, ObjectType):
            self._object(ta, tb, path, direction, ctx)
        else:
            self._retyped(ta, tb, path, direction, ctx, wider=None)

    def _describe(self, schema: Schema, info: TypeInfo) -> str:
        if isinstance(info, Builtin):
            return _scalar_name(info)
        if isinstance(info, EnumType):
            return "enum"
        if isinstance(info, ArrayType):
            element = schema.type(info.element_type)
            inner = "[…]" if isinstance(element, ArrayType) else self._describe(schema, element)
            return f"[{inner}]"
        if isinstance(info, ObjectType):
            return "object"
        kinds = sorted(_wire_kind(schema.type(branch)) for branch in info.branches)
        return f"alternate({'|'.join(kinds)})"

    def _retyped(
        self,
        ta: TypeInfo,
        tb: TypeInfo,
        path: str,
        direction: Direction,
        ctx: _Context,
        *,
        wider: bool | None,
    ) -> None:
        """A type change; ``wider`` says whether B takes more values than A (None: neither)."""
        detail = f"{self._describe(self.a, ta)} → {self._describe(self.b, tb)}"
        if direction is Direction.INPUT:
            self.emit(
                "changed", "type", path, detail, direction, "send-type", ctx, compatible=bool(wider)
            )
        else:
            self.emit(
                "changed",
                "type",
                path,
                detail,
                direction,
                "receive-unreachable" if wider is False else "receive-type",
                ctx,
                compatible=wider is False,
            )

    def _str_enum(
        self, ta: TypeInfo, tb: TypeInfo, path: str, direction: Direction, ctx: _Context
    ) -> None:
        # str → enum narrows what is accepted, but QEMU's documentation counts it among
        # the changes introspection shows and the wire doesn't: the str only ever took
        # those values. enum → str takes more, which a sender never minds, and a receiver
        # minds as little as a new enum value.
        detail = f"{self._describe(self.a, ta)} → {self._describe(self.b, tb)}"
        rule = (
            "str-to-enum"
            if isinstance(tb, EnumType)
            else ("send-added" if direction is Direction.INPUT else "receive-liberal")
        )
        self.emit("changed", "type", path, detail, direction, rule, ctx, compatible=True)

    def _enums(
        self, ea: EnumType, eb: EnumType, path: str, direction: Direction, ctx: _Context
    ) -> None:
        values_a, values_b = set(ea.values), set(eb.values)
        for value in sorted(values_a - values_b):
            inner = ctx.within(value, ea.value_features.get(value, ()))
            # A client may send a value that is gone; it merely never receives one again.
            sent = direction is Direction.INPUT
            self.emit(
                "removed",
                "enum value",
                path,
                repr(value),
                direction,
                "send-removed" if sent else "receive-unreachable",
                inner,
                compatible=not sent,
            )
        for value in sorted(values_b - values_a):
            inner = ctx.within(value, (), eb.value_features.get(value, ()))
            rule = "send-added" if direction is Direction.INPUT else "receive-liberal"
            self.emit(
                "added", "enum value", path, repr(value), direction, rule, inner, compatible=True
            )
        for value in sorted(values_a & values_b):
            fa, fb = ea.value_features.get(value, ()), eb.value_features.get(value, ())
            if fa != fb:
                self._features(
                    "enum value", f"{path}={value}", fa, fb, direction, ctx.within(value, fa, fb)
                )

    def _alternates(
        self, ta: TypeInfo, tb: TypeInfo, path: str, direction: Direction, ctx: _Context
    ) -> None:
        branches_a, branches_b = self._branches(self.a, ta), self._branches(self.b, tb)
        if not branches_a.keys() & branches_b.keys():
            self._retyped(ta, tb, path, direction, ctx, wider=None)
            return
        send = direction is Direction.INPUT
        for kind in sorted(branches_a.keys() - branches_b.keys()):
            # Fewer JSON types: a sender loses one, a receiver never sees it again.
            self.emit(
                "removed",
                "alternate branch",
                path,
                kind,
                direction,
                "send-removed" if send else "receive-unreachable",
                ctx,
                compatible=not send,
            )
        for kind in sorted(branches_b.keys() - branches_a.keys()):
            what = "alternate branch" if isinstance(ta, AlternateType) else "alternate"
            detail = (
                kind
                if isinstance(ta, AlternateType)
                else (f"{self._describe(self.a, ta)} → {self._describe(self.b, tb)}")
            )
            self.emit(
                "added",
                what,
                path,
                detail,
                direction,
                "send-added" if send else "receive-type",
                ctx,
                compatible=send,
            )
        for kind in sorted(branches_a.keys() & branches_b.keys()):
            self._type(branches_a[kind], branches_b[kind], f"{path}<{kind}>", direction, ctx)

    @staticmethod
    def _branches(schema: Schema, info: TypeInfo) -> dict[str, str]:
        names = info.branches if isinstance(info, AlternateType) else (info.name,)
        return {_wire_kind(schema.type(name)): name for name in names}

    # -- objects ----------------------------------------------------------------------

    def _object(
        self,
        oa: ObjectType,
        ob: ObjectType,
        path: str,
        direction: Direction,
        ctx: _Context,
        skip_a: frozenset[str] = frozenset(),
        skip_b: frozenset[str] = frozenset(),
    ) -> None:
        """Members by name; a member that moved between the common members and some
        union branches is compared where it now is (QEMU's introspection allows that
        rework), and only the branches that lost or gained it count as a change."""
        base_a = {m.name: m for m in oa.members if m.name not in skip_a}
        base_b = {m.name: m for m in ob.members if m.name not in skip_b}
        branches_a, branches_b = (
            self._variant_members(self.a, oa),
            self._variant_members(self.b, ob),
        )
        for name in sorted(base_a.keys() | base_b.keys()):
            ma, mb = base_a.get(name), base_b.get(name)
            if ma is not None and mb is not None:
                self._member(ma, mb, f"{path}.{name}", direction, ctx)
                continue
            here, there, tag, branches = (
                (ma, "removed", ob.tag, branches_b)
                if ma is not None
                else (mb, "added", oa.tag, branches_a)
            )
            assert here is not None
            cases = [case for case, members in branches.items() if name in members]
            for case in cases:
                other = branches[case][name]
                pair = (here, other) if ma is not None else (other, here)
                self._member(*pair, f"{path}{{{tag}={case}}}.{name}", direction, ctx)
            if not cases:
                self._lone_member(here, there, f"{path}.{name}", direction, ctx)
            else:
                all_cases = self._tag_values(
                    self.b if ma is not None else self.a, ob if ma is not None else oa
                )
                rest = [c for c in all_cases if c not in cases]
                if rest:
                    where = "only in" if ma is not None else "before only in"
                    self._lone_member(
                        here,
                        there,
                        f"{path}.{name}",
                        direction,
                        ctx,
                        detail=f"({where} branches {', '.join(cases)})",
                    )
        if oa.tag is not None and ob.tag is not None and oa.tag != ob.tag:
            # Another member picks the branch: the same JSON now means another branch.
            self.emit(
                "changed",
                "union tag",
                path,
                f"{oa.tag} → {ob.tag}",
                direction,
                "send-removed" if direction is Direction.INPUT else "receive-type",
                ctx,
                compatible=False,
            )
        values_a, values_b = set(self._tag_values(self.a, oa)), set(self._tag_values(self.b, ob))
        variants_a = {v.case: v.type for v in oa.variants}
        variants_b = {v.case: v.type for v in ob.variants}
        tag = ob.tag or oa.tag
        for case in sorted(variants_a.keys() | variants_b.keys()):
            branch_path = f"{path}{{{tag}={case}}}"
            va, vb = variants_a.get(case), variants_b.get(case)
            if va is not None and vb is not None:
                self._object(
                    self.a.object_type(va),
                    self.b.object_type(vb),
                    branch_path,
                    direction,
                    ctx,
                    frozenset(base_b),
                    frozenset(base_a),
                )
            elif va is not None and case in values_b:
                self._lone_branch(self.a.object_type(va), "removed", branch_path, direction, ctx)
            elif vb is not None and case in values_a:
                self._lone_branch(self.b.object_type(vb), "added", branch_path, direction, ctx)
            # Otherwise the tag value itself came or went: the enum change says so.

    def _variant_members(self, schema: Schema, obj: ObjectType) -> dict[str, dict[str, Member]]:
        return {
            v.case: {m.name: m for m in schema.object_type(v.type).members} for v in obj.variants
        }

    @staticmethod
    def _tag_values(schema: Schema, obj: ObjectType) -> tuple[str, ...]:
        if obj.tag is None:
            return ()
        tag_type = next(m.type for m in obj.members if m.name == obj.tag)
        info = schema.type(tag_type)
        return info.values if isinstance(info, EnumType) else ()

    def _member(
        self, ma: Member, mb: Member, path: str, direction: Direction, ctx: _Context
    ) -> None:
        inner = ctx.within(ma.name, ma.features, mb.features)
        self._features("member", path, ma.features, mb.features, direction, inner)
        if ma.optional != mb.optional:
            became = "optional" if mb.optional else "required"
            if direction is Direction.INPUT:
                rule, ok = ("send-added", True) if mb.optional else ("send-removed", False)
            else:
                # A receiver may rely on a required member; an optional one it must do without.
                rule, ok = ("receive-removed", False) if mb.optional else ("receive-added", True)
            self.emit(
                "changed", "member", path, f"became {became}", direction, rule, inner, compatible=ok
            )
        self._type(ma.type, mb.type, path, direction, inner)

    def _lone_member(
        self,
        member: Member,
        kind: str,
        path: str,
        direction: Direction,
        ctx: _Context,
        detail: str = "",
    ) -> None:
        """A member on one side only."""
        removed = kind == "removed"
        inner = ctx.within(member.name, member.features if removed else (), member.features)
        label = detail or ("optional" if member.optional else "required")
        if direction is Direction.INPUT:
            ok = not removed and member.optional
            rule = "send-added" if ok else "send-removed"
        elif removed:
            ok = member.optional
            rule = "receive-unreachable" if ok else "receive-removed"
        else:
            ok, rule = True, "receive-added"
        self.emit(kind, "member", path, label, direction, rule, inner, compatible=ok)

    def _lone_branch(
        self, branch: ObjectType, kind: str, path: str, direction: Direction, ctx: _Context
    ) -> None:
        """A union branch on one side only, its tag value on both: its members came or went."""
        required = any(not m.optional for m in branch.members)
        removed = kind == "removed"
        if direction is Direction.INPUT:
            ok = not removed and not required
            rule = "send-added" if ok else "send-removed"
        elif removed:
            ok = not required
            rule = "receive-unreachable" if ok else "receive-removed"
        else:
            ok, rule = True, "receive-added"
        detail = f"{len(branch.members)} members" + (", some required" if required else "")
        self.emit(kind, "union branch", path, detail, direction, rule, ctx, compatible=ok)


def counts(changes: list[Change]) -> dict[str, int]:
    """How many changes have each status (every status is a key)."""
    result = {status.value: 0 for status in Status}
    for change in changes:
        result[change.status.value] += 1
    return result


def by_kind(changes: list[Change]) -> Iterator[tuple[str, list[Change]]]:
    """The changes grouped as added, removed, changed (empty groups left out)."""
    for kind in ("removed", "changed", "added"):
        group = [c for c in changes if c.kind == kind]
        if group:
            yield kind, group
