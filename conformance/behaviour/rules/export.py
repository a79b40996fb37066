"""block-export-add and block-export-del: an NBD export of null0, on an NBD server whose
unix socket is in the workdir (QEMU's cwd, so a relative path; host safety allows no
other address)."""

from __future__ import annotations

from conformance.behaviour.rule import EITHER, Event, Rule, State, Step
from conformance.oracle.failure import qapi

ADD = qapi("qapi/block-export.json: block-export-add", "Creates a new block export.")
DEL = qapi(
    "qapi/block-export.json: block-export-del",
    "Request to remove a block export. This drops the user's reference to the export, but "
    "the export may still stay around after this command returns until the shutdown of the "
    "export has completed. Returns: Error if the export is not found",
)
DELETED = qapi(
    "qapi/block-export.json: BLOCK_EXPORT_DELETED",
    "Emitted when a block export is removed and its id can be reused.",
)
SERVER = ("nbd-server-start", {"addr": {"type": "unix", "data": {"path": "nbd.sock"}}})
EXPORT = {"type": "nbd", "id": "e0", "node-name": "null0"}
EXPORTS = "query-block-exports"

RULES: tuple[Rule, ...] = (
    Rule(
        "block-export-add.nbd-listed",
        "an NBD export of a node is listed with its node",
        "block-export-add",
        ADD,
        (Step("block-export-add", EXPORT, state=(State(EXPORTS, {"id": "e0"}, "type", "nbd"),)),),
        setup=(SERVER,),
        since=(5, 2, 0),
    ),
    Rule(
        "block-export-del.id-reusable-after-event",
        "a deleted export is announced by BLOCK_EXPORT_DELETED, unlisted, and its id free",
        "block-export-del",
        DELETED,
        (
            Step(
                "block-export-del",
                {"id": "e0"},
                # The shutdown may finish after the return: the event says when.
                events=(Event("BLOCK_EXPORT_DELETED", {"id": "e0"}, EITHER),),
                state=(State(EXPORTS, {"id": "e0"}, none=True),),
            ),
            Step("block-export-add", EXPORT),
        ),
        setup=(SERVER, ("block-export-add", EXPORT)),
        since=(5, 2, 0),
    ),
    Rule(
        "block-export-del.not-found",
        "deleting an export that doesn't exist is an error",
        "block-export-del",
        DEL,
        (Step("block-export-del", {"id": "nosuch"}, reply="error"),),
        since=(5, 2, 0),
    ),
)
