"""Protocol checks: the shapes the QMP specification gives every server message.

Each function judges messages (from a session or a loaded transcript) and raises
`Failure` citing the section of docs/interop/qmp-spec that states the rule.
"""

from __future__ import annotations

from collections.abc import Mapping

from conformance.oracle.classes import id_class, output_class
from conformance.oracle.failure import Citation, Failure, FindingKind, spec
from conformance.qmp.message import Kind, Message
from conformance.qmp.wirejson import json_equal

GREETING = spec(
    "Server Greeting",
    '{ "QMP": { "version": json-object, "capabilities": json-array } }',
)
VERSION = spec(
    "Server Greeting",
    "the format is the same as for the query-version command",
)
NEGOTIATION = spec(
    "Capabilities Negotiation",
    "In this mode only the qmp_capabilities command is allowed to run; all other "
    "commands will return the CommandNotFound error.",
)
COMMAND_MODE = spec(
    "Capabilities Negotiation",
    "all commands (except qmp_capabilities) are allowed",
)
RESPONSES = spec(
    "Commands Responses",
    "the same id field will be attached in the corresponding response message",
)
SUCCESS = spec("Success", '{ "return": json-value, "id": json-value }')
ERROR = spec(
    "Error", '{ "error": { "class": json-string, "desc": json-string }, "id": json-value }'
)
EVENTS = spec(
    "Asynchronous events",
    '{ "event": json-string, "data": json-object, '
    '"timestamp": { "seconds": json-number, "microseconds": json-number } }',
)
ENVELOPE = spec(
    "Issuing Commands",
    '{ "execute": json-string, "arguments": json-object, "id": json-value }',
)
OOB = spec(
    "Out-of-band execution",
    "Only a few commands support out-of-band execution. The ones that do have "
    '"allow-oob": true in the output of query-qmp-schema.',
)
OOB_CAPABILITY = spec(
    "Capabilities",
    'the QMP server supports "out-of-band" (OOB) command execution',
)
PIPELINING = spec(
    "Out-of-band execution",
    "the client should have at most eight in-band commands in flight",
)
MAX_IN_FLIGHT = 8
FRAMING = spec(
    "General Definitions",
    "All interactions transmitted by the Server are json-objects, always terminating with CRLF.",
)


def _fail(
    check: str,
    citation: Citation,
    message: str,
    path: str | None = None,
    facets: dict[str, str] | None = None,
) -> Failure:
    return Failure(check, citation, message, kind=FindingKind.PROTOCOL, path=path, facets=facets)


def check_well_formed(message: Message) -> None:
    """Every server message is one strict-JSON object, of a known kind, ending in CRLF."""
    if not message.problems:
        return
    check = "output.kind" if message.kind is Kind.UNKNOWN else "output.strict-json"
    raise _fail(
        check,
        FRAMING,
        f"{'; '.join(message.problems)}: {message.raw[:200]!r}",
        facets={"output": output_class(message.problems, message.raw)},
    )


def check_greeting(message: Message) -> None:
    """The greeting has QMP.version.qemu{major,minor,micro}, package and capabilities."""
    check_well_formed(message)
    value = message.value
    qmp = value.get("QMP") if isinstance(value, dict) else None
    if message.kind is not Kind.GREETING or not isinstance(qmp, dict):
        raise _fail("greeting.shape", GREETING, "first message is not a greeting", "$")
    caps = qmp.get("capabilities")
    if not isinstance(caps, list) or not all(isinstance(c, str) for c in caps):
        raise _fail(
            "greeting.shape",
            GREETING,
            "capabilities is not an array of strings",
            "$.QMP.capabilities",
        )
    _check_version(qmp.get("version"), "$.QMP.version")


def _check_version(version: object, path: str) -> None:
    if not isinstance(version, dict):
        raise _fail("greeting.version", VERSION, "version is not an object", path)
    qemu = version.get("qemu")
    if not isinstance(qemu, dict):
        raise _fail("greeting.version", VERSION, "version.qemu is not an object", f"{path}.qemu")
    for part in ("major", "minor", "micro"):
        v = qemu.get(part)
        if not isinstance(v, int) or isinstance(v, bool):
            raise _fail(
                "greeting.version", VERSION, f"{part} is not an integer", f"{path}.qemu.{part}"
            )
    if not isinstance(version.get("package"), str):
        raise _fail("greeting.version", VERSION, "package is not a string", f"{path}.package")


def check_greeting_version(greeting: Message, query_version: object) -> None:
    """The greeting's version equals what query-version returns."""
    g = greeting.value
    version = (
        g["QMP"].get("version") if isinstance(g, dict) and isinstance(g.get("QMP"), dict) else None
    )
    if not json_equal(version, query_version):
        raise _fail(
            "greeting.version-matches",
            VERSION,
            f"greeting version {version!r} differs from query-version {query_version!r}",
            "$.QMP.version",
        )


def check_error_class(reply: Message, expected: str | None, citation: Citation, check: str) -> None:
    """The reply is an error of class `expected` (of any class when None)."""
    if reply.kind is not Kind.ERROR:
        raise _fail(check, citation, f"expected {expected or 'an'} error, got {reply.raw[:200]!r}")
    if expected is not None and reply.error_class != expected:
        raise _fail(
            check,
            citation,
            f"expected error class {expected}, got {reply.error_class}",
            "$.error.class",
        )


def check_id_echo(reply: Message, sent_id: object, *, sent: bool = True) -> None:
    """A reply carries the id of its request (equal as a JSON value), or none if none was sent."""
    if not sent:
        if reply.has_id:
            raise _fail(
                "ids.absent",
                RESPONSES,
                f"reply carries id {reply.id!r} but none was sent",
                "$.id",
                {"id": id_class(reply.id)},
            )
        return
    facets = {"id": id_class(sent_id)}
    if not reply.has_id:
        raise _fail("ids.echo", RESPONSES, f"reply lacks the id {sent_id!r}", "$.id", facets)
    if not json_equal(reply.id, sent_id):
        raise _fail(
            "ids.echo", RESPONSES, f"id {reply.id!r} differs from sent {sent_id!r}", "$.id", facets
        )


def check_reply_shape(reply: Message) -> None:
    """A success reply has `return`; an error reply has error.class and error.desc strings."""
    check_well_formed(reply)
    if reply.kind not in (Kind.RETURN, Kind.ERROR):
        raise _fail("reply.shape", SUCCESS, f"not a reply: {reply.raw[:200]!r}")
    value = reply.value
    if not isinstance(value, dict):
        raise _fail("reply.shape", SUCCESS, "reply is not an object")
    allowed = {"return", "id"} if reply.kind is Kind.RETURN else {"error", "id"}
    extra = sorted(set(value) - allowed)
    if extra:
        citation = SUCCESS if reply.kind is Kind.RETURN else ERROR
        raise _fail("reply.shape", citation, f"unexpected members {extra}", f"$.{extra[0]}")
    if reply.kind is Kind.ERROR:
        error = value.get("error")
        if not isinstance(error, dict):
            raise _fail("reply.shape", ERROR, "error is not an object", "$.error")
        for member in ("class", "desc"):
            if not isinstance(error.get(member), str):
                raise _fail(
                    "reply.shape", ERROR, f"error.{member} is not a string", f"$.error.{member}"
                )


def check_event_shape(event: Message) -> None:
    """An event has a name, an optional object `data` and a timestamp with microseconds < 10^6."""
    check_well_formed(event)
    value = event.value
    if not isinstance(value, dict) or not isinstance(value.get("event"), str):
        raise _fail("events.shape", EVENTS, "event name is not a string", "$.event")
    extra = sorted(set(value) - {"event", "data", "timestamp"})
    if extra:
        raise _fail("events.shape", EVENTS, f"unexpected members {extra}", f"$.{extra[0]}")
    if "data" in value and not isinstance(value["data"], dict):
        raise _fail("events.shape", EVENTS, "data is not an object", "$.data")
    ts = value.get("timestamp")
    if not isinstance(ts, Mapping):
        raise _fail("events.shape", EVENTS, "timestamp is missing", "$.timestamp")
    sec, usec = ts.get("seconds"), ts.get("microseconds")
    for name, v in (("seconds", sec), ("microseconds", usec)):
        if not isinstance(v, int) or isinstance(v, bool):
            raise _fail(
                "events.shape", EVENTS, f"timestamp.{name} is not an integer", f"$.timestamp.{name}"
            )
    assert isinstance(sec, int)
    assert isinstance(usec, int)
    failed_clock = sec == -1 and usec == -1
    if not failed_clock and not (0 <= usec < 1_000_000 and sec >= 0):
        raise _fail(
            "events.timestamp",
            EVENTS,
            f"timestamp out of range: seconds={sec}, microseconds={usec}",
            "$.timestamp",
        )
