"""blockdev-add, blockdev-del (x-blockdev-del in 2.5) and blockdev-snapshot."""

from __future__ import annotations

from conformance.behaviour.rule import EITHER, Event, Rule, State, Step
from conformance.machine.profiles import TRAY
from conformance.oracle.failure import qapi

DEL = qapi(
    "qapi/block-core.json: blockdev-del",
    "Deletes a block device that has been added using blockdev-add. The command will fail "
    "if the node is attached to a device or is otherwise being used.",
)
ADD = qapi("qapi/block-core.json: blockdev-add", "Creates a new block device.")
SNAPSHOT = qapi(
    "qapi/block-core.json: blockdev-snapshot",
    "Take a snapshot, by installing 'node' as the backing image of 'overlay'. Additionally, "
    "if 'node' is associated with a block device, the block device changes to using "
    "'overlay' as its new active image.",
)
NULL = {"driver": "null-co", "node-name": "n1", "size": 1048576}
NODES = "query-named-block-nodes"


def _created(job: str) -> Event:
    return Event("JOB_STATUS_CHANGE", {"id": job, "status": "concluded"}, EITHER)


# An empty qcow2 overlay in the workdir (QEMU's cwd): a file created by a job, opened,
# formatted by a second job and opened as qcow2 without a backing file.
OVERLAY_SETUP = (
    Step(
        "blockdev-create",
        {"job-id": "c1", "options": {"driver": "file", "filename": "ov.qcow2", "size": 0}},
        events=(_created("c1"),),
    ),
    Step("job-dismiss", {"id": "c1"}),
    Step("blockdev-add", {"driver": "file", "filename": "ov.qcow2", "node-name": "ovf"}),
    Step(
        "blockdev-create",
        {"job-id": "c2", "options": {"driver": "qcow2", "file": "ovf", "size": 1073741824}},
        events=(_created("c2"),),
    ),
    Step("job-dismiss", {"id": "c2"}),
    Step("blockdev-add", {"driver": "qcow2", "node-name": "ov", "file": "ovf", "backing": None}),
)

RULES: tuple[Rule, ...] = (
    Rule(
        "blockdev-add.then-del",
        "a node added with blockdev-add is listed, and gone after blockdev-del",
        "blockdev-del",
        DEL,
        (
            Step(
                "blockdev-add", NULL, state=(State(NODES, {"node-name": "n1"}, "drv", "null-co"),)
            ),
            Step("blockdev-del", {"node-name": "n1"}),
            Step("blockdev-add", NULL),  # the name is free again
        ),
        since=(2, 9, 0),
    ),
    Rule(
        "blockdev-del.in-use",
        "deleting a node attached to a device is an error, and the node stays",
        "blockdev-del",
        DEL,
        (
            Step(
                "blockdev-del",
                {"node-name": "null0"},
                reply="error",
                state=(State(NODES, {"node-name": "null0"}, "drv", "null-co"),),
            ),
        ),
        since=(2, 9, 0),
        needs=frozenset({TRAY}),  # null0 is attached to the block profile's CD-ROM
    ),
    Rule(
        "blockdev-add.unique-names",
        "a second node with the same node-name is refused",
        "blockdev-add",
        ADD,
        (Step("blockdev-add", NULL), Step("blockdev-add", NULL, reply="error")),
        since=(2, 9, 0),
    ),
    Rule(
        "blockdev-add.x-blockdev-del",
        "x-blockdev-del was the 2.5 name of blockdev-del",
        "x-blockdev-del",
        qapi("qapi/block-core.json: x-blockdev-del (2.5-2.8)", "Deletes a block device"),
        (Step("blockdev-add", NULL), Step("x-blockdev-del", {"node-name": "n1"})),
        since=(2, 5, 0),
        until=(2, 9, 0),
    ),
    Rule(
        "blockdev-snapshot.overlay",
        "the overlay gets node as its backing file and becomes the device's active image",
        "blockdev-snapshot",
        SNAPSHOT,
        (
            Step(
                "blockdev-snapshot",
                {"node": "null0", "overlay": "ov"},
                state=(
                    State("query-block", {"qdev": "cd0"}, "inserted.node-name", "ov"),
                    State(NODES, {"node-name": "ov"}, "backing_file_depth", 1),
                ),
            ),
        ),
        setup=OVERLAY_SETUP,
        since=(2, 5, 0),
    ),
    Rule(
        "blockdev-snapshot.overlay-with-backing",
        "an overlay that already has a backing file is refused",
        "blockdev-snapshot",
        SNAPSHOT,
        (
            Step("blockdev-snapshot", {"node": "null0", "overlay": "ov"}),
            Step("blockdev-add", NULL),
            Step("blockdev-snapshot", {"node": "n1", "overlay": "ov"}, reply="error"),
        ),
        setup=OVERLAY_SETUP,
        since=(2, 5, 0),
    ),
)
