"""blockdev-remove-medium and blockdev-insert-medium on the q35 profile's CD-ROM."""

from __future__ import annotations

from conformance.behaviour.rule import Event, Quiet, Rule, State, Step
from conformance.oracle.failure import qapi

REMOVE = qapi(
    "qapi/block.json: blockdev-remove-medium",
    "That block device's tray must currently be open (unless there is no attached guest device).",
)
REMOVE_NOOP = qapi(
    "qapi/block.json: blockdev-remove-medium",
    "If the tray is open and there is no medium inserted, this will be a no-op.",
)
INSERT = qapi(
    "qapi/block.json: blockdev-insert-medium",
    "That block device's tray must currently be open (unless there is no attached guest "
    "device) and there must be no medium inserted already.",
)
CD0 = {"id": "cd0"}
OPEN = Step("blockdev-open-tray", CD0, events=(Event("DEVICE_TRAY_MOVED", {"tray-open": True}),))
NOTHING_INSERTED = State("query-block", {"qdev": "cd0"}, "inserted", absent=True)
NEW_NODE = ("blockdev-add", {"driver": "null-co", "node-name": "n1"})

CD1 = {"id": "cd1"}
# A second CD-ROM (see tray.NAMED_DRIVE) to hold a node the first one already uses.
SECOND_CDROM = (
    "-drive",
    "if=none,id=drv0,driver=null-co,read-zeroes=on",
    "-device",
    "ide-cd,id=cd1,drive=drv0,bus=ide.1",
)

RULES: tuple[Rule, ...] = (
    Rule(
        "medium.insert-node-in-use",
        "a node that is another device's medium can't be inserted",
        "blockdev-insert-medium",
        qapi(
            "qapi/block.json: blockdev-insert-medium",
            "node-name: name of a node in the block driver state graph",
        ),
        (
            OPEN,
            Step("blockdev-remove-medium", CD0),
            Step("blockdev-insert-medium", {"id": "cd0", "node-name": "n1"}),
            Step("blockdev-open-tray", CD1),
            Step("blockdev-remove-medium", CD1),
            Step(
                "blockdev-insert-medium",
                {"id": "cd1", "node-name": "n1"},
                reply="error",
                state=(State("query-block", {"qdev": "cd1"}, "inserted", absent=True),),
            ),
        ),
        setup=(NEW_NODE,),
        extra_args=SECOND_CDROM,
        since=(2, 12, 0),
    ),
    Rule(
        "medium.remove-needs-open-tray",
        "removing the medium of a closed tray is an error, and the medium stays",
        "blockdev-remove-medium",
        REMOVE,
        (
            Step(
                "blockdev-remove-medium",
                CD0,
                reply="error",
                state=(State("query-block", {"qdev": "cd0"}, "inserted.node-name", "null0"),),
            ),
        ),
        since=(2, 12, 0),
    ),
    Rule(
        "medium.remove-from-open-tray",
        "with the tray open the medium is removed, and query-block shows nothing inserted",
        "blockdev-remove-medium",
        REMOVE,
        (OPEN, Step("blockdev-remove-medium", CD0, state=(NOTHING_INSERTED,))),
        since=(2, 12, 0),
    ),
    Rule(
        "medium.remove-twice-is-a-no-op",
        "removing from an open, empty tray succeeds and changes nothing",
        "blockdev-remove-medium",
        REMOVE_NOOP,
        (
            OPEN,
            Step("blockdev-remove-medium", CD0),
            Step(
                "blockdev-remove-medium",
                CD0,
                quiet=Quiet(("DEVICE_TRAY_MOVED",)),
                state=(NOTHING_INSERTED,),
            ),
        ),
        since=(2, 12, 0),
    ),
    Rule(
        "medium.insert-into-open-empty-tray",
        "a free node goes into an open, empty tray and query-block shows it",
        "blockdev-insert-medium",
        INSERT,
        (
            OPEN,
            Step("blockdev-remove-medium", CD0),
            Step(
                "blockdev-insert-medium",
                {"id": "cd0", "node-name": "n1"},
                state=(State("query-block", {"qdev": "cd0"}, "inserted.node-name", "n1"),),
            ),
        ),
        setup=(NEW_NODE,),
        since=(2, 12, 0),
    ),
    Rule(
        "medium.insert-needs-open-tray",
        "inserting into a closed tray is an error",
        "blockdev-insert-medium",
        INSERT,
        (
            OPEN,
            Step("blockdev-remove-medium", CD0),
            Step("blockdev-close-tray", CD0),
            Step(
                "blockdev-insert-medium",
                {"id": "cd0", "node-name": "n1"},
                reply="error",
                state=(NOTHING_INSERTED,),
            ),
        ),
        setup=(NEW_NODE,),
        since=(2, 12, 0),
    ),
    Rule(
        "medium.insert-needs-empty-tray",
        "inserting while a medium is inserted is an error, and the medium stays",
        "blockdev-insert-medium",
        INSERT,
        (
            OPEN,
            Step(
                "blockdev-insert-medium",
                {"id": "cd0", "node-name": "n1"},
                reply="error",
                state=(State("query-block", {"qdev": "cd0"}, "inserted.node-name", "null0"),),
            ),
        ),
        setup=(NEW_NODE,),
        since=(2, 12, 0),
    ),
    Rule(
        "medium.insert-needs-existing-node",
        "inserting a node that doesn't exist is an error",
        "blockdev-insert-medium",
        qapi(
            "qapi/block.json: blockdev-insert-medium",
            "node-name: name of a node in the block driver state graph",
        ),
        (
            OPEN,
            Step("blockdev-remove-medium", CD0),
            Step(
                "blockdev-insert-medium",
                {"id": "cd0", "node-name": "nosuch-node"},
                reply="error",
                state=(NOTHING_INSERTED,),
            ),
        ),
        since=(2, 12, 0),
    ),
)
