"""blockdev-remove-medium and blockdev-insert-medium on the block profile's CD-ROM."""

from __future__ import annotations

from conformance.behaviour.rule import Event, Quiet, Rule, State, Step
from conformance.behaviour.rules.tray import NAMED_DRIVE, SECOND_CD
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
# The tray open and the drive empty: where a medium may be inserted.
EMPTIED = (OPEN, Step("blockdev-remove-medium", CD0))
NODE = qapi(
    "qapi/block.json: blockdev-insert-medium",
    "node-name: name of a node in the block driver state graph",
)


def _medium(qdev: str, node: str) -> State:
    return State("query-block", {"qdev": qdev}, "inserted.node-name", node)


def _insert(node: str, reply: str = "return", *state: State, into: str = "cd0") -> Step:
    return Step("blockdev-insert-medium", {"id": into, "node-name": node}, reply=reply, state=state)


RULES: tuple[Rule, ...] = (
    Rule(
        "medium.insert-node-in-use",
        "a node that is another device's medium can't be inserted",
        "blockdev-insert-medium",
        NODE,
        (
            *EMPTIED,
            _insert("n1"),
            Step("blockdev-open-tray", CD1),
            Step("blockdev-remove-medium", CD1),
            _insert(
                "n1",
                "error",
                State("query-block", {"qdev": "cd1"}, "inserted", absent=True),
                into="cd1",
            ),
        ),
        setup=(NEW_NODE,),
        # A second CD-ROM, to hold a node the first one already uses.
        extra_args=NAMED_DRIVE,
        second_cd=SECOND_CD,
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
                state=(_medium("cd0", "null0"),),
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
            *EMPTIED,
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
        (*EMPTIED, _insert("n1", "return", _medium("cd0", "n1"))),
        setup=(NEW_NODE,),
        since=(2, 12, 0),
    ),
    Rule(
        "medium.insert-needs-open-tray",
        "inserting into a closed tray is an error",
        "blockdev-insert-medium",
        INSERT,
        (*EMPTIED, Step("blockdev-close-tray", CD0), _insert("n1", "error", NOTHING_INSERTED)),
        setup=(NEW_NODE,),
        since=(2, 12, 0),
    ),
    Rule(
        "medium.insert-needs-empty-tray",
        "inserting while a medium is inserted is an error, and the medium stays",
        "blockdev-insert-medium",
        INSERT,
        (OPEN, _insert("n1", "error", _medium("cd0", "null0"))),
        setup=(NEW_NODE,),
        since=(2, 12, 0),
    ),
    Rule(
        "medium.insert-needs-existing-node",
        "inserting a node that doesn't exist is an error",
        "blockdev-insert-medium",
        NODE,
        (
            *EMPTIED,
            _insert("nosuch-node", "error", NOTHING_INSERTED),
        ),
        since=(2, 12, 0),
    ),
)
