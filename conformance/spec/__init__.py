"""The QMP schema as QEMU introspects it, and a validator for JSON values against it.

:class:`Schema` models a ``query-qmp-schema`` reply (load one with
:func:`load_schema_file` or :func:`schema_from_reply`); :func:`validate` and its
command/event variants report :class:`Violation` s of that schema. Malformed schemas,
schema files and unknown names raise :class:`SchemaError`.
"""

from conformance.spec.errors import SchemaError
from conformance.spec.introspect import load_schema_file, read_schema_document, schema_from_reply
from conformance.spec.model import (
    AlternateType,
    ArrayType,
    Builtin,
    Command,
    EnumType,
    Event,
    Member,
    ObjectType,
    Resolved,
    Schema,
    TypeInfo,
    Variant,
)
from conformance.spec.validate import (
    OPEN_ENDED_ARGUMENTS,
    RULES,
    Violation,
    validate,
    validate_arguments,
    validate_event,
    validate_return,
)

__all__ = [
    "OPEN_ENDED_ARGUMENTS",
    "RULES",
    "AlternateType",
    "ArrayType",
    "Builtin",
    "Command",
    "EnumType",
    "Event",
    "Member",
    "ObjectType",
    "Resolved",
    "Schema",
    "SchemaError",
    "TypeInfo",
    "Variant",
    "Violation",
    "load_schema_file",
    "read_schema_document",
    "schema_from_reply",
    "validate",
    "validate_arguments",
    "validate_event",
    "validate_return",
]
