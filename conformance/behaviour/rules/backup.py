"""blockdev-backup: device == target, sync modes, the job's events, speed."""

from __future__ import annotations

from conformance.behaviour.rule import EITHER, Event, Rule, State, Step
from conformance.oracle.failure import Citation, FindingKind, qapi
from conformance.oracle.jobs import Version

BACKUP = qapi(
    "qapi/block-core.json: blockdev-backup",
    "Start a point-in-time copy of a block device to a new destination.",
)
SAME = qapi(
    "qmp-commands.hx: blockdev-backup (QEMU 2.5)",
    '"on-target-error": the action to take on an error on the target, default '
    "'report' (no limitations, since this applies to a different block device than device).",
)
COMPLETED = qapi(
    "qapi/block-core.json: BLOCK_JOB_COMPLETED",
    "Emitted when a block job has completed",
)
SIZE = 1048576
NODES = tuple(
    ("blockdev-add", {"driver": "null-co", "node-name": n, "size": SIZE, "read-zeroes": True})
    for n in ("src", "tgt")
)


def _job(status: str) -> Event:
    return Event("JOB_STATUS_CHANGE", {"id": "b1", "status": status}, EITHER)


_JOBS: tuple[Rule, ...] = (
    Rule(
        "blockdev-backup.same-device",
        "a backup whose target is its own device is an error",
        "blockdev-backup",
        SAME,
        (
            Step(
                "blockdev-backup",
                {"job-id": "b1", "device": "src", "target": "src", "sync": "full"},
                reply="error",
            ),
        ),
        setup=NODES,
        since=(2, 3, 0),
    ),
    *(
        Rule(
            f"blockdev-backup.sync-{sync}",
            f"sync={sync} completes with BLOCK_JOB_COMPLETED carrying len and offset",
            "blockdev-backup",
            COMPLETED,
            (
                Step(
                    "blockdev-backup",
                    {"job-id": "b1", "device": "src", "target": "tgt", "sync": sync},
                    ordered=True,
                    events=(
                        _job("created"),
                        _job("running"),
                        Event(
                            "BLOCK_JOB_COMPLETED",
                            {"device": "b1", "type": "backup", "len": SIZE, "offset": SIZE},
                            EITHER,
                        ),
                        _job("null"),
                    ),
                ),
            ),
            setup=NODES,
            since=(2, 3, 0),
        )
        for sync in ("full", "top")
    ),
    Rule(
        "blockdev-backup.sync-none-runs-until-cancelled",
        "sync=none runs until block-job-cancel, which emits BLOCK_JOB_CANCELLED",
        "blockdev-backup",
        BACKUP,
        (
            Step(
                "blockdev-backup",
                {"job-id": "b1", "device": "src", "target": "tgt", "sync": "none"},
                events=(_job("running"),),
                state=(State("query-block-jobs", {"device": "b1"}, "type", "backup"),),
            ),
            Step(
                "block-job-cancel",
                {"device": "b1"},
                events=(Event("BLOCK_JOB_CANCELLED", {"device": "b1", "type": "backup"}),),
            ),
        ),
        setup=NODES,
        since=(2, 3, 0),
    ),
    Rule(
        "blockdev-backup.speed",
        "the speed given is the job's speed",
        "blockdev-backup",
        BACKUP,
        (
            Step(
                "blockdev-backup",
                {"job-id": "b1", "device": "src", "target": "tgt", "sync": "none", "speed": 4096},
                state=(State("query-block-jobs", {"device": "b1"}, "speed", 4096),),
            ),
            Step("block-job-cancel", {"device": "b1"}, events=(Event("BLOCK_JOB_CANCELLED"),)),
        ),
        setup=NODES,
        since=(2, 3, 0),
    ),
)

SOURCE_ERROR = qapi(
    "qapi/block-core.json: BackupCommon",
    "on-source-error: the action to take on an error on the source, default 'report'. "
    "'stop' and 'enospc' can only be used if the block device supports io-status (see "
    "BlockInfo).",
)
ON_ERROR_VALUES = qapi(
    "qapi/block-core.json: BlockdevOnError",
    "stop: for guest operations, stop the virtual machine; for jobs, pause the job. "
    "enospc: same as @stop on ENOSPC, same as @report otherwise.",
)
# The io-status restriction SOURCE_ERROR states was enforced by backup_start() (and
# mirror_start()) until the 2.6 era, when it left the code; blockdev-mirror, documented
# with the same sentence, accepts stop and enospc for a bare node too. The code is
# right and the sentence is stale: the behaviour rules expect acceptance, and one rule
# expects the sentence as written, to file the stale doc once.
NO_IO_STATUS_CHECK: Version = (2, 6, 0)
TARGET_ERROR = qapi(
    "qapi/block-core.json: BackupCommon",
    "on-target-error: the action to take on an error on the target, default 'report' (no "
    "limitations, since this applies to a different block device than device).",
)


def _on_error(
    side: str,
    value: str,
    reply: str,
    citation: Citation,
    *,
    rule_id: str = "",
    since: Version = (2, 3, 0),
    kind: FindingKind = FindingKind.BEHAVIOUR,
) -> Rule:
    # The source is a bare node, attached to no device, so it has no io-status.
    return Rule(
        rule_id or f"blockdev-backup.{side}-{value}",
        f"{side} {value} is {'refused' if reply == 'error' else 'accepted'} for a source "
        "node without io-status (no device attached)",
        "blockdev-backup",
        citation,
        (
            Step(
                "blockdev-backup",
                {"job-id": "b1", "device": "src", "target": "tgt", "sync": "full", side: value},
                reply=reply,
            ),
        ),
        setup=NODES,
        since=since,
        kind=kind,
    )


ON_ERROR = ("report", "ignore", "stop", "enospc")
RULES: tuple[Rule, ...] = (
    *_JOBS,
    *(_on_error("on-source-error", value, "return", SOURCE_ERROR) for value in ON_ERROR[:2]),
    *(
        _on_error("on-source-error", value, "return", ON_ERROR_VALUES, since=NO_IO_STATUS_CHECK)
        for value in ON_ERROR[2:]
    ),
    _on_error(
        "on-source-error",
        "stop",
        "error",
        SOURCE_ERROR,
        rule_id="blockdev-backup.on-source-error-io-status-doc",
        since=NO_IO_STATUS_CHECK,
        kind=FindingKind.DOC,
    ),
    *(_on_error("on-target-error", value, "return", TARGET_ERROR) for value in ON_ERROR),
)
