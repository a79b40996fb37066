"""Putting documented examples onto a machine profile: names mapped, state set up.

A doc example names objects of the machine its author had: `ide-hd0`, `drive0`,
`virtio0`. To replay it, references to such objects are mapped onto the objects the
profile has (its `names`, by the pool kind `strategies.pools.MEMBER_POOLS` gives each
member), and the objects the example assumes but doesn't create (a bitmap it removes,
a chardev it writes to) are created first by a setup from `SETUP`.

Names an example *creates* are never mapped: a request of an adding command
(`blockdev-add`, `object-add`, `chardev-add` …) is sent as written, and later requests
naming what it created keep those names.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from conformance.machine.profiles import Profile
from conformance.spec.minimal import Chooser, is_string
from conformance.spec.model import Member, Schema
from strategies.pools import MEMBER_POOLS

# Members that name an existing node: always mapped.
NODE_REFERENCES = ("node", "node-name")
# Members that name a device in block and device commands, but a chardev, a job, an
# announce timer or an object elsewhere: mapped only when the doc's description of the
# argument says it is a device, drive or node.
DEVICE_REFERENCES = ("device", "id")
_DEVICE_WORDS = re.compile(r"\b(?:device|drive|node|block ?backend|disk)\b", re.I)
CREATING = re.compile(r"(?:^|[-_])add$")
CREATED_MEMBERS = ("id", "node-name")  # what an adding command names its new object
# Which of the profile's objects a member refers to, most useful first: block commands
# that take `device` mostly accept a node name there too, and the profile's ide-cd has
# no named BlockBackend.
PREFERRED = {"device": ("node-name", "device-id")}


def profile_value(profile: Profile, member: str) -> str | None:
    """The profile's object a member called `member` would refer to, if it has one."""
    for kind in PREFERRED.get(member, MEMBER_POOLS.get(member, ())):
        if kind in profile.names:
            return profile.names[kind]
    return None


def profile_chooser(profile: Profile, command: str, schema: Schema) -> Chooser:
    """For `minimal`: the profile's objects for the command's own reference arguments.

    Nested members are left to their types: a `path` inside a socket address is not
    a QOM path. The name an adding command gives its new object is never an existing
    one's.
    """
    top = set(schema.arg_members(command))
    creating = CREATING.search(command)

    def choose(member: Member) -> object | None:
        if member not in top or (creating and member.name in CREATED_MEMBERS):
            return None
        if not is_string(schema, member.type):
            return None
        return profile_value(profile, member.name)

    return choose


def created_names(command: str, arguments: object) -> set[str]:
    """The names a request of an adding command creates."""
    if not CREATING.search(command) or not isinstance(arguments, dict):
        return set()
    return {v for k, v in arguments.items() if k in CREATED_MEMBERS and isinstance(v, str)}


def map_arguments(
    profile: Profile,
    command: str,
    arguments: object,
    created: set[str],
    described: Mapping[str, str],
) -> object:
    """`arguments` with references to the author's objects mapped onto the profile's.

    `created` are names the example (or its setup) creates itself; `described` is the
    doc's description of each argument.
    """
    if not isinstance(arguments, dict):
        return arguments
    creating = CREATING.search(command)
    out = dict(arguments)
    for member, value in arguments.items():
        if not isinstance(value, str) or value in created:
            continue
        if creating and member in CREATED_MEMBERS:
            continue
        if member in NODE_REFERENCES or (
            member in DEVICE_REFERENCES and _DEVICE_WORDS.search(described.get(member, ""))
        ):
            mapped = profile_value(profile, member)
            if mapped is not None:
                out[member] = mapped
    return out


@dataclass(frozen=True, slots=True)
class Step:
    """A setup request; `$member` strings take the example's (mapped) argument."""

    command: str
    arguments: Mapping[str, object]
    event: str | None = None  # an event the step causes, awaited before going on


_RINGBUF = {"type": "ringbuf", "data": {}}

#: The state an example of a command assumes before its first request, by command.
SETUP: Mapping[str, tuple[Step, ...]] = {
    # Closing a tray needs it open, which the profile's CD-ROM isn't.
    "blockdev-close-tray": (Step("blockdev-open-tray", {"id": "$id"}, "DEVICE_TRAY_MOVED"),),
    **{
        command: (Step("block-dirty-bitmap-add", {"node": "$node", "name": "$name"}),)
        for command in (
            "block-dirty-bitmap-remove",
            "block-dirty-bitmap-clear",
            "block-dirty-bitmap-enable",
            "block-dirty-bitmap-disable",
        )
    },
    "block-dirty-bitmap-merge": (
        Step("block-dirty-bitmap-add", {"node": "$node", "name": "$target"}),
        Step("block-dirty-bitmap-add", {"node": "$node", "name": "$bitmaps[0]"}),
    ),
    "chardev-remove": (Step("chardev-add", {"id": "$id", "backend": _RINGBUF}),),
    "chardev-send-break": (Step("chardev-add", {"id": "$id", "backend": _RINGBUF}),),
    "ringbuf-write": (Step("chardev-add", {"id": "$device", "backend": _RINGBUF}),),
    "ringbuf-read": (
        Step("chardev-add", {"id": "$device", "backend": _RINGBUF}),
        # The example reads back what its sibling example wrote.
        Step("ringbuf-write", {"device": "$device", "data": "abcdefgh"}),
    ),
    "object-del": (Step("object-add", {"qom-type": "iothread", "id": "$id"}),),
    "netdev_del": (Step("netdev_add", {"type": "user", "id": "$id"}),),
}


def setup_steps(command: str, arguments: object) -> list[tuple[str, dict[str, object], str | None]]:
    """The setup for an example whose first request is `command` with `arguments`.

    Raises KeyError when a step refers to a member the example's request lacks.
    """
    given = arguments if isinstance(arguments, dict) else {}
    return [
        (step.command, {k: _fill(v, given) for k, v in step.arguments.items()}, step.event)
        for step in SETUP.get(command, ())
    ]


def _fill(template: object, given: Mapping[str, object]) -> object:
    if not (isinstance(template, str) and template.startswith("$")):
        return template
    member, _, index = template[1:].partition("[")
    value = given[member]
    if index:
        assert isinstance(value, Sequence)
        value = value[int(index.rstrip("]"))]
    return value
