"""blockdev-open-tray and blockdev-close-tray on the block profile's CD-ROM (cd0)."""

from __future__ import annotations

from conformance.behaviour.rule import EITHER, Event, Quiet, Rule, State, Step
from conformance.oracle.failure import qapi

OPEN = qapi(
    "qapi/block.json: blockdev-open-tray",
    "Once the tray opens, a DEVICE_TRAY_MOVED event is emitted.",
)
OPEN_NOOP = qapi(
    "qapi/block.json: blockdev-open-tray",
    "If the tray was already open before, this will be a no-op.",
)
CLOSE = qapi(
    "qapi/block.json: blockdev-close-tray",
    "Closes a block device's tray. If there is a block driver state tree associated with "
    "the block device (which is currently ejected), that tree will be loaded as the medium.",
)
CLOSE_NOOP = qapi(
    "qapi/block.json: blockdev-close-tray",
    "If the tray was already closed before, this will be a no-op.",
)
CD0 = {"id": "cd0"}
MOVED = "DEVICE_TRAY_MOVED"


def _tray(open_: bool) -> State:
    return State("query-block", {"qdev": "cd0"}, "tray_open", open_)


_ANONYMOUS: tuple[Rule, ...] = (
    Rule(
        "tray.open-emits-event",
        "opening a closed tray emits DEVICE_TRAY_MOVED with tray-open true",
        "blockdev-open-tray",
        OPEN,
        (
            Step(
                "blockdev-open-tray",
                CD0,
                events=(Event(MOVED, {"id": "cd0", "tray-open": True}, EITHER),),
                state=(_tray(True),),
            ),
        ),
        since=(2, 5, 0),
    ),
    Rule(
        "tray.open-twice-is-a-no-op",
        "opening an open tray succeeds and emits no event",
        "blockdev-open-tray",
        OPEN_NOOP,
        (
            Step("blockdev-open-tray", CD0, events=(Event(MOVED, {"tray-open": True}),)),
            Step("blockdev-open-tray", CD0, quiet=Quiet((MOVED,)), state=(_tray(True),)),
        ),
        since=(2, 5, 0),
    ),
    Rule(
        "tray.open-with-force",
        "force opens the tray of a guest that hasn't locked it, with the event",
        "blockdev-open-tray",
        OPEN,
        (
            Step(
                "blockdev-open-tray",
                {"id": "cd0", "force": True},
                events=(Event(MOVED, {"tray-open": True}),),
                state=(_tray(True),),
            ),
        ),
        since=(2, 5, 0),
    ),
    Rule(
        "tray.open-by-qom-path",
        "id also takes the device's QOM path",
        "blockdev-open-tray",
        qapi("qapi/block.json: blockdev-open-tray", "id: The name or QOM path of the guest device"),
        (
            Step(
                "blockdev-open-tray",
                {"id": "/machine/peripheral/cd0"},
                events=(Event(MOVED, {"id": "cd0", "tray-open": True}),),
                state=(_tray(True),),
            ),
        ),
        since=(2, 8, 0),
    ),
    Rule(
        "tray.close-emits-event-and-reloads-medium",
        "closing an open tray emits DEVICE_TRAY_MOVED with tray-open false; the medium is back",
        "blockdev-close-tray",
        CLOSE,
        (
            Step("blockdev-open-tray", CD0, events=(Event(MOVED, {"tray-open": True}),)),
            Step(
                "blockdev-close-tray",
                CD0,
                events=(Event(MOVED, {"id": "cd0", "tray-open": False}),),
                state=(
                    _tray(False),
                    State("query-block", {"qdev": "cd0"}, "inserted.node-name", "null0"),
                ),
            ),
        ),
        since=(2, 5, 0),
    ),
    Rule(
        "tray.close-twice-is-a-no-op",
        "closing a closed tray succeeds and emits no event",
        "blockdev-close-tray",
        CLOSE_NOOP,
        (Step("blockdev-close-tray", CD0, quiet=Quiet((MOVED,)), state=(_tray(False),)),),
        since=(2, 5, 0),
    ),
    Rule(
        "tray.open-empty-drive",
        "a tray without a medium opens and closes with the same events",
        "blockdev-open-tray",
        OPEN,
        (
            Step("blockdev-open-tray", CD0, events=(Event(MOVED, {"tray-open": True}),)),
            Step("blockdev-remove-medium", CD0),
            Step("blockdev-close-tray", CD0, events=(Event(MOVED, {"tray-open": False}),)),
            Step("blockdev-open-tray", CD0, events=(Event(MOVED, {"tray-open": True}),)),
        ),
        since=(2, 12, 0),
    ),
)

# A second CD-ROM (cd1) whose medium is a -drive, so it has a BlockBackend name (drv0):
# the deprecated `device` argument names that. The profile attaches cd1 to its CD bus.
NAMED_DRIVE = ("-drive", "if=none,id=drv0,driver=null-co,read-zeroes=on")
SECOND_CD = ("cd1", "drv0")
RULES: tuple[Rule, ...] = (
    *_ANONYMOUS,
    Rule(
        "tray.open-by-device-name",
        "the deprecated device argument names the BlockBackend; the event carries both names",
        "blockdev-open-tray",
        qapi("qapi/block.json: blockdev-open-tray", "device: Block device name"),
        (
            Step(
                "blockdev-open-tray",
                {"device": "drv0"},
                events=(Event(MOVED, {"device": "drv0", "id": "cd1", "tray-open": True}),),
            ),
        ),
        extra_args=NAMED_DRIVE,
        second_cd=SECOND_CD,
        since=(2, 5, 0),
    ),
    Rule(
        "tray.event-device-empty-without-name",
        "a device whose medium has no BlockBackend name reports device as the empty string",
        "blockdev-open-tray",
        qapi(
            "qapi/block.json: DEVICE_TRAY_MOVED",
            "device: Block device name. This is always present for compatibility reasons, but "
            'it can be empty ("") if the image does not have a device name associated.',
        ),
        (Step("blockdev-open-tray", CD0, events=(Event(MOVED, {"device": "", "id": "cd0"}),)),),
        since=(2, 8, 0),
    ),
)
