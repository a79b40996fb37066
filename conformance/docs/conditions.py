"""Documented error conditions, and how to induce them on a machine profile.

Docs state error conditions as sentences: "If @device is not a valid block device,
DeviceNotFound" (QAPI before 9.0, under Returns:), "Errors: - If @name is already
taken, GenericError" (9.0 and later), "error if the server is already running"
(no class: any error will do). :func:`conditions` reads each sentence into a
:class:`Condition`: the error class it promises and, where the suite can produce the
condition, how:

- ``missing``: the sentence is about an argument that names nothing ("is not a valid
  block device", "does not exist", "is not found", "no background operation is active
  on this device"). The argument gets a name nothing has; every other argument gets a
  valid value, the profile's objects for names, so that the error can only be about
  the condition. A member the profile names nothing for takes the value the
  command's own documented example gives it, when the schema admits it: a string
  that QEMU parses further (expire_password's ``time``) isn't valid just because the
  schema says ``str``.
- ``twice``: the sentence is about a name already in use ("is already taken", "is
  already running"). The same valid request is sent twice; the first must succeed.
- ``state``: the sentence is about state the profiles never have (:data:`ABSENT`):
  no balloon device, no SPICE server, no file descriptor passed.

Sentences that are none of these (a catch-all "Any other error", conditions needing
KVM, a particular image format, a busy job) are kept with the reason they can't be
induced. Recognition goes by the sentence's grammar and the command's argument names,
not by command names.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType

from conformance.docs.model import DocEntry
from conformance.spec.minimal import Chooser, is_string, minimal, minimal_object
from conformance.spec.model import AlternateType, ArrayType, Builtin, EnumType, Member, Schema
from conformance.spec.validate import validate

# A CamelCase word is an error class unless an article or "of" makes it a noun
# ("any of the YankInstances").
_CLASS = re.compile(r"(?<!\bthe )(?<!\ban )(?<!\ba )(?<!\bof )\b([A-Z][a-z]+(?:[A-Z][a-z]*)+)\b")
_CATCH_ALL = re.compile(r"\bany other error\b|\berrors depend\b", re.I)
_MISSING = re.compile(
    r"\b(?:is not (?:a )?valid|does not exist|doesn't exist|(?:is )?not found|"
    r"cannot be determined|no background operation is active)\b",
    re.I,
)
_TWICE = re.compile(r"\balready (?:taken|exists|running|in use|defined)\b", re.I)
_IS_VALUE = re.compile(r"@?([a-z][\w-]*) is '([^']+)'")
# Facts every profile holds, and the words documenting an error that needs them.
ABSENT: Mapping[str, str] = MappingProxyType(
    {
        r"no balloon device is present": "the profiles have no balloon device",
        r"spice is not (?:enabled|active)": "the profiles start no SPICE server",
        r"file descriptor was not received": "the harness passes no file descriptor",
    }
)
NONEXISTENT = "nosuch"


@dataclass(frozen=True, slots=True)
class Condition:
    """One documented error condition of a command."""

    text: str  # the sentence as documented
    error_class: str | None  # the class it promises; None: an error of any class
    how: str = ""  # "missing", "twice" or "state"; "" when it can't be induced
    member: str | None = None  # the argument it is about
    overrides: Mapping[str, object] = field(default_factory=lambda: MappingProxyType({}))
    reason: str = ""  # why it can't be induced
    #: Scalar values the command's documented example request gives its members.
    documented: Mapping[str, object] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def inducible(self) -> bool:
        return bool(self.how)


def conditions(entry: DocEntry, schema: Schema) -> list[Condition]:
    """Every documented error condition of a command in `schema`, read."""
    if entry.kind != "command" or entry.name not in schema.commands:
        return []
    documented = MappingProxyType(_example_values(entry, schema))
    return [replace(read(text, entry, schema), documented=documented) for text in entry.errors]


def _example_values(entry: DocEntry, schema: Schema) -> dict[str, object]:
    """The scalar arguments of the command's first documented request, where the
    binary's schema admits them."""
    members = {m.name: m for m in schema.arg_members(entry.name)}
    for example in entry.examples:
        for message in example.messages:
            value = message.value
            if (
                message.direction == "->"
                and isinstance(value, dict)
                and value.get("execute") == entry.name
                and isinstance(value.get("arguments"), dict)
            ):
                return {
                    name: v
                    for name, v in value["arguments"].items()
                    if name in members
                    and isinstance(v, str | int | float | bool)
                    and not validate(schema, v, members[name].type)
                }
    return {}


def read(text: str, entry: DocEntry, schema: Schema) -> Condition:
    """One sentence: its class, and how (or why not) the suite induces it."""
    error_class = _error_class(text, entry)
    if _CATCH_ALL.search(text):
        return Condition(text, error_class, reason="a catch-all, not a condition")
    members = {m.name: m for m in schema.arg_members(entry.name)}
    overrides: dict[str, object] = {
        name: value
        for name, value in _IS_VALUE.findall(text)
        if name in members and _admits(schema, members[name], value)
    }
    lowered = text.lower()
    for pattern, why in ABSENT.items():
        if re.search(pattern, lowered):
            # "If Spice is not enabled" of set_password: the argument that selects
            # SPICE is the one whose enum has it.
            overrides |= _enum_words(lowered, members, schema)
            return Condition(text, error_class, "state", None, MappingProxyType(overrides), why)
    if _TWICE.search(text):
        return Condition(text, error_class, "twice", None, MappingProxyType(overrides))
    missing = _MISSING.search(text)
    if missing:
        member = _subject(text, missing, entry, members)
        if member is None:
            return Condition(
                text, error_class, reason="names no argument of the command to make absent"
            )
        if isinstance(schema.type(members[member].type), EnumType):
            return Condition(
                text,
                error_class,
                member=member,
                reason=f"@{member} is an enum: a value outside it fails the type check first",
            )
        return Condition(text, error_class, "missing", member, MappingProxyType(overrides))
    return Condition(text, error_class, reason="a condition the suite can't produce")


def _error_class(text: str, entry: DocEntry) -> str | None:
    nouns = {a.type.split()[-1] for a in entry.arguments if a.type}
    found = [c for c in _CLASS.findall(text) if c not in nouns and c.rstrip("s") not in nouns]
    return found[-1] if found else None


def _subject(
    text: str, missing: re.Match[str], entry: DocEntry, members: Mapping[str, Member]
) -> str | None:
    """The argument the sentence says is missing: named, by name or by the doc's type
    for it ("any of the YankInstances" is `instances`), in the clause before the
    words that say so ("If @device is not a valid…"), or after them ("no background
    operation is active on this device")."""
    clause = re.split(r"\b(?:if|or|and)\b|,", text[: missing.start()], flags=re.I)[-1]
    after = re.match(r"\s+on (?:this|the) ([\w-]+)", text[missing.end() :])
    words: list[str] = re.findall(r"[A-Za-z][\w-]*", clause)
    words += [after.group(1)] if after else []
    # Only QAPI type names (CamelCase), not builtins: "any string" is no argument.
    by_type = {
        a.type.split()[-1].lower(): a.name
        for a in entry.arguments
        if a.type and a.type.split()[-1][:1].isupper() and a.name in members
    }
    for word in words:
        if word in members:
            return word
        name = by_type.get(word.lower()) or by_type.get(word.lower().rstrip("s"))
        if name:
            return name
    return None


def _admits(schema: Schema, member: Member, value: str) -> bool:
    info = schema.type(member.type)
    return isinstance(info, EnumType) and value in info.values


def _enum_words(text: str, members: Mapping[str, Member], schema: Schema) -> dict[str, object]:
    words = set(re.findall(r"[a-z][\w-]*", text))
    out: dict[str, object] = {}
    for name, member in members.items():
        info = schema.type(member.type)
        if isinstance(info, EnumType):
            hits = [v for v in info.values if v in words]
            if hits:
                out[name] = hits[0]
    return out


# -- inducing ------------------------------------------------------------------------------


def requests(
    condition: Condition,
    command: str,
    schema: Schema,
    choose: Chooser,
    excluded: Mapping[str, frozenset[str]],
) -> list[dict[str, object]]:
    """The arguments of each request that induces `condition`; the last one's reply is
    the one to compare. `choose` supplies the profile's names for the other members."""
    obj = schema.object_type(schema.command(command).arg_type)

    def chooser(member: Member) -> object | None:
        if member.name in condition.overrides:
            return condition.overrides[member.name]
        if member.name == condition.member:
            return absent(schema, member.type, member.name)
        named = choose(member)
        return named if named is not None else condition.documented.get(member.name)

    arguments = minimal_object(schema, obj, chooser, excluded)
    if condition.member is not None and condition.member not in arguments:
        # An optional argument: the sentence is about giving it.
        member = next(m for m in schema.arg_members(command) if m.name == condition.member)
        arguments[condition.member] = absent(schema, member.type, member.name)
    for name, value in condition.overrides.items():
        arguments.setdefault(name, value)
    return [arguments, arguments] if condition.how == "twice" else [arguments]


def absent(schema: Schema, type_name: str, member: str) -> object:
    """A value of `type_name` that names nothing: `nosuch-…` strings, ids no one
    allocates, one-element lists of such."""
    info = schema.type(type_name)
    if isinstance(info, Builtin):
        if info.json_type == "string":
            return f"{NONEXISTENT}-{member}"
        if info.json_type == "int":
            return 0x7FFF_FFFF  # beyond any fd, fdset or index QEMU hands out
        return minimal(schema, type_name)
    if isinstance(info, ArrayType):
        return [absent(schema, info.element_type, member)]
    if isinstance(info, AlternateType):
        strings = [b for b in info.branches if is_string(schema, b)]
        return absent(schema, (strings or list(info.branches))[0], member)
    if isinstance(info, EnumType):
        return info.values[0]

    def nothing(m: Member) -> object | None:
        if is_string(schema, m.type):
            return f"{NONEXISTENT}-{m.name}"
        return None

    return minimal(schema, type_name, nothing)
