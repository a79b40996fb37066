"""blockdev-change-medium with an image created in the workdir, the tray events in
order, format and read-only-mode."""

from __future__ import annotations

from conformance.behaviour.rule import EITHER, Event, Rule, State, Step
from conformance.oracle.failure import qapi

CHANGE = qapi(
    "qapi/block.json: blockdev-change-medium",
    "Changes the medium inserted into a block device by ejecting the current medium and "
    "loading a new image file which is inserted as the new medium (this command combines "
    "blockdev-open-tray, blockdev-remove-medium, blockdev-insert-medium and "
    "blockdev-close-tray).",
)
MODES = {
    "retain": qapi(
        "qapi/block.json: BlockdevChangeReadOnlyMode", "retain: Retains the current read-only mode"
    ),
    "read-only": qapi(
        "qapi/block.json: BlockdevChangeReadOnlyMode", "read-only: Makes the device read-only"
    ),
    "read-write": qapi(
        "qapi/block.json: BlockdevChangeReadOnlyMode", "read-write: Makes the device writable"
    ),
}
# A 1 MiB raw image in the workdir (QEMU's cwd), made by a blockdev-create job.
IMAGE = (
    Step(
        "blockdev-create",
        {"job-id": "c1", "options": {"driver": "file", "filename": "m.raw", "size": 1048576}},
        events=(Event("JOB_STATUS_CHANGE", {"id": "c1", "status": "concluded"}, EITHER),),
    ),
    Step("job-dismiss", {"id": "c1"}),
)
OPENED = Event("DEVICE_TRAY_MOVED", {"id": "cd0", "tray-open": True})
CLOSED = Event("DEVICE_TRAY_MOVED", {"id": "cd0", "tray-open": False})


def _inserted(path: str, value: object) -> State:
    return State("query-block", {"qdev": "cd0"}, f"inserted.{path}", value)


RULES: tuple[Rule, ...] = (
    Rule(
        "change-medium.events-and-file",
        "the tray opens and closes, in that order, and query-block shows the new file",
        "blockdev-change-medium",
        CHANGE,
        (
            Step(
                "blockdev-change-medium",
                {"id": "cd0", "filename": "m.raw", "format": "raw"},
                events=(OPENED, CLOSED),
                ordered=True,
                state=(
                    _inserted("file", "m.raw"),
                    _inserted("drv", "raw"),
                    State("query-block", {"qdev": "cd0"}, "tray_open", False),
                ),
            ),
        ),
        setup=IMAGE,
        since=(2, 8, 0),
    ),
    *(
        Rule(
            f"change-medium.read-only-mode-{mode}",
            f"read-only-mode {mode} gives the new medium ro={ro}",
            "blockdev-change-medium",
            MODES[mode],
            (
                Step(
                    "blockdev-change-medium",
                    {"id": "cd0", "filename": "m.raw", "format": "raw", "read-only-mode": mode},
                    state=(_inserted("ro", ro),),
                ),
            ),
            setup=IMAGE,
            since=(2, 8, 0),
        )
        # The profile's medium is writable (ro false), so retain keeps it writable.
        for mode, ro in (("retain", False), ("read-only", True), ("read-write", False))
    ),
)
