"""How QEMU's argument parsing answers: valid arguments pass it, malformed ones fail it
with GenericError.

Arguments reach a command through QEMU's QObject input visitor, generated from the same
QAPI schema that `query-qmp-schema` reports. So arguments valid by that schema must
never be refused with the visitor's own type errors (`check_not_refused_as_invalid`),
and arguments that break it are refused with the class qmp-test and qmp-cmd-test pin,
GenericError (`check_refused_as_malformed`).
"""

from __future__ import annotations

import re

from conformance.oracle.failure import Failure, FindingKind, qemu_tests, spec
from conformance.qmp.message import Kind, Message
from conformance.spec import Builtin, ObjectType, Schema

TYPE_CHECK = spec(
    "Compatibility Considerations",
    "The QMP Server performs a type check on the arguments to a command. It generates an "
    "error if a value does not have the expected type for its key, or if it does not "
    "understand a key that the Client included.",
)
# qmp-test's test_malformed sends each broken envelope and argument object and expects
# `qmp_expect_error_and_unref(resp, "GenericError")`; qmp-cmd-test's object-add failure
# modes do the same for a wrong-typed or unknown property.
MALFORMED_CLASS = qemu_tests(
    "tests/qtest/qmp-test.c: test_malformed",
    "/* \"arguments\" isn't a dictionary */ resp = qtest_qmp(qts, \"{ 'execute': "
    "'no-such-cmd', 'arguments': [] }\"); qmp_expect_error_and_unref(resp, \"GenericError\");",
)

# The errors qapi/qobject-input-visitor.c and qapi/qapi-visit-core.c raise while reading
# arguments into the generated C types (the same texts in QEMU 7.2 and 10.0): a member
# of the wrong JSON type, a required member absent, a member it doesn't know, an enum
# string outside the enum. A handler's own semantic errors ("Parameter 'x' expects ...")
# are left out: they judge values, not types. The type error's last word tells the
# visitor's from QOM's: the visitor names a JSON type, and a generated alternate visitor
# its QAPI type (``expected: StrOrNull``, CamelCase), while object_resolve_link in
# qom/object.c uses the same text for a link to an object of the wrong QOM class
# (``'prealloc-context', expected: thread-context``): a reference that resolved to the
# wrong object, not a value of the wrong type.
VISITOR_ERRORS = re.compile(
    r"^(?:Invalid parameter type for '[^']*', expected: "
    r"(?:object|array|integer|number|boolean|string|null|[A-Z][A-Za-z0-9]*)$"
    r"|Parameter '[^']*' is missing$"
    r"|Parameter '[^']*' is unexpected$"
    r"|Parameter '[^']*' does not accept value )"
)


def visitor_refusal(reply: Message) -> str | None:
    """The desc of `reply` when it is one of the input visitor's type errors, else None."""
    if reply.kind is not Kind.ERROR or not isinstance(reply.value, dict):
        return None
    error = reply.value.get("error")
    desc = error.get("desc") if isinstance(error, dict) else None
    if isinstance(desc, str) and VISITOR_ERRORS.match(desc):
        return desc
    return None


# QAPI's integer types int8..int64 and uint8..uint64 are all introspected as "int"
# (qapi/introspect.json, JSONType: "@int: JSON number that is an integer"), so a schema-
# valid integer can lie outside the member's C type. The visitor refuses an integer past
# int64 for a signed member with its type error ("expected: integer"): the range check
# the introspection can't show, not a disagreement.
_RANGE = re.compile(r"^Invalid parameter type for '[^']*', expected: integer$")
_MISSING = re.compile(r"^Parameter '([^']*)' is missing$")
_INT64 = range(-(2**63), 2**63)
# The input visitor takes any value for an 'any' member; a type error naming one comes
# from the handler, which narrows it to what the member's documentation says
# (query-cpu-model-expansion's CpuModelInfo @props: "a dictionary of QOM properties to be
# applied", refused as "Invalid parameter type for 'model.props', expected: object").
_TYPED = re.compile(r"^Invalid parameter type for '([^']*)', expected")


def _any_members(schema: Schema, command: str) -> frozenset[str]:
    """The names of the members of type 'any' anywhere in `command`'s arguments."""
    return frozenset(
        member.name
        for _, info in schema.reachable(schema.command(command).arg_type)
        if isinstance(info, ObjectType)
        for member in info.members
        if _is_any(schema, member.type)
    )


def _is_any(schema: Schema, name: str) -> bool:
    info = schema.type(name)
    return isinstance(info, Builtin) and info.json_type == "value"


def _past_int64(value: object) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return value not in _INT64
    if isinstance(value, dict):
        return any(_past_int64(item) for item in value.values())
    if isinstance(value, list):
        return any(_past_int64(item) for item in value)
    return False


def check_not_refused_as_invalid(
    reply: Message, schema: Schema, command: str, arguments: object
) -> None:
    """Arguments valid by the binary's schema are not refused with a visitor type error.

    Three refusals in the visitor's words are not the visitor's: an integer past int64
    (see `_RANGE`), a type error naming an 'any' member (see `_TYPED`), and "Parameter
    'x' is missing" for an optional argument, which only a handler raises, for members
    its documentation ties together (dump-guest-memory's @length: "If you don't want to
    dump all guest's memory, please specify the start @begin and @length")."""
    desc = visitor_refusal(reply)
    if desc is None:
        return
    if _RANGE.match(desc) and _past_int64(arguments):
        return
    missing = _MISSING.match(desc)
    if missing:
        arg_type = schema.object_type(schema.command(command).arg_type)
        if any(m.name == missing.group(1) and m.optional for m in arg_type.members):
            return
    typed = _TYPED.match(desc)
    if typed and typed.group(1).rsplit(".", 1)[-1] in _any_members(schema, command):
        return
    raise Failure(
        "arguments.visitor-refused",
        TYPE_CHECK,
        f"schema-valid arguments were refused by the input visitor: {desc!r}",
        kind=FindingKind.VISITOR,
        command=command,
    )


def check_refused_as_malformed(reply: Message, rule: str, path: str, command: str) -> None:
    """Arguments breaking one schema rule get an error, of class GenericError."""
    if reply.kind is not Kind.ERROR:
        raise Failure(
            f"malformed.{rule}.accepted",
            TYPE_CHECK,
            f"arguments breaking {rule} at {path} were accepted",
            kind=FindingKind.PROTOCOL,
            path=path,
            command=command,
        )
    if reply.error_class != "GenericError":
        raise Failure(
            f"malformed.{rule}.class",
            MALFORMED_CLASS,
            f"arguments breaking {rule} at {path} got error class {reply.error_class}, "
            "not GenericError",
            kind=FindingKind.PROTOCOL,
            path="$.error.class",
            command=command,
        )
