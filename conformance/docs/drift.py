"""Drift between what the documentation says and what the binary's schema says.

Every item names the command or event, a JSON path and the doc source, so that a
reader can open both sides. Examples are judged against the binary's own types: a
documented request whose arguments the schema rejects, a documented reply or event
whose data doesn't match, is drift (the docs or the binary is wrong, and either way a
user following the docs gets surprised).
"""

from __future__ import annotations

import os
import re
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass

from conformance.docs.model import DocEntry, DocExample, DocSet, Parse
from conformance.spec import Schema, Violation, validate_arguments, validate_event, validate_return
from conformance.spec.model import Builtin, Member

# Documented type words that name a JSON type; anything else is a QAPI type name, which
# the masked introspection can't be compared with.
_DOC_JSON_TYPES = {
    "string": "string",
    "str": "string",
    "json-string": "string",
    "int": "int",
    "json-int": "int",
    "integer": "int",
    "bool": "boolean",
    "boolean": "boolean",
    "json-bool": "boolean",
    "number": "number",
    "json-number": "number",
}


@dataclass(frozen=True, slots=True)
class Drift:
    kind: str
    name: str
    path: str
    detail: str
    source: str

    def to_json(self) -> dict[str, str]:
        return asdict(self)


KINDS = (
    "documented-but-absent",
    "present-but-undocumented",
    "argument-not-in-binary",
    "argument-undocumented",
    "argument-optionality",
    "argument-type",
    "example-request",
    "example-reply",
    "example-event",
)


def drift(docs: DocSet, schema: Schema, target: str | None = None) -> list[Drift]:
    """Every difference between `docs` and `schema`, in a stable order.

    With the binary's ``target`` (``x86_64``, ``aarch64``), a definition whose doc
    condition excludes that target (``If: TARGET_I386`` on aarch64) is not expected in
    the binary, so its absence is no drift.
    """
    items = [
        i
        for i in _presence(docs, schema)
        if not (
            i.kind == "documented-but-absent"
            and target is not None
            and excludes_target(docs.entries[i.name].condition, target)
        )
    ]
    for entry in docs.entries.values():
        if entry.kind == "command" and entry.name in schema.commands:
            items.extend(_arguments(entry, schema))
        for example in entry.examples:
            items.extend(_example(entry, example, schema))
    return items


# The TARGET_* macros a qemu-system-<target> binary is built with, beyond TARGET_<TARGET>
# (QEMU's configs/targets/*.mak: TARGET_BASE_ARCH, and the 64-bit builds' base).
_TARGET_FAMILY = {
    "x86_64": ("I386",),
    "aarch64": ("ARM",),
    "ppc64": ("PPC",),
    "riscv32": ("RISCV",),
    "riscv64": ("RISCV",),
    "mips64": ("MIPS",),
    "mips64el": ("MIPS",),
    "mipsel": ("MIPS",),
    "sparc64": ("SPARC",),
    "microblazeel": ("MICROBLAZE",),
    "sh4eb": ("SH4",),
    "xtensaeb": ("XTENSA",),
}
_TOKEN = re.compile(r"\(|\)|[A-Za-z_][A-Za-z0-9_]*")


#: The host-OS conditions QAPI uses. A binary the suite runs was built for the host it
#: runs on, so these are known even though the binary doesn't report its CONFIG_* options.
_HOST_OS = {
    "CONFIG_LINUX": sys.platform.startswith("linux"),
    "CONFIG_POSIX": os.name == "posix",
    "CONFIG_WIN32": sys.platform == "win32",
    "CONFIG_DARWIN": sys.platform == "darwin",
    "CONFIG_BSD": "bsd" in sys.platform,
}


def excludes_target(condition: str | None, target: str) -> bool:
    """Whether a doc condition (``TARGET_S390X or TARGET_I386``, ``TARGET_S390X and
    CONFIG_KVM``, ``CONFIG_WIN32``) is false for a binary of ``target`` running on this
    host, whatever its other CONFIG_* options, which the binary doesn't tell. Anything
    unparsable excludes nothing."""
    if not condition or not ("TARGET_" in condition or any(m in condition for m in _HOST_OS)):
        return False
    base = target.removesuffix("-microvm")
    macros = {f"TARGET_{base.upper()}", *(f"TARGET_{f}" for f in _TARGET_FAMILY.get(base, ()))}
    macros |= {m for m, true in _HOST_OS.items() if true}
    tokens = _TOKEN.findall(condition)
    try:
        value, rest = _or(tokens, macros)
    except (IndexError, ValueError):
        return False
    return value is False and not rest


# Three-valued: None is a CONFIG_* (or other) option the binary doesn't reveal.
def _or(tokens: list[str], macros: set[str]) -> tuple[bool | None, list[str]]:
    value, tokens = _and(tokens, macros)
    while tokens and tokens[0] == "or":
        right, tokens = _and(tokens[1:], macros)
        value = True if True in (value, right) else None if None in (value, right) else False
    return value, tokens


def _and(tokens: list[str], macros: set[str]) -> tuple[bool | None, list[str]]:
    value, tokens = _not(tokens, macros)
    while tokens and tokens[0] == "and":
        right, tokens = _not(tokens[1:], macros)
        value = False if False in (value, right) else None if None in (value, right) else True
    return value, tokens


def _not(tokens: list[str], macros: set[str]) -> tuple[bool | None, list[str]]:
    head = tokens[0]
    if head == "not":
        value, rest = _not(tokens[1:], macros)
        return (None if value is None else not value), rest
    if head == "(":
        value, rest = _or(tokens[1:], macros)
        if rest[:1] != [")"]:
            raise ValueError("unbalanced parenthesis")
        return value, rest[1:]
    if head in ("and", "or", ")"):
        raise ValueError(f"unexpected {head!r}")
    known = head.startswith("TARGET_") or head in _HOST_OS
    return (head in macros if known else None), tokens[1:]


def summary(items: list[Drift]) -> dict[str, int]:
    counts = Counter(i.kind for i in items)
    return {k: counts.get(k, 0) for k in KINDS}


def _presence(docs: DocSet, schema: Schema) -> Iterator[Drift]:
    for kind, known in (("command", schema.commands), ("event", schema.events)):
        documented = {e.name: e for e in docs.entries.values() if e.kind == kind}
        for name in sorted(set(documented) - set(known)):
            entry = documented[name]
            cond = f" (doc condition: {entry.condition})" if entry.condition else ""
            yield Drift(
                "documented-but-absent", name, "$", f"{kind} not in the binary{cond}", entry.source
            )
        for name in sorted(set(known) - set(documented)):
            yield Drift(
                "present-but-undocumented", name, "$", f"{kind} has no documentation", docs.source
            )


def _arguments(entry: DocEntry, schema: Schema) -> Iterator[Drift]:
    if not entry.arguments:
        return  # the doc lists none, or documents them by reference to a type
    members: dict[str, Member] = {m.name: m for m in schema.arg_members(entry.name)}
    documented = {a.name: a for a in entry.arguments}
    for name in sorted(set(documented) - set(members)):
        yield Drift(
            "argument-not-in-binary",
            entry.name,
            f"$.{name}",
            "documented argument is not accepted",
            entry.source,
        )
    for name in sorted(set(members) - set(documented)):
        yield Drift(
            "argument-undocumented",
            entry.name,
            f"$.{name}",
            "argument is not documented",
            entry.source,
        )
    for name in sorted(set(members) & set(documented)):
        doc, member = documented[name], members[name]
        if doc.optional is not None and doc.optional != member.optional:
            yield Drift(
                "argument-optionality",
                entry.name,
                f"$.{name}",
                f"doc says {'optional' if doc.optional else 'required'}, "
                f"binary says {'optional' if member.optional else 'required'}",
                entry.source,
            )
        want = _DOC_JSON_TYPES.get((doc.type or "").split(" ")[0].strip().lower())
        info = schema.types.get(member.type)
        if want and isinstance(info, Builtin) and info.json_type not in (want, "value"):
            yield Drift(
                "argument-type",
                entry.name,
                f"$.{name}",
                f"doc says {doc.type}, binary says {info.name}",
                entry.source,
            )


def _example(entry: DocEntry, example: DocExample, schema: Schema) -> Iterator[Drift]:
    command = entry.name if entry.kind == "command" else None
    where = f"{entry.source.rsplit(':', 1)[0]}:{example.line}"
    for message in example.messages:
        value = message.value
        if message.status is Parse.UNPARSABLE or not isinstance(value, dict):
            continue
        # An elided reply ("...") legitimately lacks members; don't call that drift.
        elided = "ellipsis" in message.repairs
        if "execute" in value and isinstance(value["execute"], str):
            command = value["execute"]
            if command in schema.commands:
                found = validate_arguments(schema, command, value.get("arguments"))
                yield from _report("example-request", command, "$.arguments", found, elided, where)
        elif "return" in value and command in schema.commands:
            found = validate_return(schema, command, value["return"])
            yield from _report("example-reply", command, "$.return", found, elided, where)
        elif isinstance(value.get("event"), str) and value["event"] in schema.events:
            found = validate_event(schema, value["event"], value.get("data"))
            yield from _report("example-event", value["event"], "$.data", found, elided, where)


def _report(
    kind: str, name: str, base: str, found: list[Violation], elided: bool, where: str
) -> Iterator[Drift]:
    for v in found:
        if elided and v.rule == "missing-member":
            continue
        yield Drift(kind, name, v.path.replace("$", base, 1), f"{v.message} [{v.rule}]", where)
