"""Schema checks: replies and events must have the shape the binary's own schema gives.

The schema is the oracle of shape (ARCHITECTURE.md): a return is validated against the
command's ret-type and an event's data against the event's arg-type, both from the
`query-qmp-schema` of the binary under test.
"""

from __future__ import annotations

from conformance.oracle.failure import Failure, FindingKind, qapi
from conformance.qmp.message import Kind, Message
from conformance.spec import Schema, Violation, validate_event, validate_return


def check_return(schema: Schema, command: str, reply: Message) -> None:
    """A success reply's `return` validates against the command's ret-type."""
    if reply.kind is not Kind.RETURN or not isinstance(reply.value, dict):
        return
    violations = validate_return(schema, command, reply.value.get("return"))
    if violations:
        v = violations[0]
        raise Failure(
            f"schema.return.{v.rule}",
            qapi(f"{command} (Returns), as introspected by query-qmp-schema"),
            f"{v.message}" + (f" (+{len(violations) - 1} more)" if len(violations) > 1 else ""),
            kind=FindingKind.SCHEMA,
            path=v.path.replace("$", "$.return", 1),
            command=command,
            details=_details(violations, "$.return"),
        )


def check_event(schema: Schema, event: Message) -> None:
    """An event is known to the schema and its data validates against the event's type."""
    name = event.event_name
    value = event.value
    if name is None or not isinstance(value, dict):
        return
    if name not in schema.events:
        raise Failure(
            "schema.event.unknown",
            qapi(name, "events are introspected by query-qmp-schema"),
            f"event {name} is not in the binary's schema",
            kind=FindingKind.SCHEMA,
            path="$.event",
            command=name,
        )
    violations = validate_event(schema, name, value.get("data"))
    if violations:
        v = violations[0]
        raise Failure(
            f"schema.event.{v.rule}",
            qapi(f"{name} (Event), as introspected by query-qmp-schema"),
            v.message + (f" (+{len(violations) - 1} more)" if len(violations) > 1 else ""),
            kind=FindingKind.SCHEMA,
            path=v.path.replace("$", "$.data", 1),
            command=name,
            details=_details(violations, "$.data"),
        )


def _details(violations: list[Violation], root: str) -> tuple[str, ...]:
    """Every violation, its path rooted in the message (``$.return…``, ``$.data…``)."""
    return tuple(
        str(Violation(v.path.replace("$", root, 1), v.rule, v.message)) for v in violations
    )
