"""device_del: by id, by QOM path, of anonymous devices, twice, and of a device that
can't be unplugged. USB devices unplug without guest cooperation, so DEVICE_DELETED
comes on a machine that runs no guest code (-S)."""

from __future__ import annotations

from collections.abc import Mapping

from conformance.behaviour.rule import EITHER, Event, Rule, Step
from conformance.machine.profiles import FIXED_CD, USB
from conformance.oracle.failure import Citation, qapi
from conformance.oracle.jobs import Version

DELETED = qapi(
    "qapi/qdev.json: device_del",
    "Completion of the device removal process is signaled with a DEVICE_DELETED event.",
)
DELETED_DATA = qapi(
    "qapi/qdev.json: DEVICE_DELETED",
    "device: the device's ID if it has one; path: the device's QOM path",
)
BY_PATH = qapi("qapi/qdev.json: device_del", "id: the device's ID or QOM path")
XHCI = ("-device", "qemu-xhci,id=xhci")
KBD = ("device_add", {"driver": "usb-kbd", "id": "kbd0", "bus": "xhci.0"})
ANON = ("device_add", {"driver": "usb-kbd", "bus": "xhci.0"})
GONE = Event("DEVICE_DELETED", {"device": "kbd0", "path": "/machine/peripheral/kbd0"}, EITHER)


def _usb(
    rule_id: str,
    title: str,
    citation: Citation,
    steps: tuple[Step, ...],
    since: Version,
    setup: tuple[str, Mapping[str, object]] = KBD,
) -> Rule:
    """A rule about a USB keyboard added to the xhci controller before its steps."""
    return Rule(
        rule_id,
        title,
        "device_del",
        citation,
        steps,
        setup=(setup,),
        extra_args=XHCI,
        needs=frozenset({USB}),
        since=since,
    )


RULES: tuple[Rule, ...] = (
    _usb(
        "device-del.by-id",
        "deleting by id emits DEVICE_DELETED with the id and the QOM path",
        DELETED_DATA,
        (Step("device_del", {"id": "kbd0"}, events=(GONE,)),),
        since=(1, 5, 0),
    ),
    _usb(
        "device-del.by-qom-path",
        "deleting by /machine/peripheral/ID emits the same DEVICE_DELETED",
        BY_PATH,
        (Step("device_del", {"id": "/machine/peripheral/kbd0"}, events=(GONE,)),),
        since=(2, 5, 0),
    ),
    _usb(
        "device-del.anonymous",
        "an anonymous device is deleted by /machine/peripheral-anon/device[N], with its path",
        BY_PATH,
        (
            Step(
                "device_del",
                {"id": "/machine/peripheral-anon/device[0]"},
                events=(Event("DEVICE_DELETED", {"path": "/machine/peripheral-anon/device[0]"}),),
            ),
        ),
        since=(2, 5, 0),
        setup=ANON,
    ),
    _usb(
        "device-del.twice",
        "deleting a deleted device gets DeviceNotFound",
        qapi("qapi/qdev.json: device_del", "If @id is not a valid device, DeviceNotFound"),
        (
            Step("device_del", {"id": "kbd0"}, events=(GONE,)),
            Step("device_del", {"id": "kbd0"}, reply="DeviceNotFound"),
        ),
        since=(0, 14, 0),
    ),
    Rule(
        "device-del.not-hot-unpluggable",
        "a device on a bus without hotplug (the ide-cd) can't be deleted: an error",
        "device_del",
        DELETED,
        (Step("device_del", {"id": "cd0"}, reply="error"),),
        # A SCSI bus takes hot-unplug: there cd0 goes away as any device would.
        needs=frozenset({FIXED_CD}),
        since=(0, 14, 0),
    ),
)
